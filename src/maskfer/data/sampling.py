"""Balanced sampling as the study did it (equal emotions and head angles where the data allows), and
fixed person hold-outs chosen by a hash of the name."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def balanced_sample(table: pd.DataFrame, n: int, by=("emotion", "angle"), seed: int = 0, replace: bool = False) -> pd.DataFrame:
    """Draw `n` rows with each (emotion, angle) cell as equal as the data allows.

    Without replacement a cell smaller than its share gives all it has and the shortfall is
    spread over the other cells (water-filling), so the total is min(n, len(table)). With
    replacement every cell gets exactly its share.
    """
    if n <= 0:
        raise ValueError(f"sample size must be positive, got {n}")
    rng = np.random.default_rng(seed)
    keys = table[list(by)].astype(str).fillna("unknown")
    groups = {key: idx for key, idx in table.groupby([keys[c] for c in by], sort=True).indices.items()}
    sizes = {key: len(idx) for key, idx in groups.items()}
    quota = dict.fromkeys(groups, 0)
    remaining, open_cells = n if replace else min(n, len(table)), sorted(groups)
    while remaining > 0 and open_cells:
        share, extra = divmod(remaining, len(open_cells))
        for i, key in enumerate(open_cells):
            want = share + (1 if i < extra else 0)
            take = want if replace else min(want, sizes[key] - quota[key])
            quota[key] += take
            remaining -= take
        open_cells = [k for k in open_cells if replace or quota[k] < sizes[k]]
        if replace:
            break
    chosen = [rng.choice(groups[key], size=quota[key], replace=replace) for key in sorted(groups) if quota[key]]
    order = rng.permutation(np.concatenate(chosen))
    return table.iloc[order].reset_index(drop=True)


def held_out_subjects(subjects, fraction: float = 0.2, salt: str = "maskfer") -> np.ndarray:
    """True for a fixed `fraction` of the people (at least one), the first when ordered by a hash of the name.

    A hash, not a shuffle of the table: the same people are held out however the table is
    read or sampled, so a model trained on one table is never tested on its own people.
    """
    names = sorted(set(subjects), key=lambda n: hashlib.blake2b(f"{salt}:{n}".encode(), digest_size=8).digest())
    held = set(names[:max(1, round(fraction * len(names)))])
    return np.array([s in held for s in subjects], dtype=bool)
