"""The deep part of the study at its own settings: what has finished, and the curves of what has.

    python bench/deep_study.py            # reads the cache and the recorded folds; trains nothing
    python bench/deep_study.py --run      # runs (or resumes) every configuration, then reads them

The runs are ordinary `maskfer reproduce` commands on masked TCEP (the study's seven drawn masks,
8,624 images), one per configuration below; with `--run` they go side by side, one core each
(masking and features are made once first). Each fold is cached when it ends and every CNN fold
checkpoints each epoch, so a killed run resumes at the fold and epoch it reached; folds run
fold-major, so a run stopped early holds the first folds of every model and protocol.

A cache lives on one machine; the study spans sessions on several. So every finished fold is
also recorded in bench/results/deep_study.json (its cache key, which hashes the masked
features, the config and the fold, and its scores), and every call puts recorded folds back into
the cache first: a fold finished anywhere is never trained again, and one whose data or
settings changed has another key and is trained afresh. Part-trained folds stay local.
The 40 recorded folds were made with face path 2 (`maskfer.faces.FACES_VERSION`); face path 3 shades
the drawn masks by another head-pose estimate, so under it they are not matched and the script says so.

It prints each configuration's folds (done, part-trained at epoch k, waiting), the validation
accuracy of each finished fold with its best and final epoch, and draws every finished fold's
per-epoch training and validation accuracy (docs/deep_study.png). Once all of a run's folds are done,
its reproduce writes the study's report into docs/deep-study/<run>/ (report.md with its figures).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TCEP = ROOT.parent / "shared" / "data" / "tcep"
RECORD = ROOT / "bench" / "results" / "deep_study.json"
COMMON = ["--masks", "drawn", "--sweeps", "none", "--augment", "0", "--no-unmasked", "--no-held-out", "--jobs", "1", "--threads", "1"]
RUNS = {  # name -> what differs between the runs
    "30 epochs (the study's)": {"models": ("resnet18_scratch",)},
    "early stopping (patience 5)": {"models": ("resnet18_scratch", "mobilenet_v2", "efficientnet_lite0"), "early_stopping": 5},
}


def study_for(options: dict):
    """The StudyConfig that `maskfer reproduce TCEP COMMON OPTIONS` builds (the same folds, the same cache keys)."""
    from maskfer.masks import MASK_PRESETS
    from maskfer.study import StudyConfig

    cnn = {"device": "cpu", "epochs": 30, **({"early_stopping": options["early_stopping"]} if "early_stopping" in options else {})}
    return StudyConfig(data=str(TCEP), masks=MASK_PRESETS["drawn"], sweeps=(), augment_fraction=0.0, unmasked=False,
                       held_out=False, models=options["models"], protocols=("subject", "random"), cnn=cnn)


def cli_options(options: dict) -> list[str]:
    return ["--models", ",".join(options["models"]), "--protocols", "subject,random",
            *(["--early-stopping", str(options["early_stopping"])] if "early_stopping" in options else [])]


def restore_recorded(cache) -> int:
    """Put the recorded folds into the cache where it lacks them; returns how many it put."""
    recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    missing = {key: result for key, result in recorded.items() if cache.load_json("folds", key) is None}
    for key, result in missing.items():
        cache.save_json("folds", key, result)
    return len(missing)


def record_finished(rows: list[dict]) -> None:
    from maskfer.core.files import atomic_write_text

    recorded = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    recorded.update({f["key"]: f["result"] for row in rows for f in row["folds"] if f["state"] == "done"})
    # One fold a line: a finished fold is one added line in the repository's history.
    lines = [f"{json.dumps(key)}: {json.dumps(result, sort_keys=True)}" for key, result in sorted(recorded.items())]
    atomic_write_text(RECORD, "{\n" + ",\n".join(lines) + "\n}\n")


def kept_epoch(history: list[dict]) -> int:
    """The epoch whose weights a fold kept: early stopping keeps the lowest loss on its inner split, else the last."""
    return min(history, key=lambda h: h["stop_loss"])["epoch"] if "stop_loss" in history[0] else len(history)


def print_table(table: dict) -> None:
    """docs/study.md's table: each finished fold's validation accuracy (%), its epochs trained (kept), and fit minutes."""
    protocols = list(dict.fromkeys(p for by_protocol in table.values() for p in by_protocol))
    print("\n| run | model | " + " | ".join(f"`{p}`, per fold (mean)" for p in protocols)
          + " | epochs trained (kept) | fit min per fold |")
    print("|---" * (len(protocols) + 4) + "|")
    for (name, model), by_protocol in table.items():
        cells, epochs, minutes = [], [], []
        for protocol in protocols:
            done = by_protocol.get(protocol, [])
            if not done:
                cells.append("—")
                continue
            accuracies = [100 * f["result"]["val_accuracy"] for f in done]
            cells.append(" / ".join(f"{a:.1f}" for a in accuracies) + f" ({statistics.mean(accuracies):.1f})")
            trained = []
            for f in done:
                history = f["result"]["history"]
                kept = kept_epoch(history)
                trained.append(f"{len(history)} ({kept})" if kept != len(history) else str(len(history)))
            fits = [f["result"]["fit_seconds"] / 60 for f in done]
            epochs.append(f"{protocol}: {', '.join(trained)}")
            minutes.append(f"{protocol} {min(fits):.0f}" + (f"–{max(fits):.0f}" if round(max(fits)) != round(min(fits)) else ""))
        print(f"| {name} | {model} | " + " | ".join(cells) + f" | {'; '.join(epochs)} | {'; '.join(minutes)} |")


def report_runs(commands: dict, cache) -> tuple[list, dict]:
    """Print each run's folds as they stand; their training curves, and (run, model) -> protocol -> finished folds."""
    from maskfer.study import study_status

    curves, table = [], {}
    for name, options in RUNS.items():
        print(f"\n## {name}\n$ {' '.join(commands[name])}", flush=True)
        rows = study_status(study_for(options), cache)
        record_finished(rows)
        for row in rows:
            folds = row["folds"]
            done = [f for f in folds if f["state"] == "done"]
            training = [f"fold {f['fold'] + 1} at epoch {f['epoch']}" for f in folds if f["state"] == "training"]
            print(f"{row['model']:18s} {row['protocol']:8s} done {len(done)}/{len(folds)}"
                  + (f"; training: {', '.join(training)}" if training else ""))
            for f in done:
                history = f["result"]["history"]
                best = max(history, key=lambda h: h["val_accuracy"])
                kept = f", kept epoch {kept_epoch(history)}" if "stop_loss" in history[0] else ""
                print(f"    fold {f['fold'] + 1}: val acc {100 * f['result']['val_accuracy']:.1f}% after {len(history)} epochs{kept} "
                      f"(best in hindsight: epoch {best['epoch']}: {100 * best['val_accuracy']:.1f}%; train acc "
                      f"{100 * f['result']['train_accuracy']:.1f}%; fit {f['result']['fit_seconds'] / 60:.0f} min)")
                curves.append((row["protocol"], f"{row['model']} ({name})", history))
            table.setdefault((name, row["model"]), {})[row["protocol"]] = done
    return curves, table


def draw_curves(curves: list, path: Path) -> None:
    """Validation and training accuracy per epoch of every finished fold, one panel per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    protocols = list(dict.fromkeys(protocol for protocol, _, _ in curves))
    # One colour per model and run, its folds drawn alike and named once, so the legend stays short.
    colours = {label: f"C{i}" for i, label in enumerate(dict.fromkeys(label for _, label, _ in curves))}
    figure = Figure(figsize=(6 * len(protocols), 4.8), layout="constrained")
    axes = dict(zip(protocols, figure.subplots(1, len(protocols), sharey=True, squeeze=False)[0]))
    for protocol, label, history in curves:
        ax, epochs = axes[protocol], [h["epoch"] for h in history]
        named = label in ax.get_legend_handles_labels()[1]
        ax.plot(epochs, [100 * h["val_accuracy"] for h in history], color=colours[label], alpha=0.8,
                label=None if named else label)
        ax.plot(epochs, [100 * h["train_accuracy"] for h in history], ":", color=colours[label], alpha=0.8)
    for protocol, ax in axes.items():
        ax.set_title(f"protocol {protocol}")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[protocols[0]].set_ylabel("accuracy % (solid: validation fold, dotted: training)")
    figure.suptitle("CNNs on masked TCEP (seven drawn masks), every finished fold")
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=110)
    tmp.replace(path)
    print(f"\nfigure: {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="store_true", help="run or resume every configuration first (many hours on 2 cores)")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "deep_study.png")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "deep-study",
                        help="where --run's reports go (report.md and its figures are kept in the repository)")
    args = parser.parse_args()
    from maskfer.core.cache import Cache
    from maskfer.faces import FACES_VERSION
    from maskfer.study import study_status

    cache = Cache()
    commands = {name: ["maskfer", "reproduce", str(TCEP), *COMMON, *cli_options(options), "--out", str(args.out / name.split()[0]),
                       "--overwrite"]  # each run's report is made anew
                for name, options in RUNS.items()}
    # The recorded folds go back into the cache first, so that a fresh clone's status shows them done, run or not.
    print(f"{restore_recorded(cache)} recorded folds put back into the cache {cache.root}", flush=True)
    if args.run:
        study_status(study_for(next(iter(RUNS.values()))), cache)  # masks TCEP and makes its features once, for all runs
        running = [subprocess.Popen(command) for command in commands.values()]
        if any(process.wait() for process in running):
            raise SystemExit("a run failed; its output is above")

    curves, table = report_runs(commands, cache)
    print_table(table)
    recorded = len(json.loads(RECORD.read_text())) if RECORD.exists() else 0
    matched = sum(len(done) for by_protocol in table.values() for done in by_protocol.values())
    if matched < recorded:
        print(f"\n{recorded - matched} of the {recorded} recorded folds do not match this code's folds: they were made from "
              "other data or settings (the recorded ones from face path 2; this code's is "
              f"{FACES_VERSION}), so --run would train them afresh; "
              "their results are in docs/study.md and docs/deep-study/.")
    if curves:
        draw_curves(curves, args.figure)

if __name__ == "__main__":
    main()
