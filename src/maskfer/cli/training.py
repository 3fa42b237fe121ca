"""The shipped model's commands: `train-default`, `quantize-model` and `model-card`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from maskfer.cli.common import CACHE_DIR, JOBS, NO_CACHE, MaskferCommand, app, cache_for, console, errors, user_errors
from maskfer.errors import MaskferError

@app.command("train-default", cls=MaskferCommand)
def train_default(
    data: Path = typer.Option(Path("../shared/data"), "--data", help="Folder holding fer2013/, tcep/ and ckplus/."),
    out: Path = typer.Option(Path("maskfer-model"), "--out", "-o", help="Folder for the ONNX model, mask check and training log."),
    recipe: str = typer.Option("v3", "--recipe", help="The recipe by name (RECIPES in maskfer.training.recipe): v3 made the shipped model, v2 the one before, v4 (every source) is training."),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="Training epochs (default: the recipe's)."),
    labels: Optional[str] = typer.Option(None, "--labels", help="FER2013's photos labelled by 'fer2013' (its own labels) or 'ferplus' (FER+ majority); default: the recipe's."),
    flip_test: Optional[bool] = typer.Option(None, "--mirror/--no-mirror",
                                             help="Average each face's and its mirror's probabilities inside the exported model (the recipe's flip_test; default: the recipe's). Training is the same either way, so a finished run in OUT is exported again, not retrained."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many photos per dataset part (smoke runs)."),
    threads: int = typer.Option(2, "--threads", help="Torch threads for training."),
    resume_changed_data: bool = typer.Option(False, "--resume-changed-data",
                                             help="Continue the checkpoint in OUT although the training crops were made anew (e.g. by a newer face path); training.json records after which epoch."),
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
                         threads=threads, flip_test=base.flip_test if flip_test is None else flip_test)
        cache = cache_for(cache_dir, no_cache)
        say = lambda m: errors.print(m, highlight=False)  # noqa: E731
        record = run_training(config, out, cache, jobs, say=say, resume_data="changed" if resume_changed_data else "same")
        check = train_mask_check(MaskCheckConfig(data=str(data), photos=limit or MaskCheckConfig.photos,
                                                 epochs=min(config.epochs, MaskCheckConfig.epochs), threads=threads),
                                 out, cache, jobs, say=say)
    console.print(f"model: {out / 'maskfer-expression.onnx'} (validation accuracy "
                  f"{100 * record['history'][-1].get('val_accuracy', float('nan')):.1f}%), mask check: {out / 'mask-check.onnx'} "
                  f"(validation accuracy {100 * check['validation']['accuracy']:.1f}%), {record['seconds'] + check['seconds']:.0f} s. "
                  f"To ship it: maskfer quantize-model {out / 'maskfer-expression.onnx'} --out src/maskfer/weights/maskfer-expression.onnx, "
                  "and copy mask-check.onnx and training.json there.", highlight=False)


@app.command("quantize-model", cls=MaskferCommand)
def quantize_model(
    model: Path = typer.Argument(..., help="The float expression model (maskfer-expression.onnx from train-default)."),
    out: Path = typer.Option(..., "--out", "-o", help="The int8 model to write."),
    data: Optional[Path] = typer.Option(None, "--data", help="Folder holding the model's training data (default: the folder its recipe names)."),
    calibration_crops: int = typer.Option(512, "--calibration-crops", help="Training crops whose activations set the integer ranges."),
    method: str = typer.Option("percentile", "--method", help="How a range is read from them: minmax, percentile or entropy."),
    seed: int = typer.Option(0, "--seed", help="Which training crops."),
    jobs: int = JOBS, cache_dir: Optional[Path] = CACHE_DIR, no_cache: bool = NO_CACHE,
):
    """Write an 8-bit copy of an expression model, its ranges measured on its own training crops (the classifier then
    takes 0.6 to 0.7 of its time; what it changes is in docs/benchmarks.md)."""
    from maskfer.training.quantize import QuantizeConfig, quantize_file

    with user_errors():
        config = QuantizeConfig(calibration_crops=calibration_crops, method=method, seed=seed)
        written = quantize_file(model, out, config, str(data) if data else None, cache_for(cache_dir, no_cache), jobs,
                                show=True)
    console.print(f"int8 model: {written} ({written.stat().st_size / 1e6:.1f} MB, from {model}, "
                  f"{model.stat().st_size / 1e6:.1f} MB)", highlight=False)


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
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the card (and the scores) already there, as the committed card is made again."),
    jobs: int = JOBS, cache_dir: Optional[Path] = CACHE_DIR, no_cache: bool = NO_CACHE,
):
    """Score the shipped model on every evaluation set and write MODEL_CARD.md from the scores."""
    from maskfer.core.files import atomic_write_json, atomic_write_text, check_output_file, check_output_folder
    from maskfer.prediction.model import load_mask_check, load_model
    from maskfer.card import CardConfig, evaluate_models, model_card as write_card
    from maskfer.weights.format import TRAINING_LOG_NAME, weights_path

    with user_errors():
        out, results = card_paths(out, results, limit)
        if limit:  # a quick look goes into a folder of its own, made here
            check_output_folder(out.parent, "--out")
        check_output_file(out, "--out", overwrite=overwrite)  # the file rule, before any scoring
        if not rewrite:
            check_output_file(results, "--results", overwrite=overwrite)
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
            record = evaluate_models(CardConfig(data=str(data), limit=limit), models, cache_for(cache_dir, no_cache), jobs,
                                     say=lambda m: errors.print(m, highlight=False))
            atomic_write_json(results, record)
        log = (Path(model).parent if model else weights_path("")) / TRAINING_LOG_NAME
        training = json.loads(log.read_text()) if log.is_file() else {}
        peer_results = json.loads(peers.read_text()) if peers.is_file() else None
        ablation_rows = [json.loads(line) for line in ablation.read_text().splitlines() if line.strip()] if ablation.is_file() else None
        check = load_mask_check(str(mask_check) if mask_check else None).metadata
        atomic_write_text(out, write_card(record, load_model(str(model) if model else None).metadata, training, peers=peer_results,
                                          check=check, ablation=ablation_rows))
    console.print(f"model card: {out}; scores: {results} ({record['seconds']:.0f} s)", highlight=False)
