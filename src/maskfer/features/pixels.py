"""The study's features: the face resized to 64x64, scaled to [0,1] and flattened.

`pixel_features` computes them for a table of image references in chunks, each chunk cached
by the content of its images and the parameters, so a second run (or a resumed one) reads
the cache and only unfinished chunks are computed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from maskfer.data.images import ImageError, content_hash, read_image
from maskfer.errors import check_name
from maskfer.features.cache import Cache, stable_key

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
COLORS = ("rgb", "gray")
CROPS = {"full": "the whole image resized (the study's input: its photos are already faces)",
         "aligned": "a face-aligned crop from the landmarks (eyes level, face centred); the whole image if no face is found"}
CHUNK = 512


@dataclass(frozen=True)
class PixelConfig:
    """How an image becomes a feature vector. `color="rgb"` is the study's choice."""

    size: int = 64
    color: str = "rgb"
    crop: str = "full"

    def __post_init__(self):
        check_name("color", self.color, COLORS)
        check_name("crop", self.crop, CROPS)
        if not 8 <= self.size <= 1024:
            raise ValueError(f"size must be between 8 and 1024, got {self.size}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, 3 if self.color == "rgb" else 1)


def image_to_pixels(image: np.ndarray, config: PixelConfig = PixelConfig()) -> np.ndarray:
    """One RGB uint8 image -> float32 vector of length size*size*channels in [0, 1]."""
    if config.crop == "aligned":
        from maskfer.features.align import aligned_crop
        from maskfer.masks.landmarks import find_faces

        faces = find_faces(image, 1, crop_fallback=True)
        small = aligned_crop(image, faces[0], config.size) if faces else cv2.resize(image, (config.size, config.size), interpolation=cv2.INTER_AREA)
    else:
        small = cv2.resize(image, (config.size, config.size), interpolation=cv2.INTER_AREA)
    if config.color == "gray":
        small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)[:, :, None]
    return (small.astype(np.float32) / 255.0).reshape(-1)


def imagenet_normalize(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) images in [0, 1] -> ImageNet mean/std normalised, as CNN inputs expect."""
    return (images.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD


def _compute_chunk(refs: Sequence[str], config: PixelConfig):
    out = np.zeros((len(refs), int(np.prod(config.shape))), dtype=np.float32)
    ok = np.zeros(len(refs), dtype=bool)
    errors = []
    for i, ref in enumerate(refs):
        try:
            out[i] = image_to_pixels(read_image(ref), config)
            ok[i] = True
        except ImageError as exc:
            errors.append(str(exc))
    return out, ok, errors


def pixel_features(
    refs: Sequence[str],
    config: PixelConfig = PixelConfig(),
    cache: Cache | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features for every reference: (X, ok, errors).

    `ok[i]` is False for an image that could not be read; its row of X is zeros and `errors`
    holds one line naming it and the reason. `on_chunk(n)` is called after each chunk (for
    progress bars).
    """
    cache = cache if cache is not None else Cache()
    refs = [str(r) for r in refs]
    parts, oks, errors = [], [], []
    for start in range(0, len(refs), CHUNK):
        chunk = refs[start:start + CHUNK]
        key = stable_key("pixels", asdict(config), [content_hash(r) for r in chunk])
        hit = cache.load_arrays("pixels", key)
        if hit is None:
            X, ok, chunk_errors = _compute_chunk(chunk, config)
            cache.save_arrays("pixels", key, X=X, ok=ok, errors=np.array(chunk_errors, dtype=str))
        else:
            X, ok, chunk_errors = hit["X"], hit["ok"], [str(e) for e in hit["errors"]]
        parts.append(X)
        oks.append(ok)
        errors.extend(chunk_errors)
        if on_chunk:
            on_chunk(len(chunk))
    if not parts:
        return np.zeros((0, int(np.prod(config.shape))), np.float32), np.zeros(0, bool), []
    return np.concatenate(parts), np.concatenate(oks), errors
