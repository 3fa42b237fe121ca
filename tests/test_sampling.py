import pandas as pd
import pytest

from maskfer.data import balanced_sample


def table(cells):
    rows = [{"emotion": e, "angle": a, "i": i} for (e, a), n in cells.items() for i in range(n)]
    return pd.DataFrame(rows)


def test_equal_cells_where_the_data_allows():
    t = table({("happy", "S"): 50, ("sad", "S"): 50, ("happy", "HL"): 50, ("sad", "HL"): 50})
    counts = balanced_sample(t, 40, seed=0).groupby(["emotion", "angle"]).size()
    assert set(counts) == {10}


def test_small_cells_give_all_they_have_and_the_rest_is_spread():
    t = table({("happy", "S"): 3, ("sad", "S"): 100, ("angry", "S"): 100})
    sample = balanced_sample(t, 60, seed=0)
    counts = sample["emotion"].value_counts().to_dict()
    assert len(sample) == 60 and counts["happy"] == 3 and abs(counts["sad"] - counts["angry"]) <= 1
    assert not sample.duplicated().any()


def test_with_replacement_gives_exactly_n_and_equal_cells():
    t = table({("happy", "S"): 3, ("sad", "S"): 10})
    sample = balanced_sample(t, 100, seed=0, replace=True)
    assert len(sample) == 100 and sample["emotion"].value_counts().to_dict() == {"happy": 50, "sad": 50}


def test_seeded_and_capped():
    t = table({("happy", "S"): 30, ("sad", "S"): 30})
    assert balanced_sample(t, 20, seed=3).equals(balanced_sample(t, 20, seed=3))
    assert not balanced_sample(t, 20, seed=3).equals(balanced_sample(t, 20, seed=4))
    assert len(balanced_sample(t, 1000)) == 60
    with pytest.raises(ValueError):
        balanced_sample(t, 0)


def test_missing_angles_group_by_emotion():
    t = table({("happy", None): 10, ("sad", None): 30})
    assert balanced_sample(t, 20, seed=0)["emotion"].value_counts().to_dict() == {"happy": 10, "sad": 10}
