"""Faces followed through a video: each keeps an id (`track`) from one sampled frame to the next.

A face is followed from its last landmarks (`maskfer.faces.follow_face`, which skips detection) only
between samples close enough in time for it (`TrackerConfig.max_follow_gap_s`): the window is moved by
the track's own motion first, and the face found there is checked (its face score, and its box against
where the track's motion puts it). Where a face fails its check, or samples are far apart, or on every
`redetect_every`-th sample, the detectors run on that same frame, and each face found is matched to the
track whose predicted box it overlaps most, or whose predicted centre it is nearest (within its own
width), so one person keeps one id across detections. A track that finds no face is kept, unseen, for
`keep_unseen_s`, so a face missed for a moment comes back under its id. With `smooth` > 0 the seven
probabilities of each track are an exponential moving average (weight `smooth` on the past); off by default.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from maskfer.faces.landmarks import USER_PHOTOS, Face, box_overlap
from maskfer.labels import EMOTIONS

MIN_OVERLAP = 0.3  # IoU of a face with a track's predicted box for it to continue the track
DUPLICATE = 0.5  # IoU at which two followed faces are one: the younger track ends


@dataclass(frozen=True)
class TrackerConfig:
    redetect_every: int = 10  # sampled frames between two detections, while every face is followed
    smooth: float = 0.0  # weight of the past in each track's probabilities (0: off)
    # Landmarks follow a face only between samples this close (seconds): a face that walks moves a good part of
    # its width in a second, past the window the last landmarks give (issue 32: lost at --fps 1).
    max_follow_gap_s: float = 0.25
    keep_unseen_s: float = 1.5  # how long a track that finds no face waits for it to come back

    def __post_init__(self):
        if self.redetect_every < 1:
            raise ValueError(f"--redetect-every must be at least 1, got {self.redetect_every}")
        if not 0.0 <= self.smooth < 1.0:
            raise ValueError(f"--smooth must be at least 0 and under 1, got {self.smooth}")


@dataclass
class Track:
    """One person through the video: the face last seen, when, and how fast its box centre moves (pixels a second)."""

    face: Face
    seen_s: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def predicted_box(self, now_s: float) -> tuple[float, float, float, float]:
        dx, dy = self.velocity * (now_s - self.seen_s)
        x0, y0, x1, y1 = self.face.box
        return x0 + dx, y0 + dy, x1 + dx, y1 + dy

    def predicted_face(self, now_s: float) -> Face:
        """The last face moved by the track's motion: where following looks for it."""
        shift = np.array([*(self.velocity * (now_s - self.seen_s)), 0.0], np.float32)
        return Face(self.face.landmarks + shift, tuple(int(round(v)) for v in self.predicted_box(now_s)), "tracked",
                    self.face.face_score)

    def update(self, face: Face, now_s: float) -> None:
        gap = now_s - self.seen_s
        if gap > 0:
            moved = _centre(face.box) - _centre(self.face.box)
            self.velocity = 0.5 * self.velocity + 0.5 * moved / gap  # smoothed: one noisy box does not fling it
        self.face, self.seen_s = face, now_s


def _centre(box) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], np.float64)


def matches(track: Track, face: Face, now_s: float) -> float:
    """How well a face continues a track (higher is better; 0: not at all): IoU with the predicted box, or failing
    that, closeness of the centres within the face's own width."""
    predicted = track.predicted_box(now_s)
    overlap = box_overlap(face.box, predicted)
    if overlap >= MIN_OVERLAP:
        return 1.0 + overlap
    distance = np.linalg.norm(_centre(face.box) - _centre(predicted)) / max(1, face.box[2] - face.box[0])
    return max(0.0, 1.0 - distance)


class FaceTracker:
    """`faces(frame, time_s)` -> [(track id, Face)] for consecutive frames of one video; `smoothed(track, probabilities)`."""

    def __init__(self, config: TrackerConfig = TrackerConfig(), max_faces: int = 10):
        self.config, self.max_faces = config, max_faces
        self.tracks: dict[int, Track] = {}
        self.visible: dict[int, Face] = {}  # the tracks seen in the last frame
        self.averages: dict[int, np.ndarray] = {}
        self.next_id, self.frames_since_detection, self.last_s = 0, 0, None

    def faces(self, image: np.ndarray, time_s: float | None = None) -> list[tuple[int, Face]]:
        """This frame's faces by track. `time_s` is the frame's time in the video; without it (a live stream) the
        clock's."""
        now = time.monotonic() if time_s is None else float(time_s)
        close = self.last_s is not None and now - self.last_s <= self.config.max_follow_gap_s
        due = self.frames_since_detection >= self.config.redetect_every - 1
        if not (close and self.visible and not due and self._follow(image, now)):
            self._detect(image, now)
        self.last_s = now
        self.tracks = {i: t for i, t in self.tracks.items() if now - t.seen_s <= self.config.keep_unseen_s}
        self.averages = {i: p for i, p in self.averages.items() if i in self.tracks}
        return sorted(self.visible.items(), key=lambda item: item[0])

    def _detect(self, image: np.ndarray, now: float) -> None:
        from maskfer.faces import find_faces

        found = find_faces(image, max_faces=self.max_faces)
        pairs = sorted(((matches(track, face, now), i, k) for i, track in self.tracks.items() for k, face in enumerate(found)),
                       reverse=True)
        assigned: dict[int, int] = {}  # face index -> track id, best matches first
        for score, i, k in pairs:
            if score > 0 and k not in assigned and i not in assigned.values():
                assigned[k] = i
        self.visible = {}
        for k, face in enumerate(found):
            if k in assigned:
                self.tracks[assigned[k]].update(face, now)
                self.visible[assigned[k]] = face
            else:
                self.tracks[self.next_id] = Track(face, now)
                self.visible[self.next_id] = face
                self.next_id += 1
        self.frames_since_detection = 0

    def _follow(self, image: np.ndarray, now: float) -> bool:
        """Every visible face followed into this frame and checked; False (nothing changed) where any fails."""
        from maskfer.faces import follow_face

        followed = {}
        for i in self.visible:
            track = self.tracks[i]
            face = follow_face(image, track.predicted_face(now), min_score=USER_PHOTOS.min_face_score)
            if (face is None or box_overlap(face.box, track.predicted_box(now)) < MIN_OVERLAP
                    or any(box_overlap(face.box, kept.box) >= DUPLICATE for kept in followed.values())):
                return False  # lost, moved off its track, or merged into another: detect in this frame instead
            followed[i] = face
        for i, face in followed.items():
            self.tracks[i].update(face, now)
        self.visible = followed
        self.frames_since_detection += 1
        return True

    def smoothed(self, track: int, probabilities: dict[str, float]) -> dict[str, float]:
        """The track's probabilities averaged over its frames (`smooth`), or these ones when smoothing is off."""
        if not self.config.smooth:
            return probabilities
        now = np.array([probabilities[e] for e in EMOTIONS])
        past = self.averages.get(track)
        average = now if past is None else self.config.smooth * past + (1 - self.config.smooth) * now
        self.averages[track] = average
        return {e: float(p) for e, p in zip(EMOTIONS, average)}
