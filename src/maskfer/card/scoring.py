"""The model card's scores: the shipped model (and any other) on every evaluation set.

    maskfer model-card --data ../shared/data            # scores, then writes MODEL_CARD.md
    maskfer model-card --compare old.onnx:old-check.json  # and another model on the very same crops

Evaluation sets, never trained on (see `recipe.training_table`): FER2013 PrivateTest, the
held-out people of TCEP and CK+, the KDEF sample. Each unmasked; masked by the drawn renderer (the
one training sees); and masked by the template renderer (`maskfer.masks.templates`, never seen in
training). FER2013 photos get one mask type each, chosen from the photo's name; the posed sets get
every type. Every image goes through the prediction path (`find_faces`, the largest face, its
aligned crop; the whole image as the face where none is found), and every model compared reads the
same crop. Scores: accuracy, macro-F1, recall per class, expected calibration error, confusion
matrix, the mask-worn check's "masked" share; for FER2013 also without the PrivateTest photos that
duplicate a training photo, and against the FER+ majority labels.

Tight crops: the held-out TCEP people and the KDEF sample, unmasked and behind each renderer's
masks, each photo cut to its face with a margin of -15% to +5% a side (so the chin or brow is
often cut, and the aligned crop leaves the photo), as a user's tight crop is. They are found
again by the prediction path on the cut photo. Training's tight views use other margins and seeds.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import maskfer
from maskfer.core.cache import Cache, stable_key
from maskfer.core.files import atomic_write_bytes
from maskfer.core.images import content_hash, encode_image, read_image
from maskfer.core.parallel import ComputeConfig
from maskfer.core.progress import counted
from maskfer.data.readers import ferplus_labels, read_dataset
from maskfer.data.sampling import held_out_subjects
from maskfer.evaluation.metrics import expected_calibration_error, scores as study_scores
from maskfer.labels import EMOTIONS
from maskfer.masks.dataset import MaskingConfig, mask_dataset, mask_seed
from maskfer.masks.draw import MASK_TYPES
from maskfer.masks.templates import TEMPLATE_TYPES
from maskfer.training.recipe import DefaultModelConfig
from maskfer.training.splits import fer_evaluation_set

RENDERERS = {"drawn": MASK_TYPES, "template": TEMPLATE_TYPES}
TIGHT_SETS = ("tcep", "kdef-sample")
TIGHT_MARGINS = (-0.15, 0.05)  # of the face's size, each side: cut to the face and often into it


@dataclass(frozen=True)
class CardConfig:
    """Which images the card scores; saved in its results."""

    data: str = "../shared/data"
    limit: int | None = None  # photos per set, before masking (a quick look)
    seed: int = 0


def evaluation_sets(config: CardConfig, cache: Cache, jobs: int = 2, say=print) -> dict[str, pd.DataFrame]:
    """name -> table (path, emotion, mask_type, mask_renderer, duplicate, ferplus) of images to score."""
    root = Path(config.data)
    holdout = DefaultModelConfig().holdout_fraction
    fer = read_dataset(root / "fer2013").table
    fer = fer.assign(ferplus=ferplus_labels(fer, root / "fer2013"))
    duplicates = pd.read_csv(root / "fer2013" / "test_duplicates_of_train.csv")
    dup_keys = set(zip(duplicates["folder"], duplicates["name"]))
    fer = fer[fer_evaluation_set(fer)]
    fer = fer.assign(duplicate=[(Path(p).parent.name, Path(p).name) in dup_keys for p in fer["path"]])
    bases = {"fer2013-private": fer}
    for name in ("tcep", "ckplus"):
        table = read_dataset(root / name).table
        bases[name] = table[held_out_subjects(table["subject"], holdout)]
    bases["kdef-sample"] = read_dataset(root / "kdef-sample").table
    sets = {}
    for name, table in bases.items():
        if config.limit:
            table = table.sample(min(config.limit, len(table)), random_state=config.seed)
        table = table.reset_index(drop=True)
        for column, default in (("duplicate", False), ("ferplus", None)):
            if column not in table:
                table[column] = default
        sets[f"{name} unmasked"] = table.assign(mask_type="none", mask_renderer="none")
        for renderer, kinds in RENDERERS.items():
            say(f"masking {name} ({renderer} renderer)")
            if name == "fer2013-private":  # one type per photo, chosen from its name: all types about equally often
                chosen = np.array([kinds[mask_seed(config.seed, s, f"evaluation-{renderer}") % len(kinds)] for s in table["source"]])
                groups = [(table[chosen == kind], (kind,)) for kind in kinds]
            else:
                groups = [(table, kinds)]
            parts = []
            for rows, types in groups:
                masking = MaskingConfig(types=types, seed=config.seed)
                out = cache.root / "masked-images" / stable_key(name, "evaluation", asdict(masking))
                parts.append(mask_dataset(rows, out, masking, cache, ComputeConfig(jobs=jobs)))
            masked = pd.concat(parts, ignore_index=True)
            masked = masked[masked["status"] == "ok"].assign(mask_renderer=renderer)
            sets[f"{name} masked ({renderer})"] = masked.reset_index(drop=True)
    for name in TIGHT_SETS:
        for kind in ("unmasked", "masked (drawn)", "masked (template)"):
            sets[f"{name} tight {kind}"] = tight_versions(sets[f"{name} {kind}"], cache, config.seed)
    return sets


def tight_versions(table: pd.DataFrame, cache: Cache, seed: int = 0) -> pd.DataFrame:
    """Each image cut tight to its face (`TIGHT_MARGINS` a side, random per photo), written once into the cache."""
    from maskfer.faces import FACE_DATASETS, cached_faces, cut_to_face

    out = cache.root / "tight-images" / stable_key("evaluation", seed, TIGHT_MARGINS)
    paths = []
    for path, source in zip(table["path"], table["source"]):
        target = out / f"{content_hash(path)}.png"
        if not target.is_file():
            image = read_image(path)
            faces = cached_faces(image, cache, rule=FACE_DATASETS, max_faces=1)
            if not faces:
                paths.append(None)
                continue
            margins = np.random.default_rng(mask_seed(seed, source, "tight-evaluation")).uniform(*TIGHT_MARGINS, 4)
            atomic_write_bytes(target, encode_image(cut_to_face(image, faces[0], margins)[0], "png"))
        paths.append(str(target))
    found = np.array([p is not None for p in paths])
    return table.assign(path=paths)[found].reset_index(drop=True)


class ShippedModels:
    """One or more ONNX expression models and mask checks, reading the same crops."""

    def __init__(self, models: dict[str, tuple[str | None, str | None]]):
        from maskfer.prediction.model import load_mask_check, load_model

        self.models = {label: (load_model(model), load_mask_check(check)) for label, (model, check) in models.items()}

    def read(self, rgb: np.ndarray) -> tuple[bool, dict[str, tuple[np.ndarray, float]]]:
        """(a face was found, {label: (seven probabilities, mask-worn probability)})."""
        from maskfer.faces import aligned_crop, crop_landmarks, find_faces

        faces = find_faces(rgb, max_faces=1)
        face = faces[0] if faces else crop_landmarks(rgb)  # one face per image: the whole image where none is found
        out = {}
        for label, (model, check) in self.models.items():
            crop, check_crop = (aligned_crop(rgb, face, m.size, m.border)[None] for m in (model, check))
            out[label] = (model.probabilities(crop)[0], float(check.probability(check_crop)[0]))
        return bool(faces), out


def scores(probabilities: np.ndarray, y: np.ndarray, said_masked: np.ndarray, table: pd.DataFrame) -> dict:
    """The study's scores (`evaluation.metrics.scores`: accuracy, macro-F1, recall, confusion) and the card's extras."""
    predicted = probabilities.argmax(axis=1)
    out = {"n": int(len(y)), **study_scores(y, predicted),
           "ece": expected_calibration_error(probabilities, y), "said_masked": float(np.mean(said_masked)),
           "by_mask_type": {k: float(np.mean(predicted[(table["mask_type"] == k).to_numpy()] == y[(table["mask_type"] == k).to_numpy()]))
                            for k in sorted(table["mask_type"].unique())}}
    if table["duplicate"].any():
        keep = ~table["duplicate"].to_numpy(bool)
        out["accuracy_without_duplicates"] = float(np.mean(predicted[keep] == y[keep]))
        out["n_without_duplicates"] = int(keep.sum())
    ferplus = table["ferplus"].to_numpy(object)
    has = np.array([isinstance(v, str) for v in ferplus])
    if has.any():
        labels = np.array([EMOTIONS.index(v) for v in ferplus[has]])
        out["accuracy_ferplus"] = float(np.mean(predicted[has] == labels))
        out["n_ferplus"] = int(has.sum())
    return out


def evaluate_models(config: CardConfig, models: dict[str, tuple[str | None, str | None]], cache: Cache | None = None,
                    jobs: int = 2, say=print, show: bool = True) -> dict:
    """Every evaluation set scored for every model (label -> (ONNX path or None, mask check path or None)); `show`
    counts each set's images on stderr (`maskfer.core.progress.counted`)."""
    cache = cache if cache is not None else Cache()
    started = time.perf_counter()
    sets = evaluation_sets(config, cache, jobs, say)
    readers = ShippedModels(models)
    results = {}
    for name, table in sets.items():
        found, per_model = [], {label: ([], []) for label in models}
        with counted(name, len(table), show) as advance:
            for path in table["path"]:
                face_found, read = readers.read(read_image(path))
                found.append(face_found)
                for label, (probabilities, worn) in read.items():
                    per_model[label][0].append(probabilities)
                    per_model[label][1].append(worn >= 0.5)
                advance()
        y = table["emotion"].map(EMOTIONS.index).to_numpy()
        results[name] = {label: {**scores(np.array(p), y, np.array(w), table), "face_found": float(np.mean(found))}
                         for label, (p, w) in per_model.items()}
        first = results[name][next(iter(models))]
        say(f"{name:36s} n={first['n']:5d} " + "  ".join(
            f"{label}: {100 * r['accuracy']:.1f}% ECE {r['ece']:.3f} masked {100 * r['said_masked']:.0f}%"
            for label, r in results[name].items()))
    return {"maskfer_version": maskfer.__version__, "kind": "model_card", "config": asdict(config),
            "models": {label: {"model": m, "mask_check": c} for label, (m, c) in models.items()},
            "results": results, "seconds": time.perf_counter() - started}


