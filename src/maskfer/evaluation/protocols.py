"""Evaluation protocols: which images may sit on both sides of a split.

- `random`: the study's stratified 5-fold split over images. The same person, and the same
  photo under another mask, can be on both sides, which is how it reached 99%+.
- `subject` (the default): grouped by person, so no person is on both sides.
- `source`: grouped by original photo, so all versions of one photo stay on one side.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from maskfer.errors import MaskferError, check_name

PROTOCOLS = {
    "random": "stratified 5-fold over images (the study's split; people and photos leak across folds)",
    "subject": "grouped by person: no person is in both training and validation",
    "source": "grouped by original photo: all versions of one photo stay on one side",
}
DEFAULT_PROTOCOL = "subject"

Folds = list[tuple[np.ndarray, np.ndarray]]


def _split(splitter, labels, groups=None) -> Folds:
    with warnings.catch_warnings():
        # Small classes (fewer members than folds) are expected on the sample sets.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return [(train, test) for train, test in splitter.split(np.zeros(len(labels)), labels, groups)]


def random_folds(labels, n_splits: int = 5, seed: int = 0) -> Folds:
    return _split(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed), np.asarray(labels))


def _grouped_folds(labels, groups, n_splits: int, seed: int, what: str) -> Folds:
    groups = np.asarray(groups, dtype=object)
    if pd.isna(groups).any():
        raise MaskferError(f"the {what} protocol needs a {what} for every image; {int(pd.isna(groups).sum())} have none "
                           f"(valid protocols for this data: random" + (", source" if what == "subject" else "") + ")")
    n_groups = len(set(groups))
    if n_groups < n_splits:
        raise MaskferError(f"the {what} protocol needs at least {n_splits} {what}s for {n_splits} folds; this data has {n_groups}")
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return _split(splitter, np.asarray(labels), groups)


def subject_disjoint_folds(labels, subjects, n_splits: int = 5, seed: int = 0) -> Folds:
    """Folds in which no subject (person) is on both sides, classes stratified as far as possible."""
    return _grouped_folds(labels, subjects, n_splits, seed, "subject")


def source_disjoint_folds(labels, sources, n_splits: int = 5, seed: int = 0) -> Folds:
    """Folds in which every version of one original photo stays on one side."""
    return _grouped_folds(labels, sources, n_splits, seed, "source")


def make_folds(protocol: str, table: pd.DataFrame, n_splits: int = 5, seed: int = 0) -> Folds:
    """The folds of a named protocol over a dataset table (columns emotion, subject, source)."""
    check_name("protocol", protocol, PROTOCOLS)
    labels = table["emotion"].to_numpy()
    if protocol == "random":
        return random_folds(labels, n_splits, seed)
    if protocol == "subject":
        # Qualified by dataset, so subject "01" of two datasets is two people.
        subjects = [None if pd.isna(s) else f"{d}:{s}" for d, s in zip(table["dataset"], table["subject"])]
        return subject_disjoint_folds(labels, subjects, n_splits, seed)
    return source_disjoint_folds(labels, table["source"].to_numpy(), n_splits, seed)
