"""Head pose from the 468 landmarks: the rotation that best maps a reference frontal face onto them.

The landmark model gives every point in 3D (z in the same scale as x and y), so the pose is a rigid
fit (Kabsch: scale and translation removed, the best rotation by SVD) of all 468 points against
`reference-face.npy`: the mean landmark shape of frontal faces photographed at eye level (the KDEF
sample's straight views and CK+'s faces, built by `python bench/reference_face.py`). It replaced a
six-point solvePnP against a generic 3D head made for another landmark scheme, which read a frontal
portrait at 33-39 degrees of pitch.

Angles in degrees: yaw > 0 when the face turns to the image's right, pitch > 0 when it tilts up,
roll > 0 when it leans counter-clockwise in the image. On faces rendered at known angles
(`tests/test_faces.py`) pitch and roll come within a few degrees; yaw reads low at large angles
(about 18 for 30).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np

REFERENCE_FILE = "reference-face.npy"


def normalised(points: np.ndarray) -> np.ndarray:
    """Landmarks (N x 3) centred on their mean and scaled to unit RMS distance from it."""
    centred = np.asarray(points, np.float64) - np.mean(points, axis=0)
    return centred / np.sqrt((centred ** 2).sum(axis=1).mean())


def mean_shape(shapes) -> np.ndarray:
    """The reference face: the mean of many frontal faces' normalised landmarks (float32, 468 x 3)."""
    return normalised(np.mean([normalised(s) for s in shapes], axis=0)).astype(np.float32)


@lru_cache(maxsize=1)
def reference_face() -> np.ndarray:
    """The shipped reference shape, read on first use."""
    with resources.files("maskfer.faces").joinpath(REFERENCE_FILE).open("rb") as file:
        return normalised(np.load(file))


def rotation_onto(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The rotation R (3 x 3, det +1) for which `points` ~ s * reference @ R.T + t, by Kabsch's SVD."""
    u, _, vt = np.linalg.svd(normalised(reference).T @ normalised(points))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def rotation_from_angles(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation `head_pose` reads as these angles (in image axes: x right, y down, z away)."""
    y, p, r = np.radians([-yaw, -pitch, -roll])
    turn = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    lean = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return tilt @ turn @ lean  # the order head_pose reads them back in (x, then y, then z: Tait-Bryan XYZ)


def head_pose(points: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of 468 landmarks (x, y in pixels, z in the same scale)."""
    rotation = rotation_onto(points, reference_face())
    # In image axes a positive angle about y moves the nose left, about x moves it down, about z turns clockwise:
    # each is negated so that right, up and counter-clockwise read positive.
    yaw = -np.degrees(np.arcsin(np.clip(rotation[0, 2], -1.0, 1.0)))
    pitch = -np.degrees(np.arctan2(-rotation[1, 2], rotation[2, 2]))
    roll = -np.degrees(np.arctan2(-rotation[0, 1], rotation[0, 0]))
    return float(yaw), float(pitch), float(roll)
