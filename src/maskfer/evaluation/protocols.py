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
    "mask_type": "each fold validates on one mask type never seen in training, and on people never seen in training",
    "mask_renderer": "each fold validates on masks from a renderer never seen in training (drawn or template), "
                     "and on people never seen in training",
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


def held_out_mask_folds(labels, mask_types, people, n_splits: int = 5, seed: int = 0, what: str = "mask type") -> Folds:
    """One fold per mask type (or renderer): validate on it, train on the others, people disjoint too.

    Without the person split the model would have seen the validation faces under other masks,
    and the score would measure recognising people, not carrying over to a new mask.
    """
    mask_types = np.asarray(mask_types, dtype=object)
    kinds = sorted(set(mask_types))
    if len(kinds) < 2:
        raise MaskferError(f"holding out a {what} needs at least two; this data has {kinds or 'none'}")
    person_folds = _grouped_folds(labels, people, n_splits, seed, "subject")
    folds = []
    for k, kind in enumerate(kinds):
        _, held_people = person_folds[k % len(person_folds)]
        in_held = np.zeros(len(labels), bool)
        in_held[held_people] = True
        test = np.flatnonzero(in_held & (mask_types == kind))
        train = np.flatnonzero(~in_held & (mask_types != kind))
        folds.append((train, test))
    return folds


def _people(table: pd.DataFrame) -> list:
    # Qualified by dataset, so subject "01" of two datasets is two people.
    return [None if pd.isna(s) else f"{d}:{s}" for d, s in zip(table["dataset"], table["subject"])]


def default_protocol(table: pd.DataFrame) -> str:
    """`subject` where every image has a person, else `source` (FER2013 has no person ids)."""
    return "subject" if table["subject"].notna().all() else "source"


def make_folds(protocol: str, table: pd.DataFrame, n_splits: int = 5, seed: int = 0) -> Folds:
    """The folds of a named protocol over a dataset table (columns emotion, subject, source, mask_type)."""
    check_name("protocol", protocol, PROTOCOLS)
    labels = table["emotion"].to_numpy()
    if protocol == "random":
        return random_folds(labels, n_splits, seed)
    if protocol == "subject":
        return subject_disjoint_folds(labels, _people(table), n_splits, seed)
    if protocol in ("mask_type", "mask_renderer"):
        if protocol not in table:
            raise MaskferError(f"the {protocol} protocol needs masked data (run with --masks)")
        people = _people(table) if table["subject"].notna().all() else table["source"].tolist()
        what = "mask type" if protocol == "mask_type" else "mask renderer"
        return held_out_mask_folds(labels, table[protocol].to_numpy(), people, n_splits, seed, what)
    return source_disjoint_folds(labels, table["source"].to_numpy(), n_splits, seed)


def early_stopping_split(protocol: str, table: pd.DataFrame, train: np.ndarray, n_splits: int = 5,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(fit, stop): the training fold split again, so early stopping never looks at the fold it is scored on.

    The stop rows are one fold of the same protocol over the training rows (about a fifth), so under
    `subject` the epochs are chosen on people the model does not train on, as the scored fold's
    people are; the held-out-mask protocols split their training rows by person.
    """
    inner = protocol if protocol in ("random", "subject", "source") else "subject"
    if inner == "subject" and table["subject"].iloc[train].isna().any():
        inner = "source"
    fit, stop = make_folds(inner, table.iloc[train].reset_index(drop=True), n_splits, seed)[0]
    return train[fit], train[stop]
