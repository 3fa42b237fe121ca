"""`maskfer predict` over files, folders and videos: one row per face, one line per problem.

Inputs are expanded first (folders recursively, in name order), so the progress bar knows the
total. A video is sampled at `fps` frames per second of its own clock. A file that cannot be
read yields an error line and the batch goes on; an image with no face yields a row that says
so. Rows go to CSV or JSON lines, written to a temporary name and renamed when the batch ends.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from maskfer.core.images import IMAGE_EXTENSIONS, read_image
from maskfer.labels import EMOTIONS
from maskfer.errors import MaskferError, check_name
from maskfer.core.files import atomic_write_bytes, atomic_write_text
from maskfer.core.images import encode_image

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
FORMATS = ("csv", "jsonl")
COLUMNS = ["file", "frame", "time_s", "face", "status", "x0", "y0", "x1", "y1", "mask", "mask_probability", "expression",
           *[f"p_{e}" for e in EMOTIONS]]


@dataclass(frozen=True)
class PredictConfig:
    fps: float = 1.0  # video frames sampled per second
    max_faces: int = 10
    try_mask: str | None = None  # draw this mask type on every face first
    seed: int = 0
    model: str | None = None  # an ONNX model file; default the shipped one

    def __post_init__(self):
        if self.try_mask is not None:
            from maskfer.masks.draw import check_mask_type

            check_mask_type(self.try_mask)
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")


def expand_inputs(paths: list[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to read (images and videos, folders searched recursively) and one error line per bad path."""
    files, problems = [], []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS))
            if not found:
                problems.append(f"{path}: folder has no images or videos")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems


def video_frames(path: Path, fps: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, seconds, RGB frame) sampled at `fps`; an unreadable video raises MaskferError."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise MaskferError(f"{path}: cannot open as a video (unsupported codec or container, or not a video)")
        native = capture.get(cv2.CAP_PROP_FPS) or 0
        native = native if 0 < native < 1000 else 25.0
        step = max(1, int(round(native / fps)))
        index, yielded = 0, 0
        while True:
            ok = capture.grab()
            if not ok:
                break
            if index % step == 0:
                ok, frame = capture.retrieve()
                if ok:
                    yielded += 1
                    yield index, index / native, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
        if yielded == 0:
            raise MaskferError(f"{path}: no frame could be decoded (unsupported codec, or an empty or damaged video)")
    finally:
        capture.release()


def face_rows(file: str, frame: int | None, time_s: float | None, faces) -> list[dict]:
    base = {"file": file, "frame": frame, "time_s": None if time_s is None else round(time_s, 3)}
    if not faces:
        return [{**base, "face": None, "status": "no face"}]
    rows = []
    for index, face in enumerate(faces):
        x0, y0, x1, y1 = face.box
        rows.append({**base, "face": index, "status": "ok", "x0": x0, "y0": y0, "x1": x1, "y1": y1, "mask": face.mask,
                     "mask_probability": round(face.mask_probability, 4), "expression": face.expression,
                     **{f"p_{e}": round(face.probabilities[e], 4) for e in EMOTIONS}})
    return rows


def annotate(image: np.ndarray, faces) -> np.ndarray:
    """A copy of the RGB image with each face boxed and labelled with its top two expressions."""
    out = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    for face in faces:
        x0, y0, x1, y1 = face.box
        colour = (40, 200, 255) if face.mask else (255, 200, 40)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thickness)
        top = sorted(face.probabilities.items(), key=lambda kv: -kv[1])[:2]
        label = " ".join(f"{e} {100 * p:.0f}%" for e, p in top) + (" [mask]" if face.mask else "")
        (w1, _), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)
        scale = float(np.clip(1.1 * (x1 - x0) / w1, 0.35, 2.0))  # about as wide as the box
        (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        ty = max(h + 4, y0 - 4)
        cv2.rectangle(out, (x0, ty - h - 4), (x0 + w + 4, ty + 2), colour, -1)
        cv2.putText(out, label, (x0 + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def predict_image(image: np.ndarray, config: PredictConfig):
    """Faces of one RGB image with their expressions, after drawing `try_mask` on them if asked."""
    from maskfer.masks.draw import draw_mask
    from maskfer.prediction.api import _faces, _results

    faces = _faces(image, config.max_faces)
    if config.try_mask:
        for index, face in enumerate(faces):
            image = draw_mask(image, face, config.try_mask, config.seed + index).image
    return image, _results(image, faces, with_expression=True, model_path=config.model)


def predict_files(files: list[Path], config: PredictConfig, annotate_dir: Path | None = None,
                  on_file: Callable[[Path], None] | None = None) -> Iterator[tuple[list[dict], str | None]]:
    """For each file: (rows, None) or ([], one-line error)."""
    for path in files:
        try:
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                rows = []
                for frame, seconds, rgb in video_frames(path, config.fps):
                    shown, faces = predict_image(rgb, config)
                    rows += face_rows(str(path), frame, seconds, faces)
                    if annotate_dir is not None:
                        _write_annotated(annotate_dir / f"{path.stem}_f{frame:06d}.jpg", shown, faces)
                yield rows, None
            else:
                shown, faces = predict_image(read_image(str(path)), config)
                if annotate_dir is not None:
                    _write_annotated(annotate_dir / f"{path.stem}.jpg", shown, faces)
                yield face_rows(str(path), None, None, faces), None
        except MaskferError as exc:  # ImageError included: one line naming the file and the problem
            yield [], str(exc)
        finally:
            if on_file:
                on_file(path)


def _write_annotated(path: Path, image: np.ndarray, faces) -> None:
    atomic_write_bytes(path, encode_image(annotate(image, faces), "jpg", quality=92))


def format_rows(rows: list[dict], fmt: str) -> str:
    check_name("output format", fmt, FORMATS)
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_rows(rows: list[dict], path: Path) -> Path:
    fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv"
    return atomic_write_text(path, format_rows(rows, fmt))
