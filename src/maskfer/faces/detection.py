"""Face detection with MediaPipe's two BlazeFace models, run by LiteRT, and MediaPipe's graph around them.

What MediaPipe's face-detection graph did, written out: the photo letterboxed into the model's
square input (scaled to fit, padded with zeros, pixels to [-1, 1]), SSD anchors on the model's
feature grids, boxes and six keypoints decoded from the regressors, sigmoid scores, weighted
non-maximum suppression (overlapping detections averaged by score), and the letterbox removed.
The settings are those of MediaPipe 0.10.21's `face_detection_short_range` and
`face_detection_full_range` graphs. The model files ship in `maskfer/faces/models/` (Apache-2.0).

Interpreters are made on first use, one per thread, never at import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from maskfer.core.native_logs import native_logs_silenced
from maskfer.core.parallel import runtime_threads
from maskfer.errors import MaskferError

MIN_SUPPRESSION_IOU = 0.3  # MediaPipe's NonMaxSuppressionCalculator setting for both detectors


@dataclass(frozen=True)
class DetectorSpec:
    """One BlazeFace model and the settings of its MediaPipe graph."""

    file: str
    size: int  # square input, pixels
    strides: tuple[int, ...]  # one per SSD layer; consecutive equal strides share a grid
    interpolated_anchor: bool  # a second anchor per layer (MediaPipe's interpolated_scale_aspect_ratio 1.0)
    min_score: float  # the graph's own threshold (MediaPipe's solution API could not lower it)


DETECTORS = {
    "full_range": DetectorSpec("face_detection_full_range_sparse.tflite", 192, (4,), False, 0.6),
    "short_range": DetectorSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), True, 0.5),
}


@dataclass(frozen=True)
class Detection:
    """A face found by a detector: its box (x, y, width, height) and six keypoints in image pixels, and its score.

    Keypoints, as MediaPipe orders them: the person's right eye (image left), left eye, nose tip,
    mouth centre, right ear tragion, left ear tragion.
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray  # 6 x 2
    score: float


class DetectionError(MaskferError):
    """The face models or their runtime are missing or unusable."""


@lru_cache(maxsize=None)
def anchors(spec: DetectorSpec) -> np.ndarray:
    """The SSD anchor centres (N x 2, in [0, 1]) of a detector, in the order of its outputs.

    MediaPipe's SsdAnchorsCalculator with fixed anchor size: each run of layers with one stride
    shares a grid, and each cell holds one anchor per layer (two with the interpolated anchor),
    all at the cell's centre.
    """
    centres, layer = [], 0
    while layer < len(spec.strides):
        stride, per_cell = spec.strides[layer], 0
        while layer < len(spec.strides) and spec.strides[layer] == stride:
            per_cell += 2 if spec.interpolated_anchor else 1
            layer += 1
        cells = -(-spec.size // stride)
        y, x = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(x.ravel() + 0.5) / cells, (y.ravel() + 0.5) / cells], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


_local = threading.local()


def model_path(file: str):
    return resources.files("maskfer.faces").joinpath("models", file)


@dataclass
class Runner:
    """A LiteRT interpreter and its tensors' indices, read once: asking the interpreter for its details builds
    fresh dictionaries on every call (about 0.3 ms a run)."""

    model: object
    input_index: int
    output_indices: dict[str, int]

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """The model's outputs, by name, for one input tensor."""
        self.model.set_tensor(self.input_index, tensor)
        self.model.invoke()
        return {name: self.model.get_tensor(index) for name, index in self.output_indices.items()}


def interpreter(file: str) -> Runner:
    """A LiteRT interpreter for a model file of `maskfer/faces/models/`, one per calling thread and file, running on
    `maskfer.core.parallel.runtime_threads()` threads."""
    cache = _local.__dict__.setdefault("interpreters", {})
    if file not in cache:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise DetectionError(f"face detection needs LiteRT (pip install ai-edge-litert): {exc}") from None
        with resources.as_file(model_path(file)) as path, native_logs_silenced():
            model = Interpreter(model_path=str(path), num_threads=runtime_threads())
            model.allocate_tensors()
        cache[file] = Runner(model, model.get_input_details()[0]["index"],
                             {o["name"]: o["index"] for o in model.get_output_details()})
    return cache[file]


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """The image scaled to fit a size x size square, centred, padded with zeros, as float32 in [-1, 1].

    Returns the tensor (1 x size x size x 3) and the scale and offsets that map its pixels back to the image's.
    """
    height, width = image.shape[:2]
    scale = size / max(height, width)
    dx, dy = (size - width * scale) / 2, (size - height * scale) / 2
    matrix = np.array([[scale, 0, dx], [0, scale, dy]], np.float64)  # as MediaPipe warps it (scores then agree exactly)
    square = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    tensor = square.astype(np.float32) * (2.0 / 255.0) - 1.0
    return tensor[None], scale, dx, dy


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, spec: DetectorSpec, min_score: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes and keypoints (N x 16: x0, y0, x1, y1, then six x, y) in the input square's pixels, and their scores."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -100, 100)))
    keep = scores >= min_score
    raw, centres = raw_boxes.reshape(-1, 16)[keep], anchors(spec)[keep] * spec.size
    xy = raw[:, [0, 1]] + centres
    half = raw[:, [2, 3]] / 2
    points = raw[:, 4:].reshape(-1, 6, 2) + centres[:, None, :]
    return np.concatenate([xy - half, xy + half, points.reshape(-1, 12)], axis=1), scores[keep]


def weighted_suppression(values: np.ndarray, scores: np.ndarray, threshold: float = MIN_SUPPRESSION_IOU) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: each best remaining detection and those overlapping it
    by more than `threshold` IoU are averaged, weighted by score, and kept with the best one's score."""
    order = list(np.argsort(-scores, kind="stable"))
    kept = []
    while order:
        best = values[order[0], :4]
        rest = values[order, :4]
        x0, y0 = np.maximum(best[0], rest[:, 0]), np.maximum(best[1], rest[:, 1])
        x1, y1 = np.minimum(best[2], rest[:, 2]), np.minimum(best[3], rest[:, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        areas = (rest[:, 2] - rest[:, 0]) * (rest[:, 3] - rest[:, 1])
        iou = inter / ((best[2] - best[0]) * (best[3] - best[1]) + areas - inter + 1e-12)
        group = [i for i, overlap in zip(order, iou) if overlap > threshold or i == order[0]]
        weights = scores[group]
        kept.append(((values[group] * weights[:, None]).sum(axis=0) / weights.sum(), float(scores[order[0]])))
        order = [i for i in order if i not in group]
    return kept


def detect(image: np.ndarray, detector: str) -> list[Detection]:
    """Faces in an RGB uint8 image by one detector (`DETECTORS`), best first, scoring at least its threshold."""
    spec = DETECTORS[detector]
    tensor, scale, dx, dy = letterbox(image, spec.size)
    outputs = sorted(interpreter(spec.file).run(tensor).values(), key=lambda t: t.shape[-1])
    values, scores = decode(outputs[1], outputs[0], spec, spec.min_score)
    found = []
    for value, score in weighted_suppression(values, scores):
        x0, y0, x1, y1 = (value[:4] - [dx, dy, dx, dy]) / scale
        keypoints = (value[4:].reshape(6, 2) - [dx, dy]) / scale
        found.append(Detection((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), keypoints, score))
    return found
