"""What moves the shipped model's accuracy: each lever alone against the v2 recipe, on a short budget.

    python bench/ablate.py                 # prints the recorded table; trains nothing
    python bench/ablate.py --run           # trains (or resumes) every lever not yet recorded, then prints
    python bench/ablate.py --run --only "96 px input"

Every lever is `maskfer train-default`'s own recipe (`DefaultModelConfig`) with one setting
changed, on the same fixed subset (`AblationConfig.photos` FER2013 training photos plus the training people of
TCEP and CK+, each seen unmasked, behind a drawn mask and under an occluder) for the same number
of epochs, so every lever takes the same number of optimiser steps; what differs is the CPU time
each step costs. Each result is scored on FER2013 PublicTest (the challenge's validation part:
PrivateTest, the held-out people and KDEF are never looked at here): unmasked, behind a drawn mask
of a random type, and behind a template-renderer mask that training never sees, each also with
flip test-time augmentation (the mean of a crop's and its mirror's probabilities).

Levers run side by side, one torch thread each (`--parallel`); each finished lever is recorded
in bench/results/ablation.json with its config, so a rerun (on any machine) skips it, and an
unfinished one resumes from its epoch checkpoint in the cache. The table (lever, training minutes,
accuracy per split and its difference from the recipe) goes into MODEL_CARD.md (`maskfer model-card`).
`--rescore` scores recorded levers that lack a newer column again, from their models in the cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "bench" / "results" / "ablation.json"
SPLITS = {"unmasked": "none", "drawn": "random", "template": "template"}  # PublicTest views scored: name -> masking
LEVERS = {  # name -> the DefaultModelConfig fields it changes; the first is the recipe itself
    "v2 recipe": {},
    "96 px input": {"size": 96},
    "FER+ vote distributions": {"targets": "ferplus"},
    "distillation from the unmasked reading": {"targets": "distill"},
    "logit adjustment (tau 1)": {"logit_adjustment": 1.0},
    "EfficientNet-Lite0": {"backbone": "efficientnet_lite0"},
    "EfficientNet-Lite2": {"backbone": "efficientnet_lite2"},
    "v2 recipe, seed 1 (the noise)": {"seed": 1},
    "EfficientNet-Lite1": {"backbone": "efficientnet_lite1"},
    "mirrored border past the photo": {"border": "reflect"},
    "grey border past the photo": {"border": "grey"},
}


@dataclass(frozen=True)
class AblationConfig:
    """The budget every lever gets; saved with each result."""

    data: str = str(ROOT.parent / "shared" / "data")
    photos: int = 4000  # FER2013 training photos (the posed sets' training people all come too)
    epochs: int = 2
    threads: int = 1
    test_photos: int | None = None  # PublicTest photos scored (None: all 3,589; fewer for a smoke run)

    def recipe(self, lever: str):
        from maskfer.training.recipe import DefaultModelConfig

        base = DefaultModelConfig(data=self.data, limit=self.photos, epochs=self.epochs, threads=self.threads)
        return replace(base, **LEVERS[lever])


def publictest(config: AblationConfig):
    """FER2013 PublicTest's photos (the validation part), whatever the training limit."""
    from maskfer.training.splits import fer2013_table, fer_validation_set

    fer = fer2013_table(Path(config.data) / "fer2013")
    test = fer[fer_validation_set(fer)]
    return (test.sample(config.test_photos, random_state=0) if config.test_photos else test).reset_index(drop=True)


def score(model_path: Path, table, cache) -> dict:
    """Accuracy against FER2013's labels and FER+'s majority, and the lowest per-class recall, on each PublicTest view,
    without and with flip test-time augmentation (the mean of a crop's and its mirror's probabilities)."""
    from maskfer.data.readers import ferplus_labels
    from maskfer.labels import EMOTIONS
    from maskfer.prediction.model import load_model
    from maskfer.training.crops import FaceCropConfig, face_crops

    model = load_model(str(model_path))
    y = table["emotion"].map(EMOTIONS.index).to_numpy()
    majority = ferplus_labels(table, Path(table["path"].iloc[0]).parents[2]).map(lambda e: -1 if e is None else EMOTIONS.index(e))
    out = {}
    for split, masking in SPLITS.items():
        crops, status, _ = face_crops(table["path"], table["source"], FaceCropConfig(model.size, masking, border=model.border),
                                      cache, jobs=1)
        ok = status == "ok"
        plain = model.probabilities(crops[ok])
        flipped = (plain + model.probabilities(crops[ok][:, :, ::-1])) / 2
        has = majority.to_numpy()[ok] >= 0
        for name, p in ((split, plain), (f"{split} +flip", flipped)):
            predicted = p.argmax(1)
            recall = [float(np.mean(predicted[y[ok] == k] == k)) for k in range(len(EMOTIONS))]
            out[name] = {"accuracy": float(np.mean(predicted == y[ok])), "lowest_recall": min(recall), "n": int(ok.sum()),
                         "accuracy_ferplus": float(np.mean(predicted[has] == majority.to_numpy()[ok][has]))}
    return out


def lever_folder(recipe) -> Path:
    """Where a lever's run lives in the cache (its checkpoint and exported model): keyed by its whole recipe."""
    from maskfer.core.cache import Cache, stable_key

    return Cache().root / "ablation" / stable_key(asdict(recipe))


def run_lever(lever: str, config: AblationConfig) -> dict:
    """Train one lever (resuming its checkpoint) and score it; runs in its own process."""
    from maskfer.core.cache import Cache
    from maskfer.training.recipe import train_default

    recipe = config.recipe(lever)
    cache = Cache()
    out = lever_folder(recipe)
    started, cpu = time.perf_counter(), time.process_time()
    record = train_default(recipe, out, cache, jobs=1, say=lambda line: print(f"[{lever}] {line}", flush=True))
    return {"lever": lever, "changes": LEVERS[lever], "config": asdict(config), "recipe": asdict(recipe),
            "train_seconds": time.perf_counter() - started, "train_cpu_seconds": time.process_time() - cpu,
            "n_train": record["n_train"], "steps": len(record["history"]) * -(-record["n_train"] // recipe.batch_size),
            "history": record["history"], "scores": score(out / "maskfer-expression.onnx", publictest(config), cache)}


def prepare(config: AblationConfig, levers: list[str], jobs: int) -> None:
    """Every crop the levers need, made once here (both cores) before they train side by side."""
    from maskfer.core.cache import Cache
    from maskfer.training.crops import FaceCropConfig, face_crops
    from maskfer.training.recipe import crops_and_labels, target_distributions
    from maskfer.training.splits import training_table

    cache = Cache()
    for size in sorted({config.recipe(lever).size for lever in levers}):
        recipe = replace(config.recipe(levers[0]), size=size)
        for table in training_table(recipe):
            crops_and_labels(table, size, recipe.views, cache, jobs, show=True)
        test = publictest(config)
        for masking in SPLITS.values():
            face_crops(test["path"], test["source"], FaceCropConfig(size, masking), cache, jobs)
    for lever in levers:
        recipe = config.recipe(lever)
        if recipe.targets == "distill":
            target_distributions(training_table(recipe)[0], recipe, cache, jobs)


def recorded(path: Path = RECORD) -> dict:
    """Lever name -> its recorded row (one finished lever a line of `path`)."""
    if not path.exists():
        return {}
    return {row["lever"]: row for row in map(json.loads, filter(str.strip, path.read_text().splitlines()))}


def record(row: dict, path: Path = RECORD, levers=LEVERS) -> None:
    """Add or replace one lever's row in `path`, the rows kept in the order of `levers`."""
    from maskfer.core.files import atomic_write_bytes

    rows = {**recorded(path), row["lever"]: row}
    atomic_write_bytes(path, "".join(json.dumps(rows[name]) + "\n" for name in levers if name in rows).encode())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="store_true", help="train and score every lever not yet recorded")
    parser.add_argument("--only", action="append", choices=list(LEVERS), help="just this lever (repeatable)")
    parser.add_argument("--parallel", type=int, default=2, help="levers trained side by side, one torch thread each")
    parser.add_argument("--rescore", action="store_true",
                        help="score recorded levers that lack a column again, from their models in this machine's cache")
    args = parser.parse_args()
    config = AblationConfig()
    rows = recorded()
    if args.run:
        todo = [name for name in (args.only or LEVERS) if name not in rows or rows[name]["config"] != asdict(config)]
        prepare(config, todo, jobs=2)
        with ProcessPoolExecutor(max_workers=max(1, args.parallel)) as pool:
            for done in as_completed([pool.submit(run_lever, name, config) for name in todo]):
                row = done.result()
                record(row)
                print(f"recorded {row['lever']}: " + ", ".join(f"{k} {100 * v['accuracy']:.1f}%" for k, v in row["scores"].items()),
                      flush=True)
        rows = recorded()
    if args.rescore:
        from maskfer.core.cache import Cache

        for name, row in rows.items():  # those scored before a column existed
            if any("accuracy_ferplus" not in split for split in row["scores"].values()):
                row["scores"] = score(lever_folder(config.recipe(name)) / "maskfer-expression.onnx", publictest(config), Cache())
                record(row)
    print(f"FER2013 PublicTest accuracy % after {config.epochs} epochs on {config.photos} FER2013 training photos plus the "
          "posed sets' training people (difference from the v2 recipe):", file=sys.stderr)
    from maskfer.card import ablation_table

    print(ablation_table([rows[name] for name in LEVERS if name in rows]))


if __name__ == "__main__":
    main()
