"""Batch throughput of `maskfer predict` against workers, on a folder of a few thousand photos.

    python bench/predict_batch.py [--photos 2000]

Makes `--photos` 512x512 JPEG photos from the demo portrait (shifted, scaled and mirrored crops, so no
two are alike; about one in six without a face) in a temporary folder, then runs `maskfer predict
FOLDER --out rows.csv` in a fresh process for each setting: one process on the runtimes' default
threads (what `predict` does without --jobs), one worker process on one thread, two such workers,
and a Dask LocalCluster of two. Prints photos per second, the speed-up over one one-thread worker,
and the peak memory (RSS) of the largest process the setting started (the predict process, or its
largest worker); checks that every setting wrote the same rows.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

SETTINGS = {  # name: (options, MASKFER_THREADS)
    "one process, default threads": ([], None),
    "1 worker, 1 thread": ([], "1"),
    "2 workers, 1 thread each": (["--jobs", "2"], None),
    "Dask LocalCluster, 2 workers": (["--jobs", "2", "--cluster", "local"], None),
}
RUN = r'''
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "code": done.returncode, "stderr": done.stderr[-500:],
                  "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
'''


def make_photos(folder: Path, n: int) -> None:
    from skimage import data

    portrait = np.ascontiguousarray(data.astronaut())
    rng = np.random.default_rng(0)
    for i in range(n):
        side = int(rng.integers(200, 512))
        x, y = int(rng.integers(0, 512 - side + 1)), int(rng.integers(0, 512 - side + 1))
        image = cv2.resize(portrait[y:y + side, x:x + side], (512, 512))
        if rng.random() < 0.5:
            image = image[:, ::-1]
        subfolder = folder / f"{i // 500:02d}"  # 500 a folder, as a collection would be
        subfolder.mkdir(exist_ok=True)
        cv2.imwrite(str(subfolder / f"photo{i:05d}.jpg"), cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "photos"
        folder.mkdir()
        make_photos(folder, args.photos)
        print(f"{args.photos} photos of 512x512 in {folder}\n")
        print("| setting | seconds | photos/s | against 1 worker, 1 thread | peak RSS, MB (largest process) | rows |")
        print("|---|---|---|---|---|---|")
        results, digests = {}, {}
        for name, (options, threads) in SETTINGS.items():
            out = Path(scratch) / f"rows-{len(results)}.csv"
            command = [sys.executable, "-m", "maskfer.cli", "predict", str(folder), "--out", str(out), *options]
            env = {**os.environ, "MASKFER_THREADS": threads} if threads else {k: v for k, v in os.environ.items()
                                                                               if k != "MASKFER_THREADS"}
            result = json.loads(subprocess.run([sys.executable, "-c", RUN, *command], capture_output=True, text=True,
                                               check=True, env=env).stdout.splitlines()[-1])
            if result["code"] != 0:
                raise SystemExit(f"{name}: exit status {result['code']}: {result['stderr']}")
            results[name] = result
            digests[name] = hashlib.sha256(out.read_bytes()).hexdigest()[:12]
            base = results.get("1 worker, 1 thread")
            ratio = f"{base['seconds'] / result['seconds']:.2f}x" if base else "-"
            rows = sum(1 for _ in open(out)) - 1
            print(f"| {name} | {result['seconds']:.1f} | {args.photos / result['seconds']:.0f} | {ratio} | "
                  f"{result['peak_mb']:.0f} | {rows} |", flush=True)
        same = len(set(digests.values())) == 1
        print(f"\nevery setting wrote the same rows: {'yes' if same else 'NO: ' + json.dumps(digests)}")


if __name__ == "__main__":
    main()
