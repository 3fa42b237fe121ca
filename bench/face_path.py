"""The one face path, checked in full: training crops and prediction crops of the same photos.

    python bench/face_path.py            # TCEP, CK+, the KDEF sample, 200 FER2013 test photos
    python bench/face_path.py --fer 50   # fewer FER2013 photos

For every photo, the shipped model's training path (`maskfer.training.crops.face_crops`, through
the landmark cache) and the prediction path (`maskfer.detect`, then the aligned crop that
`maskfer.predict` classifies) are run; prints, per set, how many photos each found a face in and
how many gave identical landmarks and identical crops (and the largest pixel difference where not).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import maskfer
from maskfer.core.cache import Cache
from maskfer.core.images import read_image
from maskfer.data import read_dataset
from maskfer.faces import aligned_crop, find_faces
from maskfer.training.crops import FaceCropConfig, face_crops

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fer", type=int, default=200, help="FER2013 test photos (a seeded sample)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    fer = read_dataset(DATA / "fer2013").table
    sets = {"tcep": read_dataset(DATA / "tcep").table, "ckplus": read_dataset(DATA / "ckplus").table,
            "kdef-sample": read_dataset(DATA / "kdef-sample").table,
            f"fer2013 test ({args.fer})": fer[fer["split"] == "test"].sample(args.fer, random_state=0)}
    print("| set | photos | face found (training / prediction) | identical landmarks | identical crops | largest crop difference |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        cache = Cache(folder)
        for name, table in sets.items():
            started = time.perf_counter()
            crops, status, _ = face_crops(table["path"], table["source"], FaceCropConfig(size=64), cache, args.jobs)
            found_train = found_predict = same_landmarks = same_crops = 0
            worst = 0
            for ref, crop, ok in zip(table["path"], crops, status):
                image = read_image(ref)
                predicted = maskfer.detect(image, max_faces=1)
                found_train += ok == "ok"
                found_predict += bool(predicted)
                if ok == "ok" and predicted:
                    (face,) = find_faces(image, max_faces=1)
                    same_landmarks += bool(np.array_equal(face.landmarks, predicted[0].landmarks))
                    served = aligned_crop(image, face, 64)
                    same_crops += bool(np.array_equal(served, crop))
                    worst = max(worst, int(np.abs(served.astype(int) - crop).max()))
            print(f"| {name} | {len(table)} | {found_train} / {found_predict} | {same_landmarks} | {same_crops} | {worst} |"
                  f"  ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
