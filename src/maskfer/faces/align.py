"""Face-aligned crops: eyes level, face centred, at a fixed scale, from the 468 mesh landmarks.

Training and prediction both go through `aligned_crop`, so a face in a phone picture is framed
exactly as the training faces were. Above the mask, the eyes and brows carry the expression, so
the crop is placed by them.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from maskfer.errors import check_name
from maskfer.faces.landmarks import LEFT_EYE, RIGHT_EYE, Face

EYE_DISTANCE = 0.40  # inter-ocular distance as a fraction of the crop side
EYE_HEIGHT = 0.40  # the eyes' midpoint sits this far down the crop
# What the crop shows where it leaves the photo (a tight crop, a face at the edge): the edge pixels repeated, the
# photo mirrored at its edge, or mid-grey. A model is trained and read with one of them (its config's `border`).
BORDERS = {"replicate": (cv2.BORDER_REPLICATE, 0), "reflect": (cv2.BORDER_REFLECT_101, 0), "grey": (cv2.BORDER_CONSTANT, 128)}


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


def aligned_crop(image: np.ndarray, face: Face, size: int, border: str = "replicate") -> np.ndarray:
    """The face as a `size` x `size` RGB crop, eyes level; where the crop leaves the image, `border` (BORDERS)."""
    mode, value = BORDERS[check_name("border", border, BORDERS)]
    interpolation = cv2.INTER_AREA if face.width > size else cv2.INTER_LINEAR
    return cv2.warpAffine(image, alignment_matrix(face, size), (size, size), flags=interpolation, borderMode=mode,
                          borderValue=(value, value, value))


def cut_to_face(image: np.ndarray, face: Face, margins) -> tuple[np.ndarray, Face]:
    """The photo cut to the face's landmarks grown by `margins` (left, top, right, bottom; fractions of the face's
    width and height, negative cuts into the face), and the face moved into it: a user's tight crop."""
    low, high = face.landmarks[:, :2].min(axis=0), face.landmarks[:, :2].max(axis=0)
    grow = np.asarray(margins, float) * np.tile(high - low, 2)
    x0, y0 = np.maximum(np.floor(low - grow[:2]).astype(int), 0)
    x1, y1 = np.maximum(np.minimum(np.ceil(high + grow[2:]).astype(int), image.shape[1::-1]), (x0 + 2, y0 + 2))
    shifted = face.landmarks.copy()
    shifted[:, :2] -= (x0, y0)
    box = (max(face.box[0] - x0, 0), max(face.box[1] - y0, 0), min(face.box[2], x1) - x0, min(face.box[3], y1) - y0)
    return np.ascontiguousarray(image[y0:y1, x0:x1]), replace(face, landmarks=shifted, box=box)
