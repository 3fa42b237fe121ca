"""The study's scores (accuracy, mean squared error of the label index) and the honest extras."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, recall_score

from maskfer.labels import EMOTIONS


def scores(y_true: np.ndarray, y_pred: np.ndarray, prefix: str = "") -> dict:
    """Accuracy, MSE of the label index, macro-F1, per-class recall and the confusion matrix.

    Labels are indices into EMOTIONS. Classes absent from y_true get recall None, not 0.
    """
    labels = list(range(len(EMOTIONS)))
    present = np.isin(labels, y_true)
    recall = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return {
        f"{prefix}accuracy": float(np.mean(y_true == y_pred)),
        f"{prefix}mse": float(np.mean((np.asarray(y_true, float) - np.asarray(y_pred, float)) ** 2)),
        f"{prefix}macro_f1": float(f1_score(y_true, y_pred, labels=np.flatnonzero(present), average="macro", zero_division=0)),
        f"{prefix}recall": {e: (float(r) if p else None) for e, r, p in zip(EMOTIONS, recall, present)},
        f"{prefix}confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


SUMMARY_KEYS = ("train_accuracy", "val_accuracy", "val_mse", "val_macro_f1", "fit_seconds", "predict_seconds")


def summarize(folds: list[dict]) -> dict:
    """Mean and standard deviation over folds of each scalar score, plus the summed confusion."""
    summary = {key: {"mean": float(np.mean([f[key] for f in folds])), "std": float(np.std([f[key] for f in folds]))}
               for key in SUMMARY_KEYS}
    summary["val_confusion"] = np.sum([f["val_confusion"] for f in folds], axis=0).tolist()
    recalls = {e: [f["val_recall"][e] for f in folds if f["val_recall"][e] is not None] for e in EMOTIONS}
    summary["val_recall"] = {e: (float(np.mean(v)) if v else None) for e, v in recalls.items()}
    if all("history" in f for f in folds):
        # The per-epoch curves averaged over folds (up to the shortest, if early stopping cut one).
        epochs = min(len(f["history"]) for f in folds)
        keys = [k for k in folds[0]["history"][0] if k != "epoch"]
        summary["history"] = [{"epoch": e + 1, **{k: float(np.mean([f["history"][e][k] for f in folds])) for k in keys}}
                              for e in range(epochs)]
    return summary


def balanced_accuracy(y_true, y_pred) -> float:
    """The mean recall of the classes present in y_true: every class counts the same, however rare."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == k] == k) for k in np.unique(y_true)]))


def validation_figure(y_true, y_pred, sources, views) -> dict:
    """The figure that chooses the shipped model (written down in docs/model-v4.md before v4 was trained): the mean,
    over every (source, view) cell of the validation photos, of the cell's balanced accuracy, so that every source,
    view and class counts the same. Returns {"figure": that mean, "cells": {"source/view": balanced accuracy}}."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    cells = {}
    for source, view in sorted(set(zip(sources, views))):
        rows = (np.asarray(sources) == source) & (np.asarray(views) == view)
        cells[f"{source}/{view}"] = balanced_accuracy(y_true[rows], y_pred[rows])
    return {"figure": float(np.mean(list(cells.values()))), "cells": cells}


def answer_shares(y_true, y_pred, n_classes: int = len(EMOTIONS)) -> dict:
    """How often each class is answered against how often it is true: {"answered", "true", "ratio"}, per class, and
    the most over-answered class. The ratio is answered / true share (None for a class absent from y_true)."""
    answered = np.bincount(np.asarray(y_pred), minlength=n_classes) / max(1, len(y_pred))
    true = np.bincount(np.asarray(y_true), minlength=n_classes) / max(1, len(y_true))
    ratio = [float(a / t) if t else None for a, t in zip(answered, true)]
    worst = max((r, k) for k, r in enumerate(ratio) if r is not None)
    return {"answered": answered.tolist(), "true": true.tolist(), "ratio": ratio,
            "most_over_answered": EMOTIONS[worst[1]], "largest_ratio": worst[0]}


ECE_BINS = 15  # equal-width confidence bins of the expected calibration error


def expected_calibration_error(probabilities: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top class: |accuracy - confidence| over equal-width bins, weighted by size."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))
