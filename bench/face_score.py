"""Which detections are faces: the landmark model's face score, measured on faces and on pictures with none.

    python bench/face_score.py [--data ../shared/data] [--per-source 60]

Faces: photos of the five training sources (FER2013, RAF-DB, AffectNet-subset, TCEP, CK+) in six framings
each: as they are, behind a drawn mask, behind a template mask (the renderer training never sees), cut
tight to the face, shrunk to a third, and tilted by 25 degrees. Pictures without a face: scikit-image's
photos with no face in them, their crops and rotations, noise and flat colours, and the shared posed photos
with the face cut away (the largest strip of background beside it).

Each image's detections are kept whatever their face score, so that every rule can be scored from one pass:
a detection is a face if its face score reaches `t` or its detector score reaches `d` (or it is too small to
judge, `SMALLEST_JUDGED_FACE`), and an image left with none is a face crop if its crop score reaches `c`. The rule, fixed before measuring
(docs/faces.md): on the *choosing* half (the sources' validation photos, half of the face-free pictures),
the rule (t, c, d) with no face-free picture yielding a face and the highest mean share of faces found over
the (source, framing) cells; ties to the lower thresholds. The other half (the sources' evaluation photos,
the other face-free pictures, and the crops of the cat and the coffee cup that issue 32 counted) checks it.
"""

from __future__ import annotations

import argparse
import itertools
import zlib
from pathlib import Path

import cv2
import numpy as np

FRAMINGS = ("as is", "drawn mask", "template mask", "tight", "small", "tilted")
# The grid (widened after a first pass found no clean rule under 0.9 for lack of the detector's score; docs/faces.md).
FACE_SCORES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)
CROP_SCORES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
DETECTOR_SCORES = (0.7, 0.8, 0.9, 1.01)  # 1.01: the detector's score alone never keeps a face


def _rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)


def framings(image: np.ndarray, index: int) -> dict[str, np.ndarray]:
    """The photo in every framing of `FRAMINGS` (a masked or tight framing only where a face is found to place it)."""
    from maskfer.faces import cut_to_face, find_faces
    from maskfer.masks import MASK_TYPES, TEMPLATE_TYPES, draw_mask

    out = {"as is": image, "tilted": _rotated(image, 25.0 if index % 2 else -25.0)}
    if max(image.shape[:2]) >= 150:
        out["small"] = cv2.resize(image, None, fx=1 / 3, fy=1 / 3, interpolation=cv2.INTER_AREA)
    faces = find_faces(image)
    if faces:
        out["drawn mask"] = draw_mask(image, faces[0], MASK_TYPES[index % len(MASK_TYPES)], index).image
        out["template mask"] = draw_mask(image, faces[0], TEMPLATE_TYPES[index % len(TEMPLATE_TYPES)], index).image
        out["tight"] = cut_to_face(image, faces[0], (0.02, 0.02, 0.02, 0.02))[0]
    return out


def evidence(image: np.ndarray) -> tuple[list[tuple[float, float, int]], float]:
    """(face score, detector score, width) of every detection, and the whole image's crop score."""
    from maskfer.faces import FaceScoreRule, crop_landmarks, find_faces

    faces = find_faces(image, crop_fallback=False, rule=FaceScoreRule(0.0, 0.0, 0.0))
    return [(f.face_score, f.detector_score, max(f.width, f.height)) for f in faces], crop_landmarks(image).face_score


def faces_kept(found: list[tuple[float, float, int]], crop: float, rule: tuple[float, float, float]) -> int:
    """Faces kept under the rule (t, c, d): a detection whose face score reaches t or detector score reaches d (or
    too small to judge); else the whole image, if its crop score reaches c."""
    from maskfer.faces.landmarks import SMALLEST_JUDGED_FACE

    t, c, d = rule
    kept = sum(score >= t or detector >= d or width < SMALLEST_JUDGED_FACE for score, detector, width in found)
    return kept if kept else int(crop >= c)


def face_cells(data: Path, part: str, per_source: int) -> dict[tuple[str, str], list]:
    """(source, framing) -> evidence of each image of that source's `part` ("validation" or "evaluation")."""
    from maskfer.core.images import read_image
    from maskfer.training.recipe import RECIPES
    from maskfer.training.splits import source_parts

    cells = {}
    for source in RECIPES["v4"].sources:
        table = source_parts(source, data, RECIPES["v4"])[part]
        table = table.sample(min(per_source, len(table)), random_state=0)
        for index, path in enumerate(table["path"]):
            for framing, image in framings(read_image(path), index).items():
                cells.setdefault((source, framing), []).append(evidence(np.ascontiguousarray(image)))
        print(f"  {part}: {source} done", flush=True)
    return cells


def cat_and_cup_crops(seed: int = 0) -> dict[str, np.ndarray]:
    """Issue 32's crops: scikit-image's cat and coffee cup at a random scale of 0.45-1, a third rotated up to 25 degrees."""
    from skimage import data

    rng, crops = np.random.default_rng(seed), {}
    for name in ("chelsea", "coffee"):
        picture = getattr(data, name)()
        crops[name] = picture
        for i in range(15):
            crops[f"{name} crop {i}"] = random_crop(picture, rng, turned=i % 3 == 0)
    return crops


def random_crop(picture: np.ndarray, rng: np.random.Generator, turned: bool) -> np.ndarray:
    """A crop at a random scale of 0.45-1 and place, `turned` by up to 25 degrees either way."""
    height, width = picture.shape[:2]
    scale = rng.uniform(0.45, 1.0)
    h, w = int(height * scale), int(width * scale)
    y, x = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
    crop = picture[y:y + h, x:x + w]
    return np.ascontiguousarray(_rotated(crop, rng.uniform(-25, 25)) if turned else crop)


def backgrounds(data: Path, per_source: int) -> dict[str, np.ndarray]:
    """The shared posed photos with the face cut away: the largest strip beside the face (its box grown by a fifth)."""
    from maskfer.core.images import read_image
    from maskfer.data.readers import read_dataset
    from maskfer.faces import find_faces

    out = {}
    for folder in ("kdef-sample", "tcep", "ckplus"):
        table = read_dataset(data / folder).table.sample(per_source, random_state=1)
        for path in table["path"]:
            image = read_image(path)
            faces = find_faces(image)
            if not faces:
                continue
            x0, y0, x1, y1 = faces[0].box
            grow_x, grow_y = (x1 - x0) // 5, (y1 - y0) // 5
            x0, y0, x1, y1 = max(0, x0 - grow_x), max(0, y0 - grow_y), x1 + grow_x, y1 + grow_y
            strips = [image[:, :x0], image[:, x1:], image[:y0], image[y1:]]
            strip = max(strips, key=lambda s: min(s.shape[:2]))
            if min(strip.shape[:2]) >= 48:
                out[f"{folder}/{Path(path).name} background"] = np.ascontiguousarray(strip)
    return out


def face_free(data: Path, per_source: int) -> dict[str, dict[str, np.ndarray]]:
    """{"choose", "check"} -> face-free pictures, split by a hash of each name; the cat and cup crops only check."""
    from crop_fallback import without_faces

    pictures = without_faces()
    rng = np.random.default_rng(2)
    for name, picture in list(pictures.items()):
        if name.startswith(("noise", "flat")):
            continue
        for i in range(4):
            pictures[f"{name} crop {i}"] = random_crop(picture, rng, turned=i % 2 == 1)
    pictures.update(backgrounds(data, per_source))
    halves = {"choose": {}, "check": {}}
    for name, picture in pictures.items():
        halves["choose" if zlib.crc32(name.encode()) % 2 else "check"][name] = picture
    halves["check"].update(cat_and_cup_crops())
    return halves


def score(cells: dict, pictures: list, rule: tuple) -> tuple[float, float, dict]:
    """(mean % of faces found over the cells, false faces per 100 face-free pictures, % found per cell)."""
    found = {cell: 100 * np.mean([faces_kept(f, crop, rule) > 0 for f, crop in images]) for cell, images in cells.items()}
    false = 100 * sum(faces_kept(f, crop, rule) for f, crop in pictures) / len(pictures)
    return float(np.mean(list(found.values()))), false, found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--per-source", type=int, default=60)
    args = parser.parse_args()
    data = Path(args.data)
    halves = face_free(data, args.per_source)
    pictures = {half: [evidence(p) for p in named.values()] for half, named in halves.items()}
    cells = {half: face_cells(data, part, args.per_source) for half, part in (("choose", "validation"), ("check", "evaluation"))}
    print(f"\nface-free pictures: {len(pictures['choose'])} choosing, {len(pictures['check'])} checking "
          f"(with {len(cat_and_cup_crops())} of the cat and the cup)")
    results = {rule: {half: score(cells[half], pictures[half], rule) for half in halves}
               for rule in itertools.product(FACE_SCORES, CROP_SCORES, DETECTOR_SCORES)}
    clean = [rule for rule in results if results[rule]["choose"][1] == 0]
    chosen = max(clean, key=lambda rule: (round(results[rule]["choose"][0], 6), -rule[0], -rule[1], -rule[2]))
    old = (0.0, 0.5, 1.01)  # before face scores: every detection kept, a crop at 0.5
    best = sorted(clean, key=lambda rule: -results[rule]["choose"][0])[:12]
    print("\n| face score t | crop score c | detector score d | faces found %, choosing | false faces per 100, choosing | "
          "faces found %, checking | false faces per 100, checking |\n|---|---|---|---|---|---|---|")
    for rule in [old, *dict.fromkeys(best)]:
        (found, false, _), (found_check, false_check, _) = results[rule]["choose"], results[rule]["check"]
        d = "never" if rule[2] > 1 else rule[2]
        print(f"| {rule[0]} | {rule[1]} | {d} | {found:.1f} | {false:.1f} | {found_check:.1f} | {false_check:.1f} |")
    print(f"\n{len(clean)} of {len(results)} rules give no false face on the choosing half; "
          f"chosen by the rule: face score {chosen[0]}, crop score {chosen[1]}, detector score {chosen[2]}")
    print("\n| source | framing | faces found % at the chosen rule (checking) | before face scores |\n|---|---|---|---|")
    for (source, framing), share in results[chosen]["check"][2].items():
        print(f"| {source} | {framing} | {share:.1f} | {results[old]['check'][2][source, framing]:.1f} |")
    cat_cup = [evidence(p) for p in cat_and_cup_crops().values()]
    for rule in (old, chosen):
        print(f"cat and cup crops read as a face under {rule}: {sum(faces_kept(f, crop, rule) > 0 for f, crop in cat_cup)} of {len(cat_cup)}")


if __name__ == "__main__":
    main()
