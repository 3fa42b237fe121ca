"""What the mask-worn check looks at: the lower face of an aligned crop, against the skin above it."""

from __future__ import annotations

import cv2
import numpy as np


def mask_features(crops: np.ndarray, grid: tuple[int, int] = (8, 8)) -> np.ndarray:
    """Lower-face colour and texture of aligned crops, relative to the skin under the eyes.

    A mask replaces the mouth and nose with cloth: a colour unlike the cheeks above it (a small
    Lab grid minus the under-eye skin colour, so skin tone and lighting cancel) and none of the
    edges of lips and nostrils (a histogram of gradient orientations over the lower face).
    """
    hog = cv2.HOGDescriptor((48, 32), (16, 16), (8, 8), (8, 8), 9)
    rows = []
    for crop in crops:
        size = crop.shape[0]
        lab = cv2.cvtColor(crop, cv2.COLOR_RGB2LAB).astype(np.float32)
        skin = lab[int(0.45 * size):int(0.52 * size), int(0.2 * size):int(0.8 * size)].reshape(-1, 3).mean(axis=0)
        lower = lab[int(0.55 * size):, int(0.15 * size):int(0.85 * size)]
        small = cv2.resize(lower, grid[::-1], interpolation=cv2.INTER_AREA) - skin
        gray = lower[:, :, 0]
        edges = np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean()
        mouth = cv2.resize(cv2.cvtColor(crop[size // 2:, size // 8:size - size // 8], cv2.COLOR_RGB2GRAY), (48, 32),
                           interpolation=cv2.INTER_AREA)
        rows.append(np.concatenate([small.reshape(-1), [edges, *lower.reshape(-1, 3).std(axis=0)], hog.compute(mouth).ravel()]))
    return np.array(rows, dtype=np.float64)
