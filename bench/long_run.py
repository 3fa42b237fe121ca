"""The long training run of the next shipped model, carried across sessions and machines.

    python bench/long_run.py                    # where it stands: epochs done, each epoch's scores
    python bench/long_run.py --run              # trains (or resumes) it; records every finished epoch
    python bench/long_run.py --run --threads 1  # one core, leaving the other free

It is `maskfer train-default --recipe v4` (the recipe is `maskfer.training.recipe.RECIPES["v4"]`,
chosen from `bench/ablate_v4.py`'s table by the rule in docs/model-v4.md), writing into maskfer-model-v4/.
The run checkpoints every epoch there, and a local rerun resumes exactly. A machine lasts one session, the
run many, so a finished epoch's checkpoint is also recorded in bench/results/long-run-v4/ (weights and
Adam's moments as bfloat16, about half the bytes), and `--run` on a fresh machine puts it back first:
training continues at the recorded epoch. That continuation differs from an unbroken run by the rounding
of the recorded state, nothing else. The crops are made afresh from the data; they must be the same crops,
which the checkpoint checks (a fingerprint of the data and the sampling weights). Every recorded copy that is
committed stays in the history for good: commit the state at most once a session, and take it out of the
tree when the run ends (v3's run, recorded in bench/results/long-run/, ended so; its progress.json stays as
the record, its state is in the history at commit c68dd00).

When the last epoch is done, the run writes maskfer-model-v4/maskfer-expression.onnx and
mask-check.onnx, and then the int8 copy that would ship, maskfer-expression-int8.onnx (`maskfer
quantize-model`, as the shipped model was made). Before shipping, by docs/model-v4.md's rule: its validation
figure (training.json's `validation_figure`, and `bench/validation_check.py` for the int8 copy beside v3) must
beat v3's; then copy the int8 file to src/maskfer/weights/maskfer-expression.onnx with mask-check.onnx and
training.json, and regenerate MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = "v4"
OUT = ROOT / "maskfer-model-v4"
RECORD = ROOT / "bench" / "results" / "long-run-v4"
STATE = "training-state.pt"


def _convert(obj, dtype):
    """Every floating tensor in a nested checkpoint converted to `dtype` (integers, steps and RNG states kept)."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(dtype) if obj.is_floating_point() else obj
    if isinstance(obj, dict):
        return {k: _convert(v, dtype) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_convert(v, dtype) for v in obj)
    return obj


def epochs_in(path: Path) -> int:
    from maskfer.models.checkpoints import checkpoint_epoch

    return checkpoint_epoch(str(path)) if path.exists() else 0


def record(local: Path = OUT / STATE) -> int:
    """Record the local checkpoint (bfloat16) and its history in bench/results/long-run/; returns its epoch."""
    import torch

    from maskfer.core.files import atomic_write_bytes, atomic_write_json

    state = torch.load(local, map_location="cpu", weights_only=True)
    buffer = io.BytesIO()
    torch.save(_convert(state, torch.bfloat16), buffer)
    atomic_write_bytes(RECORD / STATE, buffer.getvalue())
    atomic_write_json(RECORD / "progress.json", {"recipe": RECIPE, "epoch": state["epoch"], "history": state["history"],
                                                 "data_changes": state.get("data_changes", [])})
    return int(state["epoch"])


def restore(local: Path = OUT / STATE) -> int:
    """Put the recorded checkpoint back (float32) where the local one is missing or behind; returns the local epoch."""
    import torch

    from maskfer.core.files import atomic_write_bytes

    recorded = RECORD / STATE
    if not recorded.exists() or epochs_in(local) >= epochs_in(recorded):
        return epochs_in(local)
    state = torch.load(recorded, map_location="cpu", weights_only=True)
    buffer = io.BytesIO()
    torch.save(_convert(state, torch.float32), buffer)
    atomic_write_bytes(local, buffer.getvalue())
    return int(state["epoch"])


def run(threads: int, jobs: int, data_changed: bool = False) -> int:
    """Train (resuming), recording each epoch as it lands; the command's exit status."""
    epoch = restore()
    print(f"resuming after epoch {epoch}" if epoch else "starting at epoch 1", flush=True)
    command = [sys.executable, "-m", "maskfer.cli", "train-default", "--recipe", RECIPE, "--out", str(OUT),
               "--threads", str(threads), "--jobs", str(jobs), "--data", str(ROOT.parent / "shared" / "data"),
               *(["--resume-changed-data"] if data_changed else [])]
    process = subprocess.Popen(command)
    done = epochs_in(RECORD / STATE)
    while process.poll() is None:
        time.sleep(30)
        if epochs_in(OUT / STATE) > done:
            done = record()
            print(f"recorded epoch {done} in {RECORD}", flush=True)
    if epochs_in(OUT / STATE) > done:
        record()
    if process.returncode == 0:  # training finished: the int8 copy that would ship
        process = subprocess.run([sys.executable, "-m", "maskfer.cli", "quantize-model", str(OUT / "maskfer-expression.onnx"),
                                  "--out", str(OUT / "maskfer-expression-int8.onnx"), "--jobs", str(jobs),
                                  "--data", str(ROOT.parent / "shared" / "data")])
    return process.returncode


def status() -> None:
    progress = RECORD / "progress.json"
    if not progress.exists():
        print("no epoch recorded yet: python bench/long_run.py --run")
        return
    from maskfer.training.recipe import RECIPES

    data = json.loads(progress.read_text())
    print(f"recipe {data['recipe']}: {data['epoch']} of {RECIPES[data['recipe']].epochs} epochs recorded")
    for epoch in data.get("data_changes", []):
        print(f"the training crops were made anew after epoch {epoch} (a newer face path) and the run continued on them")
    print("| epoch | train loss | train acc % | val loss | val acc % | minutes |\n|---|---|---|---|---|---|")
    for h in data["history"]:
        print(f"| {h['epoch']} | {h['train_loss']:.3f} | {100 * h['train_accuracy']:.1f} | {h.get('val_loss', float('nan')):.3f} "
              f"| {100 * h.get('val_accuracy', float('nan')):.1f} | {h['seconds'] / 60:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="store_true", help="train (or resume), recording every finished epoch")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the training run")
    parser.add_argument("--jobs", type=int, default=2, help="processes making the crops")
    parser.add_argument("--data-changed", action="store_true",
                        help="continue the recorded epochs on crops made anew (a newer face path); recorded in progress.json")
    args = parser.parse_args()
    if args.run:
        sys.exit(run(args.threads, args.jobs, args.data_changed))
    status()


if __name__ == "__main__":
    main()
