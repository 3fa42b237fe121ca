"""`reproduce`: the study's whole classical experiment on one dataset, under honest protocols.

Read top to bottom: read the dataset -> (draw the masks, cached) -> balanced sample -> features
(cached) -> one flat list of cross-validations (every model under every protocol, the
augmentation comparison, the sweeps, the held-out mask types, the unmasked comparison) run in
parallel with every fold cached -> one results file -> the report.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import maskfer
from maskfer.data.readers import read_dataset
from maskfer.data.sampling import balanced_sample
from maskfer.errors import MaskferError, check_name
from maskfer.evaluation.experiment import ExperimentConfig, evaluate_many, fold_status
from maskfer.core.parallel import ComputeConfig
from maskfer.core.progress import progress_display
from maskfer.evaluation.protocols import PROTOCOLS
from maskfer.evaluation.sweeps import QUICK_SWEEPS, STUDY_SWEEPS, SWEEPS, sweep_configs, sweep_result
from maskfer.features.augment import AugmentConfig
from maskfer.core.cache import Cache, stable_key
from maskfer.core.files import atomic_write_json
from maskfer.features.pixels import PixelConfig, table_features
from maskfer.models.registry import MODELS, list_models, model_spec

STUDY_MODELS = ("naive_bayes", "logreg", "random_forest", "kmeans", "svm", "svm_poly")
QUICK_AUGMENT_MODELS = ("naive_bayes", "random_forest")


def choose_models(text: str, resnet18_weights: str = "imagenet") -> tuple[tuple[str, ...], list[str]]:
    """`--models`: "study" (the six classical), "cnn", "all" or comma-separated names; and notes to show.

    A preset leaves out a model that starts from ImageNet weights which are not on this machine
    (ImageNet ResNet18 ships in no package), with a note; a model named outright is kept, and
    fails with the weights error if they cannot be had.
    """
    from maskfer.errors import MaskferError, check_names

    if resnet18_weights not in ("imagenet", "none") and not Path(resnet18_weights).is_file():  # said before any work
        raise MaskferError(f"{resnet18_weights}: weights file not found (--weights)")
    presets = {"study": STUDY_MODELS, "cnn": tuple(n for n in list_models() if model_spec(n).deep), "all": tuple(list_models())}
    chosen = check_names(text, MODELS, "model", presets)
    notes = []
    if text in ("cnn", "all") and resnet18_weights == "imagenet":
        missing = [m for m in chosen if model_spec(m).family == "cnn" and model_spec(m).weights == "imagenet"
                   and not _imagenet_available(model_spec(m).backbone)]
        chosen = tuple(m for m in chosen if m not in missing)
        notes += [f"{m} (ImageNet) left out: no ImageNet {model_spec(m).backbone} weights on this machine and no --weights PATH"
                  for m in missing]
    return chosen, notes


def _imagenet_available(backbone: str) -> bool:
    from maskfer.models.registry import cnn_module

    cnn_module()  # a one-line error if PyTorch is missing
    from maskfer.models.backbones import imagenet_available

    return imagenet_available(backbone)


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
    sweeps: tuple[str, ...] = STUDY_SWEEPS
    masks: tuple[str, ...] = ()  # mask types to draw; empty: the plain dataset
    masked_sample: int = 15000  # the study's balanced sample of masked images
    quick: bool = False
    n_splits: int = 5
    seed: int = 0
    pixels: PixelConfig = PixelConfig()
    cnn: dict = field(default_factory=dict)  # parameters for every CNN (epochs, device, max_batches, ...)
    resnet18_weights: str = "imagenet"  # an ImageNet ResNet18 checkpoint file, or "imagenet" (torch's download)
    aligned_size: int = 0  # > 0: the CNNs also run on face-aligned crops of this size, for comparison
    unmasked: bool = True  # masked runs: every model again on the plain photos, for the comparison
    held_out: bool = True  # several mask types (renderers): every model again with each one held out of training

    def __post_init__(self):
        for p in self.protocols:
            check_name("protocol", p, PROTOCOLS)
        for m in (*self.models, *(self.augment_models or ())):
            check_name("model", m, MODELS)
        for s in self.sweeps:
            check_name("sweep", s, SWEEPS)
        from maskfer.masks.draw import check_mask_type  # light: no MediaPipe import

        for m in self.masks:
            check_mask_type(m)

    def experiment(self, **changes) -> ExperimentConfig:
        spec = model_spec(changes["model"]) if changes.get("model") else None
        if spec is not None and spec.family == "cnn":
            params = dict(self.cnn)
            if spec.backbone == "resnet18" and spec.weights == "imagenet":
                params["weights"] = self.resnet18_weights
            changes["params"] = {**params, **changes.get("params", {})}
        return ExperimentConfig(n_splits=self.n_splits, seed=self.seed, pixels=self.pixels, **changes)

    @property
    def augmented_models(self) -> tuple[str, ...]:
        # The CNNs are left out by default: each augmented CNN run costs as much as the study's whole classical part.
        if self.augment_models is not None:
            return self.augment_models
        classical = tuple(m for m in self.models if not model_spec(m).deep)
        return tuple(m for m in QUICK_AUGMENT_MODELS if m in classical) if self.quick else classical

    @property
    def renderers(self) -> tuple[str, ...]:
        """The mask renderers behind `masks` (drawn, template), in registry order."""
        from maskfer.masks.draw import MASKS

        return tuple(dict.fromkeys(MASKS[m].renderer for m in self.masks))

    @property
    def aligned_pixels(self) -> PixelConfig:
        return replace(self.pixels, size=self.aligned_size, crop="aligned")


def plan(study: StudyConfig) -> list[tuple[str, dict, list[ExperimentConfig]]]:
    """The study on its main data (masked when `study.masks`) as (section, labels, configs) entries."""
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
    if study.held_out and len(study.masks) > 1:
        for model in study.models:
            entries.append(("held_out_masks", {"model": model}, [study.experiment(model=model, protocol="mask_type")]))
    if study.held_out and len(study.renderers) > 1:
        for model in study.models:
            entries.append(("held_out_renderers", {"model": model}, [study.experiment(model=model, protocol="mask_renderer")]))
    return entries


def plan_aligned(study: StudyConfig) -> list[tuple[str, dict, list[ExperimentConfig]]]:
    """The CNNs again on face-aligned crops (`aligned_size`), for the input comparison."""
    pixels = study.aligned_pixels
    return [("aligned", {"model": m, "protocol": p}, [replace(study.experiment(model=m, protocol=p), pixels=pixels)])
            for p in study.protocols for m in study.models if model_spec(m).deep]


def plan_unmasked(study: StudyConfig) -> list[tuple[str, dict, list[ExperimentConfig]]]:
    """The same models on the plain photos, for the masked-versus-unmasked comparison."""
    return [("unmasked", {"model": m, "protocol": p}, [study.experiment(model=m, protocol=p)])
            for p in study.protocols for m in study.models]


def _run(entries, features, cache, compute, progress, advancer) -> list[tuple[str, dict, list[ExperimentConfig], list[dict]]]:
    configs = [c for _, _, cs in entries for c in cs]
    if not configs:
        return []
    # The mask_type and mask_renderer protocols have one fold per type or renderer, the others n_splits.
    held_out = {p: features.table[p].nunique() for p in ("mask_type", "mask_renderer") if p in features.table}
    total = sum(held_out.get(c.protocol, c.n_splits) for c in configs)
    task = progress.add_task(f"{len(entries)} experiments", total=total)
    results = evaluate_many(features, configs, cache, compute, on_fold=advancer(task, "folds"))
    out, position = [], 0
    for section, labels, cs in entries:
        out.append((section, labels, cs, results[position:position + len(cs)]))
        position += len(cs)
    return out


def _study_features(study: StudyConfig, cache: Cache, compute: ComputeConfig, progress, advancer, out: Path):
    """The study's main data (masked and sampled when `study.masks`) and its features: (dataset, plain, features, masking, advance).

    Masked images go to the cache, or under `out` when the cache is off.
    """
    dataset = read_dataset(study.data, study.layout, study.subject_regex)
    plain = dataset.table
    if study.sample and not study.masks:
        plain = balanced_sample(plain, study.sample, seed=study.seed, replace=study.sample_with_replacement)
    masking = None
    if study.masks:
        from maskfer.masks.dataset import MaskingConfig, mask_dataset, masking_summary

        config = MaskingConfig(types=study.masks, seed=study.seed)
        # Masked images are derived data: they live in the cache, keyed by source and settings.
        images = (cache.root if cache.enabled else out) / "masked-images" / stable_key(str(dataset.root), asdict(config))
        task = progress.add_task("masking", total=len(plain))
        masked = mask_dataset(plain, images, config, cache, compute, on_photo=advancer(task, "photos masked"))
        masking = masking_summary(masked)
        usable = masked[masked["status"] == "ok"].reset_index(drop=True)
        if usable.empty:
            raise MaskferError(f"{dataset.root}: no image could be masked ({masking['failures']})")
        # The study's balanced sample of masked images: equal emotions and angles where the data allows.
        main = balanced_sample(usable, study.sample or study.masked_sample, seed=study.seed,
                               replace=study.sample_with_replacement)
    else:
        main = plain
    # The plain photos' features are made later, for the unmasked comparison, only where it runs.
    task = progress.add_task("features", total=len(main) + (len(plain) if study.masks and study.unmasked else 0))
    advance = advancer(task, "images")
    features = table_features(main, study.pixels, cache, advance, compute)
    return dataset, plain, features, masking, advance


def study_status(study: StudyConfig, cache: Cache | None = None) -> list[dict]:
    """Where a `reproduce` run of `study` stands (masked data and features are read or made; no model runs).

    One row per experiment on the main data: its labels, and each fold's state (see `fold_status`).
    """
    cache = cache if cache is not None else Cache()
    progress, advancer = progress_display(False)
    _, _, features, _, _ = _study_features(study, cache, ComputeConfig(), progress, advancer, cache.root)
    entries = plan(study)
    configs = [c for _, _, cs in entries for c in cs]
    states = iter(fold_status(features, configs, cache))
    return [{"section": section, **labels, "params": c.params, "folds": next(states)} for section, labels, cs in entries for c in cs]


def reproduce(study: StudyConfig, out: str | Path, cache: Cache | None = None,
              compute: ComputeConfig = ComputeConfig(), show_progress: bool = True) -> dict:
    """Run the study and write `results.json`, `report.html` and `report.md` into `out`."""
    from maskfer.report.render import write_report

    cache = cache if cache is not None else Cache()
    out = Path(out)
    started = time.perf_counter()
    progress, advancer = progress_display(show_progress)
    with progress:
        dataset, plain, features, masking, advance = _study_features(study, cache, compute, progress, advancer, out)
        sections = _run(plan(study), features, cache, compute, progress, advancer)
        if study.masks and study.unmasked:
            plain_features = table_features(plain, study.pixels, cache, advance, compute)
            sections += _run(plan_unmasked(study), plain_features, cache, compute, progress, advancer)
        if study.aligned_size and plan_aligned(study):
            main = features.table
            task = progress.add_task("aligned crops", total=len(main))
            aligned = table_features(main, study.aligned_pixels, cache, advancer(task, "aligned crops"), compute)
            sections += _run(plan_aligned(study), aligned, cache, compute, progress, advancer)

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
        "masking": masking,
        "models": [], "augmented": [], "sweeps": [], "held_out_masks": [], "held_out_renderers": [], "unmasked": [], "aligned": [],
    }
    for section, labels, configs, results in sections:
        if section == "sweeps":
            record["sweeps"].append(sweep_result(labels["sweep"], configs, results))
        else:
            record[section].append(results[0])
    record["seconds"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "results.json", record)
    write_report(record, out)
    return record


__all__ = ["QUICK_SWEEPS", "STUDY_MODELS", "StudyConfig", "choose_models", "plan", "plan_aligned", "plan_unmasked", "reproduce",
           "study_status"]
