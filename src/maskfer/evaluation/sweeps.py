"""The study's hyper-parameter sweeps, each a named grid over one registered model.

Every point of a sweep is an ordinary cross-validation (same folds, same cache), so a sweep
runs in parallel locally or on a Dask cluster exactly like `evaluate`.
"""

from __future__ import annotations

from dataclasses import replace

from sklearn.model_selection import ParameterGrid

import maskfer
from maskfer.core.cache import Cache
from maskfer.core.parallel import ComputeConfig
from maskfer.errors import check_name
from maskfer.evaluation.experiment import ExperimentConfig, evaluate_many
from maskfer.features.pixels import Features

# name -> (model, grid). The SVM grids run on PCA features: on raw 12,288-pixel vectors an RBF
# fit takes 5.5 s at 985 training images and grows about with their square; on 100 PCA
# components the median exact fit at 12,000 images is 18 s, some points 2 minutes
# (bench/reproduce_speed.py). `svm_grid` is the study's grid on the Nystroem approximation,
# linear in the images; `svm_grid_exact` is the same grid on exact SVC (bench/svm_grid.py
# compares the two on the same folds).
SWEEPS = {
    "random_forest_trees": ("random_forest", {"n_estimators": [5, 10, 25, 30, 50, 80, 100]}),
    "kmeans_k": ("kmeans", {"n_clusters": list(range(7, 26, 2))}),
    "kmeans_batch": ("kmeans", {"batch_size": [6, 60, 240, 600, 1200, 2400]}),
    "logreg_c": ("logreg", {"C": [0.001, 0.01, 0.1, 1.0, 10.0]}),
    "svm_grid": ("pca+nystroem_svm", {"kernel": ["rbf", "poly"], "C": [0.1, 1.0, 10.0], "gamma": [0.0003, 0.001, 0.003, 0.01]}),
    "svm_grid_exact": ("pca+svm", {"kernel": ["rbf", "poly"], "C": [0.1, 1.0, 10.0], "gamma": [0.0003, 0.001, 0.003, 0.01]}),
}
STUDY_SWEEPS = tuple(name for name in SWEEPS if name != "svm_grid_exact")  # the study's five, its SVM grid the fast one
QUICK_SWEEPS = {
    "random_forest_trees": ("random_forest", {"n_estimators": [5, 25, 100]}),
    "kmeans_k": ("kmeans", {"n_clusters": [7, 16, 25]}),
    "kmeans_batch": ("kmeans", {"batch_size": [6, 600, 2400]}),
    "logreg_c": ("logreg", {"C": [0.01, 1.0]}),
    "svm_grid": ("pca+nystroem_svm", {"kernel": ["rbf", "poly"], "C": [1.0, 10.0], "gamma": [0.001, 0.003]}),
    "svm_grid_exact": ("pca+svm", {"kernel": ["rbf", "poly"], "C": [1.0, 10.0], "gamma": [0.001, 0.003]}),
}


def sweep_configs(name: str, base: ExperimentConfig, quick: bool = False) -> list[ExperimentConfig]:
    sweeps = QUICK_SWEEPS if quick else SWEEPS
    check_name("sweep", name, sweeps)
    model, grid = sweeps[name]
    return [replace(base, model=model, params=point) for point in ParameterGrid(grid)]


def sweep_result(name: str, configs: list[ExperimentConfig], results: list[dict]) -> dict:
    """One JSON-ready record of a sweep: each point's parameters and scores, and the base config."""
    return {
        "maskfer_version": maskfer.__version__,
        "kind": "sweep",
        "sweep": name,
        "model": configs[0].model,
        "model_description": results[0]["model_description"] if results else "",
        "protocol": configs[0].protocol,
        "config": configs[0].to_dict(),
        "points": [{"params": c.params, "summary": r["summary"]} for c, r in zip(configs, results)],
    }


def run_sweep(features: Features, name: str, base: ExperimentConfig = ExperimentConfig(), quick: bool = False,
              cache: Cache | None = None, compute: ComputeConfig = ComputeConfig(), on_fold=None) -> dict:
    """Cross-validate every point of the named sweep under `base.protocol`."""
    configs = sweep_configs(name, base, quick)
    return sweep_result(name, configs, evaluate_many(features, configs, cache, compute, on_fold))
