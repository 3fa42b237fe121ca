"""The study's SVM grid: the fast Nystroem SVM beside exact SVC on the same folds, and its time at 15,000.

    python bench/svm_grid.py                      # accuracy at 3,000, then the 15,000 CLI run
    python bench/svm_grid.py --skip-cli           # only the side-by-side accuracy

Part 1 draws the study's balanced sample of 3,000 images from FER2013's training split (seed 0),
makes the same 5 source-disjoint folds for both, and runs the 24-point grid (kernel x C x gamma,
100 PCA components first) with `pca+svm` (exact `SVC`, one-vs-one) and `pca+nystroem_svm`. It
prints each point's mean validation accuracy for both and the difference, and each grid's
wall-clock time. Part 2 times `maskfer sweep ../shared/data/fer2013 svm_grid --sample 15000
--jobs 2` in a subprocess with an empty cache (a fresh temporary folder): everything from
reading the images to the last fold. Nothing is read from an earlier run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from maskfer.core.cache import Cache
from maskfer.core.parallel import ComputeConfig
from maskfer.data import balanced_sample, read_dataset
from maskfer.evaluation import ExperimentConfig
from maskfer.features import table_features
from maskfer.evaluation.sweeps import run_sweep

FER2013 = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"


def side_by_side(n: int, jobs: int) -> None:
    compute = ComputeConfig(jobs=jobs)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(tmp)
        table = read_dataset(FER2013).table
        table = balanced_sample(table[table["split"] == "train"], n, seed=0)
        features = table_features(table, cache=cache, compute=compute)
        base = ExperimentConfig(protocol="source")
        sweeps, seconds = {}, {}
        for name in ("svm_grid_exact", "svm_grid"):
            start = time.perf_counter()
            sweeps[name] = run_sweep(features, name, base, cache=cache, compute=compute)
            seconds[name] = time.perf_counter() - start
            print(f"{name}: {len(sweeps[name]['points'])} points x 5 folds in {seconds[name]:.1f} s", flush=True)
    print(f"\n{n} FER2013 training images, protocol source, 5 folds, {jobs} jobs; mean validation accuracy %")
    print("| kernel | C | gamma | exact SVC | Nystroem SVM | difference | exact fit s | Nystroem fit s |")
    print("|---|---|---|---|---|---|---|---|")
    differences = []
    for exact, fast in zip(sweeps["svm_grid_exact"]["points"], sweeps["svm_grid"]["points"]):
        assert exact["params"] == fast["params"]
        a, b = (100 * p["summary"]["val_accuracy"]["mean"] for p in (exact, fast))
        differences.append(b - a)
        p = exact["params"]
        print(f"| {p['kernel']} | {p['C']} | {p['gamma']} | {a:.1f} | {b:.1f} | {b - a:+.1f} | "
              f"{exact['summary']['fit_seconds']['mean']:.2f} | {fast['summary']['fit_seconds']['mean']:.2f} |")
    best = {name: max(100 * p["summary"]["val_accuracy"]["mean"] for p in s["points"]) for name, s in sweeps.items()}
    print(f"\nbest point: exact {best['svm_grid_exact']:.1f}%, Nystroem {best['svm_grid']:.1f}% "
          "(optimistic: chosen on the validation folds)")
    print(f"difference per point: median {statistics.median(differences):+.1f}, mean absolute "
          f"{statistics.mean(abs(d) for d in differences):.1f}, range {min(differences):+.1f} to {max(differences):+.1f} points")
    print(f"grid wall-clock: exact {seconds['svm_grid_exact']:.0f} s, Nystroem {seconds['svm_grid']:.0f} s")


def cli_at_15000(jobs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        command = ["maskfer", "sweep", str(FER2013), "svm_grid", "--sample", "15000", "--jobs", str(jobs), "--cache-dir", tmp]
        print("\n$ " + " ".join(command[:-2]) + "   (--cache-dir: an empty temporary folder)", flush=True)
        start = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if run.returncode:
        sys.exit(f"maskfer sweep failed ({run.returncode}): {run.stderr.strip().splitlines()[-1:]}")
    print(run.stdout.rstrip())
    print(f"wall-clock from an empty cache: {wall:.0f} s ({wall / 60:.1f} min)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="images for the side-by-side comparison")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-cli", action="store_true", help="skip the 15,000-image CLI run")
    parser.add_argument("--skip-compare", action="store_true", help="skip the side-by-side comparison")
    args = parser.parse_args()
    if not args.skip_compare:
        side_by_side(args.n, args.jobs)
    if not args.skip_cli:
        cli_at_15000(args.jobs)


if __name__ == "__main__":
    main()
