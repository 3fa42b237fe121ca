"""Stage 3: synthetic masks from face landmarks, by two renderers that work differently: drawn
(`draw.py`, one registered painter per type; what training sees) and template (`templates.py`,
textured pictures warped onto the face; held out). Importing the package registers both."""

from __future__ import annotations

import numpy as np

from maskfer.masks.draw import (MASK_TYPES, MASKS, RENDERERS, MaskedFace, MaskQuality, check_mask_type, check_seed,
                                draw_mask, register_mask)
from maskfer.masks.templates import TEMPLATE_TYPES

# Names that stand for several types in options (`--types`, `--masks`).
MASK_PRESETS = {"drawn": MASK_TYPES, "template": TEMPLATE_TYPES, "all": MASK_TYPES + TEMPLATE_TYPES, "none": ()}


def mask_faces(image: np.ndarray, faces, kind: str = "surgical", seed: int = 0) -> np.ndarray:
    """The image with a mask of `kind` drawn on each of `faces` (face i gets seed + i)."""
    check_mask_type(kind)
    seed = check_seed(seed)
    for index, face in enumerate(faces):
        image = draw_mask(image, face, kind, seed + index).image
    return image


def apply_mask(image: np.ndarray, kind: str = "surgical", seed: int = 0, largest: bool = False) -> np.ndarray:
    """Draw a mask of `kind` on every face of an RGB uint8 image (or only the largest)."""
    from maskfer.faces.landmarks import find_faces

    faces = find_faces(image)
    return mask_faces(image, faces[:1] if largest else faces, kind, seed)


__all__ = ["MASKS", "MASK_PRESETS", "MASK_TYPES", "MaskQuality", "MaskedFace", "RENDERERS", "TEMPLATE_TYPES", "apply_mask",
           "check_mask_type", "check_seed", "draw_mask", "mask_faces", "register_mask"]
