"""A `CNNClassifier`'s training checkpoint: written after every epoch, read back to resume exactly.

A checkpoint holds the network, the optimiser and schedule, every random generator's state and the history, with the
parameters and a fingerprint of the data that wrote it: a resumed run must share both (`read_training_state`), except
where the caller says the data changed (`resume_data="changed"`, recorded in `data_changes`).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import torch

import maskfer
from maskfer.core.files import atomic_write_bytes
from maskfer.errors import MaskferError

TRAINING_STATE = "maskfer-cnn-training-state"


def data_fingerprint(X: np.ndarray, targets: np.ndarray, weights: torch.Tensor | None = None) -> str:
    """A cheap content key of the training data (targets, shape, dtype, every 97th row and any sample weights), for resuming."""
    digest = hashlib.blake2b(f"{X.shape} {X.dtype}".encode(), digest_size=16)
    digest.update(np.ascontiguousarray(X[::97]).tobytes())
    digest.update(np.ascontiguousarray(targets).tobytes())
    if weights is not None:
        digest.update(weights.numpy().tobytes())
    return digest.hexdigest()


def write_training_state(path: str, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())


def read_training_state(path: str, params: dict, fingerprint: str | None, defaults: dict) -> dict:
    """A checkpoint written by `fit` with these params on this data (`fingerprint`; None: on any data), or a one-line
    error. A parameter the checkpoint does not name (added to maskfer since it was written) must be at its default."""
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MaskferError(f"{path}: damaged or not a training checkpoint ({type(exc).__name__}); delete it to start afresh") from None
    if not isinstance(state, dict) or state.get("kind") != TRAINING_STATE:
        raise MaskferError(f"{path}: not a maskfer training checkpoint; delete it or choose another checkpoint path")
    changed = sorted(k for k in params if state["params"].get(k, defaults.get(k)) != params[k])
    if changed or fingerprint not in (None, state["data"]):
        changed = changed or ["the training data"]
        raise MaskferError(f"{path}: a checkpoint of another training run (differs in {', '.join(changed)}); "
                           "delete it to start afresh, or resume with the same settings")
    return state


def checkpoint_epoch(path: str) -> int:
    """How many epochs a training checkpoint holds (0 if it cannot be read)."""
    try:
        return int(torch.load(Path(path), map_location="cpu", weights_only=True)["epoch"])
    except Exception:
        return 0


def save_run(path: str, params: dict, run: dict) -> None:
    """The state of a training run (`CNNClassifier.fit`'s `run`) after its last epoch, written whole to `path`."""
    write_training_state(path, {
        "kind": TRAINING_STATE, "maskfer_version": maskfer.__version__, "params": params,
        "data": run["data"], "epoch": run["epoch"], "model": run["model"].state_dict(),
        "optimizer": run["optimizer"].state_dict(), "scheduler": run["scheduler"].state_dict() if run["scheduler"] else None,
        "generator": run["generator"].get_state(), "torch_rng": torch.get_rng_state(), "history": run["history"],
        "data_changes": run["data_changes"],
        "best": run["best"], "best_state": run["best_state"], "waited": run["waited"]})


def restore_run(path: str, run: dict, params: dict, defaults: dict, any_data: bool) -> bool:
    """The checkpoint at `path` loaded into `run` (the same params, and the same data unless `any_data`); True where
    the data had changed, which `data_changes` then records."""
    state = read_training_state(path, params, None if any_data else run["data"], defaults)
    run["data_changes"] = list(state.get("data_changes", []))
    changed = state["data"] != run["data"]
    if changed:
        run["data_changes"].append(int(state["epoch"]))
    run["model"].load_state_dict(state["model"])
    run["optimizer"].load_state_dict(state["optimizer"])
    if run["scheduler"]:
        run["scheduler"].load_state_dict(state["scheduler"])
    run["generator"].set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    run.update({k: state[k] for k in ("history", "epoch", "best", "best_state", "waited")})
    return changed
