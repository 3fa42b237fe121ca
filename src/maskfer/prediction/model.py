"""The shipped expression model, run by ONNX Runtime (no PyTorch, no scikit-learn), and the mask-worn check.

Both are package data under `maskfer/weights/`, loaded on first use and kept per process. The
file format (metadata keys, format numbers) is `maskfer.weights.format`'s; a file from a newer
maskfer, a truncated or corrupt file, or a missing onnxruntime each give one line that says what
to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from maskfer.faces.lower_face import mask_features
from maskfer.weights.format import (MASK_CHECK_NAME, MODEL_NAME, ModelError, check_model_metadata, read_mask_check,
                                    weights_path)


@dataclass
class ExpressionModel:
    """Seven expression probabilities for aligned face crops (uint8 RGB, `size` x `size`)."""

    path: Path
    size: int
    classes: tuple[str, ...]
    metadata: dict
    _session: object

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        faces = np.ascontiguousarray(crops, dtype=np.float32) / 255.0
        return self._session.run(None, {"faces": faces})[0]


@lru_cache(maxsize=4)
def load_model(path: str | None = None, threads: int = 0) -> ExpressionModel:
    """The ONNX expression model at `path` (default: the one that ships with maskfer)."""
    try:
        import onnxruntime
    except ImportError:
        raise ModelError("prediction needs onnxruntime: pip install onnxruntime") from None
    file = Path(path) if path else weights_path(MODEL_NAME)
    if not file.is_file():
        raise ModelError(f"{file}: model file not found" + ("" if path else " (reinstall maskfer, or run `maskfer train-default`)"))
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings printed on the user's terminal
    if threads:
        options.intra_op_num_threads = threads
    try:
        session = onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{file}: not a readable ONNX model, damaged or truncated ({first}); reinstall maskfer "
                         "or retrain with `maskfer train-default`") from None
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    size = check_model_metadata(file, metadata)
    from maskfer.labels import EMOTIONS

    return ExpressionModel(file, size, EMOTIONS, metadata, session)


@dataclass(frozen=True)
class MaskCheck:
    """Logistic regression on the lower face of an aligned crop: is a mask worn?"""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    grid: tuple[int, int]
    metadata: dict

    def probability(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros(0)
        z = (mask_features(crops, self.grid) - self.mean) / self.scale
        return 1 / (1 + np.exp(-(z @ self.coef + self.intercept)))


@lru_cache(maxsize=2)
def load_mask_check(path: str | None = None) -> MaskCheck:
    file = Path(path) if path else weights_path(MASK_CHECK_NAME)
    data = read_mask_check(file)
    try:
        return MaskCheck(np.array(data["mean"], float), np.array(data["scale"], float), np.array(data["coef"], float),
                         float(data["intercept"]), tuple(data["grid"]), data["metadata"])
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{file}: not a maskfer mask check file ({type(exc).__name__}: {exc})") from None
