"""The one face path: faces, their 468 landmarks and head pose, for masking, training and prediction.

`find_faces` serves every caller (masking a dataset, the shipped model's training crops, the
study's aligned crops, `maskfer.predict`, `apply_mask`, the web app), so a photo gives the same
landmarks, and so the same aligned crop, wherever it is read. MediaPipe's full-range detector
(faces down to about 48 pixels, several per photo) and its short-range one (large faces, which
the full-range one misses behind a mask) propose faces (`maskfer.faces.detection`, on LiteRT);
MediaPipe's 468-point landmark model then runs on each face's window, rotated so the eyes are level, as MediaPipe's own mesh
pipeline does. An image with no detection is tried as a face crop (a dataset's registered crop,
FER2013 or CK+, or a user's photo cut tight to a face, which the detectors often miss behind a mask)
and kept if the landmark model agrees it is a face.

The model files ship in `maskfer/faces/models/` (from MediaPipe 0.10.21, Apache-2.0), so this runs
offline without MediaPipe; they are loaded on first use (one set per thread), never at import time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property

import cv2
import numpy as np

from maskfer.errors import MaskferError
from maskfer.faces.detection import detect, interpreter
from maskfer.faces.pose import head_pose

# Bumped whenever the landmarks found for the same pixels change; part of every cache key derived from
# them (landmarks, aligned crops, masked images), so an older cache is never read as this one.
# 3: detectors on LiteRT, head pose by a rigid fit of all 468 points (the drawn masks' shading follows it);
# 4: an image of any size with no detection is tried as a face crop (3 tried only images of at most 128 pixels);
# 5: every face carries the landmark model's face score, a detection must pass a `FaceScoreRule`, and an unsure face
# is also looked for upside down.
FACES_VERSION = 5


@dataclass(frozen=True)
class FaceScoreRule:
    """Which detections are faces. A detection is kept where its face score (the landmark model's face-presence
    probability for its window) reaches `min_face_score` or its detector's score reaches `min_detector_score`; an
    image with no face kept is taken as a face crop where its crop score reaches `min_crop_score`."""

    min_face_score: float
    min_detector_score: float
    min_crop_score: float


# A user's photo may hold no face at all: the thresholds chosen by `python bench/face_score.py` by the rule written
# in docs/faces.md (no false face among 105 face-free pictures, the most faces found over 26 sets and framings).
USER_PHOTOS = FaceScoreRule(min_face_score=0.5, min_detector_score=0.8, min_crop_score=0.6)
# Every photo of a labelled face dataset holds a face: every detection is kept, and a crop from 0.5, as before face
# scores (on photos without a face the crop score reached 0.30 at most, on tight crops of masked faces the
# detectors missed it reaches 0.5 for 19 to 60% of them, by set: `python bench/crop_fallback.py`).
FACE_DATASETS = FaceScoreRule(min_face_score=0.0, min_detector_score=0.0, min_crop_score=0.5)
SURE_FACE = 0.99  # a face scoring under this is looked for turned half round too (`detected_face_landmarks`)
# Under this many pixels wide the landmark model cannot judge a face (the astronaut's face at 9 pixels scores 0.08):
# such a detection is kept on the detector's score alone (under 14 pixels it is then reported too small to read,
# `maskfer.prediction.api.SMALLEST_READABLE_FACE`); bench/face_score.py measured the rule with this in it.
SMALLEST_JUDGED_FACE = 24
CACHED_FACES = 100  # faces kept per photo in the landmark cache
# The short-range detector runs only when the full-range one finds no face or a face at least this wide (a share of
# the image's longer side): it finds large faces, masked ones above all, that the full-range one misses; among small
# faces it added none in our checks (synthetic scenes of 2-6 faces, masked and not). On the posed sets and FER2013
# it always runs.
SHORT_RANGE_FACE = 0.2
LANDMARK_MODEL = "face_landmark.tflite"  # MediaPipe's 468-point mesh, in maskfer/faces/models/
CROP_PAD = 0.3  # the landmark model expects the face with this margin around it (MediaPipe's ROI is 1.5x the box)

# Landmark groups of the 468-point mesh (MediaPipe's canonical topology).
LIPS = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415]
NOSTRILS = [2, 94, 19, 98, 97, 326, 327, 64, 294, 240, 460, 75, 305, 79, 309, 166, 392, 20, 250, 60, 290]
LEFT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
RIGHT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
LEFT_BROW = [46, 53, 52, 65, 55, 70, 63, 105, 66, 107]
RIGHT_BROW = [276, 283, 282, 295, 285, 300, 293, 334, 296, 336]
MUST_COVER = LIPS + NOSTRILS
MUST_NOT_COVER = LEFT_EYE + RIGHT_EYE + LEFT_BROW + RIGHT_BROW

@dataclass
class Face:
    """One face: its 468 landmarks in image pixels (x, y, z), its box, and its head pose in degrees (from the landmarks)."""

    landmarks: np.ndarray
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    source: str = "detector"  # "detector": found by a face detector; "crop": the whole image taken as the face; "tracked"
    face_score: float = 1.0  # the landmark model's face-presence probability for this face's window
    detector_score: float | None = None  # the detector's score ("detector" faces only)

    @cached_property
    def pose(self) -> tuple[float, float, float]:
        """(yaw, pitch, roll), see `maskfer.faces.pose.head_pose`."""
        return head_pose(self.landmarks)

    @property
    def yaw(self) -> float:
        return self.pose[0]

    @property
    def pitch(self) -> float:
        return self.pose[1]

    @property
    def roll(self) -> float:
        return self.pose[2]

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> int:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> int:
        return self.width * self.height


def _landmarks_in_roi(image: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """Run the 468-point model on the 192x192 window that the 2x3 `matrix` cuts from the image.

    Returns the landmarks in image pixels (z in the same scale) and the model's face-presence
    probability.
    """
    window = cv2.warpAffine(image, matrix, (192, 192), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    outputs = interpreter(LANDMARK_MODEL).run((window.astype(np.float32) / 255.0)[None])
    points, flag = outputs["conv2d_21"].reshape(468, 3).astype(np.float32), outputs["conv2d_31"]
    inverse = cv2.invertAffineTransform(matrix)
    xy = points[:, :2] @ inverse[:, :2].T + inverse[:, 2]
    (a, b), (c, d) = inverse[:, :2]  # its scale, written out: LAPACK on a 2x2 can stall for milliseconds beside busy cores
    z = points[:, 2] * float(np.sqrt(abs(a * d - b * c)))
    return np.column_stack([xy, z]).astype(np.float32), float(1 / (1 + np.exp(-float(flag.ravel()[0]))))


def face_window(centre: tuple[float, float], side: float, angle: float) -> np.ndarray:
    """The 2x3 matrix that cuts the landmark model's 192x192 window: `side` pixels around `centre`, turned by `angle`
    degrees so the eyes are level (MediaPipe's face window, from a detection or from the last frame's landmarks)."""
    matrix = cv2.getRotationMatrix2D(centre, angle, 192 / side)
    matrix[:, 2] += np.array([96, 96]) - np.array(centre)
    return matrix


def follow_face(image: np.ndarray, previous: Face, min_score: float = 0.5) -> Face | None:
    """The face again in a later frame, from its last landmarks instead of a detector, as MediaPipe's mesh
    pipeline tracks a face in video; None when the landmark model no longer sees a face in the window."""
    points = previous.landmarks[:, :2].astype(np.float64)
    eyes = points[263] - points[33]  # outer eye corners: the person's left minus right
    angle = float(np.degrees(np.arctan2(eyes[1], eyes[0])))
    turn = cv2.getRotationMatrix2D((0.0, 0.0), angle, 1.0)[:, :2]
    level = points @ turn.T  # the landmarks with the eyes level: their extent sizes the window
    low, high = level.min(axis=0), level.max(axis=0)
    centre = tuple(float(v) for v in ((low + high) / 2) @ turn)  # back from level: a rotation's inverse is its transpose
    window = face_window(centre, 1.5 * float(max(high - low)), angle)
    found, score = _landmarks_in_roi(image, window)
    if score < min_score:
        return None
    return _face_from_points(found, image.shape[1], image.shape[0], "tracked", score)


def _face_from_points(points: np.ndarray, width: int, height: int, source: str, face_score: float,
                      detector_score: float | None = None) -> Face:
    x0, y0 = np.floor(points[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(points[:, :2].max(axis=0)).astype(int)
    return Face(points, (int(x0), int(y0), int(x1), int(y1)), source, face_score, detector_score)


def detected_face_landmarks(image: np.ndarray, detection) -> tuple[np.ndarray, float]:
    """The 468 landmarks in MediaPipe's window around a detection, and their face score.

    The window is turned by the detector's eye keypoints, which on an upside-down face point it the wrong way up.
    The landmark model cannot tell (it scores a face turned half round about as high), but the short-range detector
    can: a face it is unsure of (under `SURE_FACE`) is looked for in the window turned half round, and where the
    detector finds it there more surely than it found it in the photo, the turned window's landmarks are taken."""
    x, y, w, h = detection.box
    right_eye, left_eye = detection.keypoints[0], detection.keypoints[1]  # the person's right eye: image left
    angle = float(np.degrees(np.arctan2(*(left_eye - right_eye)[::-1])))
    centre, side = (x + w / 2, y + h / 2), 1.5 * max(w, h)
    points, score = _landmarks_in_roi(image, face_window(centre, side, angle))  # MediaPipe's window around a detection
    if score < SURE_FACE:
        turned = face_window(centre, side, angle + 180)
        window = cv2.warpAffine(image, turned, (192, 192), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        if max((d.score for d in detect(window, "short_range")), default=0.0) > detection.score:
            return _landmarks_in_roi(image, turned)
    return points, score


def crop_landmarks(image: np.ndarray) -> Face:
    """Landmarks of an image that *is* a face crop (FER2013, CK+ 48x48; a photo cut tight to a face), without
    face detection.

    Detectors often miss a face that fills the whole frame, above all behind a mask; such crops hold
    the face centred and filling the frame, so the landmark model is run on the whole crop, padded
    to the framing it was trained on. `score` says how face-like the model found it.
    """
    height, width = image.shape[:2]
    side = (1 + 2 * CROP_PAD) * max(height, width)
    scale = 192 / side
    matrix = np.array([[scale, 0, 96 - scale * width / 2], [0, scale, 96 - scale * height / 2]], dtype=np.float64)
    points, score = _landmarks_in_roi(image, matrix)
    return _face_from_points(points, width, height, "crop", score)


def box_overlap(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes: the one overlap rule of detection and tracking."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-9)


def _corners(box) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return x, y, x + w, y + h


def find_faces(image: np.ndarray, *, max_faces: int = 10, crop_fallback: bool = True, min_score: float = 0.5,
               rule: FaceScoreRule = USER_PHOTOS) -> list[Face]:
    """Every face in an RGB uint8 image, largest first (at most `max_faces`); [] when there is none.

    Detections scoring under `min_score`, or overlapping a better one, are dropped; so is a detection that `rule`
    does not take for a face (`FaceScoreRule`), unless it is too small for the landmark model to judge
    (`SMALLEST_JUDGED_FACE`). The short-range detector joins the
    full-range one because it finds large masked faces that the other misses (147 against 91 of 150 masked
    photos); it runs only where it can add a face (`SHORT_RANGE_FACE`). With `crop_fallback`, an image with no
    face is tried as a face crop (see `crop_landmarks`; `rule.min_crop_score`).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise MaskferError(f"expected an RGB uint8 image, got shape {image.shape} dtype {image.dtype}")
    height, width = image.shape[:2]
    pixels = np.ascontiguousarray(image)
    kept = []  # detections, best score first, overlapping duplicates dropped
    found = detect(pixels, "full_range")
    if not found or max(d.box[2] for d in found) >= SHORT_RANGE_FACE * max(height, width):
        found += detect(pixels, "short_range")  # where it can add a face: large ones, or none found yet
    for detection in sorted(found, key=lambda d: -d.score):
        if detection.score >= min_score and all(box_overlap(_corners(detection.box), _corners(other.box)) < 0.3 for other in kept):
            kept.append(detection)
    faces = []
    for detection in kept:
        points, face_score = detected_face_landmarks(image, detection)
        if (face_score >= rule.min_face_score or detection.score >= rule.min_detector_score
                or max(detection.box[2:]) < SMALLEST_JUDGED_FACE):
            faces.append(_face_from_points(points, width, height, "detector", face_score, detection.score))
    if not faces and crop_fallback:
        crop = crop_landmarks(image)
        faces = [crop] if crop.face_score >= rule.min_crop_score else []
    return sorted(faces, key=lambda f: f.area, reverse=True)[:max_faces]


def cached_faces(image: np.ndarray, cache, *, rule: FaceScoreRule, max_faces: int = 10, crop_fallback: bool = True) -> list[Face]:
    """`find_faces`, read from `cache` (a `maskfer.core.cache.Cache`) when these pixels were seen before.

    Keyed by the decoded pixels, `crop_fallback`, `rule` and `FACES_VERSION`: a file's name or path never
    decides what is reused, and landmarks from an older face path are never served. Every face
    is stored (a face's landmarks do not depend on how many are asked for), so callers asking
    for different `max_faces` share one entry.
    """
    from maskfer.core.cache import stable_key
    from maskfer.core.images import pixels_hash

    key = stable_key("faces", FACES_VERSION, pixels_hash(image), crop_fallback, asdict(rule))
    hit = cache.load_arrays("faces", key)
    if hit is not None:
        faces = [Face(lm, tuple(int(v) for v in box), str(source), float(score), None if np.isnan(detector) else float(detector))
                 for lm, box, source, score, detector in zip(hit["landmarks"], hit["boxes"], hit["sources"], hit["face_scores"],
                                                             hit["detector_scores"])]
        return faces[:max_faces]
    faces = find_faces(image, max_faces=CACHED_FACES, crop_fallback=crop_fallback, rule=rule)
    cache.save_arrays("faces", key, landmarks=np.array([f.landmarks for f in faces], np.float32).reshape(-1, 468, 3),
                      boxes=np.array([f.box for f in faces], np.int64).reshape(-1, 4),
                      sources=np.array([f.source for f in faces], dtype=str), face_scores=np.array([f.face_score for f in faces]),
                      detector_scores=np.array([np.nan if f.detector_score is None else f.detector_score for f in faces]))
    return faces[:max_faces]
