"""The small public API: `detect`, `predict`, `apply_mask`, on any photo with zero, one or many faces.

    import maskfer
    for face in maskfer.predict("photo.jpg"):
        print(face.box, face.mask_worn, face.expression, face.probabilities)

An image is a path, a PIL image, or a NumPy array (RGB unless `color="bgr"`, as OpenCV reads).
Faces come from the one face path (`maskfer.faces.find_faces`: MediaPipe's detectors and 468
landmarks, offline), are aligned by their eyes exactly as the training faces were, and are
classified in one batch by the shipped ONNX model. Nothing here imports scikit-learn, pandas or
PyTorch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from maskfer.labels import EMOTIONS
from maskfer.core.images import MAX_PIXELS, array_to_rgb, check_size, pil_to_rgb, read_image
from maskfer.errors import MaskferError, check_name

COLORS = ("rgb", "bgr")
# A face narrower than this (pixels, its landmarks' box) is reported too small to read, without an expression or a
# mask-worn reading: below it the shipped model's balanced accuracy is within noise of chance
# (`python bench/smallest_face.py`, docs/faces.md).
SMALLEST_READABLE_FACE = 14
STATUSES = ("ok", "too small to read")


@dataclass
class FaceResult:
    """One face: where it is, how sure the face path is that it is a face, its pose, whether it wears a mask, and
    (from `predict`) its expression. A face too small to read (`status`) has no mask or expression reading."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in image pixels
    landmarks: np.ndarray = field(repr=False)  # 468 x 3 (x, y in pixels; z relative)
    yaw: float
    pitch: float
    roll: float
    face_score: float  # the landmark model's face-presence probability (docs/faces.md)
    status: str = "ok"  # one of STATUSES
    mask_worn: bool | None = None
    mask_worn_probability: float | None = None
    expression: str | None = None
    probabilities: dict[str, float] | None = None

    def to_dict(self, landmarks: bool = False) -> dict:
        out = {"box": list(self.box), "status": self.status, "face_score": round(self.face_score, 4), "yaw": round(self.yaw, 1),
               "pitch": round(self.pitch, 1), "roll": round(self.roll, 1), "mask_worn": self.mask_worn,
               "mask_worn_probability": None if self.mask_worn_probability is None else round(self.mask_worn_probability, 4),
               "expression": self.expression,
               "probabilities": None if self.probabilities is None else {k: round(v, 4) for k, v in self.probabilities.items()}}
        if landmarks:
            out["landmarks"] = np.round(self.landmarks, 1).tolist()
        return out


def load_image(image, color: str = "rgb", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any accepted image as a contiguous RGB uint8 array, read the same way whatever the entry point.

    A path is decoded by `core.images.read_image`; a PIL image of any mode goes through the same
    `pil_to_rgb`; an array through `array_to_rgb` (the same levels and alpha rules). One size rule
    for all (`core.images.check_size`).
    """
    check_name("color order", color, COLORS)
    if isinstance(image, (str, Path)):
        return read_image(str(image), max_pixels)
    from PIL import Image

    if isinstance(image, Image.Image):
        check_size("image", *image.size, max_pixels=max_pixels)
        return pil_to_rgb(image)
    if isinstance(image, np.ndarray):
        if image.ndim in (2, 3):
            check_size("array", image.shape[1], image.shape[0], max_pixels=max_pixels)
        return array_to_rgb(image, color)
    raise MaskferError(f"expected a path, a PIL image or a NumPy array, got {type(image).__name__}")


def faces_in(image: np.ndarray, max_faces: int):
    """`maskfer.faces.find_faces`, imported on first use (prediction's import stays light)."""
    from maskfer.faces import find_faces

    return find_faces(image, max_faces=max_faces)


def _crops(image: np.ndarray, faces, size: int, border: str) -> np.ndarray:
    from maskfer.faces import aligned_crop

    return np.stack([aligned_crop(image, f, size, border) for f in faces]) if faces else np.zeros((0, size, size, 3), np.uint8)


def face_results(image: np.ndarray, faces, with_expression: bool, model_path: str | None = None) -> list[FaceResult]:
    """What the shipped models read on each of these faces of the image: mask worn, and with `with_expression` the
    seven probabilities (one batched call per model). A face under `SMALLEST_READABLE_FACE` is not read."""
    from maskfer.prediction.model import load_mask_check, load_model

    height, width = image.shape[:2]
    results = []
    for face in faces:
        x0, y0, x1, y1 = face.box  # the landmarks may reach past the frame; the box stays inside it
        box = (max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), min(height, int(y1)))
        status = "ok" if face.width >= SMALLEST_READABLE_FACE else "too small to read"
        results.append(FaceResult(box, face.landmarks, face.yaw, face.pitch, face.roll, face.face_score, status))
    readable = [face for face, result in zip(faces, results) if result.status == "ok"]
    if not readable:
        return results
    model, check = load_model(model_path), load_mask_check()
    crops = _crops(image, readable, check.size, check.border)
    masked = check.probability(crops)
    probabilities = [None] * len(readable)
    if with_expression:  # one crop serves both where their sizes and borders agree
        if (model.size, model.border) != (check.size, check.border):
            crops = _crops(image, readable, model.size, model.border)
        probabilities = model.probabilities(crops)
    for result, p_mask, probs in zip([r for r in results if r.status == "ok"], masked, probabilities):
        result.mask_worn, result.mask_worn_probability = bool(p_mask >= 0.5), float(p_mask)
        if probs is not None:
            result.probabilities = {e: float(p) for e, p in zip(EMOTIONS, probs)}
            result.expression = EMOTIONS[int(np.argmax(probs))]
    return results


def read_faces(image: np.ndarray, *, max_faces: int = 10, faces=None, try_mask: str | None = None, seed: int = 0,
               model: str | None = None, with_expression: bool = True) -> tuple[np.ndarray, list[FaceResult]]:
    """The one way maskfer reads the faces of an RGB uint8 image, whoever asks: `predict` and `detect`, the CLI's
    photos, videos and their tracks, the web app's uploads and streams, and the demo. The faces are found (unless
    given, as a video's tracker gives them), `try_mask` is drawn on them first (face i with seed + i), and the
    shipped models read each one (`face_results`). Returns the image as read (masked, with `try_mask`) and its faces."""
    faces = faces_in(image, max_faces) if faces is None else faces
    if try_mask:
        from maskfer.masks import mask_faces

        image = mask_faces(image, faces, try_mask, seed)
    return image, face_results(image, faces, with_expression, model)


def detect(image, color: str = "rgb", max_faces: int = 10, max_pixels: int = MAX_PIXELS) -> list[FaceResult]:
    """Every face (largest first): box, landmarks, head pose and whether a mask is worn."""
    return read_faces(load_image(image, color, max_pixels), max_faces=max_faces, with_expression=False)[1]


def predict(image, color: str = "rgb", max_faces: int = 10, model: str | None = None,
            max_pixels: int = MAX_PIXELS) -> list[FaceResult]:
    """`detect`, plus each face's expression and the probability of each of the seven.

    A path whose header claims more than `max_pixels` pixels is refused before decoding
    (`maskfer.core.images.ImageTooLarge`, a `MaskferError`).
    """
    return read_faces(load_image(image, color, max_pixels), max_faces=max_faces, model=model)[1]


def apply_mask(image, kind: str = "surgical", seed: int = 0, color: str = "rgb") -> np.ndarray:
    """The image (RGB array) with a synthetic mask of `kind` drawn on every face found by `detect`; a photo with no
    face is an error (as the web API's 422), not the photo back unchanged."""
    from maskfer.masks import check_mask_type, mask_faces

    check_mask_type(kind)
    rgb = load_image(image, color)
    faces = faces_in(rgb, 10)
    if not faces:
        raise MaskferError("no face found in the photo, so no mask was drawn")
    return mask_faces(rgb, faces, kind, seed)
