"""Face-aligned crops: eyes level, face centred, at a fixed scale, from the 468 mesh landmarks.

Training and prediction both go through `aligned_crop`, so a face in a phone picture is framed
exactly as the training faces were. Above the mask, the eyes and brows carry the expression, so
the crop is placed by them.
"""

from __future__ import annotations

import cv2
import numpy as np

from maskfer.faces.landmarks import LEFT_EYE, RIGHT_EYE, Face

EYE_DISTANCE = 0.40  # inter-ocular distance as a fraction of the crop side
EYE_HEIGHT = 0.40  # the eyes' midpoint sits this far down the crop


def alignment_matrix(face: Face, size: int) -> np.ndarray:
    """The 2x3 similarity transform taking the image to the `size` x `size` aligned crop."""
    left = face.landmarks[LEFT_EYE, :2].mean(axis=0)
    right = face.landmarks[RIGHT_EYE, :2].mean(axis=0)
    dx, dy = right - left
    angle = np.degrees(np.arctan2(dy, dx))
    scale = EYE_DISTANCE * size / max(float(np.hypot(dx, dy)), 1e-6)
    centre = (left + right) / 2
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle, scale)
    matrix[:, 2] += np.array([size / 2, EYE_HEIGHT * size]) - centre
    return matrix


def aligned_crop(image: np.ndarray, face: Face, size: int) -> np.ndarray:
    """The face as a `size` x `size` RGB crop, eyes level (edges replicated where the crop leaves the image)."""
    interpolation = cv2.INTER_AREA if face.width > size else cv2.INTER_LINEAR
    return cv2.warpAffine(image, alignment_matrix(face, size), (size, size), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
