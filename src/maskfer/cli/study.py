"""The study's commands, stage by stage: `data`, `features`, `mask`, `models`, `evaluate`, `sweep`, `reproduce`, `report`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from maskfer.cli.common import (CACHE_DIR, CLUSTER, COLOR, DATA_HINT, DATASET, FOLDS, JOBS, LAYOUT, NO_CACHE, PROTOCOL, SCHEDULER,
                                SEED, SIZE, SUBJECT_REGEX, THREADS, MaskferCommand, app, cache_for, compute_config, console,
                                data_app, dataset_features, errors, parse_params, resolve_protocol, user_errors)
from maskfer.core.files import check_output_folder
from maskfer.errors import check_names

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
        cache = cache_for(cache_dir, False)
        progress, _ = display = progress_display(transient=True, console=errors)
        with progress:
            result = dataset_features(path, layout, None, PixelConfig(size=size, color=color), cache, display,
                                       compute_config(jobs, scheduler, cluster))
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
            _, summary = mask_folder(path, out, config, layout, subject_regex, cache_for(cache_dir, no_cache),
                                     compute_config(jobs, scheduler, cluster), on_photo=advancer(task, "photos masked"),
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
            resolve_protocol(protocol, None)  # an unknown name fails before the data is read
        config = ExperimentConfig(model=model, params=parse_params(param), n_splits=folds, seed=seed,
                                  pixels=PixelConfig(size, color), augment=AugmentConfig(fraction=augment, seed=seed))
        compute, cache = compute_config(jobs, scheduler, cluster), cache_for(cache_dir, no_cache)
        progress, advancer = display = progress_display(transient=True, console=errors)
        with progress:
            feats = dataset_features(path, layout, subject_regex, config.pixels, cache, display, compute)
            protocol = resolve_protocol(protocol, feats)
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
            resolve_protocol(protocol, None)
        compute, cache = compute_config(jobs, scheduler, cluster), cache_for(cache_dir, no_cache)
        progress, advancer = display = progress_display(transient=True, console=errors)
        with progress:
            feats = dataset_features(path, layout, subject_regex, configs[0].pixels, cache, display, compute,
                                      sample, replace_, seed)
            chosen = resolve_protocol(protocol, feats)
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
    out: Path = typer.Option(Path("maskfer-report"), "--out", "-o", help="Folder for results.json, report.html, report.md."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace results.json and the report already in --out."),
    quick: bool = typer.Option(False, "--quick", help="Reduced sweeps; augmentation compared on two fast models."),
    protocols: str = typer.Option("random,subject", "--protocols", help="Comma-separated: random, subject, source, mask_type, mask_renderer (mask_type and mask_renderer need masks)."),
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
    if path is None or not path.exists():  # said before anything else is printed or imported
        where = f"{path}: no such folder" if path is not None else "no dataset given (maskfer reproduce DATASET)"
        errors.print(f"[bold red]error:[/] {where}. {DATA_HINT}.", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    if not status:
        with user_errors():
            check_output_folder(out, "--out", ("results.json", "report.html", "report.md"), overwrite)  # before any work
    errors.print(f"maskfer reproduce {path}: reading the data, then the experiments (progress below)",
                 highlight=False, soft_wrap=True)  # before the heavy imports: the first line comes at once
    from maskfer.study import reproduce as run_reproduce

    with user_errors():
        cnn = {"device": device, "epochs": epochs, **({"max_batches": max_batches} if max_batches else {}),
               **({"early_stopping": early_stopping} if early_stopping else {})}
        study = study_config(path, layout=layout, subject_regex=subject_regex, sample=sample, sample_replace=sample_replace,
                             protocols=protocols, models_=models_, weights=weights, cnn=cnn, aligned_size=aligned_size,
                             unmasked=unmasked, held_out=held_out, sweeps=sweeps, masks=masks, augment=augment, quick=quick,
                             folds=folds, seed=seed, pixels=(size, color, crop))
        if status:
            print_status(study, cache_for(cache_dir, no_cache))
            return
        record = run_reproduce(study, out, cache_for(cache_dir, no_cache), compute_config(jobs, scheduler, cluster, threads))
    print_best(study, record, out)


def study_config(data, *, layout, subject_regex, sample, sample_replace, protocols, models_, weights, cnn, aligned_size,
                 unmasked, held_out, sweeps, masks, augment, quick, folds, seed, pixels):
    """`reproduce`'s options as its `StudyConfig`, every name checked (the notes on left-out models printed)."""
    from maskfer.evaluation.protocols import PROTOCOLS
    from maskfer.evaluation.sweeps import STUDY_SWEEPS, SWEEPS
    from maskfer.features.pixels import PixelConfig
    from maskfer.masks import MASK_PRESETS, MASKS
    from maskfer.study import StudyConfig, choose_models

    chosen, notes = choose_models(models_, weights)
    for note in notes:
        errors.print(f"note: {note}", highlight=False)
    return StudyConfig(
        data=str(data), layout=layout, subject_regex=subject_regex, sample=sample, sample_with_replacement=sample_replace,
        protocols=check_names(protocols, PROTOCOLS, "protocol"),
        models=chosen, cnn=cnn, resnet18_weights=weights, aligned_size=aligned_size, unmasked=unmasked, held_out=held_out,
        sweeps=check_names(sweeps, SWEEPS, "sweep", {"study": STUDY_SWEEPS, "all": tuple(SWEEPS), "none": ()}),
        masks=check_names(masks, MASKS, "mask type", MASK_PRESETS),
        augment_fraction=augment, quick=quick, n_splits=folds, seed=seed, pixels=PixelConfig(*pixels),
    )


def print_best(study, record: dict, out: Path) -> None:
    for p in study.protocols:
        rows = [r for r in record["models"] if r["config"]["protocol"] == p]
        top = max(rows, key=lambda r: r["summary"]["val_accuracy"]["mean"])
        console.print(f"{p:8s} best {top['config']['model']}: {100 * top['summary']['val_accuracy']['mean']:.1f}% validation accuracy", highlight=False)
    console.print(f"report: {out / 'report.html'} (and report.md); results: {out / 'results.json'}; {record['seconds']:.0f} s", soft_wrap=True)


def print_status(study, cache) -> None:
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
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace report.html and report.md already there."),
):
    """Render the HTML and Markdown report again from a results file."""
    from maskfer.report.render import report_from_results

    with user_errors():
        check_output_folder(out if out is not None else results.parent, "--out", ("report.html", "report.md"), overwrite)
        paths = report_from_results(results, out)
    console.print(f"report: {paths['html']} (and {paths['markdown'].name})")
