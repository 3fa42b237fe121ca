"""Stage 3: synthetic masks drawn from face landmarks, one registered painter per mask type."""

from __future__ import annotations

import numpy as np

from maskfer.masks.draw import MASK_TYPES, MASKS, MaskedFace, MaskQuality, check_mask_type, draw_mask, register_mask


def apply_mask(image: np.ndarray, kind: str = "surgical", seed: int = 0, largest: bool = False) -> np.ndarray:
    """Draw a mask of `kind` on every face of an RGB uint8 image (or only the largest)."""
    from maskfer.faces.landmarks import find_faces

    check_mask_type(kind)
    faces = find_faces(image)
    for index, face in enumerate(faces[:1] if largest else faces):
        image = draw_mask(image, face, kind, seed + index).image
    return image


__all__ = ["MASKS", "MASK_TYPES", "MaskQuality", "MaskedFace", "apply_mask", "check_mask_type", "draw_mask", "register_mask"]
