"""Record the landmarks of MediaPipe's own face-detection graphs, for `tests/test_faces.py` to hold the face path to.

    python tests/data/record_landmarks.py   # needs mediapipe==0.10.21 and ../shared/data

Run once, at commit 4a5df6f, with that commit's `maskfer/faces/landmarks.py` (MediaPipe's
`solutions.face_detection` in front of the same landmark model) copied beside this script as
`old_landmarks.py`; it writes `recorded-landmarks.npz`: for each photo, keyed by (folder, name), the
landmarks of every face found. Only numbers are kept, never an image of the data.
"""

from pathlib import Path

import numpy as np

import old_landmarks  # the face path of commit 4a5df6f
from maskfer.core.images import read_image
from maskfer.data import read_dataset

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "data"
PHOTOS_PER_SET = {"tcep": 6, "kdef-sample": 6, "ckplus": 6, "fer2013": 12}


def photos() -> list[tuple[str, str]]:
    """(folder under ../shared/data, path relative to it), a seeded sample of each set."""
    chosen = []
    for folder, n in PHOTOS_PER_SET.items():
        table = read_dataset(SHARED / folder).table.sample(n, random_state=7)
        chosen += [(folder, str(Path(p).relative_to(SHARED / folder))) for p in table["path"]]
    return chosen


def main():
    keys, landmarks = [], []
    for folder, name in photos():
        for face in old_landmarks.find_faces(read_image(SHARED / folder / name)):
            keys.append(f"{folder}/{name}")
            landmarks.append(face.landmarks)
    np.savez_compressed(HERE / "recorded-landmarks.npz", keys=np.array(keys), landmarks=np.array(landmarks, np.float32))
    print(f"{len(keys)} faces from {len(set(keys))} photos")


if __name__ == "__main__":
    main()
