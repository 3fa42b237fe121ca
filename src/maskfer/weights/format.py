"""The shipped model files' format: training writes it, prediction reads it, and only this module knows it.

- `maskfer-expression.onnx`: input `faces`, float32 (N, size, size, 3) RGB in [0, 1]; output
  `probabilities` (N, 7) in the order of `maskfer.labels.EMOTIONS`; the metadata keys below, and in
  an int8 copy (`maskfer.training.quantize`) `quantization`, how it was made.
- `mask-check.onnx`: the mask-worn check, a small CNN on the same crops: input `faces` as above,
  output `mask_worn` (N,), the probability that a mask is worn; its own metadata keys below.

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
MASK_CHECK_FORMAT = 2  # 1 was mask-check.json, a logistic regression on colour and gradient histograms
MODEL_NAME = "maskfer-expression.onnx"
MASK_CHECK_NAME = "mask-check.onnx"
TRAINING_LOG_NAME = "training.json"
TRAINING_STATE_NAME = "training-state.pt"  # written beside the others while training; not shipped


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


def quantized_metadata(metadata: dict[str, str], quantization: dict) -> dict[str, str]:
    """An int8 copy's metadata: its float source's, and how it was quantized."""
    return {**metadata, "quantization": json.dumps(quantization)}


def quantization_of(metadata: dict[str, str]) -> dict | None:
    """How a model file was quantized, or None for a float model."""
    return json.loads(metadata["quantization"]) if "quantization" in metadata else None


def check_model_metadata(file: Path, metadata: dict[str, str]) -> int:
    """The crop size an ONNX model expects, after checking that its metadata is one this maskfer reads."""
    if "format" not in metadata or "classes" not in metadata:
        raise ModelError(f"{file}: an ONNX model without maskfer's metadata (format, classes); not a maskfer model")
    _check_format(file, "model", int(metadata["format"]), MODEL_FORMAT, metadata.get("maskfer_version"))
    classes = tuple(json.loads(metadata["classes"]))
    if classes != EMOTIONS:
        raise ModelError(f"{file}: classes {classes} differ from maskfer's {EMOTIONS}")
    return int(metadata["input_size"])


def mask_check_metadata(size: int, config: dict, validation: dict) -> dict[str, str]:
    """The mask check's ONNX metadata: what it is, its crop size, its training config and validation scores."""
    return {"maskfer_version": maskfer.__version__, "kind": "mask_check", "format": str(MASK_CHECK_FORMAT),
            "input_size": str(size), "config": json.dumps(config), "validation": json.dumps(validation)}


def check_mask_check_metadata(file: Path, metadata: dict[str, str]) -> int:
    """The crop size a mask check expects, after checking that its metadata is one this maskfer reads."""
    if Path(file).suffix == ".json":
        raise ModelError(f"{file}: an older maskfer's mask check (format 1, JSON); this maskfer reads mask-check.onnx: "
                         "reinstall maskfer, or retrain with `maskfer train-default`")
    if metadata.get("kind") != "mask_check" or "format" not in metadata:
        raise ModelError(f"{file}: an ONNX model without maskfer's mask check metadata (kind, format); not a mask check")
    _check_format(file, "mask check", int(metadata["format"]), MASK_CHECK_FORMAT, metadata.get("maskfer_version"))
    return int(metadata["input_size"])


def _check_format(file: Path, what: str, found: int, newest: int, made_by: str | None) -> None:
    if found > newest:
        raise ModelError(f"{file}: made by maskfer {made_by or '?'} ({what} format {found}); "
                         f"this maskfer reads format {newest} at most: pip install -U maskfer")
