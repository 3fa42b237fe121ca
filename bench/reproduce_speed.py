"""Seconds per model for the study's classical pipeline, at TCEP's size and at the study's 15,000.

    python bench/reproduce_speed.py                       # both scales, 2 workers
    python bench/reproduce_speed.py --scales tcep --jobs 1

Every figure is measured from an empty cache (a fresh temporary folder), so nothing is read
back from an earlier run. For each model it prints the wall-clock seconds of its 5-fold
cross-validation (folds in parallel over --jobs workers), the median fit seconds of one fold,
and the validation accuracy under the protocol named beside it. The 15,000-image scale samples
FER2013's training split with replacement (balanced by emotion) until masked data exists;
FER2013 has no subject ids, so that scale uses the `source` protocol (copies of one photo stay
on one side).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from maskfer.data import balanced_sample, read_dataset
from maskfer.core.parallel import ComputeConfig
from maskfer.evaluation import ExperimentConfig, evaluate
from maskfer.features import table_features
from maskfer.evaluation.sweeps import SWEEPS, run_sweep
from maskfer.core.cache import Cache

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SCALES = {
    "tcep": dict(path=DATA / "tcep", sample=None, protocol="subject",
                 models=["naive_bayes", "logreg", "random_forest", "kmeans", "svm", "svm_poly", "pca+svm", "pca+svm_poly"]),
    "15000": dict(path=DATA / "fer2013", sample=15000, protocol="source",
                  # Kernel SVMs on raw 12,288-pixel vectors grow about with the square of the training set
                  # (5.5 s per fit at TCEP's 985): here they, and logistic regression, run on 100 PCA components.
                  models=["naive_bayes", "random_forest", "kmeans", "pca+logreg", "pca+svm", "pca+svm_poly"]),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="tcep,15000")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--models", default=None, help="comma-separated models (default: per scale)")
    parser.add_argument("--no-grid", action="store_true", help="skip the SVM grid")
    args = parser.parse_args()
    compute = ComputeConfig(jobs=args.jobs)
    rows = []
    for scale in args.scales.split(","):
        spec = SCALES[scale]
        with tempfile.TemporaryDirectory() as tmp:
            cache = Cache(tmp)
            table = read_dataset(spec["path"]).table
            if spec["sample"]:
                table = balanced_sample(table[table["split"] == "train"], spec["sample"], seed=0, replace=True)
            start = time.perf_counter()
            features = table_features(table, cache=cache)
            rows.append((scale, "features (64x64 rgb)", time.perf_counter() - start, float("nan"), float("nan"), ""))
            print(f"{scale}: {len(features.table)} images, features in {rows[-1][2]:.1f} s", flush=True)
            for model in (args.models.split(",") if args.models else spec["models"]):
                start = time.perf_counter()
                result = evaluate(features, ExperimentConfig(model=model, protocol=spec["protocol"]), cache, compute)
                wall = time.perf_counter() - start
                fit = statistics.median(f["fit_seconds"] for f in result["folds"])
                rows.append((scale, model, wall, fit, result["summary"]["val_accuracy"]["mean"], spec["protocol"]))
                print(f"  {model:14s} {wall:8.1f} s for 5 folds, median fit {fit:7.2f} s/fold, "
                      f"val acc {100 * rows[-1][4]:.1f}% ({spec['protocol']})", flush=True)
            if not args.no_grid:
                start = time.perf_counter()
                sweep = run_sweep(features, "svm_grid", ExperimentConfig(protocol=spec["protocol"]), cache=cache, compute=compute)
                wall = time.perf_counter() - start
                best = max(p["summary"]["val_accuracy"]["mean"] for p in sweep["points"])
                n_points = len(sweep["points"])
                rows.append((scale, f"svm_grid ({n_points} points x 5 folds)", wall, float("nan"), best, spec["protocol"]))
                print(f"  svm_grid: {n_points} points x 5 folds in {wall:.1f} s (best point {100 * best:.1f}%, "
                      "an optimistic figure: chosen on the validation folds)", flush=True)
    print("\n| scale | model | wall s (5 folds, %d jobs) | median fit s/fold | val acc %% | protocol |" % args.jobs)
    print("|---|---|---|---|---|---|")
    for scale, model, wall, fit, acc, protocol in rows:
        fit_text = "" if fit != fit else f"{fit:.2f}"
        acc_text = "" if acc != acc else f"{100 * acc:.1f}"
        print(f"| {scale} | {model} | {wall:.1f} | {fit_text} | {acc_text} | {protocol} |")
    print(f"\ngrid: {SWEEPS['svm_grid']}")


if __name__ == "__main__":
    main()
