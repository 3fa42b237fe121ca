"""Stage 2 of the pipeline (data -> masks -> features): synthetic masks from face landmarks."""

from __future__ import annotations

import numpy as np

from maskfer.masks.draw import MASK_TYPES, MaskedFace, MaskQuality, draw_mask
from maskfer.masks.landmarks import Face, detect_faces, find_faces, head_pose


def apply_mask(image: np.ndarray, kind: str = "surgical", seed: int = 0, largest: bool = False) -> np.ndarray:
    """Draw a mask of `kind` on every face of an RGB uint8 image (or only the largest)."""
    from maskfer.errors import check_name

    check_name("mask type", kind, MASK_TYPES)
    faces = detect_faces(image)
    for index, face in enumerate(faces[:1] if largest else faces):
        image = draw_mask(image, face, kind, seed + index).image
    return image


__all__ = ["MASK_TYPES", "Face", "MaskQuality", "MaskedFace", "apply_mask", "draw_mask", "detect_faces", "find_faces", "head_pose"]
