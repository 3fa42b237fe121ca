"""Pixel features with 1 and 2 workers (`--jobs`), each from an empty cache.

    python bench/features_jobs.py              # the study's 64x64 features of FER2013's test split,
                                               # and 64x64 aligned crops of TCEP (landmarks per photo)
    python bench/features_jobs.py --repeat 1

Prints the median seconds of `--repeat` runs per setting and the speed-up of 2 workers over 1.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from maskfer.core.cache import Cache
from maskfer.core.parallel import ComputeConfig
from maskfer.data import read_dataset
from maskfer.features.pixels import PixelConfig, pixel_features

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def seconds(refs, config: PixelConfig, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        X, ok, _ = pixel_features(refs, config, Cache(folder), compute=ComputeConfig(jobs=jobs))
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fer = read_dataset(DATA / "fer2013").table
    cases = [("FER2013 test, 64x64 full image", fer[fer["split"] == "test"]["path"].tolist(), PixelConfig()),
             ("TCEP, 64x64 aligned crop", read_dataset(DATA / "tcep").table["path"].tolist(), PixelConfig(crop="aligned"))]
    print("| features | images | 1 worker, s | 2 workers, s | speed-up |")
    print("|---|---|---|---|---|")
    for name, refs, config in cases:
        median = {jobs: statistics.median(seconds(refs, config, jobs) for _ in range(args.repeat)) for jobs in (1, 2)}
        print(f"| {name} | {len(refs)} | {median[1]:.1f} | {median[2]:.1f} | {median[1] / median[2]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
