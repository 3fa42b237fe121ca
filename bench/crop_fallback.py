"""Tight crops of masked faces that the detectors miss: how many the landmark model reads as a face, and non-faces.

    python bench/crop_fallback.py [--data ../shared/data] [--per-set 600]

The model card's tight sets (the held-out TCEP people and the KDEF sample cut to the face, often
into it, behind drawn and template masks; `maskfer.card.evaluation_sets`) and FER2013 PrivateTest
behind template masks, up to `--per-set` images each (a seeded sample). For each image: are faces
detected (`find_faces` without its crop fallback), and where not, how face-like the landmark model
finds the whole image (`crop_landmarks(...).face_score`) at `FACE_DATASETS.min_crop_score` and above. Then pictures
without a face (scikit-image's samples, noise, flat colours): none may reach it. This is the
measurement behind `find_faces` trying every image without a detection as a face crop (face path 4).
"""

from __future__ import annotations

import argparse

import numpy as np

SETS = ["tcep tight masked (drawn)", "tcep tight masked (template)", "kdef-sample tight masked (drawn)",
        "kdef-sample tight masked (template)", "tcep tight unmasked", "fer2013-private masked (template)"]
PICTURES = ["astronaut", "coffee", "chelsea", "cat", "rocket", "coins", "camera", "horse", "hubble_deep_field",
            "immunohistochemistry", "logo", "moon", "page", "text", "checkerboard", "brick", "grass", "gravel", "retina"]


def without_faces(seed: int = 1) -> dict[str, np.ndarray]:
    """Pictures with no face in them, as RGB uint8 (`astronaut` and `camera` hold one and are left out)."""
    from skimage import data

    pictures = {}
    for name in PICTURES:
        if name in ("astronaut", "camera") or not hasattr(data, name):
            continue
        image = np.asarray(getattr(data, name)())
        image = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image[:, :, :3]
        pictures[name] = np.ascontiguousarray(image).astype(np.uint8)
    rng = np.random.default_rng(seed)
    for i in range(20):
        pictures[f"noise {i}"] = rng.integers(0, 255, (rng.integers(100, 600), rng.integers(100, 600), 3), dtype=np.uint8)
        pictures[f"flat {i}"] = np.full((200, 300, 3), rng.integers(0, 255), np.uint8)
    return pictures


def main():
    from maskfer.card import CardConfig, evaluation_sets
    from maskfer.core.cache import Cache
    from maskfer.core.images import read_image
    from maskfer.faces import crop_landmarks, find_faces
    from maskfer.faces.landmarks import FACE_DATASETS

    MIN_CROP_SCORE = FACE_DATASETS.min_crop_score

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--per-set", type=int, default=600)
    args = parser.parse_args()
    sets = evaluation_sets(CardConfig(data=args.data), Cache(), jobs=1, say=lambda line: None)
    print(f"| set | images | detected % | missed | of those, face-like (score >= {MIN_CROP_SCORE}) | found with the fallback % |")
    print("|---|---|---|---|---|---|")
    for name in SETS:
        paths = list(sets[name]["path"])
        if len(paths) > args.per_set:
            paths = list(np.random.default_rng(0).choice(paths, args.per_set, replace=False))
        detected, scores = 0, []
        for path in paths:
            image = read_image(path)
            if find_faces(image, crop_fallback=False):
                detected += 1
            else:
                scores.append(crop_landmarks(image).face_score)
        rescued = int(np.sum(np.array(scores) >= MIN_CROP_SCORE))
        print(f"| {name} | {len(paths)} | {100 * detected / len(paths):.1f} | {len(scores)} | {rescued} | "
              f"{100 * (detected + rescued) / len(paths):.1f} |", flush=True)
    scores = {name: crop_landmarks(picture).face_score for name, picture in without_faces().items()}
    print(f"\npictures without a face: {len(scores)}; highest score {max(scores.values()):.2f} "
          f"({max(scores, key=scores.get)}); at {MIN_CROP_SCORE} or above: {sum(s >= MIN_CROP_SCORE for s in scores.values())}")


if __name__ == "__main__":
    main()
