"""The study's six augmentations, applied to a seeded fraction of the training folds only."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from maskfer.errors import check_name


def _crop_upper(image: np.ndarray) -> np.ndarray:
    # Drop the lower three sevenths of the face (the masked part), then resize back.
    height, width = image.shape[:2]
    kept = image[: height * 4 // 7]
    resized = cv2.resize(kept, (width, height), interpolation=cv2.INTER_LINEAR)
    return resized.reshape(image.shape)


AUGMENTATIONS = {
    "rot90_cw": lambda im: np.rot90(im, k=-1),
    "rot90_ccw": lambda im: np.rot90(im, k=1),
    "rot180": lambda im: np.rot90(im, k=2),
    "flip_ud": lambda im: im[::-1],
    "flip_lr": lambda im: im[:, ::-1],
    "crop_upper": _crop_upper,
}


def augment_image(image: np.ndarray, name: str) -> np.ndarray:
    """Apply one named augmentation to an (H, W, C) image (square, as the study's 64x64)."""
    check_name("augmentation", name, AUGMENTATIONS)
    return np.ascontiguousarray(AUGMENTATIONS[name](image))


@dataclass(frozen=True)
class AugmentConfig:
    """`fraction` of the training images each get one copy per transform in `transforms`."""

    fraction: float = 0.0
    transforms: tuple[str, ...] = tuple(AUGMENTATIONS)
    seed: int = 0

    def __post_init__(self):
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"augmentation fraction must be in [0, 1], got {self.fraction}")
        for name in self.transforms:
            check_name("augmentation", name, AUGMENTATIONS)


def augment_training_set(X: np.ndarray, y: np.ndarray, shape: tuple[int, int, int], config: AugmentConfig):
    """Return X and y with augmented copies appended. X rows are flattened images of `shape`."""
    if config.fraction == 0 or not config.transforms or len(X) == 0:
        return X, y
    rng = np.random.default_rng(config.seed)
    chosen = rng.choice(len(X), size=max(1, round(config.fraction * len(X))), replace=False)
    images = X[chosen].reshape(len(chosen), *shape)
    extra = [np.stack([augment_image(im, name) for im in images]).reshape(len(chosen), -1) for name in config.transforms]
    return np.concatenate([X, *extra]), np.concatenate([y, *[y[chosen]] * len(config.transforms)])
