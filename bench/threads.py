"""`maskfer.predict` on one and on two runtime threads, side by side, each in a fresh process.

    python bench/threads.py

Median ms of 60 calls on three photos built from the demo portrait (one face, a 48-pixel face, five
faces), with MASKFER_THREADS=1 and =2. Run it on an idle machine, and again while another job holds a
core, to choose the setting for your machine.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

RUN = r'''
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from predict import scene
import maskfer
medians = []
for image in (scene([260]), scene([100]), scene([150] * 5)):
    maskfer.predict(image)
    times = []
    for _ in range(60):
        start = time.perf_counter()
        maskfer.predict(image)
        times.append(time.perf_counter() - start)
    medians.append(round(1000 * float(np.median(times)), 1))
print(json.dumps(medians))
'''


def main():
    print("| MASKFER_THREADS | one face ms | 48-pixel face ms | five faces ms |")
    print("|---|---|---|---|")
    for threads in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", RUN, str(Path(__file__).parent)], capture_output=True, text=True,
                              env={**os.environ, "MASKFER_THREADS": threads}, check=True)
        print(f"| {threads} | " + " | ".join(map(str, json.loads(done.stdout.splitlines()[-1]))) + " |", flush=True)


if __name__ == "__main__":
    main()
