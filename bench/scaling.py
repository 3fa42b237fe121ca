"""How every stage's cost grows with the data: n = 1k, 2k, 4k, 8k, 15k FER2013 training photos, masked on the fly.

    python bench/scaling.py                          # the table, docs/scaling.png, bench/results/scaling.json
    python bench/scaling.py --sizes 250,500 --figure /tmp/s.png --results /tmp/s.json   # a quick look

For each n, a fresh process with an empty cache (a new temporary folder) draws the study's
balanced sample of n photos from FER2013's training split (seed 0) and times, once each, on
one worker:

- masking: landmarks and one drawn mask per photo (the seven types in turn, chosen per photo),
- features: the 64x64 RGB pixel rows of the masked images,
- each classical model's fit on all n rows and its predict on all n (raw pixels for naive
  Bayes, the forest and k-means; 100 PCA components first for logistic regression and the
  SVMs, as the study's grid at this size runs),
- one CNN epoch: MobileNetV2 (the shipped model's backbone) from ImageNet, batch 64, `--threads`,
- `maskfer.predict` on each masked image (face detection, landmarks, crop, the shipped model).

It prints seconds per stage and n, the exponent b of a least-squares fit seconds ~ a * n^b
over the sizes, and the peak resident memory of each n's process; it draws one log-log figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FER2013 = ROOT.parent / "shared" / "data" / "fer2013"
MODELS = ["naive_bayes", "random_forest", "kmeans", "pca+logreg", "pca+svm", "pca+nystroem_svm"]


def one_size(n: int, threads: int) -> dict:
    """Every stage at one n, in this process; returns {stage: seconds} and the peak RSS."""
    import pandas as pd

    from maskfer.core.cache import Cache
    from maskfer.data import balanced_sample, read_dataset
    from maskfer.features import table_features
    from maskfer.masks import MASK_TYPES
    from maskfer.masks.dataset import MaskingConfig, mask_dataset, mask_seed
    from maskfer.models import create_model

    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(tmp)
        table = read_dataset(FER2013).table
        photos = balanced_sample(table[table["split"] == "train"], n, seed=0)
        kinds = np.array([MASK_TYPES[mask_seed(0, s, "scaling") % len(MASK_TYPES)] for s in photos["source"]])
        start = time.perf_counter()
        parts = [mask_dataset(photos[kinds == kind], Path(tmp) / "masked", MaskingConfig(types=(kind,)), cache)
                 for kind in MASK_TYPES if (kinds == kind).any()]
        seconds["masking"] = time.perf_counter() - start
        masked = pd.concat(parts, ignore_index=True)
        masked = masked[masked["status"] == "ok"].reset_index(drop=True)

        start = time.perf_counter()
        features = table_features(masked, cache=cache)
        seconds["features"] = time.perf_counter() - start

        for name in MODELS:
            model = create_model(name)
            start = time.perf_counter()
            model.fit(features.X, features.y)
            seconds[f"{name} fit"] = time.perf_counter() - start
            start = time.perf_counter()
            model.predict(features.X)
            seconds[f"{name} predict"] = time.perf_counter() - start

        from maskfer.models.cnn import CNNClassifier

        cnn = CNNClassifier(backbone="mobilenet_v2", weights="imagenet", epochs=1, batch_size=64, threads=threads)
        start = time.perf_counter()
        cnn.fit(features.X, features.y)
        seconds["CNN epoch (MobileNetV2)"] = time.perf_counter() - start

        import maskfer

        maskfer.predict(masked["path"].iloc[0])  # the model loads once, on first use: not part of the per-image cost
        start = time.perf_counter()
        for path in masked["path"]:
            maskfer.predict(path)
        seconds["maskfer.predict"] = time.perf_counter() - start
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"n": n, "n_masked": int(len(masked)), "seconds": seconds, "peak_rss_mb": peak_kb / 1024}


def exponent(ns, values) -> float:
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0])


def draw(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ns = [r["n"] for r in runs]
    stages = list(runs[0]["seconds"])
    figure = Figure(figsize=(9, 6), layout="constrained")
    ax = figure.subplots()
    owner = {stage: stage.rsplit(" ", 1)[0] if stage.endswith((" fit", " predict")) else stage for stage in stages}
    colour = dict(zip(dict.fromkeys(owner.values()), matplotlib.colormaps["tab10"].colors))
    for stage in stages:  # a model's fit and predict share a colour; predict is dashed
        values = [r["seconds"][stage] for r in runs]
        ax.loglog(ns, values, "--" if stage.endswith(" predict") else "-", color=colour[owner[stage]], marker="o",
                  markersize=3, label=f"{stage} (n^{exponent(ns, values):.2f})")
    ax.set_xlabel("images (FER2013 training photos, masked)")
    ax.set_ylabel("seconds, one worker")
    ax.set_title("maskfer: cost of each stage against the number of images")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=110)
    tmp.replace(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,2000,4000,8000,15000")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the CNN epoch")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "scaling.png")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "scaling.json")
    parser.add_argument("--redraw", action="store_true", help="run nothing: print the table and draw the figure from --results")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one size in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one, args.threads)))
        return
    if args.redraw:
        runs = json.loads(args.results.read_text())["runs"]
        report(runs)
        draw(runs, args.figure)
        print(f"figure: {args.figure}")
        return
    runs = []
    for n in (int(s) for s in args.sizes.split(",")):
        started = time.perf_counter()
        print(f"n = {n}: running ...", file=sys.stderr, flush=True)
        done = subprocess.run([sys.executable, __file__, "--one", str(n), "--threads", str(args.threads)],
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"n = {n} failed: {done.stderr.strip().splitlines()[-1:]}")
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"n = {n}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    report(runs)
    draw(runs, args.figure)
    from maskfer.core.files import atomic_write_json

    atomic_write_json(args.results, {"sizes": [r["n"] for r in runs], "threads": args.threads, "runs": runs})
    print(f"figure: {args.figure}; results: {args.results}")


def report(runs: list[dict]) -> None:
    ns = [r["n"] for r in runs]
    stages = list(runs[0]["seconds"])
    print("| stage | " + " | ".join(f"n={n}" for n in ns) + " | exponent |")
    print("|---|" + "---|" * (len(ns) + 1))
    for stage in stages:
        values = [r["seconds"][stage] for r in runs]
        print(f"| {stage} | " + " | ".join(f"{v:.2f}" for v in values) + f" | {exponent(ns, values):.2f} |")
    print("| peak RSS (MB) | " + " | ".join(f"{r['peak_rss_mb']:.0f}" for r in runs) + " | |")
    top = max(stages, key=lambda s: runs[-1]["seconds"][s])
    print(f"\nat n={ns[-1]} the dominant stage is {top}: {runs[-1]['seconds'][top]:.0f} s of "
          f"{sum(runs[-1]['seconds'].values()):.0f} s")


if __name__ == "__main__":
    main()
