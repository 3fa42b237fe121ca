"""The smallest face the shipped model can read: evaluation photos shrunk until accuracy falls to chance.

    python bench/smallest_face.py [--data ../shared/data] [--per-source 150]

Evaluation photos (never trained on or chosen on) of TCEP's and CK+'s held-out people and RAF-DB's test
part, unmasked and behind a drawn mask, each shrunk so that its face (the landmarks' box, found at full
size) is W pixels wide, for W in `WIDTHS`. At each W the photo goes through the face path (`find_faces`,
as `maskfer.predict` runs it) and its largest face is read by the shipped model whatever its size. Printed:
faces found %, and balanced accuracy (mean per-class recall; chance is 1/7) over the photos whose face was
found, with its standard error over photos. The smallest readable face (`SMALLEST_READABLE_FACE` in
`maskfer.prediction.api`) is the smallest W at which, at every W from it up, both views read above chance
by more than two standard errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

WIDTHS = (8, 10, 12, 14, 16, 20, 24, 32, 48)
SOURCES = ("tcep", "ckplus", "rafdb")


def readings(data: Path, per_source: int) -> dict[str, dict[int, list[tuple[str, str | None]]]]:
    """view -> W -> (true expression, read expression or None where no face was found) per photo."""
    from maskfer.core.images import read_image
    from maskfer.faces import FACE_DATASETS, aligned_crop, find_faces
    from maskfer.masks import MASK_TYPES, draw_mask
    from maskfer.prediction.model import load_model
    from maskfer.training.recipe import RECIPES
    from maskfer.training.splits import source_parts

    model = load_model()
    out = {"unmasked": {}, "drawn mask": {}}
    for source in SOURCES:
        table = source_parts(source, data, RECIPES["v4"])["evaluation"]
        table = table.sample(min(per_source, len(table)), random_state=0)
        for index, (path, emotion) in enumerate(zip(table["path"], table["emotion"])):
            image = read_image(path)
            faces = find_faces(image, rule=FACE_DATASETS)
            if not faces:
                continue
            views = {"unmasked": image, "drawn mask": draw_mask(image, faces[0], MASK_TYPES[index % len(MASK_TYPES)], index).image}
            for view, picture in views.items():
                for width in WIDTHS:
                    scale = width / faces[0].width
                    if scale >= 1:
                        continue
                    small = np.ascontiguousarray(cv2.resize(picture, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
                    found = find_faces(small)
                    read = None
                    if found:
                        probabilities = model.probabilities(aligned_crop(small, found[0], model.size, model.border)[None])[0]
                        read = model.classes[int(np.argmax(probabilities))]
                    out[view].setdefault(width, []).append((emotion, read))
        print(f"  {source} done", flush=True)
    return out


def balanced_accuracy_and_error(pairs: list[tuple[str, str]], seed: int = 0) -> tuple[float, float]:
    """Balanced accuracy % and its standard error over photos (a bootstrap of 200 draws)."""
    from maskfer.evaluation.metrics import balanced_accuracy

    truth, read = np.array([t for t, _ in pairs]), np.array([r for _, r in pairs])
    rng = np.random.default_rng(seed)
    draws = [balanced_accuracy(truth[i], read[i]) for i in (rng.integers(0, len(pairs), len(pairs)) for _ in range(200))]
    return 100 * balanced_accuracy(truth, read), 100 * float(np.std(draws))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--per-source", type=int, default=150)
    args = parser.parse_args()
    results = readings(Path(args.data), args.per_source)
    chance = 100 / 7
    print("\n| face width px | view | photos | faces found % | balanced accuracy % (chance 14.3) | standard error |\n|---|---|---|---|---|---|")
    above = {}
    for width in WIDTHS:
        for view, by_width in results.items():
            pairs = by_width.get(width, [])
            read = [(t, r) for t, r in pairs if r is not None]
            if not read:
                continue
            accuracy, error = balanced_accuracy_and_error(read)
            above[width, view] = accuracy - chance > 2 * error
            print(f"| {width} | {view} | {len(pairs)} | {100 * len(read) / len(pairs):.1f} | {accuracy:.1f} | {error:.1f} |")
    readable = [w for w in WIDTHS if all(above.get((u, v), False) for u in WIDTHS if u >= w for v in results)]
    print(f"\nsmallest readable face: {min(readable) if readable else 'none'} px")


if __name__ == "__main__":
    main()
