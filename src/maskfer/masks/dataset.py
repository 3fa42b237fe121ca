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
from maskfer.data.images import ImageError, content_hash, read_image
from maskfer.errors import check_name
from maskfer.evaluation.parallel import ComputeConfig, run_tasks
from maskfer.features.cache import Cache, atomic_write_bytes, stable_key
from maskfer.masks.draw import MASK_TYPES, draw_mask
from maskfer.masks.landmarks import Face, find_faces

CHUNK = 32
RECORD_COLUMNS = ["path", "original", "mask_type", "seed", "status", "reason", "n_faces", "landmarks", "face_score",
                  "mouth_nose_covered", "eyes_brows_covered", "yaw", "pitch", "roll"]
FORMATS = ("png", "jpg")


@dataclass(frozen=True)
class MaskingConfig:
    """Which masks to draw and how; saved with every masked table."""

    types: tuple[str, ...] = MASK_TYPES
    seed: int = 0
    largest: bool = False  # mask only the largest face (else every face found)
    max_faces: int = 5
    image_format: str = "jpg"  # quality 95; PNG costs ~10x more to encode than the mask costs to draw
    crop_fallback: bool = True  # small images with no face detected are taken as registered face crops

    def __post_init__(self):
        for kind in self.types:
            check_name("mask type", kind, MASK_TYPES)
        check_name("image format", self.image_format, FORMATS)


def mask_seed(base: int, source: str, kind: str) -> int:
    """A per-photo, per-type seed: different masks across photos, the same pixels on every rerun."""
    digest = hashlib.blake2b(f"{base}:{source}:{kind}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def cached_faces(image: np.ndarray, max_faces: int, crop_fallback: bool, cache: Cache) -> list[Face]:
    """Faces of one photo, from the cache when these pixels were seen before."""
    pixels = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest()
    key = stable_key("faces", pixels, image.shape, max_faces, crop_fallback)
    hit = cache.load_arrays("faces", key)
    if hit is not None:
        return [Face(lm, tuple(int(v) for v in box), *map(float, pose), source=str(source), score=float(score))
                for lm, box, pose, source, score in zip(hit["landmarks"], hit["boxes"], hit["poses"], hit["sources"], hit["scores"])]
    faces = find_faces(image, max_faces, crop_fallback)
    cache.save_arrays("faces", key, landmarks=np.array([f.landmarks for f in faces], np.float32).reshape(-1, 468, 3),
                      boxes=np.array([f.box for f in faces], np.int64).reshape(-1, 4),
                      poses=np.array([(f.yaw, f.pitch, f.roll) for f in faces], np.float64).reshape(-1, 3),
                      sources=np.array([f.source for f in faces], dtype=str), scores=np.array([f.score for f in faces]))
    return faces


def _encode(image: np.ndarray, image_format: str) -> bytes:
    ok, data = cv2.imencode(f".{image_format}", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 95] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return data.tobytes()


def output_name(row: dict, kind: str, image_format: str) -> str:
    stem = Path(str(row["path"]).replace("#", "_")).stem
    digest = hashlib.blake2b(str(row["path"]).encode(), digest_size=3).hexdigest()  # two photos may share a stem
    return f"{kind}/{stem}_{digest}_{kind}.{image_format}"


def mask_photo(row: dict, config: MaskingConfig, out: Path, cache: Cache) -> list[dict]:
    """All mask types on one photo: one record per type (status ok or failed, with the reason)."""
    base = {"original": row["path"], "n_faces": 0, "landmarks": None, "face_score": np.nan, "mouth_nose_covered": np.nan, "eyes_brows_covered": np.nan,
            "yaw": np.nan, "pitch": np.nan, "roll": np.nan}

    def failed(reason, **extra):
        return [{**base, **extra, "path": None, "mask_type": kind, "seed": mask_seed(config.seed, row["source"], kind),
                 "status": "failed", "reason": reason} for kind in config.types]

    try:
        image = read_image(row["path"])
    except ImageError as exc:
        return failed(exc.reason)
    faces = cached_faces(image, config.max_faces, config.crop_fallback, cache)
    if not faces:
        return failed("no face found")
    faces = faces[:1] if config.largest else faces
    pose = {"n_faces": len(faces), "landmarks": faces[0].source, "face_score": faces[0].score,
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
        record = {**base, **pose, "mask_type": kind, "seed": seed, "mouth_nose_covered": worst.mouth_nose_covered,
                  "eyes_brows_covered": worst.eyes_brows_covered}
        if worst.passed:
            name = output_name(row, kind, config.image_format)
            atomic_write_bytes(out / name, _encode(masked, config.image_format))
            records.append({**record, "path": str(out / name), "status": "ok", "reason": ""})
        else:
            records.append({**record, "path": None, "status": "failed", "reason": worst.reason})
    return records


def _mask_chunk(rows: list[dict], config: MaskingConfig, out: str, cache_root: str, cache_enabled: bool) -> list[list[dict]]:
    cache = Cache(cache_root, enabled=cache_enabled)
    return [mask_photo(row, config, Path(out), cache) for row in rows]


def _record_key(row: dict, config: MaskingConfig, out: Path) -> str:
    return stable_key("masked", maskfer.__version__, content_hash(row["path"]), row["path"], row["source"], asdict(config), str(out))


def mask_dataset(table: pd.DataFrame, out: str | Path, config: MaskingConfig = MaskingConfig(), cache: Cache | None = None,
                 compute: ComputeConfig = ComputeConfig(), on_photo=None) -> pd.DataFrame:
    """Mask every photo of a dataset table; returns one row per (photo, mask type).

    The returned table keeps the dataset's columns (emotion, subject, source, ...) with `path`
    pointing at the masked image, plus `original`, `mask_type`, `seed`, `status`, `reason` and
    the quality numbers. Failed rows have no path.
    """
    cache = cache if cache is not None else Cache()
    out = Path(out)
    rows = table.to_dict("records")
    keys = [_record_key(row, config, out) for row in rows]
    records: list = [None] * len(rows)
    for i, key in enumerate(keys):
        hit = cache.load_json("masked", key)
        if hit is not None and all(r["path"] is None or Path(r["path"]).exists() for r in hit):
            records[i] = hit
            if on_photo:
                on_photo(1)
    todo = [i for i, r in enumerate(records) if r is None]
    chunks = [todo[start:start + CHUNK] for start in range(0, len(todo), CHUNK)]

    def store(j, chunk_records):
        for i, photo_records in zip(chunks[j], chunk_records):
            records[i] = photo_records
            cache.save_json("masked", keys[i], photo_records)
        if on_photo:
            on_photo(len(chunks[j]))

    tasks = [([rows[i] for i in chunk], config, str(out), str(cache.root), cache.enabled) for chunk in chunks]
    run_tasks(_mask_chunk, tasks, compute, on_result=store)
    flat = []
    for row, photo_records in zip(rows, records):
        for record in photo_records:
            flat.append({**row, **record})
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
