"""The shipped model's data splits: which photos of each source train it, which validate it (choose and
calibrate), and which are kept for evaluation only. Training and the model card both read them here.

| source | training | validation (chooses, calibrates) | evaluation only (never trained or chosen on) |
|---|---|---|---|
| fer2013 | `train/` | PublicTest (the challenge's validation part) | PrivateTest |
| rafdb | `train/` less `validation_fraction` of it (a hash of the name) | that share | `test/` (the official test part) |
| affectnet | `train/` | `valid/`, less the photos whose copy is in `train/` | `test/`, less the same |
| tcep, ckplus | the people left | `validation_fraction` of the training people | `holdout_fraction` of the people (a hash of the name) |

Every share is fixed by a hash of a name, not by a shuffle, so it is the same however the table is read.
The KDEF sample is never trained or chosen on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from maskfer.data.readers import ferplus_labels, read_dataset
from maskfer.data.sampling import held_out_subjects
from maskfer.errors import check_name

# Source name (the `dataset` column its reader writes) -> its folder under the data root.
SOURCE_FOLDERS = {"fer2013": "fer2013", "rafdb": "rafdb", "affectnet": "affectnet-subset", "tcep": "tcep", "ckplus": "ckplus"}
POSED_SETS = ("tcep", "ckplus")  # split by person: the same people never on two sides


def fer2013_table(root: Path, labels: str = "fer2013") -> pd.DataFrame:
    """FER2013's photos; with `labels="ferplus"`, each labelled by its FER+ majority (and dropped without one)."""
    table = read_dataset(root).table
    if labels == "ferplus":
        table = table.assign(emotion=ferplus_labels(table, root))
        table = table[table["emotion"].notna()].reset_index(drop=True)
    return table


def fer_validation_set(fer: pd.DataFrame) -> np.ndarray:
    """FER2013's PublicTest photos: the challenge's validation part."""
    return ((fer["split"] == "test") & fer["source"].str.contains("PublicTest")).to_numpy()


def fer_evaluation_set(fer: pd.DataFrame) -> np.ndarray:
    """FER2013's PrivateTest photos: the challenge's final test, never seen in training."""
    return ((fer["split"] == "test") & fer["source"].str.contains("PrivateTest")).to_numpy()


def source_parts(name: str, root: Path, config) -> dict[str, pd.DataFrame]:
    """{"train", "validation", "evaluation"} -> that source's photos (the table above). `config` gives `labels`,
    `holdout_fraction` and `validation_fraction` (a `DefaultModelConfig`)."""
    check_name("source", name, SOURCE_FOLDERS)
    folder = root / SOURCE_FOLDERS[name]
    if name == "fer2013":
        fer = fer2013_table(folder, config.labels)
        return {"train": fer[fer["split"] == "train"], "validation": fer[fer_validation_set(fer)],
                "evaluation": fer[fer_evaluation_set(fer)]}
    table = read_dataset(folder).table
    if name == "rafdb":
        train = table[table["split"] == "train"]
        held = held_out_subjects(train["source"], config.validation_fraction, "validation")
        return {"train": train[~held], "validation": train[held], "evaluation": table[table["split"] == "test"]}
    if name == "affectnet":
        unseen = ~table["duplicate_of_train"].astype(bool)
        return {"train": table[table["split"] == "train"], "validation": table[(table["split"] == "val") & unseen],
                "evaluation": table[(table["split"] == "test") & unseen]}
    evaluation = held_out_subjects(table["subject"], config.holdout_fraction)
    people = table[~evaluation]
    held = held_out_subjects(people["subject"], config.validation_fraction, "validation")
    return {"train": people[~held], "validation": people[held], "evaluation": table[evaluation]}


def training_table(config) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training photos, validation photos) of every source in `config.sources`, as pandas tables (`dataset` names
    each row's source). `config.limit` keeps that many photos of each source's part (a smoke configuration)."""
    root = Path(config.data)
    train, validation = [], []
    for name in config.sources:
        parts = source_parts(name, root, config)
        train.append(parts["train"])
        validation.append(parts["validation"])
    if config.limit:
        train, validation = ([p.sample(min(len(p), config.limit), random_state=config.seed) for p in parts]
                             for parts in (train, validation))
    return pd.concat(train, ignore_index=True), pd.concat(validation, ignore_index=True)
