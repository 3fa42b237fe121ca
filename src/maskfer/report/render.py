"""The study report as one self-contained HTML page (figures inlined) and its Markdown twin.

Both are rendered from one list of blocks, so they always say the same thing.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

from maskfer.core.files import atomic_write_bytes, atomic_write_text
from maskfer.errors import MaskferError
from maskfer.evaluation.protocols import PROTOCOLS
from maskfer.labels import EMOTIONS
from maskfer.report import figures

# What the study itself reported. Only its headline is known to this project: validation
# accuracy above 99% on KDEF, from a random split that put the same people (and the same
# photos under other masks) on both sides. Its per-model table is not reproduced here.
STUDY_HEADLINE = "99%+ validation accuracy (KDEF, masked, random 5-fold split)"


def _pct(stat: dict | None) -> str:
    return "" if not stat else f"{100 * stat['mean']:.1f} ± {100 * stat['std']:.1f}"


def _seconds(stat: dict | None) -> str:
    """Seconds to three significant figures: a 4 ms fit reads 0.004, not 0.0."""
    return "" if not stat else f"{stat['mean']:.3g}"


def _num(stat: dict | None, digits=2) -> str:
    return "" if not stat else f"{stat['mean']:.{digits}f}"


def _description(rows, model) -> str:
    """The description the result was made with; results from before descriptions were saved get today's."""
    saved = next((r.get("model_description") for r in rows if r["config"]["model"] == model and r.get("model_description")), None)
    if saved:
        return saved
    from maskfer.models.registry import MODELS

    return MODELS[model].description if model in MODELS else ""


def _find(rows, model, protocol):
    return next((r for r in rows if r["config"]["model"] == model and r["config"]["protocol"] == protocol), None)


def build_blocks(record: dict) -> list[tuple]:
    """The report, top to bottom, as (kind, ...) blocks that the HTML and Markdown writers render alike."""
    study, rows = record["study"], record["models"]
    protocols = list(study["protocols"])
    models = list(dict.fromkeys(r["config"]["model"] for r in rows))
    blocks = _intro_blocks(record, protocols) + _results_blocks(rows, protocols, models)
    blocks += _mask_blocks(record, protocols, models)
    blocks += _cnn_blocks(record, rows) + _augmentation_and_sweep_blocks(record, rows)
    data = record["dataset"]
    if data["skipped"] or data["unreadable"]:
        shown = [f"{s['path']}: {s['reason']}" for s in data["skipped"][:20]] + data["unreadable"][:20]
        blocks += [("h2", "Skipped files"), ("pre", "\n".join(shown))]
    return blocks + [("h2", "Configuration"), ("pre", json.dumps(study, indent=2))]


def _intro_blocks(record: dict, protocols: list[str]) -> list[tuple]:
    """Title, what the data and the run were, the protocols, and how to read the study's headline against them."""
    study, data = record["study"], record["dataset"]
    masked = bool(study.get("masks"))
    all_folds = [f for section in ("models", "augmented", "held_out_masks", "held_out_renderers", "unmasked", "aligned")
                 for r in record.get(section, []) for f in r["folds"]]
    fold_seconds = sum(f.get("fit_seconds", 0) + f.get("predict_seconds", 0) for f in all_folds)
    sweep_folds = sum(len(s["points"]) * s["config"]["n_splits"] for s in record.get("sweeps", []))
    return [
        ("h1", f"maskfer study report: {Path(study['data']).name}" + (", masked" if masked else "")),
        ("p", f"{data['n_used']} {'masked ' if masked else ''}images of {data['n_subjects']} subjects from `{data['root']}` "
              f"({data['name']} layout); {len(data['skipped'])} files skipped and {len(data['unreadable'])} unreadable. "
              f"Features: {study['pixels']['size']}x{study['pixels']['size']} {study['pixels']['color']}, scaled to [0,1], flattened. "
              f"{study['n_splits']}-fold cross-validation, seed {study['seed']}"
              + (f", balanced sample of {study['sample']}" if study.get("sample") else "") + ". "
              f"maskfer {record['maskfer_version']}. This run took {record['seconds']:.0f} s; fitting and scoring its "
              f"{len(all_folds)} folds of models took {fold_seconds:.0f} s of compute when they were first run"
              + (f", and its sweeps add {sweep_folds} more folds, one set per sweep point" if sweep_folds else "")
              + " (every fold is cached, so a rerun reads them back; the run's progress bar counts them all)."),
        ("h2", "Protocols"),
        ("table", ["protocol", "what it keeps apart"], [[p, PROTOCOLS[p]] for p in protocols]),
        ("p", (f"The study reported {STUDY_HEADLINE}. Its split is our `random` protocol, where the same person (and "
               "the same photo under another mask) sits on both sides; compare it with this run's `random` column, and "
               "read the `subject` column for faces the model has never seen."
               if masked else
               f"The study reported {STUDY_HEADLINE}; this run is on unmasked photos, so compare its own columns with "
               "each other rather than with that figure (`maskfer reproduce --masks drawn` runs the masked study). The "
               "study's split is our `random` protocol, where the same person sits on both sides; the `subject` column "
               "is the honest figure for faces the model has never seen.")
              + " Where a dataset holds about one photo per person (the KDEF sample), the two protocols split alike and "
              "differ only by chance, so `subject` can come out above `random`: a gap smaller than the ± spread is noise. "
              "Every number below is the mean ± standard deviation over folds of the named protocol, with the study's "
              "fixed model settings (no tuning on the validation folds)."),
    ]


def _results_blocks(rows: list[dict], protocols: list[str], models: list[str]) -> list[tuple]:
    """The results table and bars, per-class recall, and the confusion matrices."""
    blocks: list[tuple] = [
        ("h2", "Results"),
        ("p", "val acc and train acc: accuracy % on the validation and training side of each fold. MSE: the study's mean "
              "squared error of the label index (the classes numbered 0 to 6 in the order "
              f"{', '.join(EMOTIONS)}); lower is better. It is reported because the study did: the classes have no order, "
              "so it only weighs some confusions more than others. macro-F1: the mean over classes of F1, fair to rare "
              "classes. fit s/fold: seconds to fit one training fold."),
    ]
    headers = ["model", "settings"]
    for p in protocols:
        headers += [f"{p} val acc %", f"{p} train acc %", f"{p} MSE", f"{p} macro-F1"]
    headers += ["fit s/fold"]
    table = []
    for m in models:
        line = [m, _description(rows, m)]
        for p in protocols:
            r = _find(rows, m, p)
            s = r["summary"] if r else {}
            line += [_pct(s.get("val_accuracy")), _pct(s.get("train_accuracy")), _num(s.get("val_mse")), _num(s.get("val_macro_f1"))]
        line.append(_seconds(_find(rows, m, protocols[-1])["summary"]["fit_seconds"]) if _find(rows, m, protocols[-1]) else "")
        table.append(line)
    blocks += [("table", headers, table), ("figure", "accuracy", figures.accuracy_bars(rows, protocols))]
    best = max(rows, key=lambda r: r["summary"]["val_accuracy"]["mean"] if r["config"]["protocol"] == protocols[-1] else -1)
    blocks += [
        ("h2", f"Per-class recall ({protocols[-1]} protocol)"),
        ("p", "Recall %: of the validation images of each true class, the share the model named correctly."),
        ("table", ["model", *EMOTIONS],
         [[r["config"]["model"], *[("" if r["summary"]["val_recall"][e] is None else f"{100 * r['summary']['val_recall'][e]:.0f}") for e in EMOTIONS]]
          for r in rows if r["config"]["protocol"] == protocols[-1]]),
        ("p", f"Best under `{protocols[-1]}`: {best['config']['model']}."),
        ("h2", "Confusion matrices"),
        ("p", "Each panel: the validation images of all folds, one row per true class; a cell is the % of that class "
              "predicted as the column's class (rows sum to 100, the diagonal is the recall above). The panel's title "
              "gives the model's mean validation accuracy under that protocol."),
    ]
    for p in protocols:
        blocks.append(("figure", f"confusion_{p}", figures.confusion_grid([r for r in rows if r["config"]["protocol"] == p],
                                                                        f"{p} protocol: % of each true class, validation folds pooled")))
    return blocks


def _cnn_blocks(record: dict, rows: list[dict]) -> list[tuple]:
    """The CNNs' input comparison (the study's 64x64 against aligned crops) and their training curves."""
    study, blocks = record["study"], []
    if record.get("aligned"):
        size = study["aligned_size"]
        blocks += [("h2", "Input: the study's 64x64 versus face-aligned crops"),
                   ("p", f"The CNNs on the study's whole-image {study['pixels']['size']}x{study['pixels']['size']} input and on "
                         f"{size}x{size} crops aligned from the face landmarks (eyes level, face centred)."),
                   ("table", ["model", "protocol", "study input val acc %", "aligned val acc %"],
                    [[r["config"]["model"], r["config"]["protocol"],
                      _pct((_find(rows, r["config"]["model"], r["config"]["protocol"]) or {"summary": {}})["summary"].get("val_accuracy")),
                      _pct(r["summary"]["val_accuracy"])] for r in record["aligned"]])]
    curves = [r for r in rows + record.get("aligned", []) if "history" in r["summary"]]
    if curves:
        blocks += [("h2", "Training curves"),
                   ("p", "Accuracy and loss per epoch for the CNNs (the study's Figure 6), averaged over the folds; the "
                         "validation fold is scored after every epoch but never used to choose anything (early stopping, "
                         f"where it is on, watches 1/{study['n_splits']} of the training fold instead). Where early "
                         "stopping ended the folds at different epochs, a curve stops at the last epoch of its shortest fold."),
                   ("figure", "training_curves", figures.training_curves(curves))]
    return blocks


def _augmentation_and_sweep_blocks(record: dict, rows: list[dict]) -> list[tuple]:
    """The study's augmentation compared with plain training, and its sweeps as curves (never used to choose)."""
    study, blocks = record["study"], []
    if record["augmented"]:
        blocks += [
            ("h2", "Augmentation"),
            ("p", f"The study's six transforms (90° both ways, 180°, up-down and left-right flips, crop of the upper four "
                  f"sevenths) added for a fraction {study['augment_fraction']} of each training fold; validation folds untouched."),
            ("table", ["model", "protocol", "plain val acc %", "augmented val acc %"],
             [[r["config"]["model"], r["config"]["protocol"], _pct(_find(rows, r["config"]["model"], r["config"]["protocol"])["summary"]["val_accuracy"]),
               _pct(r["summary"]["val_accuracy"])] for r in record["augmented"]]),
            ("figure", "augmentation", figures.augmentation_bars(rows, record["augmented"])),
        ]
    if record["sweeps"]:
        blocks += [("h2", "Sweeps"),
                   ("p", "Validation accuracy along each of the study's sweeps. These curves show sensitivity; picking the "
                         "best point from them would tune on the validation folds, so the results table above does not.")]
        if any(len(s["points"][0]["params"]) == 1 for s in record["sweeps"]):
            blocks.append(("figure", "sweeps", figures.sweep_curves(record["sweeps"])))
        for sweep in record["sweeps"]:
            if len(sweep["points"][0]["params"]) > 1:
                blocks.append(("figure", f"{sweep['sweep']}_{sweep['protocol']}", figures.svm_grid(sweep)))
    return blocks


def _mask_blocks(record: dict, protocols: list[str], models: list[str]) -> list[tuple]:
    """Masking summary, masked versus unmasked, accuracy per mask type, held-out mask types."""
    masking = record.get("masking")
    if not masking:
        return []
    kinds = list(record["study"]["masks"])
    blocks = [
        ("h2", "Masks"),
        ("p", f"{masking['photos']} photos x {len(kinds)} mask types drawn from face landmarks; "
              f"{100 * masking['pass_rate']:.1f}% pass the quality rule (all mouth and nostril landmarks covered, no eye "
              f"or brow landmark covered). Landmarks: " + ", ".join(f"{v} by {k}" for k, v in masking["landmarks"].items())
              + ". The models above were trained and validated on a balanced sample of the masked images that passed."),
        ("table", ["mask type", "ok", "failed"],
         [[k, masking["per_type"].get(k, {}).get("ok", 0), masking["per_type"].get(k, {}).get("failed", 0)] for k in kinds]),
    ]
    if masking["failures"]:
        blocks.append(("table", ["failure", "count"], [[k, v] for k, v in masking["failures"].items()]))
    if record.get("unmasked"):
        rows = []
        for p in protocols:
            for m in models:
                plain, masked = _find(record["unmasked"], m, p), _find(record["models"], m, p)
                if plain and masked:
                    rows.append([m, p, _pct(plain["summary"]["val_accuracy"]), _pct(masked["summary"]["val_accuracy"])])
        blocks += [("h2", "Masked versus unmasked"),
                   ("p", "The same models and protocol on the plain photos and on the masked sample."),
                   ("table", ["model", "protocol", "unmasked val acc %", "masked val acc %"], rows)]
    by_type = [r for r in record["models"] if "val_accuracy_by_mask_type" in r["summary"]]
    if by_type:
        blocks += [("h2", "Accuracy per mask type"),
                   ("p", "Validation accuracy of each model on the images wearing each mask, pooled over the folds."),
                   ("table", ["model", "protocol", *kinds],
                    [[r["config"]["model"], r["config"]["protocol"],
                      *[f"{100 * r['summary']['val_accuracy_by_mask_type'].get(k, float('nan')):.1f}" for k in kinds]] for r in by_type])]
    if record.get("held_out_masks"):
        blocks += [("h2", "Held-out mask types"),
                   ("p", f"Protocol `mask_type`: {PROTOCOLS['mask_type']}. Each column is the accuracy on a mask type the "
                         "model never saw in training."),
                   ("table", ["model", *kinds, "mean"],
                    [[r["config"]["model"], *[f"{100 * r['summary']['val_accuracy_by_mask_type'].get(k, float('nan')):.1f}" for k in kinds],
                      _pct(r["summary"]["val_accuracy"])] for r in record["held_out_masks"]])]
    if record.get("held_out_renderers"):
        renderers = sorted({k for r in record["held_out_renderers"] for k in r["summary"].get("val_accuracy_by_mask_renderer", {})})
        blocks += [("h2", "Held-out mask renderers"),
                   ("p", f"Protocol `mask_renderer`: {PROTOCOLS['mask_renderer']}. `drawn` masks are painted inside an "
                         "outline traced along the landmarks; `template` masks are textured pictures warped onto the face. "
                         "Each column is the accuracy on one renderer's masks when the model trained only on the other's; "
                         "compare with the `subject` column above, where every renderer is seen in training."),
                   ("table", ["model", *renderers, "mean"],
                    [[r["config"]["model"], *[f"{100 * r['summary']['val_accuracy_by_mask_renderer'].get(k, float('nan')):.1f}"
                                              for k in renderers], _pct(r["summary"]["val_accuracy"])]
                     for r in record["held_out_renderers"]])]
    return blocks


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table: the header row, the rule, one line per row (cells as `str` gives them)."""
    return "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
                      *["| " + " | ".join(str(c) for c in row) + " |" for row in rows]])


def to_markdown(blocks, figure_dir: str) -> str:
    out = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            out.append(f"{'#' * int(kind[1])} {block[1]}\n")
        elif kind == "p":
            out.append(block[1] + "\n")
        elif kind == "pre":
            out.append("```\n" + block[1] + "\n```\n")
        elif kind == "table":
            out.append(markdown_table(block[1], block[2]) + "\n")
        elif kind == "figure":
            out.append(f"![{block[1]}]({figure_dir}/{block[1]}.png)\n")
    return "\n".join(out)


def _inline(text: str) -> str:
    """Escaped text with Markdown's `code` spans as <code>, so both renderings show the same thing."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def to_html(blocks, images: dict[str, bytes]) -> str:
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>maskfer report</title><style>"
             "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 7px}"
             "th{background:#f3f3f3}img{max-width:100%}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}"
             "code{background:#f3f3f3;padding:0 3px;border-radius:3px}"
             "</style></head><body>"]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{_inline(block[1])}</{kind}>")
        elif kind == "pre":
            parts.append(f"<pre>{html.escape(block[1])}</pre>")
        elif kind == "table":
            head = "".join(f"<th>{_inline(str(h))}</th>" for h in block[1])
            body = "".join("<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>" for row in block[2])
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        elif kind == "figure":
            data = base64.b64encode(images[block[1]]).decode()
            parts.append(f"<img alt='{html.escape(block[1])}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(record: dict, out: str | Path) -> dict[str, Path]:
    """Write report.html (self-contained), report.md and figures/*.png into `out`."""
    out = Path(out)
    blocks = build_blocks(record)
    images = {b[1]: figures.png_bytes(b[2]) for b in blocks if b[0] == "figure"}
    for name, data in images.items():
        atomic_write_bytes(out / "figures" / f"{name}.png", data)
    paths = {"html": out / "report.html", "markdown": out / "report.md"}
    atomic_write_text(paths["html"], to_html(blocks, images))
    atomic_write_text(paths["markdown"], to_markdown(blocks, "figures"))
    return paths


def load_results(path: str | Path) -> dict:
    """A study results file (`results.json` from `reproduce`), or a one-line error saying why not."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MaskferError(f"{path}: not a readable results file ({exc})") from None
    if not isinstance(record, dict) or record.get("kind") != "study":
        raise MaskferError(f"{path}: not a study results file (kind {record.get('kind') if isinstance(record, dict) else None!r})")
    return record


def report_from_results(path: str | Path, out: str | Path | None = None) -> dict[str, Path]:
    """`maskfer report`: render the report again from a results file, into `out` (default: beside it)."""
    return write_report(load_results(path), out if out is not None else Path(path).parent)
