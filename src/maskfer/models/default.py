"""The shipped model: how it is trained (`maskfer train-default`) and how it is exported to ONNX.

Recipe, top to bottom:
1. faces: FER2013's training split plus the training people of TCEP and CK+ (a fixed 20% of
   their people, chosen by a hash of the name, are held out for testing); each photo once
   unmasked and once behind a mask of a random type, colour and seed, as aligned crops;
2. a MobileNetV2 from ImageNet fine-tuned on them (each epoch a random half of the crops, so on
   average one view of each photo; flips; cosine learning rate);
3. export to ONNX with the ImageNet normalisation and the softmax inside the graph, and the
   config, classes and version in its metadata, so prediction needs only ONNX Runtime.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import maskfer
from maskfer.data.readers import EMOTIONS, read_dataset
from maskfer.errors import MaskferError
from maskfer.evaluation.protocols import held_out_subjects
from maskfer.features.cache import Cache, atomic_write_bytes, atomic_write_json
from maskfer.features.faces import FaceCropConfig, face_crops

MODEL_FORMAT = 1  # bumped when the ONNX file's inputs or metadata change meaning
POSED_SETS = ("tcep", "ckplus")


@dataclass(frozen=True)
class DefaultModelConfig:
    """Everything that decides the shipped model; stored inside the ONNX file."""

    data: str = "../shared/data"
    backbone: str = "mobilenet_v2"
    size: int = 64
    epochs: int = 12
    batch_size: int = 128
    epoch_fraction: float = 0.5  # of the crops seen per epoch: on average one of each photo's two views
    lr: float = 1e-3
    weight_decay: float = 1e-4
    holdout_fraction: float = 0.2
    validation_fraction: float = 0.05  # of FER2013 train, scored per epoch (the test split is never used here)
    limit: int | None = None  # photos per dataset (a smoke configuration for tests)
    seed: int = 0


def training_table(config: DefaultModelConfig):
    """The photos the model learns from and a small validation part of FER2013 train (pandas tables)."""
    import pandas as pd

    root = Path(config.data)
    parts = []
    fer = read_dataset(root / "fer2013").table
    parts.append(fer[fer["split"] == "train"])
    for name in POSED_SETS:
        table = read_dataset(root / name).table
        parts.append(table[~held_out_subjects(table["subject"], config.holdout_fraction)])
    if config.limit:
        parts = [p.sample(min(len(p), config.limit), random_state=config.seed) for p in parts]
    table = pd.concat(parts, ignore_index=True)
    validation = (table["dataset"] == "fer2013") & held_out_subjects(table["source"], config.validation_fraction, "validation")
    return table[~validation].reset_index(drop=True), table[validation].reset_index(drop=True)


def crops_and_labels(table, size: int, seed: int, cache: Cache, jobs: int, on_chunk=None, views=("none", "random")):
    """Aligned crops of every photo in each view, flattened to [0, 1] rows, and their label indices."""
    X, y = [], []
    labels = table["emotion"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()
    for view in views:
        crops, status, _ = face_crops(table["path"], table["source"], FaceCropConfig(size, view, seed), cache, jobs, on_chunk)
        ok = status == "ok"
        X.append(crops[ok].reshape(int(ok.sum()), -1))
        y.append(labels[ok])
    return np.concatenate(X), np.concatenate(y)


def train_default(config: DefaultModelConfig, out: str | Path, cache: Cache | None = None, jobs: int = 2,
                  progress=print) -> dict:
    """Train the shipped model and write `<out>/maskfer-expression.onnx` and `<out>/training.json`."""
    from maskfer.models.cnn import CNNClassifier

    cache = cache if cache is not None else Cache()
    out = Path(out)
    started = time.perf_counter()
    train, validation = training_table(config)
    progress(f"faces: {len(train)} training photos, {len(validation)} validation photos (two views each)")
    X, y = crops_and_labels(train, config.size, config.seed, cache, jobs)
    X_val, y_val = crops_and_labels(validation, config.size, config.seed, cache, jobs)
    X, X_val = X.astype(np.float32) / 255, X_val.astype(np.float32) / 255
    progress(f"crops ready after {time.perf_counter() - started:.0f} s: {len(y)} training, {len(y_val)} validation")
    steps = max(1, int(np.ceil(config.epoch_fraction * len(y) / config.batch_size)))
    model = CNNClassifier(backbone=config.backbone, weights="imagenet", epochs=config.epochs, batch_size=config.batch_size,
                          lr=config.lr, weight_decay=config.weight_decay, schedule="cosine", max_batches=steps,
                          augment_flip=True, random_state=config.seed, verbose=True)
    model.fit(X, y, eval_set=(X_val, y_val))
    if len(model.classes_) != len(EMOTIONS):
        raise MaskferError(f"training data has {len(model.classes_)} of the {len(EMOTIONS)} expressions; need all")
    record = {"maskfer_version": maskfer.__version__, "config": asdict(config), "n_train": int(len(y)),
              "n_validation": int(len(y_val)), "history": model.history_, "seconds": time.perf_counter() - started}
    export_onnx(model, config, out / "maskfer-expression.onnx", record)
    atomic_write_json(out / "training.json", record)
    return record


def export_onnx(model, config: DefaultModelConfig, path: str | Path, record: dict) -> Path:
    """The fitted CNN as ONNX: input float32 (N, size, size, 3) RGB in [0, 1], output the 7 probabilities."""
    import io

    import onnx
    import torch

    from maskfer.models.cnn import _MEAN, _STD

    class Deployed(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net.eval()

        def forward(self, x):
            x = (x.permute(0, 3, 1, 2) - _MEAN) / _STD
            return self.net(x).softmax(1)

    buffer = io.BytesIO()
    dummy = torch.zeros(1, config.size, config.size, 3)
    torch.onnx.export(Deployed(model.model_), dummy, buffer, dynamo=False, opset_version=17, input_names=["faces"],
                      output_names=["probabilities"], dynamic_axes={"faces": {0: "n"}, "probabilities": {0: "n"}})
    proto = onnx.load_from_string(buffer.getvalue())
    metadata = {"maskfer_version": maskfer.__version__, "format": str(MODEL_FORMAT), "classes": json.dumps(list(EMOTIONS)),
                "input_size": str(config.size), "config": json.dumps(asdict(config)),
                "validation_accuracy": str(record["history"][-1].get("val_accuracy", ""))}
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return atomic_write_bytes(Path(path), proto.SerializeToString())
