"""`reproduce`: the study's whole classical experiment on one dataset, under honest protocols.

Read top to bottom: read the dataset -> (balanced sample) -> features (cached) -> one flat list
of cross-validations (every model under every protocol, the augmentation comparison, the
sweeps) run in parallel with every fold cached -> one results file -> the report.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

import maskfer
from maskfer.data.readers import read_dataset
from maskfer.data.sampling import balanced_sample
from maskfer.errors import check_name
from maskfer.evaluation.experiment import ExperimentConfig, evaluate_many, table_features
from maskfer.evaluation.parallel import ComputeConfig
from maskfer.evaluation.protocols import PROTOCOLS
from maskfer.evaluation.sweeps import QUICK_SWEEPS, SWEEPS, sweep_configs, sweep_result
from maskfer.features.augment import AugmentConfig
from maskfer.features.cache import Cache, atomic_write_json
from maskfer.features.pixels import PixelConfig
from maskfer.models.registry import MODELS

STUDY_MODELS = ("naive_bayes", "logreg", "random_forest", "kmeans", "svm", "svm_poly")
QUICK_AUGMENT_MODELS = ("naive_bayes", "random_forest")


@dataclass(frozen=True)
class StudyConfig:
    """Everything `reproduce` does; saved in its results file and shown in its report."""

    data: str
    layout: str = "auto"
    subject_regex: str | None = None
    sample: int | None = None
    sample_with_replacement: bool = False
    protocols: tuple[str, ...] = ("random", "subject")
    models: tuple[str, ...] = STUDY_MODELS
    augment_models: tuple[str, ...] | None = None  # None: the same as `models` (quick: two fast ones)
    augment_fraction: float = 0.25
    sweeps: tuple[str, ...] = tuple(SWEEPS)
    quick: bool = False
    n_splits: int = 5
    seed: int = 0
    pixels: PixelConfig = PixelConfig()

    def __post_init__(self):
        for p in self.protocols:
            check_name("protocol", p, PROTOCOLS)
        for m in (*self.models, *(self.augment_models or ())):
            check_name("model", m, MODELS)
        for s in self.sweeps:
            check_name("sweep", s, SWEEPS)

    def experiment(self, **changes) -> ExperimentConfig:
        return ExperimentConfig(n_splits=self.n_splits, seed=self.seed, pixels=self.pixels, **changes)

    @property
    def augmented_models(self) -> tuple[str, ...]:
        if self.augment_models is not None:
            return self.augment_models
        return tuple(m for m in QUICK_AUGMENT_MODELS if m in self.models) if self.quick else self.models


def plan(study: StudyConfig) -> list[tuple[str, dict, list[ExperimentConfig]]]:
    """The study as a list of (section, labels, configs) entries."""
    entries = []
    augment = AugmentConfig(fraction=study.augment_fraction, seed=study.seed)
    for protocol in study.protocols:
        for model in study.models:
            entries.append(("models", {"model": model, "protocol": protocol}, [study.experiment(model=model, protocol=protocol)]))
        for model in study.augmented_models if study.augment_fraction > 0 else ():
            entries.append(("augmented", {"model": model, "protocol": protocol},
                            [study.experiment(model=model, protocol=protocol, augment=augment)]))
        for name in study.sweeps:
            configs = sweep_configs(name, study.experiment(protocol=protocol), quick=study.quick)
            entries.append(("sweeps", {"sweep": name, "protocol": protocol}, configs))
    return entries


def reproduce(study: StudyConfig, out: str | Path, cache: Cache | None = None,
              compute: ComputeConfig = ComputeConfig(), show_progress: bool = True) -> dict:
    """Run the study and write `results.json`, `report.html` and `report.md` into `out`."""
    from maskfer.report.render import write_report

    cache = cache if cache is not None else Cache()
    out = Path(out)
    started = time.perf_counter()
    dataset = read_dataset(study.data, study.layout, study.subject_regex)
    table = dataset.table
    if study.sample:
        # Copies drawn with replacement keep their photo's `source`, so `source` folds keep them together.
        table = balanced_sample(table, study.sample, seed=study.seed, replace=study.sample_with_replacement)

    entries = plan(study)
    n_folds = sum(len(configs) for _, _, configs in entries) * study.n_splits
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console, disable=not show_progress) as progress:
        task = progress.add_task("features", total=len(table))
        features = table_features(table, study.pixels, cache, on_chunk=lambda n: progress.advance(task, n))
        progress.update(task, description=f"{len(entries)} experiments, {n_folds} folds", completed=0, total=n_folds)
        done = [0]

        def advance():
            progress.advance(task)
            done[0] += 1
            # A log file gets no live bar, so it gets a line every 5% instead.
            if show_progress and not console.is_terminal and done[0] % max(1, n_folds // 20) == 0:
                console.print(f"folds {done[0]}/{n_folds} ({100 * done[0] // n_folds}%) after "
                              f"{time.perf_counter() - started:.0f} s", highlight=False)

        all_configs = [c for _, _, configs in entries for c in configs]
        results = evaluate_many(features, all_configs, cache, compute, on_fold=advance)

    record = {
        "maskfer_version": maskfer.__version__,
        "kind": "study",
        "study": asdict(study),
        "dataset": {
            "name": dataset.name, "layout": dataset.layout, "root": str(dataset.root),
            "n_images": len(dataset.table), "n_used": len(features.table),
            "skipped": [asdict(s) for s in dataset.skipped], "unreadable": features.errors,
            "n_subjects": int(features.table["subject"].nunique()),
        },
        "models": [], "augmented": [], "sweeps": [],
    }
    position = 0
    for section, labels, configs in entries:
        chunk = results[position:position + len(configs)]
        position += len(configs)
        if section == "sweeps":
            record["sweeps"].append(sweep_result(labels["sweep"], configs, chunk))
        else:
            record[section].append(chunk[0])
    record["seconds"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", record)
    write_report(record, out)
    return record


__all__ = ["QUICK_SWEEPS", "STUDY_MODELS", "StudyConfig", "plan", "reproduce"]
