"""The `maskfer` command: each pipeline stage is a subcommand.

Bad input never prints a traceback: it prints one line naming the file or option and the
problem, and exits with status 2.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from maskfer import __version__
from maskfer.errors import MaskferError, check_names

class ConventionalHelp:
    """Help in the usual convention: the usage line names arguments DATASET or PATH... (typer's own writes
    {DATASET}), and a flag shows no <bool>, since it takes no value."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = (param.metavar or param.name).upper() + ("..." if param.nargs != 1 else "")
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
            elif param.param_type_name == "argument":  # its help says what it is; no <list[Path]> beside it
                param.display_type_rich = lambda ctx: None
        return params


class MaskferCommand(ConventionalHelp, TyperCommand):
    pass


class MaskferGroup(ConventionalHelp, TyperGroup):
    def collect_usage_pieces(self, ctx) -> list[str]:
        return TyperGroup.collect_usage_pieces(self, ctx)  # "COMMAND [ARGS]..." as click writes it


app = typer.Typer(help="Facial expression recognition on masked faces, evaluated honestly.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False, cls=MaskferGroup)
data_app = typer.Typer(help="Read datasets: layouts, counts, skipped files, balanced samples.", no_args_is_help=True,
                       cls=MaskferGroup)
app.add_typer(data_app, name="data")

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def _print_version(value: bool) -> None:
    if value:
        console.print(f"maskfer {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                      help="Print maskfer's version and stop.")):
    """Facial expression recognition on masked faces, evaluated honestly."""

DATA_HINT = ("maskfer needs a labelled face-expression dataset: KDEF (kdef.se), TCEP, CK+ or FER2013 in its public "
             "layout, or any folder with one sub-folder per expression")


@contextmanager
def user_errors():
    """Turn maskfer's input errors into one line on stderr and exit status 2."""
    try:
        yield
    except (MaskferError, ValueError) as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _compute(jobs: int, scheduler: Optional[str], cluster: str, threads: Optional[int] = None):
    from maskfer.core.parallel import ComputeConfig

    return ComputeConfig(jobs=jobs, scheduler=scheduler, cluster=cluster, threads=threads)


def _cache(cache_dir: Optional[Path], no_cache: bool):
    from maskfer.core.cache import Cache

    return Cache(cache_dir, enabled=not no_cache)


def _parse_params(params: list[str]) -> dict:
    parsed = {}
    for item in params:
        if "=" not in item:
            raise MaskferError(f"--param {item!r}: expected NAME=VALUE")
        name, value = item.split("=", 1)
        try:
            parsed[name] = json.loads(value)
        except json.JSONDecodeError:
            parsed[name] = value
    return parsed


def _dataset_features(path, layout, subject_regex, pixels, cache, display, compute=None, sample=None, replace=False, seed=0):
    """Read a dataset (a balanced `sample` of it if asked) and its features, showing progress on `display`."""
    from maskfer.core.parallel import ComputeConfig
    from maskfer.data import balanced_sample, read_dataset
    from maskfer.evaluation.experiment import table_features

    table = read_dataset(path, layout, subject_regex).table
    if sample:
        if "split" in table and (table["split"] == "train").any():
            table = table[table["split"] == "train"]  # FER2013: its test splits stay unseen, as the study's sample did
        table = balanced_sample(table, sample, seed=seed, replace=replace)
    progress, advancer = display
    task = progress.add_task("features", total=len(table))
    return table_features(table, pixels, cache, advancer(task, "images"), compute or ComputeConfig())


JOBS = typer.Option(os.cpu_count() or 1, "--jobs", "-j", help="Parallel local workers (default: one per core).", show_default="cores")
SCHEDULER = typer.Option(None, "--scheduler", help="Dask scheduler address (tcp://host:port) to run on.")
THREADS = typer.Option(None, "--threads", help="CNNs: torch threads per worker (default: the cores shared among --jobs).", show_default="cores / jobs")
CLUSTER = typer.Option("none", "--cluster", help="'none' (joblib on this machine) or 'local' (a Dask LocalCluster with --jobs workers).")
CACHE_DIR = typer.Option(None, "--cache-dir", help="Cache folder (default $MASKFER_CACHE_DIR or ~/.cache/maskfer).")
NO_CACHE = typer.Option(False, "--no-cache", help="Compute everything afresh and store nothing.")
LAYOUT = typer.Option("auto", "--layout", help="Dataset layout: auto (detect it), kdef, tcep, ckplus, fer2013, fer2013_csv or class_folders.")
DATASET = typer.Argument(..., help="Dataset folder or fer2013.csv.", metavar="DATASET", show_default=False)
SEED = typer.Option(0, "--seed", help="Random seed (folds, samples, masks).")
FOLDS = typer.Option(5, "--folds", help="Cross-validation folds.")
SIZE = typer.Option(64, "--size", help="Side of the square image features, in pixels (the study's 64).")
COLOR = typer.Option("rgb", "--color", help="Colour of the features: rgb (the study's) or gray.")
PROTOCOL = typer.Option("auto", "--protocol", "-p",
                        help="random, subject, source, mask_type or mask_renderer (see the README's protocols); "
                             "auto: subject where every image names its person, else source.")


def _resolve_protocol(protocol: str, features) -> str:
    """`auto` made concrete for this data, saying so when it is not the default `subject`."""
    from maskfer.evaluation.protocols import PROTOCOLS, default_protocol

    if protocol != "auto":
        return check_names(protocol, PROTOCOLS, "protocol")[0]
    chosen = default_protocol(features.table)
    if chosen != "subject":
        errors.print(f"note: these images do not all name their person, so the protocol is {chosen} "
                     "(every version of one photo on one side); --protocol chooses another", highlight=False)
    return chosen
SUBJECT_REGEX = typer.Option(None, "--subject-regex", help="Regular expression whose first group is the subject id.")


@data_app.command("info", cls=MaskferCommand)
def data_info(
    path: Path = DATASET,
    layout: str = LAYOUT,
    subject_regex: Optional[str] = SUBJECT_REGEX,
    check: bool = typer.Option(True, "--check/--no-check", help="Decode every image to find corrupt ones."),
):
    """Counts per class, per subject and per angle, and what was skipped and why."""
    from rich.progress import track

    from maskfer.core.images import ImageError, read_image
    from maskfer.data import read_dataset

    with user_errors():
        dataset = read_dataset(path, layout, subject_regex)
    table = dataset.table
    unreadable = []
    if check:
        for ref in track(table["path"], description="checking images", console=errors, transient=True):
            try:
                read_image(ref)
            except ImageError as exc:
                unreadable.append(str(exc))
    console.print(f"[bold]{dataset.name}[/] ({dataset.layout}) at {dataset.root}: {len(table)} images, "
                  f"{table['subject'].nunique()} subjects, {len(dataset.skipped)} files skipped"
                  + (f", {len(unreadable)} unreadable" if check else ""))
    for column in ("emotion", "angle", "split", "session", "gender"):
        counts = table[column].value_counts()
        if not counts.empty:
            summary = Table(title=f"per {column}", show_edge=False)
            summary.add_column(column)
            summary.add_column("images", justify="right")
            for name, count in counts.sort_index().items():
                summary.add_row(str(name), str(count))
            console.print(summary)
    per_subject = table["subject"].value_counts()
    if not per_subject.empty:
        console.print(f"per subject: {len(per_subject)} subjects, {per_subject.min()} to {per_subject.max()} images each "
                      f"(median {int(per_subject.median())}): "
                      + " ".join(f"{name}:{count}" for name, count in per_subject.sort_index().items()), highlight=False)
    for reason, count in Counter(s.reason for s in dataset.skipped).most_common():
        console.print(f"skipped {count}: {reason}")
    for s in dataset.skipped[:50]:
        errors.print(f"skipped {s.path}: {s.reason}", highlight=False, soft_wrap=True)
    for line in unreadable:
        errors.print(f"unreadable {line}", highlight=False, soft_wrap=True)


@data_app.command("sample", cls=MaskferCommand)
def data_sample(
    path: Path = DATASET,
    n: int = typer.Option(..., "--sample", "-n", help="How many images to draw.", show_default=False),
    out: Path = typer.Option(..., "--out", "-o", help="CSV file to write the sampled table to."),
    replace_: bool = typer.Option(False, "--replace", help="Draw with replacement (exactly n, equal cells)."),
    seed: int = SEED,
    layout: str = LAYOUT,
    subject_regex: Optional[str] = SUBJECT_REGEX,
):
    """Balanced sample, equal emotions and angles where the data allows (the study's 15,000)."""
    from maskfer.core.files import atomic_write_text
    from maskfer.data import balanced_sample, read_dataset

    with user_errors():
        table = balanced_sample(read_dataset(path, layout, subject_regex).table, n, seed=seed, replace=replace_)
    atomic_write_text(out, table.to_csv(index=False))
    console.print(f"wrote {len(table)} rows to {out}: " + ", ".join(f"{k} {v}" for k, v in table["emotion"].value_counts().sort_index().items()))


@app.command(cls=MaskferCommand)
def features(
    path: Path = DATASET,
    size: int = SIZE,
    color: str = COLOR,
    layout: str = LAYOUT,
    jobs: int = JOBS, scheduler: Optional[str] = SCHEDULER, cluster: str = CLUSTER,
    cache_dir: Optional[Path] = CACHE_DIR,
):
    """Compute (or read from the cache) the study's pixel features for a dataset."""
    from maskfer.core.progress import progress_display
    from maskfer.features.pixels import PixelConfig

    with user_errors():
        cache = _cache(cache_dir, False)
        progress, _ = display = progress_display(transient=True, console=errors)
        with progress:
            result = _dataset_features(path, layout, None, PixelConfig(size=size, color=color), cache, display,
                                       _compute(jobs, scheduler, cluster))
    for line in result.errors:
        errors.print(f"unreadable {line}", highlight=False, soft_wrap=True)
    console.print(f"{result.X.shape[0]} x {result.X.shape[1]} features, key {result.key}, cached in {cache.root}")


@app.command(cls=MaskferCommand)
def mask(
    path: Path = DATASET,
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the masked images, masks.csv and contact sheets."),
    types: str = typer.Option("drawn", "--types", "-t", help="'drawn' (the study's seven), 'template' (the second renderer's), 'all', or comma-separated mask types."),
    seed: int = SEED,
    largest: bool = typer.Option(False, "--largest", help="Mask only the largest face of each photo."),
    image_format: str = typer.Option("jpg", "--format", help="Masked image files: jpg (quality 95) or png."),
    layout: str = LAYOUT,
    subject_regex: Optional[str] = SUBJECT_REGEX,
    jobs: int = JOBS, scheduler: Optional[str] = SCHEDULER, cluster: str = CLUSTER,
    cache_dir: Optional[Path] = CACHE_DIR, no_cache: bool = NO_CACHE,
):
    """Draw synthetic masks on every face of a dataset, checked image by image."""
    from maskfer.core.progress import progress_display
    from maskfer.masks import MASK_PRESETS, MASKS
    from maskfer.masks.dataset import MaskingConfig, mask_folder

    with user_errors():
        config = MaskingConfig(types=check_names(types, MASKS, "mask type", MASK_PRESETS), seed=seed,
                               largest=largest, image_format=image_format)
        progress, advancer = progress_display(console=errors)
        with progress:
            task = progress.add_task("masking", total=None)
            _, summary = mask_folder(path, out, config, layout, subject_regex, _cache(cache_dir, no_cache),
                                     _compute(jobs, scheduler, cluster), on_photo=advancer(task, "photos masked"),
                                     on_start=lambda n: progress.update(task, total=n))
    for kind, counts in summary["per_type"].items():
        console.print(f"{kind:9s} {counts.get('ok', 0):6d} ok {counts.get('failed', 0):6d} failed", highlight=False)
    for reason, count in summary["failures"].items():
        console.print(f"failed {count}: {reason}", highlight=False)
    console.print(f"{summary['photos']} photos, {100 * summary['pass_rate']:.1f}% of masks pass the quality rule; "
                  f"table {out / 'masks.csv'}, contact sheets {out}/contact_*.png")


@app.command(cls=MaskferCommand)
def models():
    """List the registered models."""
    from maskfer.models.registry import MODELS

    for name, spec in MODELS.items():
        console.print(f"{name:22s} {spec.family:13s} {spec.description}", highlight=False)


@app.command(cls=MaskferCommand)
def evaluate(
    path: Path = DATASET,
    model: str = typer.Option("svm", "--model", "-m", help="A registered model (see `maskfer models`)."),
    protocol: str = PROTOCOL,
    param: list[str] = typer.Option([], "--param", help="Model parameter NAME=VALUE (repeatable).", metavar="NAME=VALUE",
                                    show_default=False),
    folds: int = FOLDS,
    seed: int = SEED,
    augment: float = typer.Option(0.0, "--augment", help="Fraction of training images given the six augmentations."),
    size: int = SIZE,
    color: str = COLOR,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the result JSON here."),
    layout: str = LAYOUT,
    subject_regex: Optional[str] = SUBJECT_REGEX,
    jobs: int = JOBS, scheduler: Optional[str] = SCHEDULER, cluster: str = CLUSTER,
    cache_dir: Optional[Path] = CACHE_DIR, no_cache: bool = NO_CACHE,
):
    """Cross-validate one model under one protocol."""
    from dataclasses import replace

    from maskfer.core.progress import progress_display
    from maskfer.evaluation.experiment import ExperimentConfig, evaluate as run_evaluate, save_result
    from maskfer.features.augment import AugmentConfig
    from maskfer.features.pixels import PixelConfig

    with user_errors():
        if protocol != "auto":
            _resolve_protocol(protocol, None)  # an unknown name fails before the data is read
        config = ExperimentConfig(model=model, params=_parse_params(param), n_splits=folds, seed=seed,
                                  pixels=PixelConfig(size, color), augment=AugmentConfig(fraction=augment, seed=seed))
        compute, cache = _compute(jobs, scheduler, cluster), _cache(cache_dir, no_cache)
        progress, advancer = display = progress_display(transient=True, console=errors)
        with progress:
            feats = _dataset_features(path, layout, subject_regex, config.pixels, cache, display, compute)
            protocol = _resolve_protocol(protocol, feats)
            config = replace(config, protocol=protocol)
            task = progress.add_task(f"{model} folds", total=folds)
            result = run_evaluate(feats, config, cache, compute, on_fold=advancer(task, "folds"))
    s = result["summary"]
    console.print(f"{model} under {protocol}: validation accuracy {100 * s['val_accuracy']['mean']:.1f} ± "
                  f"{100 * s['val_accuracy']['std']:.1f}%, MSE {s['val_mse']['mean']:.2f}, macro-F1 {s['val_macro_f1']['mean']:.2f}, "
                  f"training accuracy {100 * s['train_accuracy']['mean']:.1f}%", highlight=False)
    if out:
        save_result(result, out)
        console.print(f"wrote {out}")


@app.command(cls=MaskferCommand)
def sweep(
    path: Path = DATASET,
    name: str = typer.Argument(..., help="random_forest_trees, kmeans_k, kmeans_batch, logreg_c, svm_grid (Nystroem, fast) or svm_grid_exact (SVC).", metavar="SWEEP",
                               show_default=False),
    protocol: str = PROTOCOL,
    quick: bool = typer.Option(False, "--quick", help="A reduced grid."),
    sample: Optional[int] = typer.Option(None, "--sample", help="Sweep on a balanced sample of this many images, drawn on the fly (the study's 15,000; from the training split where the data has one)."),
    replace_: bool = typer.Option(False, "--replace", help="Sample with replacement (exactly --sample images, equal cells)."),
    folds: int = FOLDS,
    seed: int = SEED,
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the sweep JSON here."),
    layout: str = LAYOUT,
    subject_regex: Optional[str] = SUBJECT_REGEX,
    jobs: int = JOBS, scheduler: Optional[str] = SCHEDULER, cluster: str = CLUSTER,
    cache_dir: Optional[Path] = CACHE_DIR, no_cache: bool = NO_CACHE,
):
    """Run one of the study's hyper-parameter sweeps, in parallel or on a Dask cluster."""
    from dataclasses import replace

    from maskfer.core.progress import progress_display
    from maskfer.evaluation.experiment import ExperimentConfig, evaluate_many, save_result
    from maskfer.evaluation.sweeps import sweep_configs, sweep_result

    with user_errors():
        configs = sweep_configs(name, ExperimentConfig(n_splits=folds, seed=seed), quick)  # a bad name fails before any reading
        if protocol != "auto":
            _resolve_protocol(protocol, None)
        compute, cache = _compute(jobs, scheduler, cluster), _cache(cache_dir, no_cache)
        progress, advancer = display = progress_display(transient=True, console=errors)
        with progress:
            feats = _dataset_features(path, layout, subject_regex, configs[0].pixels, cache, display, compute,
                                      sample, replace_, seed)
            chosen = _resolve_protocol(protocol, feats)
            configs = [replace(c, protocol=chosen) for c in configs]
            task = progress.add_task(f"{name} folds", total=len(configs) * folds)
            result = sweep_result(name, configs, evaluate_many(feats, configs, cache, compute, advancer(task, "folds")))
    for point in result["points"]:
        console.print(f"{json.dumps(point['params'])}: {100 * point['summary']['val_accuracy']['mean']:.1f}%", highlight=False)
    if out:
        save_result(result, out)
        console.print(f"wrote {out}")


@app.command(cls=MaskferCommand)
def reproduce(
    path: Optional[Path] = typer.Argument(None, help="Dataset folder or fer2013.csv.", metavar="DATASET", show_default=False),
    data: Optional[Path] = typer.Option(None, "--data", "-d", hidden=True, help="The dataset, as an option (older spelling)."),
    out: Path = typer.Option(Path("maskfer-report"), "--out", "-o", help="Folder for results.json, report.html, report.md."),
    quick: bool = typer.Option(False, "--quick", help="Reduced sweeps; augmentation compared on two fast models."),
    protocols: str = typer.Option("random,subject", "--protocols", help="Comma-separated: random, subject, source."),
    models_: str = typer.Option("study", "--models", help="'study' (the six classical), 'cnn', 'all', or comma-separated names."),
    sweeps: str = typer.Option("study", "--sweeps", help="'study' (the five, the SVM grid on the fast Nystroem SVM), 'all' (adds svm_grid_exact), 'none', or comma-separated names."),
    augment: float = typer.Option(0.25, "--augment", help="Fraction of training images augmented (0 turns it off)."),
    masks: str = typer.Option("none", "--masks", help="'none', 'drawn' (the study's seven), 'template', 'all' (both renderers: adds the mask_renderer protocol), or comma-separated mask types."),
    sample: Optional[int] = typer.Option(None, "--sample", help="Balanced sample of this many images (masked: default 15000)."),
    sample_replace: bool = typer.Option(False, "--replace", help="Sample with replacement (exactly --sample images, equal cells)."),
    folds: int = FOLDS,
    seed: int = SEED,
    size: int = SIZE,
    color: str = COLOR,
    crop: str = typer.Option("full", "--crop", help="'full' (the study's) or 'aligned' (face-aligned crops)."),
    layout: str = LAYOUT,
    subject_regex: Optional[str] = SUBJECT_REGEX,
    device: str = typer.Option("cpu", "--device", help="CNNs: 'cpu' or 'cuda'."),
    epochs: int = typer.Option(30, "--epochs", help="CNNs: training epochs (the study's 30)."),
    early_stopping: Optional[int] = typer.Option(None, "--early-stopping", help="CNNs: stop after this many epochs without a better loss on a fifth of the training fold (never the scored fold); keep the best epoch."),
    unmasked: bool = typer.Option(True, "--unmasked/--no-unmasked", help="Masked runs: also run every model on the plain photos, for the comparison."),
    held_out: bool = typer.Option(True, "--held-out/--no-held-out", help="Several mask types: also run every model with each type (and renderer) held out of training."),
    status: bool = typer.Option(False, "--status", help="Run nothing: say which folds of this study are done, which CNN folds are part-trained (and at which epoch), which wait."),
    max_batches: Optional[int] = typer.Option(None, "--max-batches", help="CNNs: at most this many batches per epoch (smoke runs)."),
    weights: str = typer.Option("imagenet", "--weights", help="`resnet18`'s ImageNet weights: 'imagenet' is torch's download, which needs the internet; offline, give a checkpoint file (or use resnet18_scratch)."),
    aligned_size: int = typer.Option(0, "--aligned-size", help="Also run the CNNs on face-aligned crops of this size."),
    jobs: int = JOBS, scheduler: Optional[str] = SCHEDULER, cluster: str = CLUSTER, threads: Optional[int] = THREADS,
    cache_dir: Optional[Path] = CACHE_DIR, no_cache: bool = NO_CACHE,
):
    """Run the study's whole experiment (classical models and CNNs) and write its report."""
    data = path or data
    if data is None or not data.exists():  # said before anything else is printed or imported
        where = f"{data}: no such folder" if data is not None else "no dataset given (maskfer reproduce DATASET)"
        errors.print(f"[bold red]error:[/] {where}. {DATA_HINT}.", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    errors.print(f"maskfer reproduce {data}: reading the data, then the experiments (progress below)",
                 highlight=False, soft_wrap=True)  # before the heavy imports: the first line comes at once
    from maskfer.evaluation.protocols import PROTOCOLS
    from maskfer.evaluation.sweeps import STUDY_SWEEPS, SWEEPS
    from maskfer.features.pixels import PixelConfig
    from maskfer.masks import MASK_PRESETS, MASKS
    from maskfer.study import StudyConfig, choose_models, reproduce as run_reproduce

    with user_errors():
        chosen, notes = choose_models(models_, weights)
        for note in notes:
            errors.print(f"note: {note}", highlight=False)
        cnn = {"device": device, "epochs": epochs, **({"max_batches": max_batches} if max_batches else {}),
               **({"early_stopping": early_stopping} if early_stopping else {})}
        study = StudyConfig(
            data=str(data), layout=layout, subject_regex=subject_regex, sample=sample, sample_with_replacement=sample_replace,
            protocols=check_names(protocols, PROTOCOLS, "protocol"),
            models=chosen, cnn=cnn, resnet18_weights=weights, aligned_size=aligned_size, unmasked=unmasked, held_out=held_out,
            sweeps=check_names(sweeps, SWEEPS, "sweep", {"study": STUDY_SWEEPS, "all": tuple(SWEEPS), "none": ()}),
            masks=check_names(masks, MASKS, "mask type", MASK_PRESETS),
            augment_fraction=augment, quick=quick, n_splits=folds, seed=seed, pixels=PixelConfig(size, color, crop),
        )
        if status:
            _print_status(study, _cache(cache_dir, no_cache))
            return
        record = run_reproduce(study, out, _cache(cache_dir, no_cache), _compute(jobs, scheduler, cluster, threads))
    for p in study.protocols:
        rows = [r for r in record["models"] if r["config"]["protocol"] == p]
        top = max(rows, key=lambda r: r["summary"]["val_accuracy"]["mean"])
        console.print(f"{p:8s} best {top['config']['model']}: {100 * top['summary']['val_accuracy']['mean']:.1f}% validation accuracy", highlight=False)
    console.print(f"report: {out / 'report.html'} (and report.md); results: {out / 'results.json'}; {record['seconds']:.0f} s", soft_wrap=True)


def _print_status(study, cache) -> None:
    from maskfer.study import study_status

    table = Table("section", "experiment", "folds done", "val acc % (done folds)", "in training", "waiting")
    for row in study_status(study, cache):
        folds = row["folds"]
        done = [f["result"]["val_accuracy"] for f in folds if f["state"] == "done"]
        training = [f"fold {f['fold'] + 1}: epoch {f['epoch']}" for f in folds if f["state"] == "training"]
        label = " ".join(str(row[k]) for k in ("model", "sweep", "protocol") if k in row)
        table.add_row(row["section"], label + (f" {row['params']}" if row["params"] else ""), f"{len(done)}/{len(folds)}",
                      " ".join(f"{100 * a:.1f}" for a in done), ", ".join(training),
                      str(sum(f["state"] == "waiting" for f in folds)))
    console.print(table)


@app.command(cls=MaskferCommand)
def report(
    results: Path = typer.Argument(..., help="A results.json written by `maskfer reproduce`.", metavar="RESULTS", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the report (default: next to results)."),
):
    """Render the HTML and Markdown report again from a results file."""
    from maskfer.report.render import report_from_results

    with user_errors():
        paths = report_from_results(results, out)
    console.print(f"report: {paths['html']} (and {paths['markdown'].name})")


@app.command(cls=MaskferCommand)
def predict(
    paths: list[Path] = typer.Argument(..., help="Images, videos, or folders (searched recursively).", metavar="PATH",
                                       show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write rows to this .csv or .jsonl as they come (default: JSON lines on stdout)."),
    annotate: Optional[Path] = typer.Option(None, "--annotate", help="Folder for copies with each face boxed and labelled, mirroring the input tree."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace annotated copies already in the --annotate folder."),
    try_mask: Optional[str] = typer.Option(None, "--try-mask", help="Draw this mask on every face first: surgical, cloth, n95, kn95, gas, black, inpaint, bandana, printed, duckbill or sport."),
    fps: float = typer.Option(1.0, "--fps", help="Video frames sampled per second."),
    redetect_every: int = typer.Option(10, "--redetect-every", help="In a video, sampled frames between face detections while every face is followed (1: detect on every frame)."),
    smooth: float = typer.Option(0.0, "--smooth", help="In a video, weight of a face's earlier frames in its probabilities, 0 to under 1 (0: off)."),
    max_faces: int = typer.Option(10, "--max-faces", help="At most this many faces per image, largest first."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Refuse an image whose header claims more pixels (decompression-bomb guard)."),
    model: Optional[Path] = typer.Option(None, "--model", help="An ONNX model file (default: the shipped one)."),
    resume: bool = typer.Option(False, "--resume", help="Keep the rows already in --out and read only the files they lack."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes, one runtime thread each (default 1: this process, on all its cores)."),
    scheduler: Optional[str] = SCHEDULER, cluster: str = CLUSTER,
):
    """Read the expression of every face in photos, folders and videos; one row per face."""
    from contextlib import nullcontext

    from maskfer.core.interrupt import signals_interrupt
    from maskfer.core.progress import progress_display
    from maskfer.prediction.batch import AnnotationNames, PredictConfig, RowWriter, format_rows, input_problems, iter_files, predict_files
    from maskfer.prediction.model import load_mask_check, load_model

    with user_errors():
        config = PredictConfig(fps=fps, max_faces=max_faces, try_mask=try_mask, model=str(model) if model else None,
                               max_pixels=max_pixels, redetect_every=redetect_every, smooth=smooth)
        if resume and out is None:
            raise MaskferError("--resume needs --out: the file whose rows to keep")
        writer = RowWriter(out, resume) if out is not None else nullcontext()  # an unknown suffix stops here
        load_model(config.model), load_mask_check()  # a bad model file stops here, before any work
        compute = _compute(jobs, scheduler, cluster)
        problems = input_problems(paths)
    for problem in problems:
        errors.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
    failed, read, faces = len(problems), 0, 0
    with signals_interrupt(), user_errors(), writer:  # kill or timeout: the rows so far renamed into place
        done = writer.done if out is not None else set()
        total = kept = 0
        for file in iter_files(paths):  # counted, never listed
            total, kept = total + 1, kept + (str(file) in done)
        # A live bar on a terminal only: in a log, stderr holds problems and nothing else.
        progress, advancer = progress_display(total > 1 and errors.is_terminal, transient=True, console=errors)
        with progress:
            advance = advancer(progress.add_task("predicting", total=total), "files predicted")
            advance(kept)
            files = (f for f in iter_files(paths) if str(f) not in done)
            for file_rows, problem in predict_files(files, config, annotate, lambda _: advance(), AnnotationNames(paths),
                                                    overwrite, compute):
                if problem:
                    failed += 1
                    errors.print(f"[bold red]error:[/] {problem}", highlight=False, soft_wrap=True)
                read += bool(file_rows)
                faces += sum(r["status"] == "ok" for r in file_rows)
                if out is None:
                    typer.echo(format_rows(file_rows, "jsonl"), nl=False)
                else:
                    writer.write(file_rows)
    summary = (f"{read} of {_count(total - kept, 'file')} read" + (f" ({kept} kept from {out})" if kept else "")
               + f", {_count(faces, 'face')}"
               + (f", written to {out}" if out else "") + (f"; {_count(failed, 'problem')}" if failed else ""))
    # The summary goes to stdout when the rows went to a file, failed files or not; with the rows on stdout it is
    # printed only after a failure, to stderr, so that stdout stays rows and a good run leaves stderr empty.
    if out is not None:
        console.print(summary, highlight=False)
    elif failed:
        errors.print(summary, highlight=False)
    if failed:
        raise typer.Exit(1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


@app.command(cls=MaskferCommand)
def demo(
    out: Path = typer.Option(Path("maskfer-demo"), "--out", "-o", help="Folder for index.html and contact-sheet.png."),
):
    """Draw the seven masks on a public-domain portrait that ships with scikit-image and read each version."""
    from maskfer.prediction.demo import run_demo

    with user_errors():
        summary = run_demo(out)
    for version, result in summary.items():
        console.print(f"{version:10s} -> {result['expression']:10s} (mask detected: {'yes' if result['mask'] else 'no'})", highlight=False)
    console.print(f"page: {(out / 'index.html').resolve()}  contact sheet: {out / 'contact-sheet.png'}", soft_wrap=True)


@app.command(cls=MaskferCommand)
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: this machine only)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest upload accepted."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Largest image accepted, in pixels (decompression-bomb guard)."),
):
    """Serve the web page and the JSON API (OpenAPI docs at /docs)."""
    import uvicorn

    from maskfer.web.app import ServeConfig, create_app

    with user_errors():
        app_ = create_app(ServeConfig(max_upload_mb=max_upload_mb, max_pixels=max_pixels))
    console.print(f"maskfer on http://{host}:{port}/  (API docs: http://{host}:{port}/docs)", highlight=False)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command("train-default", cls=MaskferCommand)
def train_default(
    data: Path = typer.Option(Path("../shared/data"), "--data", help="Folder holding fer2013/, tcep/ and ckplus/."),
    out: Path = typer.Option(Path("maskfer-model"), "--out", "-o", help="Folder for the ONNX model, mask check and training log."),
    recipe: str = typer.Option("v2", "--recipe", help="The recipe by name (maskfer.training.recipe.RECIPES): v2 made the shipped model."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs (default: the recipe's)."),
    labels: Optional[str] = typer.Option(None, "--labels", help="FER2013's photos labelled by 'fer2013' (its own labels) or 'ferplus' (FER+ majority); default: the recipe's."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many photos per dataset part (smoke runs)."),
    threads: int = typer.Option(2, "--threads", help="Torch threads for training."),
    jobs: int = JOBS, cache_dir: Optional[Path] = CACHE_DIR, no_cache: bool = NO_CACHE,
):
    """Train the shipped model (expression CNN exported to ONNX, and the mask-worn check) from scratch.

    Resumable: every epoch is saved to OUT/training-state.pt, and the same command run again after
    an interruption continues from the last finished epoch (crops come back from the cache).
    """
    from dataclasses import replace

    from maskfer.errors import check_name
    from maskfer.training.mask_check import MaskCheckConfig, train_mask_check
    from maskfer.training.recipe import RECIPES, train_default as run_training

    with user_errors():
        base = RECIPES[check_name("recipe", recipe, RECIPES)]
        config = replace(base, data=str(data), epochs=epochs or base.epochs, labels=labels or base.labels, limit=limit,
                         threads=threads)
        cache = _cache(cache_dir, no_cache)
        say = lambda m: errors.print(m, highlight=False)  # noqa: E731
        record = run_training(config, out, cache, jobs, progress=say)
        check = train_mask_check(MaskCheckConfig(data=str(data), photos=limit or MaskCheckConfig.photos,
                                                 epochs=min(config.epochs, MaskCheckConfig.epochs), threads=threads),
                                 out, cache, jobs, progress=say)
    console.print(f"model: {out / 'maskfer-expression.onnx'} (validation accuracy "
                  f"{100 * record['history'][-1].get('val_accuracy', float('nan')):.1f}%), mask check: {out / 'mask-check.onnx'} "
                  f"(validation accuracy {100 * check['validation']['accuracy']:.1f}%), {record['seconds'] + check['seconds']:.0f} s. "
                  "To ship it, copy both into src/maskfer/weights/.", highlight=False)


def card_paths(out: Path | None, results: Path | None, limit: int | None) -> tuple[Path, Path]:
    """Where a model card and its scores go: the committed files, except for a --limit look, which never overwrites them."""
    folder = Path(f"model-card-limit-{limit}") if limit else Path(".")
    out = out or folder / "MODEL_CARD.md"
    return out, results or (out.parent / "model-card.json" if limit else Path("bench/results/model-card.json"))


@app.command("model-card", cls=MaskferCommand)
def model_card(
    data: Path = typer.Option(Path("../shared/data"), "--data", help="Folder holding fer2013/, tcep/, ckplus/ and kdef-sample/."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", show_default=False,
                                       help="The model card to write (default: MODEL_CARD.md; with --limit, model-card-limit-N/MODEL_CARD.md)."),
    results: Optional[Path] = typer.Option(None, "--results", show_default=False,
                                           help="Where the scores are kept, as JSON (default: bench/results/model-card.json; with --limit, beside the card)."),
    model: Optional[Path] = typer.Option(None, "--model", help="The ONNX model to describe (default: the shipped one)."),
    mask_check: Optional[Path] = typer.Option(None, "--mask-check", help="Its mask check (default: the shipped one)."),
    compare: list[str] = typer.Option([], "--compare", help="Another model and its mask check (two .onnx files), scored on the same crops; repeatable.",
                                      metavar="LABEL=ONNX:CHECK", show_default=False),
    limit: Optional[int] = typer.Option(None, "--limit", help="Photos per evaluation set (a quick look; the card says so)."),
    peers: Path = typer.Option(Path("bench/results/peers.json"), "--peers", help="bench/peers.py's results, shown beside the model's (left out if the file is absent)."),
    ablation: Path = typer.Option(Path("bench/results/ablation.json"), "--ablation", help="bench/ablate.py's results, shown in the card (left out if the file is absent)."),
    rewrite: bool = typer.Option(False, "--rewrite", help="Score nothing: write the card again from the scores kept in --results."),
    jobs: int = JOBS, cache_dir: Optional[Path] = CACHE_DIR, no_cache: bool = NO_CACHE,
):
    """Score the shipped model on every evaluation set and write MODEL_CARD.md from the scores."""
    from maskfer.core.files import atomic_write_json, atomic_write_text
    from maskfer.prediction.model import load_mask_check, load_model
    from maskfer.training.card import CardConfig, evaluate_models, model_card as write_card
    from maskfer.weights.format import TRAINING_LOG_NAME, weights_path

    with user_errors():
        out, results = card_paths(out, results, limit)
        models = {"shipped": (str(model) if model else None, str(mask_check) if mask_check else None)}
        for item in compare:
            label, _, files = item.partition("=")
            onnx_file, _, check_file = files.partition(":")
            if not (label and onnx_file and check_file):
                raise MaskferError(f"--compare {item!r}: expected LABEL=MODEL.onnx:MASK-CHECK.onnx")
            models[label] = (onnx_file, check_file)
        if rewrite:
            if not results.is_file():
                raise MaskferError(f"{results}: no scores to write the card from; run `maskfer model-card` without --rewrite")
            record = json.loads(results.read_text())
        else:
            record = evaluate_models(CardConfig(data=str(data), limit=limit), models, _cache(cache_dir, no_cache), jobs,
                                     progress=lambda m: errors.print(m, highlight=False))
            atomic_write_json(results, record)
        log = (Path(model).parent if model else weights_path("")) / TRAINING_LOG_NAME
        training = json.loads(log.read_text()) if log.is_file() else {}
        peer_results = json.loads(peers.read_text()) if peers.is_file() else None
        ablation_rows = [json.loads(line) for line in ablation.read_text().splitlines() if line.strip()] if ablation.is_file() else None
        check = load_mask_check(str(mask_check) if mask_check else None).metadata
        atomic_write_text(out, write_card(record, load_model(str(model) if model else None).metadata, training, peers=peer_results,
                                          check=check, ablation=ablation_rows))
    console.print(f"model card: {out}; scores: {results} ({record['seconds']:.0f} s)", highlight=False)


if __name__ == "__main__":  # python -m maskfer.cli
    app()
