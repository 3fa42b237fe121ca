"""`maskfer predict` over files, folders and videos: one row per face, one line per problem.

Inputs are streamed (folders recursively, a folder's files in name order before its subfolders),
never listed whole. Files are read in order by one process or by worker processes or a Dask
cluster (`compute`), the rows always in the files' order. A video is sampled at `fps` frames per second of its own clock. A file that cannot be
read (a decompression bomb included: refused from its header) yields an error line and the batch
goes on; an image with no face yields a row that says so. Rows go to CSV or JSON (lines) as each
file is done, flushed to a visible `NAME.partial` that is renamed to NAME when the batch ends,
however it ends; after a hard kill the partial file keeps every finished row (`RowWriter`).
Annotated copies mirror the input tree and never overwrite a file that was there before
(`maskfer.prediction.annotate`). With `resume`, the rows already written (in the partial file or
the output) are kept and their files are not read again.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from maskfer.core.files import atomic_write_bytes, check_output_file
from maskfer.core.images import IMAGE_EXTENSIONS, MAX_PIXELS, VIDEO_EXTENSIONS, image_kind, read_image
from maskfer.core.native_logs import native_logs_silenced
from maskfer.core.parallel import ComputeConfig, map_ordered, use_runtime_threads
from maskfer.errors import MaskferError, check_name
from maskfer.labels import EMOTIONS
from maskfer.prediction.annotate import AnnotationNames, write_annotated
from maskfer.prediction.api import read_faces
from maskfer.prediction.tracking import FaceTracker, TrackerConfig

FORMATS = ("csv", "jsonl", "json")  # json: one array of rows, which json.load reads; jsonl: a row a line
OUTPUT_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".json": "json", ".ndjson": "jsonl"}
COLUMNS = ["file", "frame", "time_s", "face", "track", "status", "face_score", "x0", "y0", "x1", "y1", "mask_worn", "mask_worn_probability", "expression",
           *[f"p_{e}" for e in EMOTIONS], "mask_drawn"]


@dataclass(frozen=True)
class PredictConfig:
    fps: float = 1.0  # video frames sampled per second
    max_faces: int = 10
    try_mask: str | None = None  # draw this mask type on every face first
    seed: int = 0
    model: str | None = None  # an ONNX model file; default the shipped one
    max_pixels: int = MAX_PIXELS  # an image whose header claims more is refused before decoding
    redetect_every: int = 10  # in a video, sampled frames between face detections while every face is followed
    smooth: float = 0.0  # in a video, weight of a face's past frames in its probabilities (0: off)

    def __post_init__(self):
        TrackerConfig(self.redetect_every, self.smooth)  # checks both
        if self.try_mask is not None:
            from maskfer.masks.draw import check_mask_type

            check_mask_type(self.try_mask)
        if not self.fps > 0:
            raise ValueError(f"--fps must be more than 0, got {self.fps}")
        if self.max_faces < 1:
            raise ValueError(f"--max-faces must be at least 1, got {self.max_faces}")
        if self.max_pixels < 4:
            raise ValueError(f"--max-pixels must be at least 4, got {self.max_pixels}")


def input_problems(paths: list[str | Path]) -> list[str]:
    """One error line for each path that is neither a file nor a folder holding an image or video."""
    problems = []
    for path in map(Path, paths):
        if path.is_dir():
            if next(iter_files([path]), None) is None:
                problems.append(f"{path}: folder has no images or videos")
        elif not path.is_file():
            problems.append(f"{path}: no such file or folder")
    return problems


@dataclass(frozen=True)
class InputProblem:
    """A path given that cannot be read at all (missing, or a folder with no image or video): its line, in its place."""

    message: str


def iter_inputs(paths: list[str | Path]) -> Iterator[Path | InputProblem]:
    """`iter_files`, with an `InputProblem` in the place of each path that `input_problems` refuses, so that every
    problem is told in the order the paths were given."""
    for path in map(Path, paths):
        problems = input_problems([path])
        if problems:
            yield InputProblem(problems[0])
        else:
            yield from iter_files([path])


def iter_files(paths: list[str | Path]) -> Iterator[Path]:
    """The files to read, streamed (a folder of a million photos is never a list): each file given, and each
    image or video in a folder given, searched recursively, a folder's files in name order before its subfolders."""
    for path in map(Path, paths):
        if path.is_file():
            yield path
        elif path.is_dir():
            for folder, subfolders, names in os.walk(path):
                subfolders.sort()
                for name in sorted(names):
                    if Path(name).suffix.lower() in (*IMAGE_EXTENSIONS, *VIDEO_EXTENSIONS) or _unnamed_image(Path(folder) / name):
                        yield Path(folder) / name


def _unnamed_image(path: Path) -> bool:
    """A file with no suffix whose bytes say it is an image (a PNG saved without its extension) is read too."""
    if path.suffix:
        return False
    try:
        with open(path, "rb") as handle:
            return image_kind(handle.read(12)) is not None
    except OSError:
        return False


class DamagedVideo(MaskferError):
    """A video that stopped decoding before the frames its header promises: its frames so far are read."""


def video_frames(path: Path, fps: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """(frame index, seconds, RGB frame) sampled at `fps`. An unreadable video raises MaskferError, one that stops
    short of the frames its header counts raises `DamagedVideo` after its last good frame; FFmpeg's own lines are
    kept off the terminal."""
    with native_logs_silenced():
        capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise MaskferError(f"{path}: cannot open as a video (unsupported codec or container, or not a video)")
        native = capture.get(cv2.CAP_PROP_FPS) or 0
        native = native if 0 < native < 1000 else 25.0
        promised = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        step = max(1, int(round(native / fps)))
        index, yielded = 0, 0
        while True:
            with native_logs_silenced():
                ok = capture.grab()
                ok, frame = capture.retrieve() if ok and index % step == 0 else (ok, None)
            if not ok:
                break
            if frame is not None:
                yielded += 1
                yield index, index / native, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
        if yielded == 0:
            raise MaskferError(f"{path}: no frame could be decoded (unsupported codec, or an empty or damaged video)")
        if promised > 0 and index < promised - 1:  # containers round their count: one frame short is no damage
            raise DamagedVideo(f"{path}: damaged video: decoding stopped at frame {index} of {promised}; "
                               f"the rows of the frames before it are kept")
    finally:
        capture.release()


def face_rows(file: str, frame: int | None, time_s: float | None, faces, mask_drawn: str | None = None,
              tracks: list[int] | None = None) -> list[dict]:
    """One row per face (with its `track` in a video), or one row that says no face was found."""
    base = {"file": file, "frame": frame, "time_s": None if time_s is None else round(time_s, 3), "mask_drawn": mask_drawn or ""}
    if not faces:  # nothing was drawn where no face was found
        return [{**base, "mask_drawn": "", "face": None, "status": "no face"}]
    rows = []
    for index, face in enumerate(faces):
        x0, y0, x1, y1 = face.box
        row = {**base, "face": index, "track": None if tracks is None else tracks[index], "status": face.status,
               "face_score": round(face.face_score, 4), "x0": x0, "y0": y0, "x1": x1, "y1": y1}
        if face.status == "ok":
            row.update({"mask_worn": face.mask_worn, "mask_worn_probability": round(face.mask_worn_probability, 4),
                        "expression": face.expression, **{f"p_{e}": round(face.probabilities[e], 4) for e in EMOTIONS}})
        rows.append(row)
    return rows


def video_rows(path: Path, name: Path, config: PredictConfig) -> tuple[list[dict], list, str | None]:
    """Rows of every sampled frame of a video, its faces followed as tracks, the annotated frames to write, and the
    line that says the video is damaged (its frames up to the damage are read)."""
    tracker = FaceTracker(TrackerConfig(config.redetect_every, config.smooth), config.max_faces)
    rows, annotations = [], []
    try:
        for frame, seconds, rgb in video_frames(path, config.fps):
            shown, faces, tracks = tracked_frame(tracker, rgb, config, seconds)
            rows += face_rows(str(path), frame, seconds, faces, config.try_mask, tracks)
            annotations.append((name.parent / f"{name.stem}_f{frame:06d}.jpg", shown, faces))
    except DamagedVideo as damage:
        return rows, annotations, str(damage)
    return rows, annotations, None


def tracked_frame(tracker: FaceTracker, image: np.ndarray, config: PredictConfig, time_s: float | None = None):
    """One frame of a video (at `time_s`) or a live stream (by the clock): its faces followed by `tracker` (detected
    where it must), read, and smoothed per track. Returns the image as shown (masked with `try_mask`), its faces,
    and each face's track."""
    tracked = tracker.faces(image, time_s)
    shown, faces = read_faces(image, faces=[face for _, face in tracked], try_mask=config.try_mask, seed=config.seed,
                              model=config.model)
    for (track, _), face in zip(tracked, faces):
        if face.probabilities is None:  # too small to read
            continue
        face.probabilities = tracker.smoothed(track, face.probabilities)
        face.expression = max(face.probabilities, key=face.probabilities.get)
    return shown, faces, [track for track, _ in tracked]


@dataclass(frozen=True)
class FilePredictor:
    """Reads one file (photo or video) into rows: a picklable task for worker processes and Dask workers.

    `threads` fixes the prediction runtimes' threads in the process that runs it (workers take 1).
    Returns (rows, None), ([], one-line error), or (rows, one line) when the video was damaged part way or only the
    annotated copy failed.
    """

    config: PredictConfig
    annotate_dir: Path | None = None
    overwrite: bool = False
    threads: int | None = None

    def __call__(self, task: tuple[Path | InputProblem, Path | None]) -> tuple[list[dict], str | None]:
        path, name = task
        if isinstance(path, InputProblem):
            return [], path.message
        if self.threads:
            use_runtime_threads(self.threads)
        try:
            damage = None
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                rows, annotations, damage = video_rows(path, name, self.config)  # annotations: (target, image, faces)
            else:
                shown, faces = read_faces(read_image(str(path), self.config.max_pixels), max_faces=self.config.max_faces,
                                          try_mask=self.config.try_mask, seed=self.config.seed, model=self.config.model)
                rows = face_rows(str(path), None, None, faces, self.config.try_mask)
                annotations = [(name, shown, faces)]
            problem = write_annotated(self.annotate_dir, annotations, self.overwrite) if self.annotate_dir else None
            return rows, damage or problem
        except MaskferError as exc:  # ImageError included: one line naming the file and the problem
            return [], str(exc)

    def chunk(self, tasks: list[tuple[Path, Path]]) -> list[tuple[list[dict], str | None]]:
        return [self(task) for task in tasks]


CHUNK = 8  # files a worker takes at a time


def _chunks(items, size: int):
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def predict_files(files, config: PredictConfig, annotate_dir: Path | None = None,
                  on_file: Callable[[Path], None] | None = None, names=None, overwrite: bool = False,
                  compute: ComputeConfig = ComputeConfig()) -> Iterator[tuple[list[dict], str | None]]:
    """For each file, in order: `FilePredictor`'s answer. `files` may be a stream; `names` names a file's annotated
    copy (default: `AnnotationNames([])`). More than one worker (`compute`): each takes one runtime thread."""
    name = names or AnnotationNames([])
    parallel = compute.jobs > 1 or compute.scheduler is not None or compute.cluster != "none"
    predictor = FilePredictor(config, annotate_dir, overwrite, threads=1 if parallel else None)
    tasks = ((path, name(path) if isinstance(path, Path) else None) for path in files)
    # Workers take files a chunk at a time: one Dask task a file cost more than reading the file.
    ahead, behind = itertools.tee(_chunks(tasks, CHUNK if parallel else 1))  # `behind` trails what workers took
    for chunk, answers in zip(behind, map_ordered(predictor.chunk, ahead, compute)):
        for (path, _), answer in zip(chunk, answers):
            yield answer
            if on_file:
                on_file(path)


def format_rows(rows: list[dict], fmt: str, header: bool = True) -> str:
    """Rows as CSV (with its header line unless `header=False`), JSON lines, or the inside of a JSON array (the rows
    separated by commas; `RowWriter` writes the brackets, and the comma before a later batch)."""
    check_name("output format", fmt, FORMATS)
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows)
    if fmt == "json":
        return ",\n".join(json.dumps(r) for r in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS, extrasaction="ignore")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def output_format(path: Path) -> str:
    """"csv" or "jsonl" from the file's suffix; another suffix is an error that lists the valid ones."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise MaskferError(f"{path}: cannot tell the output format from {suffix or 'no suffix'!r}; "
                           f"valid: {', '.join(OUTPUT_SUFFIXES)}")
    return OUTPUT_SUFFIXES[suffix]


PARTIAL = ".partial"  # beside the output: the rows of a batch still running, or stopped; `--resume` continues them


class RowWriter:
    """Rows appended to a CSV, JSON-lines or JSON file as they come, in a visible partial file renamed on close.

    Used as a context manager. Every file's rows are flushed to `NAME.partial` as they come, so no exit, however
    hard (`kill -9`, a power cut), loses them; the partial file is renamed to NAME however the block ends. The
    output is checked when the writer is made, before any work (`core.files.check_output_file`): a file already
    there is replaced only with `overwrite`, and with `resume` the rows of an earlier run are kept (from its
    partial file if it left one) and `done` names their files; a file that is not maskfer's rows is refused and
    left as it was.
    """

    def __init__(self, path: str | Path, resume: bool = False, overwrite: bool = False):
        self.path = Path(path)
        self.fmt = output_format(self.path)
        self.partial = self.path.with_name(self.path.name + PARTIAL)
        check_output_file(self.path, "--out", overwrite=overwrite, resume=resume)
        if self.partial.exists() and not (resume or overwrite):
            raise MaskferError(f"{self.partial}: the rows of a batch that was stopped; continue it with --resume, "
                               "or add --overwrite to start again")
        earlier = self.partial if self.partial.is_file() else self.path
        self.earlier = read_rows(earlier, self.fmt, cut=earlier == self.partial) if resume and earlier.is_file() else []
        self.done: set[str] = {row["file"] for row in self.earlier}  # files whose rows were kept from an earlier run
        self._rows = 0

    def __enter__(self) -> "RowWriter":
        # The kept rows go into a fresh partial file whole (written aside, then renamed over it): a kill while they
        # are copied leaves the old partial file as it was.
        start = format_rows([], "csv") if self.fmt == "csv" else "[\n" if self.fmt == "json" else ""
        rows = format_rows(self.earlier, self.fmt, header=False)
        atomic_write_bytes(self.partial, (start + rows).encode("utf-8"))
        self._rows = len(self.earlier)
        self._handle = open(self.partial, "a", newline="", encoding="utf-8")
        return self

    def write(self, rows: list[dict]) -> None:
        if self.fmt == "json" and self._rows and rows:
            self._handle.write(",\n")
        self._handle.write(format_rows(rows, self.fmt, header=False))
        self._rows += len(rows)
        self._handle.flush()
        os.fsync(self._handle.fileno())  # on disk, not only in the page cache: a power cut keeps the row

    def __exit__(self, *exc) -> None:
        if self.fmt == "json":
            self._handle.write("\n]\n")
        self._handle.close()
        os.replace(self.partial, self.path)


def _not_rows(path: Path, reason: str) -> MaskferError:
    return MaskferError(f"{path}: cannot resume from it, not rows that maskfer predict wrote ({reason}); left as it was")


def read_rows(path: Path, fmt: str | None = None, cut: bool = False) -> list[dict]:
    """The rows of an output file written by `RowWriter`, as it wrote them (CSV values as their text); `fmt` defaults
    to the suffix's. With `cut` (a partial file), a last row cut off by a kill is dropped. Anything else that is
    not maskfer's rows (another header, other keys, no `file`) is a one-line error."""
    fmt = fmt or output_format(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _not_rows(path, "not UTF-8 text") from None
    if cut and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    try:
        if fmt == "csv":
            reader = csv.DictReader(io.StringIO(text))
            header = reader.fieldnames or []
            if "file" not in header or not set(header) <= set(COLUMNS):
                raise _not_rows(path, f"its header is {','.join(header) or 'empty'}")
            rows = list(reader)
        elif fmt == "jsonl" or cut:  # a partial JSON array: one row a line, without its closing bracket
            rows = [json.loads(line.rstrip(",")) for line in text.splitlines() if line.strip() not in ("", "[", "]")]
        else:
            rows = json.loads(text)
    except (ValueError, csv.Error) as exc:
        raise _not_rows(path, str(exc)) from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "file" in r and set(r) <= set(COLUMNS) for r in rows):
        raise _not_rows(path, "rows without maskfer's columns")
    return rows
