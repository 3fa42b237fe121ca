"""Masked images per second on this machine, per mask type, at 256x256 and at KDEF's 562x762.

    python bench/mask_throughput.py              # 40 TCEP faces, both sizes, 1 and 2 workers

Landmarks are found once per photo and reused for every mask type, as `maskfer mask` does.
For each size it prints the median milliseconds of: reading the photo, finding its landmarks,
drawing each mask type, and encoding the PNG; then the end-to-end rate of `mask_dataset` over
all seven types (reading, landmarks, drawing, quality check, writing) with 1 and 2 workers,
from an empty cache.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import pandas as pd

from maskfer.core.images import read_image
from maskfer.data import read_dataset
from maskfer.core.parallel import ComputeConfig
from maskfer.core.cache import Cache
from maskfer.faces import find_faces
from maskfer.masks import MASK_TYPES, draw_mask
from maskfer.core.images import encode_image
from maskfer.masks.dataset import MaskingConfig, mask_dataset

TCEP = Path(__file__).resolve().parents[2] / "shared" / "data" / "tcep"
SIZES = {"256x256": (256, 256), "562x762": (562, 762)}


def median_ms(function, items) -> float:
    times = []
    for item in items:
        start = time.perf_counter()
        function(item)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=40)
    args = parser.parse_args()
    table = read_dataset(TCEP).table.sample(args.photos, random_state=0)
    for size_name, (width, height) in SIZES.items():
        with tempfile.TemporaryDirectory() as tmp:
            # The TCEP photos at this size, written once so that the run reads real files.
            rows = []
            for i, row in enumerate(table.itertuples()):
                image = cv2.resize(read_image(row.path), (width, height), interpolation=cv2.INTER_CUBIC)
                path = Path(tmp) / f"{i}.png"
                cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                rows.append({"path": str(path), "emotion": row.emotion, "subject": row.subject, "dataset": "tcep",
                             "angle": row.angle, "source": f"{size_name}-{i}"})
            sized = pd.DataFrame(rows)
            images = [read_image(p) for p in sized["path"]]
            find_faces(images[0])  # load the face models before timing
            faces = [find_faces(im)[0] for im in images]
            print(f"\n{size_name}: {len(images)} photos")
            read = median_ms(read_image, sized["path"])
            landmarks = median_ms(find_faces, images)
            masked = [draw_mask(im, f, "surgical", 1).image for im, f in zip(images, faces)]
            encode = median_ms(lambda im: encode_image(im, "jpg"), masked)
            print(f"  read photo      {read:6.1f} ms")
            print(f"  landmarks       {landmarks:6.1f} ms  (once per photo, shared by its mask types)")
            print(f"  encode jpg      {encode:6.1f} ms  (png: {median_ms(lambda im: encode_image(im, 'png'), masked):.1f} ms)")
            for kind in MASK_TYPES:
                draw = median_ms(lambda pair: draw_mask(pair[0], pair[1], kind, 1), list(zip(images, faces)))
                alone = 1000 / (read + landmarks + draw + encode)
                print(f"  draw {kind:9s}  {draw:6.1f} ms  -> {alone:6.1f} images/s on one worker if only this type is drawn")
            for jobs in (1, 2):
                with tempfile.TemporaryDirectory() as out:
                    start = time.perf_counter()
                    result = mask_dataset(sized, out, MaskingConfig(), Cache(Path(out) / "cache"), ComputeConfig(jobs=jobs))
                    seconds = time.perf_counter() - start
                ok = int((result["status"] == "ok").sum())
                print(f"  end to end, {jobs} worker(s): {len(result) / seconds:6.1f} masked images/s "
                      f"({len(result)} in {seconds:.1f} s, {ok} pass the quality rule)")


if __name__ == "__main__":
    main()
