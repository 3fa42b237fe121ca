"""Faces followed through a video: each keeps an id (`track`) from one sampled frame to the next.

On a detection frame (the first, every `redetect_every`-th, and the one after a face is lost) the
face detectors run and their faces are matched to the tracks by box overlap (IoU); a face that
matches no track starts a new one. On the frames between, each face is followed from its last
landmarks (`maskfer.faces.follow_face`), which skips detection: a face the landmark model no
longer sees ends its track and asks for detection on the next frame. With `smooth` > 0 the seven
probabilities of each track are an exponential moving average (weight `smooth` on the past), and the
expression is the average's top class; off by default, so each frame's reading is its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskfer.faces.landmarks import box_overlap
from maskfer.labels import EMOTIONS

MIN_OVERLAP = 0.3  # IoU for a detected face to continue a track
DUPLICATE = 0.5  # IoU at which two followed faces are one: the younger track ends


@dataclass(frozen=True)
class TrackerConfig:
    redetect_every: int = 10  # sampled frames between two detections, while every face is followed
    smooth: float = 0.0  # weight of the past in each track's probabilities (0: off)

    def __post_init__(self):
        if self.redetect_every < 1:
            raise ValueError(f"redetect_every must be at least 1, got {self.redetect_every}")
        if not 0.0 <= self.smooth < 1.0:
            raise ValueError(f"smooth must be at least 0 and under 1, got {self.smooth}")


class FaceTracker:
    """`faces(frame)` -> [(track id, Face)] for consecutive frames of one video; `smoothed(track, probabilities)`."""

    def __init__(self, config: TrackerConfig = TrackerConfig(), max_faces: int = 10):
        self.config, self.max_faces = config, max_faces
        self.tracks: dict[int, object] = {}  # id -> its face in the last frame
        self.averages: dict[int, np.ndarray] = {}
        self.next_id, self.frames_since_detection, self.lost = 0, 0, True

    def faces(self, image: np.ndarray) -> list[tuple[int, object]]:
        if self.lost or self.frames_since_detection >= self.config.redetect_every - 1 or not self.tracks:
            self._detect(image)
        else:
            self._follow(image)
        return sorted(self.tracks.items(), key=lambda item: item[0])

    def _detect(self, image: np.ndarray) -> None:
        from maskfer.faces import find_faces

        previous, self.tracks = self.tracks, {}
        for face in find_faces(image, max_faces=self.max_faces):
            overlaps = {i: box_overlap(face.box, old.box) for i, old in previous.items() if i not in self.tracks}
            best = max(overlaps, key=overlaps.get, default=None)
            if best is not None and overlaps[best] >= MIN_OVERLAP:
                self.tracks[best] = face
            else:
                self.tracks[self.next_id] = face
                self.next_id += 1
        self.averages = {i: p for i, p in self.averages.items() if i in self.tracks}
        self.frames_since_detection, self.lost = 0, False

    def _follow(self, image: np.ndarray) -> None:
        from maskfer.faces import follow_face

        followed = {}
        for i, face in self.tracks.items():
            found = follow_face(image, face)
            if found is None or any(box_overlap(found.box, kept.box) >= DUPLICATE for kept in followed.values()):
                self.lost = True  # a face gone (or merged into another): look again on the next frame
                continue
            followed[i] = found
        self.tracks = followed
        self.averages = {i: p for i, p in self.averages.items() if i in followed}
        self.frames_since_detection += 1

    def smoothed(self, track: int, probabilities: dict[str, float]) -> dict[str, float]:
        """The track's probabilities averaged over its frames (`smooth`), or these ones when smoothing is off."""
        if not self.config.smooth:
            return probabilities
        now = np.array([probabilities[e] for e in EMOTIONS])
        past = self.averages.get(track)
        average = now if past is None else self.config.smooth * past + (1 - self.config.smooth) * now
        self.averages[track] = average
        return {e: float(p) for e, p in zip(EMOTIONS, average)}
