"""A content-keyed on-disk cache, and `cached_map`: the one loop every stage computes through.

Keys hash the inputs' content and the parameters, never a file name alone. Every write goes to
a temporary name and is renamed into place, so a run killed halfway leaves whole entries or
none, and the next run resumes from what is there.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from maskfer.core.files import atomic_write_bytes, atomic_write_json
from maskfer.errors import check_name

STORES = ("json", "arrays")  # a JSON document, or a dict of NumPy arrays (.npz)


def default_cache_dir() -> Path:
    """`$MASKFER_CACHE_DIR`, else `$XDG_CACHE_HOME/maskfer`, else `~/.cache/maskfer` (read at call time)."""
    if os.environ.get("MASKFER_CACHE_DIR"):
        return Path(os.environ["MASKFER_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "maskfer"


def stable_key(*parts) -> str:
    """A short hex key for any JSON-serialisable parts (dict keys sorted, so order never matters)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


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


def cached_map(function: Callable, items: Sequence, keys: Sequence[str], *, cache: Cache, kind: str, store: str = "json",
               args: tuple = (), batch: int = 1, compute=None, on_progress: Callable[[int], None] | None = None,
               weight: Callable | None = None, valid: Callable | None = None) -> list:
    """`[result of each item]`, each read from `cache` under (`kind`, its key) or computed and saved.

    `function(list_of_items, *args)` returns one result per item (a JSON-ready object, or a dict
    of arrays for `store="arrays"`). Misses are grouped `batch` items to a task and run through
    `run_tasks` (local processes or a Dask cluster, as `compute` says); each result is saved the
    moment its task ends, so a killed run resumes from what it had finished. A hit for which
    `valid(hit)` is false is computed again. `on_progress(n)` hears the total weight of the items
    found in the cache, then of each task as it ends (`weight(item)`, default 1 per item).
    """
    from maskfer.core.parallel import ComputeConfig, run_tasks

    check_name("cache store", store, STORES)
    if len(items) != len(keys):
        raise ValueError(f"{len(items)} items but {len(keys)} keys")
    load, save = (cache.load_json, cache.save_json) if store == "json" else (cache.load_arrays, cache.save_arrays)
    size = weight or (lambda item: 1)
    results: list = [None] * len(items)
    todo, cached = [], 0
    for i, key in enumerate(keys):
        hit = load(kind, key)
        if hit is not None and (valid is None or valid(hit)):
            results[i] = hit
            cached += size(items[i])
        else:
            todo.append(i)
    if on_progress and cached:
        on_progress(cached)
    tasks = [todo[start:start + batch] for start in range(0, len(todo), batch)]

    def finished(t, task_results):
        if len(task_results) != len(tasks[t]):
            raise RuntimeError(f"{getattr(function, '__name__', function)} returned {len(task_results)} results for {len(tasks[t])} items")
        for i, result in zip(tasks[t], task_results):
            if store == "json":
                result = json.loads(json.dumps(result, default=str))  # as a rerun will read it back
                save(kind, keys[i], result)
            else:
                save(kind, keys[i], **result)
            results[i] = result
        if on_progress:  # after the whole task is saved, so an exception here loses nothing computed
            on_progress(sum(size(items[i]) for i in tasks[t]))

    run_tasks(function, [([items[i] for i in task], *args) for task in tasks], compute or ComputeConfig(), on_result=finished)
    return results
