"""Protocols: `subject` folds never share a person, `source` folds never split a photo."""

import numpy as np
import pandas as pd
import pytest

from maskfer.data import read_dataset
from maskfer.labels import EMOTIONS
from maskfer.errors import MaskferError, UnknownNameError
from maskfer.evaluation import make_folds

from conftest import shared


def synthetic_table(n_subjects=12, per_subject=14, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        for k in range(per_subject):
            rows.append({"path": f"{s}_{k}", "emotion": EMOTIONS[k % 7], "subject": f"S{s}", "dataset": "toy",
                         "source": f"{s}_{k // 2}"})  # two versions (e.g. two masks) of each photo
    return pd.DataFrame(rows).sample(frac=1, random_state=int(rng.integers(100))).reset_index(drop=True)


def sides(table, folds, column):
    return [(set(table[column].iloc[train]), set(table[column].iloc[test])) for train, test in folds]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_subject_folds_never_share_a_person(seed):
    table = synthetic_table(seed=seed)
    folds = make_folds("subject", table, n_splits=5, seed=seed)
    assert len(folds) == 5
    for train, test in sides(table, folds, "subject"):
        assert not train & test
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(table)))  # every image validated exactly once


def test_source_folds_keep_every_version_of_a_photo_together():
    table = synthetic_table()
    for train, test in sides(table, make_folds("source", table), "source"):
        assert not train & test


def test_random_folds_leak_people_which_is_the_studys_flaw():
    table = synthetic_table()
    leaks = [bool(train & test) for train, test in sides(table, make_folds("random", table), "subject")]
    assert all(leaks)


def test_subject_protocol_on_real_tcep_is_person_disjoint():
    table = read_dataset(shared("tcep")).table
    for train, test in sides(table, make_folds("subject", table), "subject"):
        assert not train & test and len(test) > 0


def test_subjects_of_two_datasets_are_two_people():
    a, b = synthetic_table(6), synthetic_table(6)
    b["dataset"] = "other"
    table = pd.concat([a, b], ignore_index=True)
    keys = table["dataset"] + ":" + table["subject"]
    for train, test in sides(table.assign(key=keys), make_folds("subject", table), "key"):
        assert not train & test


def test_missing_subjects_or_too_few_fail_clearly():
    table = synthetic_table()
    table.loc[3, "subject"] = None
    with pytest.raises(MaskferError, match="needs a subject for every image"):
        make_folds("subject", table)
    with pytest.raises(MaskferError, match="at least 5 subjects"):
        make_folds("subject", synthetic_table(n_subjects=3))
    with pytest.raises(UnknownNameError, match="random, source, subject"):
        make_folds("person", table)


def test_mask_type_folds_hold_out_one_type_and_the_people_too():
    table = synthetic_table()
    kinds = ["surgical", "black", "gas"]
    table = pd.concat([table.assign(mask_type=k) for k in kinds], ignore_index=True)
    folds = make_folds("mask_type", table)
    assert len(folds) == len(kinds)
    for (train, test), kind in zip(folds, sorted(kinds)):
        assert set(table["mask_type"].iloc[test]) == {kind}
        assert kind not in set(table["mask_type"].iloc[train])
        assert not set(table["subject"].iloc[train]) & set(table["subject"].iloc[test])
    with pytest.raises(MaskferError, match="needs masked data"):
        make_folds("mask_type", synthetic_table())


def test_mask_renderer_folds_train_on_one_renderer_and_score_on_the_other():
    table = synthetic_table()
    kinds = {"surgical": "drawn", "gas": "drawn", "bandana": "template", "sport": "template"}
    table = pd.concat([table.assign(mask_type=k, mask_renderer=r) for k, r in kinds.items()], ignore_index=True)
    folds = make_folds("mask_renderer", table)
    assert len(folds) == 2
    for (train, test), renderer in zip(folds, ["drawn", "template"]):
        assert set(table["mask_renderer"].iloc[test]) == {renderer}
        assert set(table["mask_renderer"].iloc[train]) == {"drawn", "template"} - {renderer}
        assert not set(table["subject"].iloc[train]) & set(table["subject"].iloc[test])
    with pytest.raises(MaskferError, match="needs at least two"):
        make_folds("mask_renderer", table[table["mask_renderer"] == "drawn"])
