"""Build the head-pose reference face (`src/maskfer/faces/reference-face.npy`) from frontal photos.

    python bench/reference_face.py [--data ../shared/data]

The mean normalised landmark shape (468 x 3) of every face the detector finds in the KDEF sample
(all straight views) and in CK+ (frontal, camera at eye level): a frontal head at eye level is what
pose (0, 0, 0) means. Prints the median pose of each set read against the new reference, and of the
demo portrait. Only the mean shape is written, never an image of the data.
"""

import argparse
import io
from pathlib import Path

import numpy as np
from rich.progress import track

from maskfer.core.files import atomic_write_bytes
from maskfer.core.images import read_image
from maskfer.data.readers import read_dataset
from maskfer.faces import find_faces
from maskfer.faces.pose import REFERENCE_FILE, head_pose as pose, mean_shape, normalised, reference_face, rotation_onto

ROOT = Path(__file__).resolve().parents[1]
SETS = ("kdef-sample", "ckplus")


def shapes(folder: Path) -> list[np.ndarray]:
    """Landmarks of every face found by the detector (not the crop fallback), one per photo."""
    found = []
    for path in track(list(read_dataset(folder).table["path"]), f"landmarks of {folder.name}"):
        faces = find_faces(read_image(path), max_faces=1)
        if faces and faces[0].source == "detector":
            found.append(faces[0].landmarks)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    by_set = {name: shapes(args.data / name) for name in SETS}
    reference = mean_shape([s for found in by_set.values() for s in found])
    buffer = io.BytesIO()
    np.save(buffer, reference)
    atomic_write_bytes(ROOT / "src" / "maskfer" / "faces" / REFERENCE_FILE, buffer.getvalue())

    reference_face.cache_clear()
    for name, found in by_set.items():
        poses = np.array([pose(s) for s in found])
        print(f"{name}: {len(found)} faces; median yaw / pitch / roll {np.round(np.median(poses, axis=0), 1).tolist()}, "
              f"5th-95th percentile of pitch {np.round(np.percentile(poses[:, 1], [5, 95]), 1).tolist()}")
    from skimage import data

    print("demo portrait:", np.round(pose(find_faces(data.astronaut())[0].landmarks), 1).tolist())
    print("rotation between the two sets' own mean shapes (degrees):",
          round(float(np.degrees(np.arccos((np.trace(rotation_onto(normalised(mean_shape(by_set[SETS[0]])),
                                                                   mean_shape(by_set[SETS[1]]))) - 1) / 2))), 1))


if __name__ == "__main__":
    main()
