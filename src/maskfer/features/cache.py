"""A content-keyed on-disk cache: keys hash the inputs' content and the parameters.

Every write goes to a temporary name in the same folder and is renamed into place, so a run
killed halfway leaves either a whole entry or none, and the next run resumes from what is there.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np


def default_cache_dir() -> Path:
    """`$MASKFER_CACHE_DIR`, else `$XDG_CACHE_HOME/maskfer`, else `~/.cache/maskfer` (read at call time)."""
    if os.environ.get("MASKFER_CACHE_DIR"):
        return Path(os.environ["MASKFER_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "maskfer"


def stable_key(*parts) -> str:
    """A short hex key for any JSON-serialisable parts (dict keys sorted, so order never matters)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str))


class Cache:
    """Arrays and JSON documents under one folder, by key. `Cache(None)` uses the default folder."""

    def __init__(self, root: str | Path | None = None, enabled: bool = True):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.enabled = enabled

    def _path(self, kind: str, key: str, suffix: str) -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def load_arrays(self, kind: str, key: str) -> dict[str, np.ndarray] | None:
        path = self._path(kind, key, ".npz")
        if not (self.enabled and path.exists()):
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed, never trusted

    def save_arrays(self, kind: str, key: str, **arrays: np.ndarray) -> None:
        if not self.enabled:
            return
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(self._path(kind, key, ".npz"), buffer.getvalue())

    def load_json(self, kind: str, key: str):
        path = self._path(kind, key, ".json")
        if not (self.enabled and path.exists()):
            return None
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None

    def save_json(self, kind: str, key: str, obj) -> None:
        if self.enabled:
            atomic_write_json(self._path(kind, key, ".json"), obj)
