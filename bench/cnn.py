"""CNN cost and accuracy on masked TCEP: seconds per epoch per model and input, and `subject` accuracy.

    python bench/cnn.py --timing-only                      # seconds per epoch, every CNN, both inputs
    python bench/cnn.py --epochs 30                        # + the study's full configuration (hours on 2 cores)
    python bench/cnn.py --epochs 5 --models mobilenet_v2   # a shorter run; docs/study.md says which was run

Part 1 times training batches of the study's size (60) for each CNN on the study's 64x64 input
and on face-aligned crops (`--aligned-size`, default 96), and prints the median seconds per
batch and the implied seconds per epoch at the size of a masked-TCEP training fold. Part 2
cross-validates each model under the `subject` protocol (5 folds, people held out) on all
seven mask types drawn on TCEP (the masked images come from maskfer's cache or are drawn
first), and prints validation accuracy and the wall time of the whole cross-validation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from maskfer.data import read_dataset
from maskfer.core.parallel import ComputeConfig
from maskfer.evaluation.experiment import ExperimentConfig, evaluate
from maskfer.features import table_features
from maskfer.core.cache import Cache
from maskfer.core.cache import stable_key
from maskfer.features.pixels import PixelConfig
from maskfer.masks import MASK_TYPES
from maskfer.masks.dataset import MaskingConfig, mask_dataset
from maskfer.models.backbones import create_backbone

TCEP = Path(__file__).resolve().parents[2] / "shared" / "data" / "tcep"
FINE_TUNED = ("resnet18_scratch", "mobilenet_v2", "efficientnet_lite0")
BACKBONE = {"resnet18_scratch": "resnet18", "resnet18": "resnet18", "mobilenet_v2": "mobilenet_v2",
            "efficientnet_lite0": "efficientnet_lite0"}


def masked_tcep(cache: Cache, jobs: int):
    dataset = read_dataset(TCEP)
    config = MaskingConfig(types=MASK_TYPES, seed=0)
    out = cache.root / "masked-images" / stable_key(str(dataset.root), config.__dict__)
    masked = mask_dataset(dataset.table, out, config, cache, ComputeConfig(jobs=jobs))
    return masked[masked["status"] == "ok"].reset_index(drop=True)


def seconds_per_batch(backbone: str, size: int, batches: int = 6, batch: int = 60) -> float:
    torch.manual_seed(0)
    model = create_backbone(backbone, 7, "none").train()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)
    x, y = torch.randn(batch, 3, size, size), torch.randint(0, 7, (batch,))
    times = []
    for _ in range(batches + 1):
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])  # the first batch pays for allocation


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join((*FINE_TUNED, "effnet+logreg")))
    parser.add_argument("--epochs", type=int, default=30, help="epochs for the accuracy part (the study's 30)")
    parser.add_argument("--aligned-size", type=int, default=96)
    parser.add_argument("--inputs", default="full,aligned", help="which inputs the accuracy part runs: full, aligned")
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--skip-timing", action="store_true", help="only the accuracy part")
    parser.add_argument("--jobs", type=int, default=1, help="folds in parallel (each CNN uses every core already)")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    cache = Cache()
    table = masked_tcep(cache, 2)
    n_train = int(len(table) * 0.8)  # a subject fold trains on about four fifths
    print(f"masked TCEP: {len(table)} images of {table['subject'].nunique()} people; training fold about {n_train}")

    print("\n| model | input | s / batch of 60 | s / epoch (masked TCEP fold) | 30 epochs x 5 folds, min |")
    print("|---|---|---|---|---|")
    for model in (m for m in models if m in BACKBONE and not args.skip_timing):
        for label, size in (("64x64 full", 64), (f"{args.aligned_size}x{args.aligned_size} aligned", args.aligned_size)):
            batch = seconds_per_batch(BACKBONE[model], size)
            epoch = batch * np.ceil(n_train / 60)
            print(f"| {model} | {label} | {batch:.3f} | {epoch:.0f} | {epoch * 30 * 5 / 60:.0f} |", flush=True)
    if args.timing_only:
        return

    inputs = {"full": PixelConfig(64), "aligned": PixelConfig(args.aligned_size, crop="aligned")}
    print(f"\nsubject protocol, 5 folds, {args.epochs} epochs, batch 60 (validation accuracy, mean ± sd over folds)")
    print("| model | input | val acc % | macro-F1 | train acc % | wall min |")
    print("|---|---|---|---|---|---|")
    for name in (n for n in args.inputs.split(",") if n):
        features = table_features(table, inputs[name], cache)
        for model in models:
            params = {"epochs": args.epochs} if model in BACKBONE else {}
            config = ExperimentConfig(model=model, params=params, protocol="subject", pixels=inputs[name])
            start = time.perf_counter()
            result = evaluate(features, config, cache, ComputeConfig(jobs=args.jobs))
            s = result["summary"]
            print(f"| {model} | {name} {inputs[name].size} | {100 * s['val_accuracy']['mean']:.1f} ± {100 * s['val_accuracy']['std']:.1f} "
                  f"| {s['val_macro_f1']['mean']:.2f} | {100 * s['train_accuracy']['mean']:.1f} | {(time.perf_counter() - start) / 60:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
