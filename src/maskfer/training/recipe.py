"""The shipped model: how it is trained (`maskfer train-default`) and how it is exported to ONNX.

Recipe, top to bottom:
1. faces: FER2013's training split (sharp pixels since 2026-11-28; its PublicTest part validates,
   its PrivateTest part is the FER2013 evaluation set and is never trained on) plus the training
   people of TCEP and CK+ (a fixed 20% of their people, chosen by a hash of the name, are held out
   for testing); each photo as an aligned crop, unmasked, behind a drawn mask of random type,
   colour and seed, and under a random lower-face occluder. The template renderer's masks are
   never trained on: they are how the model card tests masks the model has not seen;
2. a MobileNetV2 from ImageNet fine-tuned on them (flips and small shifts; cosine learning rate),
   every epoch's state saved so that a killed run resumes where it stopped;
3. a temperature fitted on the validation photos (calibrated probabilities);
4. export to ONNX with the ImageNet normalisation, the temperature and the softmax inside the
   graph, and the config, classes and version in its metadata, so prediction needs only ONNX
   Runtime. The mask-worn check is trained beside it on the same crops (`maskfer.training.mask_check`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

import maskfer
from maskfer.core.cache import Cache
from maskfer.core.files import atomic_write_bytes, atomic_write_json
from maskfer.core.progress import counted
from maskfer.data.readers import read_dataset
from maskfer.data.sampling import held_out_subjects
from maskfer.errors import MaskferError
from maskfer.labels import EMOTIONS
from maskfer.training.crops import FaceCropConfig, face_crops
from maskfer.weights.format import MODEL_NAME, TRAINING_LOG_NAME, TRAINING_STATE_NAME, model_metadata

POSED_SETS = ("tcep", "ckplus")
LABELS = {"fer2013": "FER2013's own labels", "ferplus": "FER+ majority labels (ten annotators; rows without a majority dropped)"}
TARGETS = {"labels": "each photo's label, one-hot",
           "ferplus": "FER+'s ten annotators' votes over the seven classes for FER2013 photos (one-hot where FER+ has none)",
           "distill": "half the label, half the teacher's reading of the same photo unmasked (`teacher`, default the shipped model)"}
DISTILL_WEIGHT = 0.5  # of the teacher's probabilities in a distilled target; the label keeps the rest


@dataclass(frozen=True)
class DefaultModelConfig:
    """Everything that decides the shipped model; stored inside the ONNX file."""

    data: str = "../shared/data"
    backbone: str = "mobilenet_v2"
    size: int = 64
    epochs: int = 6
    batch_size: int = 64
    epoch_fraction: float = 1.0  # of the crops seen per epoch
    lr: float = 1e-3
    weight_decay: float = 1e-4
    shift: int = 4  # random translation in pixels, per face
    border: str = "replicate"  # what a crop shows past the photo's edge (maskfer.faces.BORDERS), in training and prediction
    holdout_fraction: float = 0.2  # of TCEP's and CK+'s people, held out for testing
    labels: str = "fer2013"  # FER2013's labels for its photos, or "ferplus"
    targets: str = "labels"  # what the loss aims at: TARGETS
    teacher: str | None = None  # ONNX model read on the unmasked photo for targets="distill" (None: the shipped one)
    logit_adjustment: float = 0.0  # tau: the loss sees logits + tau * log(prior), against collapsing rare classes
    validation_fraction: float = 0.1  # of TCEP's and CK+'s training people, scored per epoch beside FER2013 PublicTest
    masked_views: int = 1  # copies of each photo behind a drawn mask (random type, colour and seed each)
    occluder_views: int = 1  # copies of each photo's crop under a random occluder (maskfer.masks.occluder)
    calibrate: bool = True  # fit a temperature on the validation photos, inside the exported model
    flip_test: bool = False  # the exported model averages each face's and its mirror's probabilities (one graph)
    threads: int = 2  # torch threads: set, not left to torch's default
    limit: int | None = None  # photos per dataset part (a smoke configuration for tests)
    seed: int = 0

    def __post_init__(self):
        from maskfer.errors import check_name

        check_name("labels", self.labels, LABELS)
        check_name("targets", self.targets, TARGETS)

    @property
    def views(self) -> tuple[tuple[str, int], ...]:
        return (("none", 0), *(("random", self.seed + i) for i in range(self.masked_views)),
                *(("occluder", self.seed + i) for i in range(self.occluder_views)))


# Recipes by name: "v3" made the shipped model, "v2" the one before. "v3" is v2 with what `bench/ablate.py` found
# to help on FER2013 PublicTest (96 px input: +2.8 to +3.8 points on every split; logit adjustment: +1.6 behind
# template masks and the rarest class's recall behind a drawn mask from 0 to 11%, both near the seed noise), flip
# averaging inside the exported graph (+0.5 to +1.3 for v2), and twice the epochs (v2's training accuracy was still
# rising at its last epoch). FER+ vote targets, distillation from the unmasked reading and the EfficientNet-Lite
# backbones did not help there and are left out.
RECIPES = {"v2": DefaultModelConfig(),
           "v3": DefaultModelConfig(size=96, logit_adjustment=1.0, flip_test=True, epochs=12)}


def recipe_command(config: dict) -> str | None:
    """The `maskfer train-default` options that remake a model trained with `config` (a stored config dict): its
    recipe's name, and `--mirror`/`--no-mirror` where the export differs from the recipe there; None where no recipe
    matches. Where and on how many threads it ran (data, threads) do not decide the model."""
    for name, recipe in RECIPES.items():
        wanted = asdict(recipe)
        if all(config.get(key, value) == value for key, value in wanted.items() if key not in ("data", "threads", "flip_test")):
            flip = config.get("flip_test", recipe.flip_test)
            return f"--recipe {name}" + ("" if flip == recipe.flip_test else " --mirror" if flip else " --no-mirror")
    return None


def training_table(config: DefaultModelConfig):
    """(training photos, validation photos) as pandas tables.

    Training: FER2013's training split and the training people of TCEP and CK+. Validation, which
    chooses nothing but is scored every epoch and fits the temperature: FER2013's PublicTest (the
    challenge's own validation part) and `validation_fraction` of TCEP's and CK+'s training people.
    Never used: FER2013's PrivateTest, the held-out people, the KDEF sample (the evaluation sets).
    """
    import pandas as pd

    root = Path(config.data)
    fer = fer2013_table(root / "fer2013", config.labels)
    train, validation = [fer[fer["split"] == "train"]], [fer[fer_validation_set(fer)]]
    for name in POSED_SETS:
        table = read_dataset(root / name).table
        table = table[~held_out_subjects(table["subject"], config.holdout_fraction)]
        held = held_out_subjects(table["subject"], config.validation_fraction, "validation")
        train.append(table[~held])
        validation.append(table[held])
    if config.limit:
        train, validation = ([p.sample(min(len(p), config.limit), random_state=config.seed) for p in parts]
                             for parts in (train, validation))
    return pd.concat(train, ignore_index=True), pd.concat(validation, ignore_index=True)


def fer2013_table(root: Path, labels: str = "fer2013"):
    """FER2013's photos; with `labels="ferplus"`, each labelled by its FER+ majority (and dropped without one)."""
    table = read_dataset(root).table
    if labels == "ferplus":
        from maskfer.data.readers import ferplus_labels

        table = table.assign(emotion=ferplus_labels(table, root))
        table = table[table["emotion"].notna()].reset_index(drop=True)
    return table


def fer_validation_set(fer):
    """FER2013's PublicTest photos: the challenge's validation part."""
    return ((fer["split"] == "test") & fer["source"].str.contains("PublicTest")).to_numpy()


def fer_evaluation_set(fer):
    """FER2013's PrivateTest photos: the challenge's final test, never seen in training."""
    return ((fer["split"] == "test") & fer["source"].str.contains("PrivateTest")).to_numpy()


def crops_and_labels(table, size: int, views: tuple[tuple[str, int], ...], cache: Cache, jobs: int, show: bool = False,
                     border: str = "replicate"):
    """Aligned crops of every photo in each (masking, seed) view: flattened uint8 rows, label indices, and each
    row's photo (its position in `table`). `show`: count the photos on stderr (`maskfer.core.progress.counted`)."""
    X, y, photos = [], [], []
    labels = table["emotion"].map({e: i for i, e in enumerate(EMOTIONS)}).to_numpy()
    for mask, seed in views:
        with counted(f"crops ({mask}, seed {seed})", len(table), show) as advance:
            crops, status, _ = face_crops(table["path"], table["source"], FaceCropConfig(size, mask, seed, border=border), cache,
                                          jobs, advance)
        ok = np.flatnonzero(status == "ok")
        X.append(crops[ok].reshape(len(ok), -1))
        y.append(labels[ok])
        photos.append(ok)
    return np.concatenate(X), np.concatenate(y), np.concatenate(photos)


def target_distributions(table, config: DefaultModelConfig, cache: Cache, jobs: int) -> np.ndarray | None:
    """Each photo's training target over the seven classes (`config.targets`), or None for plain labels."""
    if config.targets == "labels":
        return None
    from maskfer.data.readers import ferplus_votes

    onehot = np.eye(len(EMOTIONS))[table["emotion"].map(EMOTIONS.index).to_numpy()]
    if config.targets == "ferplus":
        votes = ferplus_votes(table, Path(config.data) / "fer2013")
        usable = np.nan_to_num(votes).sum(1) > 0
        return np.where(usable[:, None], np.nan_to_num(votes) / np.maximum(np.nan_to_num(votes).sum(1, keepdims=True), 1), onehot)
    from maskfer.prediction.model import load_model

    teacher = load_model(config.teacher)
    crops, status, _ = face_crops(table["path"], table["source"], FaceCropConfig(teacher.size, "none", border=teacher.border),
                                  cache, jobs)
    read = teacher.probabilities(crops)
    read[status != "ok"] = onehot[status != "ok"]
    return (1 - DISTILL_WEIGHT) * onehot + DISTILL_WEIGHT * read


def train_default(config: DefaultModelConfig, out: str | Path, cache: Cache | None = None, jobs: int = 2,
                  say=print, show: bool = True, resume_data: str = "same") -> dict:
    """Train the shipped model and write `<out>/maskfer-expression.onnx` and `<out>/training.json`.

    A checkpoint in `out` is resumed; `resume_data="changed"` continues it even though the crops were made anew
    (`CNNClassifier.resume_data`), and training.json's `data_changes` says after which epochs."""
    from maskfer.models.registry import cnn_module

    CNNClassifier = cnn_module().CNNClassifier

    cache = cache if cache is not None else Cache()
    out = Path(out)
    started = time.perf_counter()
    train, validation = training_table(config)
    say(f"faces: {len(train)} training photos, {len(validation)} validation photos ({len(config.views)} views each)")
    X, y, photos = crops_and_labels(train, config.size, config.views, cache, jobs, show, config.border)
    X_val, y_val, _ = crops_and_labels(validation, config.size, config.views, cache, jobs, show, config.border)
    targets = target_distributions(train, config, cache, jobs)
    say(f"crops ready after {time.perf_counter() - started:.0f} s: {len(y)} training, {len(y_val)} validation")
    steps = max(1, int(np.ceil(config.epoch_fraction * len(y) / config.batch_size)))
    # Every epoch's state goes to out/training-state.pt: a killed run resumes at the epoch it reached.
    model = CNNClassifier(backbone=config.backbone, weights="imagenet", epochs=config.epochs, batch_size=config.batch_size,
                          lr=config.lr, weight_decay=config.weight_decay, schedule="cosine", max_batches=steps,
                          augment_flip=True, augment_shift=config.shift, logit_adjustment=config.logit_adjustment,
                          random_state=config.seed, verbose=show, threads=config.threads,
                          checkpoint=str(out / TRAINING_STATE_NAME), resume_data=resume_data)
    out.mkdir(parents=True, exist_ok=True)
    model.fit(X, y, eval_set=(X_val, y_val), soft_targets=None if targets is None else targets[photos])
    if len(model.classes_) != len(EMOTIONS):
        raise MaskferError(f"training data has {len(model.classes_)} of the {len(EMOTIONS)} expressions; need all")
    temperature = fit_temperature(deployed_logits(model, X_val, config), y_val) if config.calibrate else 1.0
    say(f"temperature {temperature:.3f} (fitted on the validation photos)")
    record = {"maskfer_version": maskfer.__version__, "config": asdict(config), "n_train": int(len(y)),
              "n_validation": int(len(y_val)), "history": model.history_, "data_changes": model.data_changes_,
              "temperature": temperature,
              "seconds": time.perf_counter() - started}
    export_onnx(model, config, out / MODEL_NAME, record)
    atomic_write_json(out / TRAINING_LOG_NAME, record)
    return record


def deployed_logits(model, X: np.ndarray, config: DefaultModelConfig) -> np.ndarray:
    """The logits the exported graph computes for flattened crops: with `flip_test`, the mean of a crop's and its mirror's."""
    logits = model.decision_function(X)
    if config.flip_test:
        mirrored = X.reshape(len(X), config.size, config.size, 3)[:, :, ::-1].reshape(len(X), -1)
        logits = (logits + model.decision_function(np.ascontiguousarray(mirrored))) / 2
    return logits


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of softmax(logits / T) (Guo et al. 2017)."""
    from scipy.optimize import minimize_scalar

    logits = np.asarray(logits, np.float64)

    def nll(log_t):
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


def zero_subnormal_weights(proto) -> int:
    """Set the graph's float32 constants below float32's normal range to zero; returns how many there were.

    A long run leaves many weights there (v3's export held 104,654, mostly batch norms folded into the
    convolutions), and a CPU computes on such numbers many times slower: v3's float graph took 26 ms a face
    with them, 7.6 ms without. At most 1.2e-38 each, they change no reading."""
    from onnx import AttributeProto, numpy_helper

    tensors = [*proto.graph.initializer, *(a.t for node in proto.graph.node for a in node.attribute
                                           if a.type == AttributeProto.TENSOR)]
    zeroed = 0
    for tensor in tensors:
        values = numpy_helper.to_array(tensor)
        if values.dtype != np.float32:
            continue
        subnormal = (values != 0) & (np.abs(values) < np.finfo(np.float32).tiny)
        if subnormal.any():
            zeroed += int(subnormal.sum())
            tensor.CopyFrom(numpy_helper.from_array(np.where(subnormal, np.float32(0), values), tensor.name))
    return zeroed


def export_onnx(model, config: DefaultModelConfig, path: str | Path, record: dict) -> Path:
    """The fitted CNN as ONNX: input float32 (N, size, size, 3) RGB in [0, 1], output the 7 calibrated probabilities."""
    import io

    import torch

    try:
        import onnx
    except ImportError:
        raise MaskferError("exporting the model needs onnx: pip install 'maskfer[cnn]'") from None

    from maskfer.models.cnn import MEAN, STD

    temperature = float(record.get("temperature", 1.0))

    class Deployed(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net.eval()

        def forward(self, x):
            x = (x.permute(0, 3, 1, 2) - MEAN) / STD
            logits = self.net(x)
            if config.flip_test:  # a mirrored face shows the same expression: average the two readings
                logits = (logits + self.net(x.flip(3))) / 2
            return (logits / temperature).softmax(1)

    buffer = io.BytesIO()
    dummy = torch.zeros(1, config.size, config.size, 3)
    torch.onnx.export(Deployed(model.model_), dummy, buffer, dynamo=False, opset_version=17, input_names=["faces"],
                      output_names=["probabilities"], dynamic_axes={"faces": {0: "n"}, "probabilities": {0: "n"}})
    proto = onnx.load_from_string(buffer.getvalue())
    zero_subnormal_weights(proto)
    metadata = model_metadata(config.size, asdict(config), record["history"][-1].get("val_accuracy", ""), temperature)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return atomic_write_bytes(Path(path), proto.SerializeToString())
