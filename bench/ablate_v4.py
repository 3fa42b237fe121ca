"""What moves v4's figure: each lever alone against the plain new-data recipe, on a short budget.

    python bench/ablate_v4.py                    # prints the recorded table; trains nothing
    python bench/ablate_v4.py --run              # trains (or resumes) every lever not yet recorded, then prints
    python bench/ablate_v4.py --run --only "112 px input" --parallel 1

The rule that reads this table was written down before any lever trained (docs/model-v4.md). Every lever is
`maskfer train-default`'s recipe (`DefaultModelConfig`) with one setting changed from `BASE`: every source
(`maskfer.training.splits`), 96 px, MobileNetV2, colour jitter (one crop in five made grey), each photo drawn as
often as any other and no class handling. Each trains on the same fixed subset (`BASE.limit` photos per source,
every view), one pass, and is scored on every validation photo by the figure that chooses
(`maskfer.evaluation.metrics.validation_figure`): as trained, with the mirror averaged, with a class bias
(fitted on half of the validation photos and scored on the other half, both ways), and with both. The seed
lever is the noise; it draws another subset too.

Levers run side by side (`--parallel`, one torch thread each); each finished lever is one line of
bench/results/ablation-v4.json, with its recipe, so a rerun on any machine skips it, and an unfinished one
resumes from its checkpoint in the cache.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

import ablate
from ablate import lever_folder

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "bench" / "results" / "ablation-v4.json"
ALL_SOURCES = ("fer2013", "rafdb", "affectnet", "tcep", "ckplus")
LEVERS = {  # name -> the DefaultModelConfig fields it changes from BASE; the first is BASE itself
    "v4 plain": {},
    "seed 1 (the noise)": {"seed": 1},
    "source weights: square root of size": {"source_weights": "sqrt"},
    "source weights: equal": {"source_weights": "equal"},
    "class-balanced sampling": {"class_balance": "sampling"},
    "logit adjustment (tau 1)": {"logit_adjustment": 1.0},
    "label smoothing 0.1": {"label_smoothing": 0.1},
    "mixup 0.2": {"mixup": 0.2},
    "112 px input": {"size": 112},
    "EfficientNet-Lite0": {"backbone": "efficientnet_lite0"},
    "no colour jitter": {"colour_jitter": 0.0},
}
VARIANTS = ("as trained", "mirror", "class bias", "mirror and class bias")


def base_recipe(data: str, threads: int = 1):
    from maskfer.training.recipe import DefaultModelConfig

    return DefaultModelConfig(data=data, sources=ALL_SOURCES, size=96, colour_jitter=0.1, epochs=1, limit=4000,
                              threads=threads, calibrate=False)


def recipe_of(lever: str, data: str):
    return replace(base_recipe(data), **LEVERS[lever])


def half_of(paths) -> np.ndarray:
    """True for the validation photos of the first half (a hash of the photo's path): the class bias's two folds."""
    return np.array([hashlib.blake2b(str(p).encode(), digest_size=2).digest()[0] < 128 for p in paths])


def cross_fitted_bias(log_p: np.ndarray, y: np.ndarray, weights: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Log-probabilities plus a class bias fitted on the other half of the photos (and a temperature with it)."""
    from maskfer.training.recipe import fit_calibration

    out = np.empty_like(log_p)
    for fold in (half, ~half):
        temperature, bias = fit_calibration(log_p[~fold], y[~fold], weights[~fold] / weights[~fold].sum())
        out[fold] = log_p[fold] / temperature + np.asarray(bias)
    return out


def score(model_path: Path, recipe, cache) -> dict:
    """The validation figure of one trained lever in each variant, its 15 cells, and the most over-answered class."""
    from maskfer.evaluation.metrics import answer_shares, validation_figure
    from maskfer.prediction.model import load_model
    from maskfer.training.recipe import cell_balanced_weights, crops_and_labels
    from maskfer.training.splits import training_table

    model = load_model(str(model_path))
    _, validation = training_table(recipe)  # every validation photo: no source has more than the limit
    X, y, photos, views = crops_and_labels(validation, recipe.size, recipe.views, cache, jobs=1, border=recipe.border)
    crops = X.reshape(len(X), recipe.size, recipe.size, 3)
    log_p = np.log(np.clip(model.probabilities(crops), 1e-12, 1))
    mirrored = (log_p + np.log(np.clip(model.probabilities(np.ascontiguousarray(crops[:, :, ::-1])), 1e-12, 1))) / 2
    sources = validation["dataset"].to_numpy()[photos]
    weights, half = cell_balanced_weights(y, sources, views), half_of(validation["path"].to_numpy()[photos])
    out = {}
    for variant, read in zip(VARIANTS, (log_p, mirrored, cross_fitted_bias(log_p, y, weights, half),
                                        cross_fitted_bias(mirrored, y, weights, half))):
        figure = validation_figure(y, read.argmax(1), sources, views)
        shares = {s: answer_shares(y[sources == s], read.argmax(1)[sources == s]) for s in np.unique(sources)}
        out[variant] = {**figure, "largest_answer_ratio": {s: [v["most_over_answered"], v["largest_ratio"]] for s, v in shares.items()}}
    return out


def run_lever(lever: str, data: str) -> dict:
    """Train one lever (resuming its checkpoint) and score it; runs in its own process."""
    from maskfer.core.cache import Cache
    from maskfer.training.recipe import train_default

    recipe, cache = recipe_of(lever, data), Cache()
    out = lever_folder(recipe)
    started, cpu = time.perf_counter(), time.process_time()
    record = train_default(recipe, out, cache, jobs=1, say=lambda line: print(f"[{lever}] {line}", flush=True), show=False)
    return {"lever": lever, "changes": LEVERS[lever], "recipe": asdict(recipe), "train_seconds": time.perf_counter() - started,
            "train_cpu_seconds": time.process_time() - cpu, "n_train": record["n_train"], "history": record["history"],
            "scores": score(out / "maskfer-expression.onnx", recipe, cache)}


def prepare(levers: list[str], data: str, jobs: int) -> None:
    """Every crop the levers need (their training subsets and the validation photos), made once on `jobs` processes."""
    from maskfer.core.cache import Cache
    from maskfer.training.recipe import crops_and_labels
    from maskfer.training.splits import training_table

    cache = Cache()
    for size, seed in sorted({(recipe_of(lever, data).size, recipe_of(lever, data).seed) for lever in levers}):
        recipe = replace(base_recipe(data), size=size, seed=seed)
        for part in training_table(recipe):
            crops_and_labels(part, size, recipe.views, cache, jobs, show=True, border=recipe.border)


def table(rows: dict) -> str:
    """The lever table as Markdown: minutes, the figure in each variant and its change from the plain recipe."""
    base = rows.get("v4 plain")
    lines = ["| lever | training minutes | " + " | ".join(VARIANTS) + " | most over-answered (validation, as trained) |",
             "|---|---|" + "---|" * len(VARIANTS) + "---|"]
    for name, row in rows.items():
        cells = []
        for variant in VARIANTS:
            value = 100 * row["scores"][variant]["figure"]
            delta = "" if base is None or name == "v4 plain" else f" ({value - 100 * base['scores'][variant]['figure']:+.1f})"
            cells.append(f"{value:.1f}{delta}")
        worst = max(row["scores"]["as trained"]["largest_answer_ratio"].items(), key=lambda kv: kv[1][1])
        lines.append(f"| {name} | {row['train_seconds'] / 60:.0f} | " + " | ".join(cells)
                     + f" | {worst[1][0]} {worst[1][1]:.1f}x ({worst[0]}) |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="store_true", help="train and score every lever not yet recorded")
    parser.add_argument("--only", action="append", choices=list(LEVERS), help="just this lever (repeatable)")
    parser.add_argument("--parallel", type=int, default=2, help="levers trained side by side, one torch thread each")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    rows = ablate.recorded(RECORD)
    if args.run:
        todo = [name for name in (args.only or LEVERS)
                if name not in rows or rows[name]["recipe"] != asdict(recipe_of(name, args.data))]
        prepare(todo, args.data, jobs=2)
        with ProcessPoolExecutor(max_workers=max(1, args.parallel)) as pool:
            for done in as_completed([pool.submit(run_lever, name, args.data) for name in todo]):
                row = done.result()
                ablate.record(row, RECORD, LEVERS)
                print(f"recorded {row['lever']}: figure {100 * row['scores']['as trained']['figure']:.2f}", flush=True)
        rows = ablate.recorded(RECORD)
    print(f"v4 levers: the validation figure % (mean balanced accuracy over 5 sources x 3 views) after one pass over at most "
          f"{base_recipe(args.data).limit} training photos per source, every view (change from the plain recipe):")
    print(table({name: rows[name] for name in LEVERS if name in rows}))


if __name__ == "__main__":
    main()
