"""`CNNClassifier`: a CNN as a scikit-learn classifier, so the evaluation code treats it like any other model.

It fine-tunes a backbone with a new 7-way head, as the study did with ResNet18 (batch 60, 30 epochs), recording
per-epoch loss and accuracy in `history_` (the study's Figure 6). It takes the feature matrix the rest of maskfer uses
(flattened RGB images in [0, 1] or uint8; the side is inferred; `maskfer.models.batches`), and checkpoints every epoch
(`maskfer.models.checkpoints`). The frozen backbone as a transformer is `maskfer.models.embedding.CNNEmbedding`.
torch is imported here, never by `maskfer` itself.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

import maskfer
from maskfer.errors import InvalidValueError, MaskferError, check_name
from maskfer.core.files import atomic_write_bytes
from maskfer.models.backbones import BACKBONES, WEIGHTS, create_backbone
from maskfer.models.batches import mixed, normalise, random_shift, to_pixels
from maskfer.models.checkpoints import data_fingerprint, restore_run, save_run

from maskfer.core.progress import counted

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "cosine")
# What a checkpoint must share with the data `fit` is given: "same", the very same rows; "changed", any (a deliberate
# continuation on data made anew, e.g. by a newer face path; the epochs where it happened are kept in `data_changes_`).
RESUME_DATA = ("same", "changed")


def resolve_device(device: str) -> torch.device:
    """"cpu", "cuda" or "cuda:N"; asking for a GPU that is not there is an error, not a fallback."""
    kind = device.split(":")[0]
    check_name("device", kind, ("cpu", "cuda"))
    if kind == "cuda" and not torch.cuda.is_available():
        raise MaskferError(f"device {device!r} requested but no CUDA GPU is available "
                           f"(torch {torch.__version__}, cuda build: {torch.version.cuda or 'none'}); use --device cpu")
    return torch.device(device)


def check_common(backbone: str, weights: str, device: str):
    check_name("backbone", backbone, BACKBONES)
    if weights not in WEIGHTS and not Path(weights).suffix:
        raise MaskferError(f"weights must be one of {', '.join(WEIGHTS)} or a checkpoint file path, got {weights!r}")
    return resolve_device(device)


def _target_distribution(labels: np.ndarray, n_classes: int, soft_targets=None) -> np.ndarray:
    """One target row per image: the label one-hot, or the given distributions (checked, renormalised)."""
    if soft_targets is None:
        return np.eye(n_classes, dtype=np.float32)[labels]
    soft = np.asarray(soft_targets, dtype=np.float32)
    if soft.shape != (len(labels), n_classes) or not np.isfinite(soft).all() or (soft < 0).any() or (soft.sum(1) <= 0).any():
        raise InvalidValueError(f"soft_targets must be {len(labels)} x {n_classes} non-negative rows with a positive sum; "
                           f"got shape {soft.shape}")
    return soft / soft.sum(1, keepdims=True)


def _sampling_weights(sample_weight, labels: np.ndarray, classes: np.ndarray) -> torch.Tensor:
    """Sample weights as sampling probabilities (float64, summing to 1), or a one-line error. A class whose rows all
    weigh zero is refused: it would be a class the model is said to know and never saw."""
    weights = np.asarray(sample_weight, dtype=np.float64)
    if weights.shape != labels.shape or not np.isfinite(weights).all() or (weights < 0).any():
        raise InvalidValueError(f"sample_weight must be {len(labels)} finite non-negative numbers; got shape {weights.shape}")
    if weights.sum() <= 0:
        raise InvalidValueError("sample_weight is all zero: at least one weight must be positive")
    unseen = classes[np.bincount(labels, weights, minlength=len(classes)) <= 0]
    if len(unseen):
        raise InvalidValueError(f"sample_weight gives no weight to class {', '.join(map(str, unseen))}; "
                                "drop those rows or weigh them")
    return torch.from_numpy(weights / weights.sum())


_flushing = 0  # how many denormals_flushed() blocks are open (validation runs inside training's)


@contextmanager
def denormals_flushed() -> Iterator[None]:
    """Numbers below float32's normal range count as zero inside. A trained network's weights and Adam's moments
    drift there, and a CPU computes on such numbers many times slower: a MobileNetV2 training step after 8 epochs
    took twice as long as with them flushed. It is a setting of the calling thread, which the threads it starts
    inherit: torch's worker threads flush only when they start inside the first block (as in a fresh process).
    torch cannot say whether it was on, so the last block out switches it off (for the calling thread)."""
    global _flushing
    torch.set_flush_denormal(True)
    _flushing += 1
    try:
        yield
    finally:
        _flushing -= 1
        if not _flushing:
            torch.set_flush_denormal(False)


def training_loss(logits: torch.Tensor, targets: torch.Tensor, adjustment: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Cross-entropy of target distributions (rows summing to 1) against softmax(logits + adjustment), averaged.

    With one-hot targets and no adjustment it is the usual cross-entropy; `adjustment` is
    tau * log(prior) for logit adjustment, added in training only.
    """
    return -(targets * (logits + adjustment).log_softmax(1)).sum(1).mean()


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """A backbone fine-tuned end to end with a new head. Defaults are the study's: batch 60, 30 epochs.

    `max_batches` stops each epoch early (a smoke configuration for tests); `early_stopping`
    (patience in epochs, on the loss of `stop_set`, else of `eval_set`; the best epoch's weights
    are kept) and `schedule="cosine"` are options, off by default as in the study. `eval_set` is
    scored after every epoch (the training curves); give early stopping its own `stop_set` when
    `eval_set` is the fold you report, so nothing is chosen on it. With `checkpoint` (a file path), the whole training
    state is saved there after every epoch, and a later `fit` on the same data and settings
    continues from the last finished epoch: a killed run loses at most one epoch. Other data is refused
    unless `resume_data="changed"` (a deliberate continuation, e.g. on crops remade by a newer face path);
    `data_changes_` then lists the epochs after which the data changed.

    Rows may be uint8 (0..255; kept uint8 in memory and scaled per batch) or float in [0, 1].
    `fit(..., soft_targets=P)` trains on target distributions (one row per image, columns in the
    order of the sorted labels: e.g. annotators' votes, or a teacher's probabilities mixed with the
    label) instead of the labels alone. `logit_adjustment` (tau) adds tau * log(class prior) to the
    logits in the training loss only (Menon et al. 2021), so rare classes are not starved.
    """

    def __init__(self, *, backbone: str = "resnet18", weights: str = "imagenet", epochs: int = 30, batch_size: int = 60,
                 optimizer: str = "adam", lr: float = 1e-3, weight_decay: float = 0.0, schedule: str = "none",
                 early_stopping: int | None = None, max_batches: int | None = None, augment_flip: bool = False,
                 augment_shift: int = 0, augment_colour: float = 0.0, logit_adjustment: float = 0.0, label_smoothing: float = 0.0,
                 mixup: float = 0.0, device: str = "cpu", threads: int | None = None,
                 random_state: int = 0, verbose: bool = False, checkpoint: str | None = None, resume_data: str = "same"):
        self.backbone = backbone
        self.weights = weights
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.early_stopping = early_stopping
        self.max_batches = max_batches
        self.augment_flip = augment_flip
        self.augment_shift = augment_shift
        self.augment_colour = augment_colour
        self.logit_adjustment = logit_adjustment
        self.label_smoothing = label_smoothing
        self.mixup = mixup
        self.device = device
        self.threads = threads
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint = checkpoint
        self.resume_data = resume_data

    def fit(self, X, y, eval_set=None, stop_set=None, soft_targets=None, sample_weight=None):
        X, y = validate_data(self, X, y, dtype=(np.float32, np.uint8))
        if not 0 <= self.label_smoothing < 1 or self.mixup < 0:
            raise InvalidValueError(f"label_smoothing must be in [0, 1) and mixup at least 0; got {self.label_smoothing}, {self.mixup}")
        device = check_common(self.backbone, self.weights, self.device)
        check_name("optimizer", self.optimizer, OPTIMIZERS)
        check_name("schedule", self.schedule, SCHEDULES)
        check_name("resume_data", self.resume_data, RESUME_DATA)
        if self.threads:
            torch.set_num_threads(self.threads)
        with denormals_flushed():  # set before torch starts its worker threads, which inherit it
            return self._fit(X, y, device, eval_set, stop_set, soft_targets, sample_weight)

    def _fit(self, X, y, device, eval_set, stop_set, soft_targets, sample_weight):
        torch.manual_seed(self.random_state)
        self.classes_ = unique_labels(y)
        labels = np.searchsorted(self.classes_, y)
        targets = _target_distribution(labels, len(self.classes_), soft_targets)
        targets = torch.from_numpy((1 - self.label_smoothing) * targets + self.label_smoothing / len(self.classes_))
        weights = None if sample_weight is None else _sampling_weights(sample_weight, labels, self.classes_)
        prior = np.bincount(labels, minlength=len(self.classes_)) / len(labels)
        adjustment = torch.from_numpy(self.logit_adjustment * np.log(np.maximum(prior, 1e-8))).float().to(device)
        # Channels-last is oneDNN's faster layout on a CPU: a MobileNetV2 training step at 96 px took 28-37% less time.
        model = create_backbone(self.backbone, len(self.classes_), self.weights).to(device, memory_format=torch.channels_last)
        optimizer = (torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay) if self.optimizer == "adam"
                     else torch.optim.SGD(model.parameters(), lr=self.lr, momentum=0.9, weight_decay=self.weight_decay))
        steps = min(int(np.ceil(len(y) / self.batch_size)), self.max_batches or np.inf)
        scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, self.epochs * steps))
                     if self.schedule == "cosine" else None)
        run = {"model": model, "optimizer": optimizer, "scheduler": scheduler,
               "generator": torch.Generator().manual_seed(self.random_state), "history": [], "best": np.inf,
               "best_state": None, "waited": 0, "epoch": 0, "data": data_fingerprint(X, targets.numpy(), weights),
               "data_changes": [], "weights": weights}
        if self.checkpoint and Path(self.checkpoint).exists():
            self._resume(run)
        pixels = to_pixels(X)
        self.history_, self.data_changes_ = run["history"], run["data_changes"]
        for epoch in range(run["epoch"], self.epochs):
            started = time.perf_counter()
            with counted(f"{self.backbone} epoch {epoch + 1}/{self.epochs}", int(steps), self.verbose) as advance:
                record = {"epoch": epoch + 1, **self._train_epoch(run, pixels, targets, adjustment, int(steps), device, advance)}
            self.model_ = model
            for prefix, scored in (("val", eval_set), ("stop", stop_set)):
                if scored is not None and len(scored[1]):
                    record.update(self._loss_and_accuracy(prefix, *scored))
            record["seconds"] = time.perf_counter() - started
            run["history"].append(record)
            run["epoch"] = epoch + 1
            self._report(record)
            stop = self._early_stop(run, record)
            if self.checkpoint:
                save_run(self.checkpoint, self._resume_params(), run)
            if stop:
                break
        if run["best_state"] is not None:
            model.load_state_dict(run["best_state"])
        self.model_ = model.eval()
        return self

    def _train_epoch(self, run: dict, pixels: torch.Tensor, targets: torch.Tensor, adjustment: torch.Tensor, steps: int,
                     device, advance) -> dict:
        """One pass over `steps` random batches, calling `advance()` after each; the epoch's mean loss and accuracy.
        With sample weights, batches are drawn with replacement in proportion to them."""
        model, optimizer, scheduler, generator = run["model"], run["optimizer"], run["scheduler"], run["generator"]
        model.train()
        order = (torch.randperm(len(pixels), generator=generator) if run["weights"] is None else
                 torch.multinomial(run["weights"], steps * self.batch_size, replacement=True, generator=generator))
        seen = correct = 0
        total_loss = 0.0
        for step in range(steps):
            index = order[step * self.batch_size:(step + 1) * self.batch_size]
            batch = normalise(pixels[index], self.augment_colour, generator).to(device)
            target = targets[index].to(device)
            if self.augment_flip:  # a mirrored face shows the same expression
                flip = (torch.rand(len(index), generator=generator) < 0.5).to(device)
                batch[flip] = batch[flip].flip(3)
            if self.augment_shift:  # framing varies a little between detectors and photos
                batch = random_shift(batch, self.augment_shift, generator)
            if self.mixup:
                batch, target = mixed(batch, target, self.mixup, generator)
            logits = model(batch.contiguous(memory_format=torch.channels_last))
            loss = training_loss(logits, target, adjustment)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler:
                scheduler.step()
            seen += len(index)
            total_loss += loss.item() * len(index)
            correct += int((logits.argmax(1) == target.argmax(1)).sum())
            advance()
        return {"train_loss": total_loss / seen, "train_accuracy": correct / seen}

    def _report(self, record: dict) -> None:
        if self.verbose:
            # Epochs are steady, so the last one's time estimates what is left (early stopping may end sooner).
            left = (self.epochs - record["epoch"]) * record["seconds"]
            print(f"{self.backbone} epoch {record['epoch']}/{self.epochs}: "
                  + " ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch")
                  + f"; about {left / 60:.0f} min left in this fit" + (" at most (early stopping)" if self.early_stopping else ""),
                  file=sys.stderr, flush=True)

    def _early_stop(self, run: dict, record: dict) -> bool:
        """Whether early stopping ends the fit after this epoch (remembering the best epoch's weights)."""
        watched = "stop_loss" if "stop_loss" in record else "val_loss"
        if not self.early_stopping or watched not in record:
            return False
        if record[watched] < run["best"]:
            run["best"], run["waited"] = record[watched], 0
            run["best_state"] = {k: v.detach().clone() for k, v in run["model"].state_dict().items()}
            return False
        run["waited"] += 1
        return run["waited"] >= self.early_stopping

    def _resume(self, run: dict) -> None:
        """Load the checkpoint's state into `run` (same data and settings, or a one-line error)."""
        changed = restore_run(self.checkpoint, run, self._resume_params(), type(self)().get_params(), self.resume_data == "changed")
        if self.verbose and changed:
            print(f"{self.backbone}: continuing after epoch {run['epoch']} on changed training data", file=sys.stderr, flush=True)
        if self.verbose:
            print(f"{self.backbone}: resumed from {self.checkpoint} after epoch {run['epoch']}", file=sys.stderr, flush=True)

    def _resume_params(self) -> dict:
        """The parameters a resumed run must share with the run that wrote the checkpoint."""
        return {k: v for k, v in self.get_params().items() if k not in ("checkpoint", "verbose", "threads", "device", "resume_data")}

    def _loss_and_accuracy(self, prefix: str, X, y) -> dict:
        proba = self._proba(to_pixels(np.asarray(X)))
        known = np.isin(y, self.classes_)
        targets = np.searchsorted(self.classes_, np.asarray(y)[known])
        return {f"{prefix}_loss": float(-np.mean(np.log(np.clip(proba[known, targets], 1e-12, 1)))),
                f"{prefix}_accuracy": float(np.mean(self.classes_[proba.argmax(1)] == y))}

    @torch.no_grad()
    def _logits(self, pixels: torch.Tensor, batch: int = 256) -> np.ndarray:
        """Logits of `to_pixels` rows, normalised a batch at a time."""
        self.model_.eval()
        device = next(self.model_.parameters()).device
        with denormals_flushed():
            out = [self.model_(normalise(pixels[i:i + batch]).to(device, memory_format=torch.channels_last)).cpu().numpy()
                   for i in range(0, len(pixels), batch)]
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), np.float32)

    def _proba(self, pixels: torch.Tensor) -> np.ndarray:
        return torch.from_numpy(self._logits(pixels)).softmax(1).numpy()

    def decision_function(self, X):
        """The head's logits (before the softmax), one column per class: what calibration scales."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=(np.float32, np.uint8), reset=False)
        return self._logits(to_pixels(X))

    def predict_proba(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=(np.float32, np.uint8), reset=False)
        return self._proba(to_pixels(X))

    def predict(self, X):
        best = self.predict_proba(X).argmax(1)  # first: it raises NotFittedError before classes_ is touched
        return self.classes_[best]

    def save(self, path: str | Path) -> Path:
        """A checkpoint: the weights plus every parameter and the classes (written atomically)."""
        import io

        check_is_fitted(self, "model_")
        buffer = io.BytesIO()
        torch.save({"maskfer_version": maskfer.__version__, "params": self.get_params(), "classes": self.classes_.tolist(),
                    "n_features_in": self.n_features_in_, "history": self.history_,
                    "state_dict": self.model_.state_dict()}, buffer)
        return atomic_write_bytes(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "CNNClassifier":
        from maskfer.models.backbones import WeightsError

        try:
            data = torch.load(Path(path), map_location="cpu", weights_only=True)
            params, classes = data["params"], np.array(data["classes"])
        except FileNotFoundError:
            raise WeightsError(f"{path}: checkpoint not found") from None
        except Exception as exc:
            raise WeightsError(f"{path}: not a maskfer CNN checkpoint ({type(exc).__name__})") from None
        model = cls(**{**params, "weights": "none"})
        model.classes_, model.n_features_in_, model.history_ = classes, data["n_features_in"], data["history"]
        net = create_backbone(params["backbone"], len(classes), "none")
        net.load_state_dict(data["state_dict"])
        model.model_ = net.eval()
        return model
