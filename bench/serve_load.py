"""A bounded load check of `maskfer serve` on loopback: requests per second and latency of /api/predict.

    python bench/serve_load.py                  # 1 and 8 concurrent clients, 15 s each
    python bench/serve_load.py --seconds 5

Starts `maskfer serve` on a free loopback port in a child process, sends four different photos
(made from scikit-image's public-domain portrait) from 1 and then 8 client threads for a fixed
time, checks that every answer equals the one that photo got alone (no error, no mixed-up
answer), prints requests/s with median and p99 latency, and stops the server.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np
from PIL import Image


def photos() -> list[bytes]:
    from skimage import data

    import cv2

    base = np.ascontiguousarray(data.astronaut())
    variants = [base, np.ascontiguousarray(base[:, ::-1]), cv2.resize(base, (640, 640)), np.ascontiguousarray(base[40:, 60:])]
    out = []
    for image in variants:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", default="1,8")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "maskfer.cli", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        payloads = photos()
        with httpx.Client(timeout=60) as client:
            expected = [client.post(url + "/api/predict", files={"image": ("p.jpg", p)}).json() for p in payloads]
        print("| clients | requests | requests/s | median ms | p99 ms | errors | mixed-up answers |")
        print("|---|---|---|---|---|---|---|")
        for clients in (int(c) for c in args.clients.split(",")):
            latencies, errors, mixed = [], [0], [0]
            lock = threading.Lock()
            stop = time.perf_counter() + args.seconds

            def worker(offset: int):
                with httpx.Client(timeout=60) as client:
                    i = offset
                    while time.perf_counter() < stop:
                        start = time.perf_counter()
                        try:
                            answer = client.post(url + "/api/predict", files={"image": ("p.jpg", payloads[i % 4])})
                            ok, body = answer.status_code == 200, answer.json()
                        except httpx.HTTPError:
                            ok, body = False, None
                        elapsed = time.perf_counter() - start
                        with lock:
                            latencies.append(elapsed)
                            errors[0] += not ok
                            mixed[0] += ok and body != expected[i % 4]
                        i += 1

            started = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
            ms = 1000 * np.array(latencies)
            print(f"| {clients} | {len(ms)} | {len(ms) / wall:.1f} | {np.median(ms):.0f} | {np.percentile(ms, 99):.0f} | "
                  f"{errors[0]} | {mixed[0]} |", flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
