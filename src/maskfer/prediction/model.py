"""The shipped expression model, run by ONNX Runtime (no PyTorch), and the mask-worn check.

Both are package data under `maskfer/models/weights/`, loaded on first use and kept per
process. The ONNX file carries its own config, classes and format number in its metadata; a
file from a newer maskfer, a truncated or corrupt file, or a missing onnxruntime each give one
line that says what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from maskfer.data.readers import EMOTIONS
from maskfer.errors import MaskferError

MODEL_FORMAT = 1  # the newest ONNX model format this maskfer reads
MODEL_NAME = "maskfer-expression.onnx"
MASK_CHECK_NAME = "mask-check.json"


class ModelError(MaskferError):
    """The model file is missing, damaged, or from a newer maskfer; or onnxruntime is missing."""


def weights_path(name: str) -> Path:
    return Path(str(resources.files("maskfer.models") / "weights" / name))


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
    if "format" not in metadata or "classes" not in metadata:
        raise ModelError(f"{file}: an ONNX model without maskfer's metadata (format, classes); not a maskfer model")
    if int(metadata["format"]) > MODEL_FORMAT:
        raise ModelError(f"{file}: made by maskfer {metadata.get('maskfer_version', '?')} (model format {metadata['format']}); "
                         f"this maskfer reads format {MODEL_FORMAT} at most: pip install -U maskfer")
    classes = tuple(json.loads(metadata["classes"]))
    if classes != EMOTIONS:
        raise ModelError(f"{file}: classes {classes} differ from maskfer's {EMOTIONS}")
    return ExpressionModel(file, int(metadata["input_size"]), classes, metadata, session)


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


def mask_features(crops: np.ndarray, grid: tuple[int, int] = (8, 8)) -> np.ndarray:
    """Lower-face colour and texture of aligned crops, relative to the skin under the eyes.

    A mask replaces the mouth and nose with cloth: a colour unlike the cheeks above it (a small
    Lab grid minus the under-eye skin colour, so skin tone and lighting cancel) and none of the
    edges of lips and nostrils (a histogram of gradient orientations over the lower face).
    """
    import cv2

    hog = cv2.HOGDescriptor((48, 32), (16, 16), (8, 8), (8, 8), 9)
    rows = []
    for crop in crops:
        size = crop.shape[0]
        lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
        skin = lab[int(0.45 * size):int(0.52 * size), int(0.2 * size):int(0.8 * size)].reshape(-1, 3).mean(axis=0)
        lower = lab[int(0.55 * size):, int(0.15 * size):int(0.85 * size)]
        small = cv2.resize(lower, grid[::-1], interpolation=cv2.INTER_AREA) - skin
        gray = lower[:, :, 0]
        edges = np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean()
        mouth = cv2.resize(cv2.cvtColor(crop[size // 2:, size // 8:size - size // 8], cv2.COLOR_RGB2GRAY), (48, 32),
                           interpolation=cv2.INTER_AREA)
        rows.append(np.concatenate([small.reshape(-1), [edges, *lower.reshape(-1, 3).std(axis=0)], hog.compute(mouth).ravel()]))
    return np.array(rows, dtype=np.float64)


@lru_cache(maxsize=2)
def load_mask_check(path: str | None = None) -> MaskCheck:
    file = Path(path) if path else weights_path(MASK_CHECK_NAME)
    try:
        data = json.loads(file.read_text())
        return MaskCheck(np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]), float(data["intercept"]),
                         tuple(data["grid"]), data.get("metadata", {}))
    except FileNotFoundError:
        raise ModelError(f"{file}: mask check file not found (reinstall maskfer, or run `maskfer train-default`)") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{file}: not a maskfer mask check file ({type(exc).__name__}: {exc})") from None
