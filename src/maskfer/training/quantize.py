"""The expression model in 8-bit integers (the classifier in 0.6 to 0.7 of its time), calibrated on its own training crops.

    maskfer quantize-model maskfer-model/maskfer-expression.onnx --out maskfer-expression-int8.onnx

ONNX Runtime's static quantization: weights int8 per output channel, activations uint8 with ranges
measured on `calibration_crops` of the model's training photos (every view it trained on: unmasked,
drawn masks, occluders; never a validation or evaluation photo), written as QuantizeLinear /
DequantizeLinear pairs around the float graph (QDQ), so any ONNX runtime reads it. Two parts stay
in float (`nodes_left_in_float`): the first convolution, whose three input channels gain nothing
from integers (the graph ran faster with it left out), and the head after the logits, whose
probabilities would otherwise come in steps of 1/255. The file keeps the source's metadata and adds
`quantization` (this config). What it changed on the validation photos is in docs/benchmarks.md
(`bench/validation_check.py`).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from maskfer.core.cache import Cache
from maskfer.core.files import atomic_write_bytes
from maskfer.errors import MaskferError, check_name
from maskfer.weights.format import quantization_of, quantized_metadata

METHODS = {"minmax": "each activation's observed minimum and maximum",
           "percentile": "each activation's 0.001st to 99.999th percentile (outliers clipped)",
           "entropy": "the range keeping the activation's distribution closest (KL divergence)"}


@dataclass(frozen=True)
class QuantizeConfig:
    """How a model is quantized; stored in the quantized file as `quantization`."""

    calibration_crops: int = 512  # training crops whose activations set the integer ranges
    method: str = "percentile"  # METHODS
    seed: int = 0  # which training crops

    def __post_init__(self):
        check_name("calibration method", self.method, METHODS)
        if self.calibration_crops < 1:
            raise MaskferError(f"calibration_crops must be at least 1, got {self.calibration_crops}")


def calibration_sample(model_config, config: QuantizeConfig, cache: Cache | None = None, jobs: int = 1,
                       show: bool = False) -> np.ndarray:
    """`config.calibration_crops` uint8 crops (N, size, size, 3) drawn from the training crops of a recipe
    (`maskfer.training.recipe.DefaultModelConfig`), every view alike."""
    from maskfer.training.recipe import crops_and_labels
    from maskfer.training.splits import training_table

    train, _ = training_table(model_config)
    X, _, _, _ = crops_and_labels(train, model_config.size, model_config.views, cache if cache is not None else Cache(), jobs,
                               show, model_config.border)
    chosen = np.random.default_rng(config.seed).choice(len(X), min(config.calibration_crops, len(X)), replace=False)
    return X[np.sort(chosen)].reshape(len(chosen), model_config.size, model_config.size, 3)


def nodes_left_in_float(graph) -> list[str]:
    """The first convolution, and the head from the classifier's Gemm on (logits, temperature, mirror average,
    softmax): integers there would round the probabilities to steps of 1/255 and undo the calibration."""
    first_conv = next(node.name for node in graph.node if node.op_type == "Conv")
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    head, frontier = set(), [node for node in graph.node if node.op_type == "Gemm"]
    while frontier:
        node = frontier.pop()
        if node.name not in head:
            head.add(node.name)
            frontier += [after for output in node.output for after in consumers.get(output, [])]
    return [first_conv, *sorted(head)]


def refuse_quantized(source, metadata: dict) -> None:
    if quantization_of(metadata) is not None:
        raise MaskferError(f"{source}: already quantized ({json.dumps(quantization_of(metadata))}); quantize the float model")


def quantize_model(source: str | Path, out: str | Path, crops: np.ndarray, config: QuantizeConfig = QuantizeConfig()) -> Path:
    """Write an int8 copy of the expression model `source` to `out`, its ranges measured on uint8 `crops`."""
    try:
        import onnx
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                              quantize_static)
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise MaskferError(f"quantizing needs onnx and onnxruntime: pip install 'maskfer[cnn]' ({exc})") from None
    source = Path(source)
    try:
        model = onnx.load(str(source))
    except Exception as exc:
        raise MaskferError(f"{source}: not a readable ONNX model ({type(exc).__name__})") from None
    metadata = {p.key: p.value for p in model.metadata_props}
    refuse_quantized(source, metadata)
    batches = [np.ascontiguousarray(crops[i:i + 64], np.float32) / 255.0 for i in range(0, len(crops), 64)]

    class Crops(CalibrationDataReader):
        def __init__(self):
            self.left = iter({"faces": b} for b in batches)

        def get_next(self):
            return next(self.left, None)

    with tempfile.TemporaryDirectory() as work:
        prepared, written = Path(work) / "prepared.onnx", Path(work) / "int8.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        float_nodes = nodes_left_in_float(onnx.load(str(prepared)).graph)
        method = next(m for m in CalibrationMethod if m.name.lower() == config.method)  # METHODS are its names
        with contextlib.redirect_stdout(io.StringIO()):  # its calibrator prints its progress to stdout, our rows' stream
            quantize_static(str(prepared), str(written), Crops(), quant_format=QuantFormat.QDQ, per_channel=True,
                            weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8, calibrate_method=method,
                            nodes_to_exclude=float_nodes)
        quantized = onnx.load(str(written))
    del quantized.metadata_props[:]
    for key, value in quantized_metadata(metadata, {**asdict(config), "calibration_crops": len(crops)}).items():
        entry = quantized.metadata_props.add()
        entry.key, entry.value = key, value
    return atomic_write_bytes(Path(out), quantized.SerializeToString())


def quantize_file(source: str | Path, out: str | Path, config: QuantizeConfig = QuantizeConfig(), data: str | None = None,
                  cache: Cache | None = None, jobs: int = 1, show: bool = False) -> Path:
    """`quantize_model` calibrated on the training crops of the recipe stored in `source` (its `config` metadata),
    read from `data` (default: the folder the recipe names)."""
    from maskfer.prediction.model import load_model
    from maskfer.training.recipe import DefaultModelConfig

    model = load_model(str(source))
    refuse_quantized(source, model.metadata)
    model_config = DefaultModelConfig(**json.loads(model.metadata["config"]))
    model_config = replace(model_config, data=data or model_config.data)
    return quantize_model(source, out, calibration_sample(model_config, config, cache, jobs, show), config)
