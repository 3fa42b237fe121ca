"""The shipped expression model, run by ONNX Runtime (no PyTorch, no scikit-learn), and the mask-worn check.

Both are package data under `maskfer/weights/`, loaded on first use and kept per process. The
file format (metadata keys, format numbers) is `maskfer.weights.format`'s; a file from a newer
maskfer, a truncated or corrupt file, or a missing onnxruntime each give one line that says what
to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from maskfer.core.parallel import runtime_threads
from maskfer.weights.format import (MASK_CHECK_NAME, MODEL_NAME, ModelError, check_mask_check_metadata, check_model_metadata,
                                    weights_path)


BATCH = 256  # faces per ONNX Runtime call: a whole set at once would hold every layer's activations for all of them


def run_in_batches(session, crops: np.ndarray) -> np.ndarray:
    """A model's output for uint8 RGB crops, scaled to [0, 1] and run `BATCH` at a time."""
    return np.concatenate([session.run(None, {"faces": np.ascontiguousarray(crops[i:i + BATCH], dtype=np.float32) / 255.0})[0]
                           for i in range(0, len(crops), BATCH)])


def trained_border(metadata: dict) -> str:
    """What a model's crops show past the photo's edge (`maskfer.faces.BORDERS`), as in its training."""
    return json.loads(metadata.get("config", "{}")).get("border", "replicate")


@dataclass
class ExpressionModel:
    """Seven expression probabilities for aligned face crops (uint8 RGB, `size` x `size`)."""

    path: Path
    size: int
    classes: tuple[str, ...]
    metadata: dict
    _session: object

    @cached_property
    def border(self) -> str:
        return trained_border(self.metadata)

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        return run_in_batches(self._session, crops)


# Its threads do not spin waiting for work. Spinning during a run only (stopped at its end) saved 0.3 ms a face on
# an idle machine but cost 6 ms beside one busy core (docs/benchmarks.md): a server's or a shared machine's case.
SESSION_CONFIG = {"session.intra_op.allow_spinning": "0"}


def onnx_session(file: Path, threads: int | None = None, default: bool = False):
    """An ONNX Runtime session on the CPU for `file` on `threads` (default: `runtime_threads()`), or a one-line
    `ModelError` saying what is wrong."""
    try:
        import onnxruntime
    except ImportError:
        raise ModelError("prediction needs onnxruntime: pip install onnxruntime") from None
    if not file.is_file():
        raise ModelError(f"{file}: model file not found" + (" (reinstall maskfer, or run `maskfer train-default`)" if default else ""))
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings printed on the user's terminal
    threads = threads or runtime_threads()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    for key, value in SESSION_CONFIG.items():
        options.add_session_config_entry(key, value)
    try:
        return onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{file}: not a readable ONNX model, damaged or truncated ({first}); reinstall maskfer "
                         "or retrain with `maskfer train-default`") from None


@lru_cache(maxsize=4)
def load_model(path: str | None = None, threads: int | None = None) -> ExpressionModel:
    """The ONNX expression model at `path` (default: the one that ships with maskfer)."""
    from maskfer.labels import EMOTIONS

    file = Path(path) if path else weights_path(MODEL_NAME)
    session = onnx_session(file, threads, default=not path)
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    return ExpressionModel(file, check_model_metadata(file, metadata), EMOTIONS, metadata, session)


@dataclass
class MaskCheck:
    """Is a mask worn? A small CNN on the same aligned crops (uint8 RGB, `size` x `size`) as the expression model."""

    path: Path
    size: int
    metadata: dict
    _session: object

    @cached_property
    def border(self) -> str:
        return trained_border(self.metadata)

    def probability(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros(0)
        return run_in_batches(self._session, crops).astype(float)


@lru_cache(maxsize=2)
def load_mask_check(path: str | None = None, threads: int | None = None) -> MaskCheck:
    """The mask-worn check at `path` (default: the one that ships with maskfer)."""
    file = Path(path) if path else weights_path(MASK_CHECK_NAME)
    if file.suffix == ".json":  # an older maskfer's check: say so before trying to read it as ONNX
        check_mask_check_metadata(file, {})
    session = onnx_session(file, threads, default=not path)
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    return MaskCheck(file, check_mask_check_metadata(file, metadata), metadata, session)
