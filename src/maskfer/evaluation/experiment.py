"""Cross-validation of one model under one protocol, as the study scored it, with every fold cached.

`maskfer.features.table_features(table)` reads (or computes) the features; `evaluate(features, config)` makes
the protocol's folds, fits the model on each training fold (augmented if asked) and scores both
sides. Each fold's
scores are cached by the features' content, the config and the fold, so an interrupted run
resumes and a repeated run is instant. The result is one JSON-ready dict that carries its
config.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import maskfer
from maskfer.labels import EMOTIONS
from maskfer.errors import MaskferError, check_name
from maskfer.evaluation.metrics import scores, summarize
from maskfer.core.parallel import ComputeConfig
from maskfer.evaluation.protocols import DEFAULT_PROTOCOL, PROTOCOLS, early_stopping_split, make_folds
from maskfer.features.augment import AugmentConfig, augment_training_set
from maskfer.core.cache import Cache, cached_map, stable_key
from maskfer.core.files import atomic_write_json
from maskfer.features.pixels import Features, PixelConfig
from maskfer.models.registry import MODELS, create_model, model_spec


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything that decides a cross-validation result; saved inside every result file."""

    model: str = "svm"
    params: dict = field(default_factory=dict)
    protocol: str = DEFAULT_PROTOCOL
    n_splits: int = 5
    seed: int = 0
    pixels: PixelConfig = PixelConfig()
    augment: AugmentConfig = AugmentConfig()

    def __post_init__(self):
        check_name("model", self.model, MODELS)
        check_name("protocol", self.protocol, PROTOCOLS)
        if self.n_splits < 2:
            raise ValueError(f"n_splits must be at least 2, got {self.n_splits}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ExperimentConfig":
        augment = dict(d.get("augment", {}))
        if "transforms" in augment:
            augment["transforms"] = tuple(augment["transforms"])
        return cls(**{**d, "pixels": PixelConfig(**d.get("pixels", {})), "augment": AugmentConfig(**augment)})


def fit_and_score_fold(X, y, train, test, model: str, params: dict, augment: AugmentConfig, shape,
                       stop=None, checkpoint: str | None = None, threads: int | None = None) -> dict:
    """Fit on one training fold (augmented if asked) and score on both sides.

    CNNs only: `stop` rows (taken out of `train`) are what early stopping watches; `checkpoint`
    is where the training state is saved after every epoch, so a killed fold resumes at its
    last epoch; `threads` sets torch's threads in this worker.
    """
    fit_rows = train if stop is None else np.setdiff1d(train, stop)
    X_train, y_train = augment_training_set(X[fit_rows], y[fit_rows], shape, augment)
    estimator = create_model(model, **params)
    start = time.perf_counter()
    if model_spec(model).eval_set:
        # CNNs score the validation fold after every epoch: the study's training curves.
        estimator.set_params(checkpoint=checkpoint, threads=threads or estimator.threads, verbose=checkpoint is not None)
        estimator.fit(X_train, y_train, eval_set=(X[test], y[test]), stop_set=None if stop is None else (X[stop], y[stop]))
    else:
        estimator.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = estimator.predict(X[test])
    predict_seconds = time.perf_counter() - start
    train_pred = estimator.predict(X[train])
    return {
        "n_train": int(len(y_train)), "n_test": int(len(test)),
        "train_accuracy": float(np.mean(train_pred == y[train])),
        **scores(y[test], predicted, "val_"),
        "fit_seconds": fit_seconds, "predict_seconds": predict_seconds,
        "val_index": np.asarray(test).tolist(), "val_pred": np.asarray(predicted).tolist(),
        **({"history": estimator.history_} if hasattr(estimator, "history_") else {}),
    }


def _fit_folds(tasks: list[tuple], X: np.ndarray, y: np.ndarray) -> list[dict]:
    return [fit_and_score_fold(X, y, *task) for task in tasks]


def _fold_plan(features: Features, configs: list[ExperimentConfig], cache: Cache, compute: ComputeConfig):
    """Every fold of every config: its task, cache key, (config, fold) owner, and CNN checkpoint path."""
    tasks, keys, owner, checkpoints = [], [], [], []
    for c, config in enumerate(configs):
        if config.pixels != features.config:
            raise MaskferError(f"config asks for pixels {config.pixels} but the features are {features.config}")
        deep = model_spec(config.model).eval_set
        for i, (train, test) in enumerate(make_folds(config.protocol, features.table, config.n_splits, config.seed)):
            # The model's description is in the key: a model whose definition changed is never read from an old fold.
            key = stable_key("fold", features.key, config.to_dict(), model_spec(config.model).description, i, test.tolist())
            stop = (early_stopping_split(config.protocol, features.table, train, config.n_splits, config.seed)[1]
                    if deep and config.params.get("early_stopping") else None)
            checkpoint = str(cache.root / "checkpoints" / f"{key}.pt") if deep and cache.enabled else None
            tasks.append((train, test, config.model, config.params, config.augment, config.pixels.shape, stop, checkpoint,
                          compute.torch_threads))
            keys.append(key)
            owner.append((c, i))
            checkpoints.append(checkpoint)
    # Fold-major: a long run stopped early has the first folds of every config, not all folds of the first config.
    order = sorted(range(len(tasks)), key=lambda t: (owner[t][1], owner[t][0]))
    return tuple([column[t] for t in order] for column in (tasks, keys, owner, checkpoints))


def fold_status(features: Features, configs: list[ExperimentConfig], cache: Cache) -> list[list[dict]]:
    """Where a long run stands, without running anything: for each config, each fold's state.

    A fold is `done` (its scores are cached: `result` holds them), `training` (a CNN checkpoint
    holds `epoch` finished epochs) or `waiting`.
    """
    tasks, keys, owner, checkpoints = _fold_plan(features, configs, cache, ComputeConfig())
    status: list[list[dict]] = [[] for _ in configs]
    for key, (c, i), checkpoint in zip(keys, owner, checkpoints):
        result = cache.load_json("folds", key)
        if result is not None:
            status[c].append({"fold": i, "state": "done", "key": key, "result": result})
        elif checkpoint and Path(checkpoint).exists():
            from maskfer.models.checkpoints import checkpoint_epoch  # torch only where a checkpoint exists

            status[c].append({"fold": i, "state": "training", "epoch": checkpoint_epoch(checkpoint)})
        else:
            status[c].append({"fold": i, "state": "waiting"})
    return status


def evaluate_many(features: Features, configs: list[ExperimentConfig], cache: Cache | None = None,
                  compute: ComputeConfig = ComputeConfig(), on_fold=None) -> list[dict]:
    """Cross-validate several configs on the same features; all their folds run as one task list.

    Folds found in the cache are not run again, and each finished fold is cached as soon as it
    is done, so an interrupted run resumes where it stopped. `on_fold(n)` hears n more finished
    folds: the cached ones in one call (so a time-left estimate can leave them out), then each as it ends.
    """
    cache = cache if cache is not None else Cache()
    tasks, keys, owner, checkpoints = _fold_plan(features, configs, cache, compute)
    done = cached_map(_fit_folds, tasks, keys, cache=cache, kind="folds", args=(features.X, features.y), compute=compute,
                      on_progress=on_fold)
    for checkpoint in filter(None, checkpoints):  # every fold's result is cached now: its per-epoch state is no longer needed
        Path(checkpoint).unlink(missing_ok=True)
    folds: list[list[dict]] = [[] for _ in configs]
    for (c, i), result in zip(owner, done):  # within a config, folds come in order
        folds[c].append({"fold": i, **{k: v for k, v in result.items() if k != "fold"}})
    data = describe_data(features)
    return [
        {
            "maskfer_version": maskfer.__version__,
            "kind": "cross_validation",
            "config": config.to_dict(),
            "model_description": model_spec(config.model).description,
            "protocol_description": PROTOCOLS[config.protocol],
            "data": data,
            "folds": config_folds,
            "summary": {**summarize(config_folds), **accuracy_by(features, config_folds, "mask_type"),
                        **accuracy_by(features, config_folds, "mask_renderer")},
        }
        for config, config_folds in zip(configs, folds)
    ]


def accuracy_by(features: Features, folds: list[dict], column: str) -> dict:
    """Validation accuracy pooled over folds for each value of a table column (e.g. mask type)."""
    if column not in features.table:
        return {}
    index = np.concatenate([f["val_index"] for f in folds]).astype(int)
    correct = np.concatenate([f["val_pred"] for f in folds]) == features.y[index]
    groups = features.table[column].to_numpy()[index]
    return {f"val_accuracy_by_{column}": {str(g): float(correct[groups == g].mean()) for g in sorted(set(groups))}}


def evaluate(features: Features, config: ExperimentConfig = ExperimentConfig(), cache: Cache | None = None,
             compute: ComputeConfig = ComputeConfig(), on_fold=None) -> dict:
    """Cross-validate `config.model` on `features` under `config.protocol`; returns the result dict."""
    return evaluate_many(features, [config], cache, compute, on_fold)[0]


def describe_data(features: Features) -> dict:
    table = features.table
    return {
        "datasets": sorted(table["dataset"].unique().tolist()),
        "n_images": int(len(table)),
        "n_subjects": int(table["subject"].nunique()),
        "per_class": {e: int((features.y == i).sum()) for i, e in enumerate(EMOTIONS)},
        "features_key": features.key,
        "unreadable": features.errors,
    }


def save_result(result: dict, path: str | Path) -> Path:
    """Write a result as JSON atomically (temporary name, then rename)."""
    return atomic_write_json(Path(path), result)
