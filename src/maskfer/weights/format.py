"""The shipped model files' format: training writes it, prediction reads it, and only this module knows it.

- `maskfer-expression.onnx`: input `faces`, float32 (N, size, size, 3) RGB in [0, 1]; output
  `probabilities` (N, 7) in the order of `maskfer.labels.EMOTIONS`; the metadata keys below.
- `mask-check.json`: a logistic regression on `maskfer.faces.mask_features` of the same crops.

Each file carries a format number. A reader accepts its own format and older ones it knows, and
refuses a newer one with a line that says to upgrade.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import maskfer
from maskfer.errors import MaskferError
from maskfer.labels import EMOTIONS

MODEL_FORMAT = 1  # bumped when the ONNX file's inputs, outputs or metadata change meaning
MASK_CHECK_FORMAT = 1  # bumped when mask-check.json's fields or features change meaning
MODEL_NAME = "maskfer-expression.onnx"
MASK_CHECK_NAME = "mask-check.json"
TRAINING_LOG_NAME = "training.json"
TRAINING_STATE_NAME = "training-state.pt"  # written beside the others while training; not shipped
MODEL_METADATA_KEYS = ("maskfer_version", "format", "classes", "input_size", "config", "validation_accuracy", "temperature")
MASK_CHECK_KEYS = ("format", "mean", "scale", "coef", "intercept", "grid", "metadata")


class ModelError(MaskferError):
    """The model file is missing, damaged, or from a newer maskfer; or onnxruntime is missing."""


def weights_path(name: str) -> Path:
    """A file that ships in this package (`MODEL_NAME`, `MASK_CHECK_NAME`, `TRAINING_LOG_NAME`)."""
    return Path(str(resources.files("maskfer.weights") / name))


def model_metadata(size: int, config: dict, validation_accuracy, temperature: float = 1.0) -> dict[str, str]:
    """The ONNX file's metadata for a model trained with `config` on `size` x `size` crops.

    `temperature` is already applied inside the graph (its outputs are calibrated); it is recorded
    so that a reader can tell.
    """
    return {"maskfer_version": maskfer.__version__, "format": str(MODEL_FORMAT), "classes": json.dumps(list(EMOTIONS)),
            "input_size": str(size), "config": json.dumps(config), "validation_accuracy": str(validation_accuracy),
            "temperature": str(temperature)}


def check_model_metadata(file: Path, metadata: dict[str, str]) -> int:
    """The crop size an ONNX model expects, after checking that its metadata is one this maskfer reads."""
    if "format" not in metadata or "classes" not in metadata:
        raise ModelError(f"{file}: an ONNX model without maskfer's metadata (format, classes); not a maskfer model")
    _check_format(file, "model", int(metadata["format"]), MODEL_FORMAT, metadata.get("maskfer_version"))
    classes = tuple(json.loads(metadata["classes"]))
    if classes != EMOTIONS:
        raise ModelError(f"{file}: classes {classes} differ from maskfer's {EMOTIONS}")
    return int(metadata["input_size"])


def mask_check_record(mean, scale, coef, intercept: float, grid, metadata: dict) -> dict:
    """The content of `mask-check.json` (lists of floats, so it is plain JSON)."""
    return {"format": MASK_CHECK_FORMAT, "mean": list(map(float, mean)), "scale": list(map(float, scale)),
            "coef": list(map(float, coef)), "intercept": float(intercept), "grid": list(grid),
            "metadata": {"maskfer_version": maskfer.__version__, **metadata}}


def read_mask_check(file: Path) -> dict:
    """`mask-check.json` as a dict of its fields, or a one-line `ModelError` saying what is wrong."""
    try:
        data = json.loads(Path(file).read_text())
    except FileNotFoundError:
        raise ModelError(f"{file}: mask check file not found (reinstall maskfer, or run `maskfer train-default`)") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{file}: not a maskfer mask check file ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or any(key not in data for key in MASK_CHECK_KEYS):
        missing = [key for key in MASK_CHECK_KEYS if not isinstance(data, dict) or key not in data]
        raise ModelError(f"{file}: not a maskfer mask check file (no {', '.join(missing)}); retrain with `maskfer train-default`")
    _check_format(file, "mask check", int(data["format"]), MASK_CHECK_FORMAT, data["metadata"].get("maskfer_version"))
    return data


def _check_format(file: Path, what: str, found: int, newest: int, made_by: str | None) -> None:
    if found > newest:
        raise ModelError(f"{file}: made by maskfer {made_by or '?'} ({what} format {found}); "
                         f"this maskfer reads format {newest} at most: pip install -U maskfer")
