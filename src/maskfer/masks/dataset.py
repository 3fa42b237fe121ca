"""Masking a whole dataset: every photo x every mask type, each result checked by the quality rule.

One photo's landmarks are found once (and cached by its content) and reused for all its mask
types. Each photo's records are cached too, and every image is written under a temporary name
and renamed, so an interrupted run resumes where it stopped and leaves nothing half-written.
Photos with no face, unreadable files and masks that fail the quality rule are not dropped:
each is a row of the table with its reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

import maskfer
from maskfer.core.cache import Cache, cached_map, stable_key
from maskfer.core.files import atomic_write_bytes, atomic_write_json, atomic_write_text
from maskfer.core.images import ENCODINGS, ImageError, content_hash, encode_image, read_image
from maskfer.core.parallel import ComputeConfig
from maskfer.errors import check_name
from maskfer.faces.landmarks import FACE_DATASETS, FACES_VERSION, cached_faces
from maskfer.masks.draw import MASK_TYPES, MASKS, check_mask_type, draw_mask

CHUNK = 32
RECORD_COLUMNS = ["path", "original", "mask_type", "mask_renderer", "seed", "status", "reason", "n_faces", "landmarks", "face_score",
                  "mouth_nose_covered", "eyes_brows_covered", "yaw", "pitch", "roll"]


@dataclass(frozen=True)
class MaskingConfig:
    """Which masks to draw and how; saved with every masked table."""

    types: tuple[str, ...] = MASK_TYPES
    seed: int = 0
    largest: bool = False  # mask only the largest face (else every face found)
    max_faces: int = 5
    image_format: str = "jpg"  # quality 95; PNG costs ~10x more to encode than the mask costs to draw
    crop_fallback: bool = True  # an image with no face detected is taken as a face crop where the landmark model agrees

    def __post_init__(self):
        for kind in self.types:
            check_mask_type(kind)
        check_name("image format", self.image_format, ENCODINGS)


def mask_seed(base: int, source: str, kind: str) -> int:
    """A per-photo, per-type seed: different masks across photos, the same pixels on every rerun."""
    digest = hashlib.blake2b(f"{base}:{source}:{kind}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def output_name(row: dict, kind: str, image_format: str) -> str:
    stem = Path(str(row["path"]).replace("#", "_")).stem
    digest = hashlib.blake2b(str(row["path"]).encode(), digest_size=3).hexdigest()  # two photos may share a stem
    return f"{kind}/{stem}_{digest}_{kind}.{image_format}"


def mask_photo(row: dict, config: MaskingConfig, out: Path, cache: Cache) -> list[dict]:
    """All mask types on one photo: one record per type (status ok or failed, with the reason)."""
    base = {"original": row["path"], "n_faces": 0, "landmarks": None, "face_score": np.nan, "mouth_nose_covered": np.nan, "eyes_brows_covered": np.nan,
            "yaw": np.nan, "pitch": np.nan, "roll": np.nan}

    def failed(reason, **extra):
        return [{**base, **extra, "path": None, "mask_type": kind, "mask_renderer": MASKS[kind].renderer,
                 "seed": mask_seed(config.seed, row["source"], kind),
                 "status": "failed", "reason": reason} for kind in config.types]

    try:
        image = read_image(row["path"])
    except ImageError as exc:
        return failed(exc.reason)
    faces = cached_faces(image, cache, rule=FACE_DATASETS, max_faces=config.max_faces, crop_fallback=config.crop_fallback)
    if not faces:
        return failed("no face found")
    faces = faces[:1] if config.largest else faces
    pose = {"n_faces": len(faces), "landmarks": faces[0].source, "face_score": faces[0].face_score,
            "yaw": faces[0].yaw, "pitch": faces[0].pitch, "roll": faces[0].roll}
    records = []
    for kind in config.types:
        seed = mask_seed(config.seed, row["source"], kind)
        masked, worst = image, None
        for index, face in enumerate(faces):
            result = draw_mask(masked, face, kind, seed + index)
            masked = result.image
            if worst is None or (result.quality.passed, result.quality.mouth_nose_covered) < (worst.passed, worst.mouth_nose_covered):
                worst = result.quality
        record = {**base, **pose, "mask_type": kind, "mask_renderer": MASKS[kind].renderer, "seed": seed, "mouth_nose_covered": worst.mouth_nose_covered,
                  "eyes_brows_covered": worst.eyes_brows_covered}
        if worst.passed:
            name = output_name(row, kind, config.image_format)
            atomic_write_bytes(out / name, encode_image(masked, config.image_format))
            records.append({**record, "path": str(out / name), "status": "ok", "reason": ""})
        else:
            records.append({**record, "path": None, "status": "failed", "reason": worst.reason})
    return records


def _mask_chunk(rows: list[dict], config: MaskingConfig, out: str, cache_root: str, cache_enabled: bool) -> list[list[dict]]:
    cache = Cache(cache_root, enabled=cache_enabled)
    return [mask_photo(row, config, Path(out), cache) for row in rows]


def _record_key(row: dict, config: MaskingConfig, out: Path) -> str:
    return stable_key("masked", maskfer.__version__, FACES_VERSION, content_hash(row["path"]), row["path"], row["source"],
                      asdict(config), str(out))


def mask_dataset(table: pd.DataFrame, out: str | Path, config: MaskingConfig = MaskingConfig(), cache: Cache | None = None,
                 compute: ComputeConfig = ComputeConfig(), on_photo=None) -> pd.DataFrame:
    """Mask every photo of a dataset table; returns one row per (photo, mask type).

    The returned table keeps the dataset's columns (emotion, subject, source, ...) with `path`
    pointing at the masked image, plus `original`, `mask_type`, `seed`, `status`, `reason` and
    the quality numbers. Failed rows have no path. Each photo's records are cached (and reused
    only while the images they name are still there), computed `CHUNK` photos to a task.
    """
    cache = cache if cache is not None else Cache()
    out = Path(out)
    rows = table.to_dict("records")
    records = cached_map(_mask_chunk, rows, [_record_key(row, config, out) for row in rows], cache=cache, kind="masked",
                         args=(config, str(out), str(cache.root), cache.enabled), batch=CHUNK, compute=compute,
                         on_progress=on_photo, valid=lambda hit: all(r["path"] is None or Path(r["path"]).exists() for r in hit))
    flat = [{**row, **record} for row, photo_records in zip(rows, records) for record in photo_records]
    columns = list(table.columns) + [c for c in RECORD_COLUMNS if c not in table.columns]
    return pd.DataFrame(flat, columns=columns)


def contact_sheet(masked: pd.DataFrame, kind: str, n: int = 16, seed: int = 0, tile: int = 128) -> np.ndarray | None:
    """A grid of up to n random successful results of one mask type, each beside its original."""
    ok = masked[(masked["mask_type"] == kind) & (masked["status"] == "ok")]
    if ok.empty:
        return None
    chosen = ok.sample(n=min(n, len(ok)), random_state=seed)
    tiles = []
    for _, row in chosen.iterrows():
        pair = [cv2.resize(read_image(p), (tile, tile), interpolation=cv2.INTER_AREA) for p in (row["original"], row["path"])]
        tiles.append(np.concatenate(pair, axis=1))
    columns = 4
    while len(tiles) % columns:
        tiles.append(np.full_like(tiles[0], 255))
    return np.concatenate([np.concatenate(tiles[r:r + columns], axis=1) for r in range(0, len(tiles), columns)], axis=0)


def masking_summary(masked: pd.DataFrame) -> dict:
    """Counts of ok and failed results per mask type, and failures per reason."""
    by_type = masked.groupby("mask_type")["status"].value_counts().unstack(fill_value=0)
    reasons = masked.loc[masked["status"] == "failed", "reason"].str.split(" \\(").str[0].value_counts()
    photos = masked.groupby("original")["status"].apply(lambda s: (s == "ok").all())
    return {
        "photos": int(len(photos)),
        "landmarks": {k: int(v) for k, v in masked.drop_duplicates("original")["landmarks"].value_counts().items()},
        "photos_all_types_ok": int(photos.sum()),
        "pass_rate": float((masked["status"] == "ok").mean()),
        "per_type": {kind: {k: int(v) for k, v in counts.items()} for kind, counts in by_type.iterrows()},
        "failures": {k: int(v) for k, v in reasons.items()},
    }


def write_masking_outputs(masked: pd.DataFrame, out: str | Path, config: MaskingConfig, dataset: str) -> dict:
    """Beside the masked images: `masks.csv` (every row), `summary.json`, and a contact sheet per type.

    Returns the summary (see `masking_summary`).
    """
    out = Path(out)
    summary = masking_summary(masked)
    atomic_write_text(out / "masks.csv", masked.to_csv(index=False))
    atomic_write_json(out / "summary.json", {"config": asdict(config), "dataset": str(dataset), **summary})
    for kind in config.types:
        sheet = contact_sheet(masked, kind, seed=config.seed)
        if sheet is not None:
            atomic_write_bytes(out / f"contact_{kind}.png", encode_image(sheet, "png"))
    return summary


def mask_folder(path: str | Path, out: str | Path, config: MaskingConfig = MaskingConfig(), layout: str = "auto",
                subject_regex: str | None = None, cache: Cache | None = None, compute: ComputeConfig = ComputeConfig(),
                on_photo=None, on_start=None) -> tuple[pd.DataFrame, dict]:
    """`maskfer mask`: read a dataset, mask every photo into `out`, and write the table, summary and sheets.

    `on_start(n_photos)` is called once the dataset is read (to size a progress bar).
    """
    from maskfer.data.readers import read_dataset

    table = read_dataset(path, layout, subject_regex).table
    if on_start:
        on_start(len(table))
    masked = mask_dataset(table, out, config, cache, compute, on_photo)
    return masked, write_masking_outputs(masked, out, config, str(path))
