"""Faces and their 468 landmarks from MediaPipe's face mesh, and the head pose they imply.

The mesh model ships inside the `mediapipe==0.10.21` wheel, so this runs offline. The mesh
is created on first use (one per process) and never at import time. Images smaller than
`MIN_SIDE` are upscaled first: the mesh finds no face in a 48x48 FER2013 crop otherwise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from maskfer.errors import MaskferError

MIN_SIDE = 192
CROP_SIDE = 128  # at most this size, an image with no face detected is taken as a registered face crop
CROP_PAD = 0.3  # the landmark model expects the face with this margin around it (MediaPipe's ROI is 1.5x the box)

# Landmark groups of the 468-point mesh (MediaPipe's canonical topology).
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
LIPS = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415]
NOSTRILS = [2, 94, 19, 98, 97, 326, 327, 64, 294, 240, 460, 75, 305, 79, 309, 166, 392, 20, 250, 60, 290]
LEFT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
RIGHT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
LEFT_BROW = [46, 53, 52, 65, 55, 70, 63, 105, 66, 107]
RIGHT_BROW = [276, 283, 282, 295, 285, 300, 293, 334, 296, 336]
MUST_COVER = LIPS + NOSTRILS
MUST_NOT_COVER = LEFT_EYE + RIGHT_EYE + LEFT_BROW + RIGHT_BROW

# A generic 3D face (millimetres) at six mesh points, for head pose by solvePnP.
_POSE_POINTS = [1, 152, 33, 263, 61, 291]
_POSE_MODEL = np.array([[0.0, 0.0, 0.0], [0.0, -63.6, -12.5], [-43.3, 32.7, -26.0], [43.3, 32.7, -26.0],
                        [-28.9, -28.9, -24.1], [28.9, -28.9, -24.1]], dtype=np.float64)


class LandmarkError(MaskferError):
    """MediaPipe is missing or unusable."""


@dataclass
class Face:
    """One face: its 468 landmarks in image pixels (x, y, z), its box and its head pose in degrees."""

    landmarks: np.ndarray
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    yaw: float
    pitch: float
    roll: float
    source: str = "mesh"  # "mesh": found by the face detector; "crop": the whole image taken as the face
    score: float = 1.0  # for "crop", the landmark model's face-presence probability

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> int:
        return self.width * self.height


_local = threading.local()


def _mesh(max_faces: int):
    """A per-thread FaceMesh, created on first use (MediaPipe graphs are not thread-safe)."""
    meshes = _local.__dict__.setdefault("meshes", {})
    if max_faces not in meshes:
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as exc:
            raise LandmarkError(f"face landmarks need mediapipe==0.10.21 (pip install 'mediapipe==0.10.21'): {exc}") from None
        meshes[max_faces] = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=max_faces, refine_landmarks=False,
                                               min_detection_confidence=0.5)
    return meshes[max_faces]


def _crop_model():
    """MediaPipe's own 468-point landmark model, run directly by OpenCV (no detector in front)."""
    if not hasattr(_local, "crop_model"):
        try:
            import mediapipe
        except ImportError as exc:
            raise LandmarkError(f"face landmarks need mediapipe==0.10.21 (pip install 'mediapipe==0.10.21'): {exc}") from None
        _local.crop_model = cv2.dnn.readNetFromTFLite(str(Path(mediapipe.__file__).parent / "modules/face_landmark/face_landmark.tflite"))
    return _local.crop_model


def _landmarks_in_roi(image: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """Run the 468-point model on the 192x192 window that the 2x3 `matrix` cuts from the image.

    Returns the landmarks in image pixels (z in the same scale) and the model's face-presence
    probability.
    """
    window = cv2.warpAffine(image, matrix, (192, 192), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    net = _crop_model()
    net.setInput((window.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])
    flag, raw = net.forward(["conv2d_31", "conv2d_21"])
    points = raw.reshape(468, 3).astype(np.float32)
    inverse = cv2.invertAffineTransform(matrix)
    xy = points[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    z = points[:, 2] * float(np.sqrt(abs(np.linalg.det(inverse[:, :2]))))
    return np.column_stack([xy, z]).astype(np.float32), float(1 / (1 + np.exp(-float(flag.ravel()[0]))))


def _face_from_points(points: np.ndarray, width: int, height: int, source: str, score: float) -> Face:
    x0, y0 = np.floor(points[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(points[:, :2].max(axis=0)).astype(int)
    return Face(points, (int(x0), int(y0), int(x1), int(y1)), *head_pose(points, width, height), source=source, score=score)


def crop_landmarks(image: np.ndarray) -> Face:
    """Landmarks of an image that *is* a face crop (FER2013, CK+ 48x48), without face detection.

    The shared FER2013 copy is so blurred that the detector misses most faces; its crops are
    registered (face centred, similar scale), so the landmark model is run on the whole crop,
    padded to the framing it was trained on. `score` says how face-like the model found it.
    """
    height, width = image.shape[:2]
    side = (1 + 2 * CROP_PAD) * max(height, width)
    scale = 192 / side
    matrix = np.array([[scale, 0, 96 - scale * width / 2], [0, scale, 96 - scale * height / 2]], dtype=np.float64)
    points, score = _landmarks_in_roi(image, matrix)
    return _face_from_points(points, width, height, "crop", score)


def _detectors():
    """MediaPipe's full-range (faces up to about 5 m) and short-range detectors, one pair per thread."""
    if not hasattr(_local, "detectors"):
        try:
            from mediapipe.python.solutions import face_detection
        except ImportError as exc:
            raise LandmarkError(f"face detection needs mediapipe==0.10.21 (pip install 'mediapipe==0.10.21'): {exc}") from None
        _local.detectors = [face_detection.FaceDetection(model_selection=m, min_detection_confidence=0.5) for m in (1, 0)]
    return _local.detectors


def _overlap(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter + 1e-9)


def detect_faces(image: np.ndarray, max_faces: int = 10, min_score: float = 0.5) -> list[Face]:
    """Every face in a photo, largest first: full-range detection, then the 468 landmarks of each.

    The face mesh's own detector (`find_faces`) is short-range: it suits posed datasets, where
    the face fills the frame, but misses faces under about 100 pixels and most faces in a group
    photo. Here MediaPipe's full-range detector finds the faces (down to about 48 pixels), joined
    by the short-range one, which finds large masked faces that the full-range one misses (147
    against 91 of 150 masked photos); the same landmark model then runs on each face's window,
    rotated so the eyes are level, as the mesh pipeline does.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MaskferError(f"expected an RGB uint8 image, got shape {image.shape} dtype {image.dtype}")
    height, width = image.shape[:2]
    pixels = np.ascontiguousarray(image)
    kept = []  # (detection, box in pixels), best score first, overlapping duplicates dropped
    found = [d for detector in _detectors() for d in (detector.process(pixels).detections or [])]
    for detection in sorted(found, key=lambda d: -d.score[0]):
        b = detection.location_data.relative_bounding_box
        box = (b.xmin * width, b.ymin * height, b.width * width, b.height * height)
        if detection.score[0] >= min_score and all(_overlap(box, other) < 0.3 for _, other in kept):
            kept.append((detection, box))
    faces = []
    for detection, (x, y, w, h) in kept:
        keys = detection.location_data.relative_keypoints
        right_eye = np.array([keys[0].x * width, keys[0].y * height])  # the person's right eye: image left
        left_eye = np.array([keys[1].x * width, keys[1].y * height])
        angle = np.degrees(np.arctan2(*(left_eye - right_eye)[::-1]))
        centre = (x + w / 2, y + h / 2)
        side = 1.5 * max(w, h)  # MediaPipe's window around a detection
        matrix = cv2.getRotationMatrix2D(centre, angle, 192 / side)
        matrix[:, 2] += np.array([96, 96]) - np.array(centre)
        points, _ = _landmarks_in_roi(image, matrix)
        faces.append(_face_from_points(points, width, height, "detector", float(detection.score[0])))
    return sorted(faces, key=lambda f: f.area, reverse=True)[:max_faces]


def head_pose(points: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """Yaw, pitch and roll in degrees (yaw > 0: the face turns to the image's right)."""
    image_points = points[_POSE_POINTS, :2].astype(np.float64)
    focal = float(max(width, height))
    camera = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rotation, _ = cv2.solvePnP(_POSE_MODEL, image_points, camera, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok:
        return 0.0, 0.0, 0.0
    matrix, _ = cv2.Rodrigues(rotation)
    # Image y points down while the model's y points up: flip to read angles in the usual sense.
    matrix = np.diag([1.0, -1.0, -1.0]) @ matrix
    pitch = np.degrees(np.arctan2(matrix[2, 1], matrix[2, 2]))
    yaw = np.degrees(np.arcsin(-np.clip(matrix[2, 0], -1, 1)))
    roll = np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))
    pitch = (pitch + 180) % 360 - 180
    if pitch > 90:
        pitch -= 180
    elif pitch < -90:
        pitch += 180
    return float(yaw), float(pitch), float(roll)


def find_faces(image: np.ndarray, max_faces: int = 5, crop_fallback: bool = False) -> list[Face]:
    """All faces in an RGB uint8 image, largest first; an empty list when there is none.

    With `crop_fallback`, a small image (at most CROP_SIDE pixels) in which the detector finds
    no face is taken to be a registered face crop: see `crop_landmarks`.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MaskferError(f"expected an RGB uint8 image, got shape {image.shape} dtype {image.dtype}")
    height, width = image.shape[:2]
    scale = max(1.0, MIN_SIDE / min(height, width))
    work = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_CUBIC) if scale > 1 else image
    result = _mesh(max_faces).process(np.ascontiguousarray(work))
    faces = []
    for found in result.multi_face_landmarks or []:
        points = np.array([(p.x * work.shape[1], p.y * work.shape[0], p.z * work.shape[1]) for p in found.landmark],
                          dtype=np.float32) / scale
        x0, y0 = np.floor(points[:, :2].min(axis=0)).astype(int)
        x1, y1 = np.ceil(points[:, :2].max(axis=0)).astype(int)
        faces.append(Face(points, (int(x0), int(y0), int(x1), int(y1)), *head_pose(points, width, height)))
    if not faces and crop_fallback and max(height, width) <= CROP_SIDE:
        faces = [crop_landmarks(image)]
    return sorted(faces, key=lambda f: f.area, reverse=True)
