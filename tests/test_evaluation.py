"""Cross-validation, fold caching, sweeps (locally and on a real Dask LocalCluster)."""

import json
import re

import numpy as np
import pandas as pd
import pytest

import maskfer.evaluation.experiment as experiment
from maskfer.labels import EMOTIONS
from maskfer.core.parallel import ComputeConfig
from maskfer.evaluation import ExperimentConfig, evaluate
from maskfer.features import table_features
from maskfer.evaluation.sweeps import SWEEPS, run_sweep
from maskfer.core.cache import Cache
from maskfer.features import AugmentConfig, PixelConfig

from conftest import face_like, save

SMALL = PixelConfig(size=16)


@pytest.fixture
def features(tmp_path):
    """84 learnable synthetic images: 6 people x 7 expressions x 2 photos."""
    rows = []
    for person in range(6):
        for label, emotion in enumerate(EMOTIONS):
            for shot in range(2):
                path = save(tmp_path / "img" / f"{person}_{label}_{shot}.png", face_like(label, person * 100 + label * 2 + shot))
                rows.append({"path": str(path), "emotion": emotion, "subject": f"p{person}", "dataset": "toy",
                             "session": None, "gender": None, "angle": None, "source": path.stem, "split": None})
    return table_features(pd.DataFrame(rows), SMALL, Cache(tmp_path / "cache"))


def test_result_has_the_studys_scores_and_its_config(features, tmp_path):
    config = ExperimentConfig(model="logreg", protocol="subject", pixels=SMALL)
    result = evaluate(features, config, Cache(tmp_path / "cache"))
    assert len(result["folds"]) == 5
    fold = result["folds"][0]
    for key in ("train_accuracy", "val_accuracy", "val_mse", "val_macro_f1", "val_recall", "val_confusion",
                "fit_seconds", "predict_seconds"):
        assert key in fold
    assert sum(f["n_test"] for f in result["folds"]) == 84
    assert np.sum(result["summary"]["val_confusion"]) == 84
    assert result["summary"]["val_accuracy"]["mean"] > 0.8  # the synthetic classes are separable
    assert ExperimentConfig.from_dict(json.loads(json.dumps(result["config"]))) == config


def test_mse_is_of_the_label_index(features, tmp_path):
    from maskfer.evaluation.metrics import scores

    s = scores(np.array([0, 6, 3]), np.array([0, 0, 4]))
    assert s["accuracy"] == pytest.approx(1 / 3) and s["mse"] == pytest.approx((36 + 1) / 3)
    assert s["recall"]["afraid"] == 1.0 and s["recall"]["angry"] is None


def test_folds_are_cached_so_a_rerun_fits_nothing(features, tmp_path, monkeypatch):
    cache = Cache(tmp_path / "cache")
    config = ExperimentConfig(model="naive_bayes", pixels=SMALL)
    first = evaluate(features, config, cache)
    monkeypatch.setattr(experiment, "fit_and_score_fold", lambda *a: pytest.fail("refitted a cached fold"))
    assert evaluate(features, config, cache)["summary"] == first["summary"]
    with pytest.raises(pytest.fail.Exception):  # another config is not served from the cache
        evaluate(features, ExperimentConfig(model="naive_bayes", pixels=SMALL, seed=1), cache)


def test_cached_folds_are_reported_in_one_call_so_the_time_left_leaves_them_out(features, tmp_path):
    cache, config = Cache(tmp_path / "cache"), ExperimentConfig(model="naive_bayes", pixels=SMALL)
    fresh, cached = [], []
    evaluate(features, config, cache, on_fold=fresh.append)
    evaluate(features, config, cache, on_fold=cached.append)
    assert fresh == [1] * config.n_splits  # each fold as it ends
    assert cached == [config.n_splits]


def test_folds_run_fold_major_so_a_run_stopped_early_has_every_config_started(features, tmp_path, monkeypatch):
    ran = []
    fit = experiment.fit_and_score_fold
    monkeypatch.setattr(experiment, "fit_and_score_fold", lambda X, y, train, test, model, *rest: (
        ran.append((model, len(test))), fit(X, y, train, test, model, *rest))[1])
    configs = [ExperimentConfig(model=m, protocol="subject", n_splits=3, pixels=SMALL) for m in ("naive_bayes", "logreg")]
    results = experiment.evaluate_many(features, configs, Cache(tmp_path / "cache"))
    assert [model for model, _ in ran] == ["naive_bayes", "logreg"] * 3
    for result in results:  # each config's folds come back in fold order whatever order they ran in
        assert [f["fold"] for f in result["folds"]] == [0, 1, 2]
        assert [f["n_test"] for f in result["folds"]] == [n for m, n in ran if m == result["config"]["model"]]


def test_a_masked_study_can_leave_out_its_held_out_mask_runs():
    from maskfer.study import StudyConfig, plan

    study = StudyConfig(data="x", masks=("surgical", "black", "sport"), models=("naive_bayes",), sweeps=(), augment_fraction=0)
    assert {section for section, _, _ in plan(study)} == {"models", "held_out_masks", "held_out_renderers"}
    study = StudyConfig(data="x", masks=("surgical", "black", "sport"), models=("naive_bayes",), sweeps=(), augment_fraction=0,
                        held_out=False)
    assert {section for section, _, _ in plan(study)} == {"models"}


def test_augmentation_touches_training_folds_only(features, tmp_path):
    plain = evaluate(features, ExperimentConfig(model="naive_bayes", pixels=SMALL), Cache(tmp_path / "c"))
    augmented = evaluate(features, ExperimentConfig(model="naive_bayes", pixels=SMALL, augment=AugmentConfig(fraction=0.5)),
                         Cache(tmp_path / "c"))
    for a, b in zip(plain["folds"], augmented["folds"]):
        assert a["n_test"] == b["n_test"]
        assert b["n_train"] == a["n_train"] + 6 * round(0.5 * a["n_train"])


@pytest.mark.slow
def test_sweep_runs_every_point_of_the_grid(features, tmp_path):
    result = run_sweep(features, "random_forest_trees", ExperimentConfig(pixels=SMALL, n_splits=3), quick=True,
                       cache=Cache(tmp_path / "cache"), compute=ComputeConfig(jobs=2))
    assert [p["params"]["n_estimators"] for p in result["points"]] == [5, 25, 100]
    assert all(p["summary"]["val_accuracy"]["mean"] > 0.5 for p in result["points"])
    assert SWEEPS["random_forest_trees"][1]["n_estimators"] == [5, 10, 25, 30, 50, 80, 100]


@pytest.mark.slow
def test_the_same_sweep_runs_on_a_real_dask_local_cluster(features, tmp_path):
    base = ExperimentConfig(pixels=SMALL, n_splits=3)
    local = run_sweep(features, "kmeans_k", base, quick=True, cache=Cache(tmp_path / "a"), compute=ComputeConfig(jobs=1))
    dask = run_sweep(features, "kmeans_k", base, quick=True, cache=Cache(tmp_path / "b"),
                     compute=ComputeConfig(jobs=2, cluster="local"))
    assert [p["summary"]["val_accuracy"] for p in dask["points"]] == [p["summary"]["val_accuracy"] for p in local["points"]]


def test_a_counted_step_in_a_log_prints_a_line_every_twentieth_with_the_time_left(capsys):
    from maskfer.core.progress import counted

    with counted("crops", 40) as advance:  # stderr is captured: not a terminal, so lines, no live bar
        for _ in range(40):
            advance()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 20 and lines[-1].startswith("crops 40/40 after ")
    assert all(re.fullmatch(r"crops \d+/40 after \d+ s(, about \d+ s left)?", line) for line in lines)
    with counted("quiet", 40, show=False) as advance:
        advance(40)
    assert capsys.readouterr().err == ""


def test_the_validation_figure_weighs_every_source_view_and_class_the_same():
    from maskfer.evaluation.metrics import answer_shares, balanced_accuracy, validation_figure

    # Source a: 9 of class 0 right, 1 of class 1 wrong (accuracy 90%, balanced 50%); source b: all right.
    y = np.array([0] * 9 + [1] + [2, 3])
    predicted = np.array([0] * 9 + [0] + [2, 3])
    sources = np.array(["a"] * 10 + ["b"] * 2)
    assert balanced_accuracy(y[:10], predicted[:10]) == 0.5
    result = validation_figure(y, predicted, sources, np.array(["none"] * 12))
    assert result["cells"] == {"a/none": 0.5, "b/none": 1.0} and result["figure"] == 0.75
    shares = answer_shares(y[:10], predicted[:10])
    assert shares["most_over_answered"] == "afraid" and shares["largest_ratio"] == pytest.approx(10 / 9)
