"""The study's features: the face resized to 64x64, scaled to [0,1] and flattened.

`pixel_features` computes them for a list of image references in chunks, each chunk cached by
the content of its images and the parameters (`maskfer.core.cache.cached_map`), so a second run
(or a resumed one) reads the cache, only unfinished chunks are computed, and `compute` spreads
them over local processes or a Dask cluster.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import cv2
import numpy as np
import pandas as pd

from maskfer.core.cache import Cache, cached_map, stable_key
from maskfer.core.images import IMAGENET_MEAN, IMAGENET_STD, ImageError, content_hash, read_image
from maskfer.core.parallel import ComputeConfig
from maskfer.errors import MaskferError, check_name
from maskfer.labels import EMOTIONS

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
        from maskfer.faces import FACE_DATASETS, aligned_crop, find_faces

        faces = find_faces(image, max_faces=1, rule=FACE_DATASETS)  # the study's photos are all of faces
        small = aligned_crop(image, faces[0], config.size) if faces else cv2.resize(image, (config.size, config.size), interpolation=cv2.INTER_AREA)
    else:
        small = cv2.resize(image, (config.size, config.size), interpolation=cv2.INTER_AREA)
    if config.color == "gray":
        small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)[:, :, None]
    return (small.astype(np.float32) / 255.0).reshape(-1)


def imagenet_normalize(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) images in [0, 1] -> ImageNet mean/std normalised, as CNN inputs expect."""
    return (images.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD


def _pixel_chunks(chunks: list[list[str]], config: PixelConfig) -> list[dict]:
    results = []
    for refs in chunks:
        X = np.zeros((len(refs), int(np.prod(config.shape))), dtype=np.float32)
        ok = np.zeros(len(refs), dtype=bool)
        errors = []
        for i, ref in enumerate(refs):
            try:
                X[i] = image_to_pixels(read_image(ref), config)
                ok[i] = True
            except ImageError as exc:
                errors.append(str(exc))
        results.append({"X": X, "ok": ok, "errors": np.array(errors, dtype=str)})
    return results


def pixel_features(
    refs: Sequence[str],
    config: PixelConfig = PixelConfig(),
    cache: Cache | None = None,
    on_chunk: Callable[[int], None] | None = None,
    compute: ComputeConfig = ComputeConfig(),
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features for every reference: (X, ok, errors).

    `ok[i]` is False for an image that could not be read; its row of X is zeros and `errors`
    holds one line naming it and the reason. `on_chunk(n)` is called as each chunk of n images
    is done (for progress bars).
    """
    from maskfer.faces import FACES_VERSION

    cache = cache if cache is not None else Cache()
    refs = [str(r) for r in refs]
    chunks = [refs[start:start + CHUNK] for start in range(0, len(refs), CHUNK)]
    # Aligned crops depend on the face path: its version is part of their key.
    version = FACES_VERSION if config.crop == "aligned" else None
    keys = [stable_key("pixels", asdict(config), version, [content_hash(r) for r in chunk]) for chunk in chunks]
    parts = cached_map(_pixel_chunks, chunks, keys, cache=cache, kind="pixels", store="arrays", args=(config,),
                       compute=compute, on_progress=on_chunk, weight=len)
    if not parts:
        return np.zeros((0, int(np.prod(config.shape))), np.float32), np.zeros(0, bool), []
    return (np.concatenate([p["X"] for p in parts]), np.concatenate([p["ok"] for p in parts]),
            [str(e) for p in parts for e in p["errors"]])


@dataclass
class Features:
    """A dataset's feature matrix: rows of `table` that could be read, their labels, and a content key."""

    X: np.ndarray
    y: np.ndarray
    table: pd.DataFrame
    errors: list[str]
    key: str
    config: PixelConfig


def table_features(table: pd.DataFrame, config: PixelConfig = PixelConfig(), cache: Cache | None = None, on_chunk=None,
                   compute: ComputeConfig = ComputeConfig()) -> Features:
    """Features for a dataset table; unreadable images are dropped and named in `errors`."""
    cache = cache if cache is not None else Cache()
    X, ok, errors = pixel_features(table["path"].tolist(), config, cache, on_chunk, compute)
    kept = table[ok].reset_index(drop=True)
    if kept.empty:
        raise MaskferError(f"no readable images among {len(table)} (first problem: {errors[0] if errors else 'none'})")
    y = kept["emotion"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()
    key = stable_key("features", asdict(config), kept["path"].tolist(), [float(v) for v in X.sum(axis=1)], y.tolist())
    return Features(X[ok], y, kept, errors, key, config)
