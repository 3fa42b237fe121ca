"""`maskfer predict` at scale: worker processes and a Dask cluster give the rows one process gives, in the same
order, and a batch killed by a signal resumes to the same rows with every file once."""

import csv
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from maskfer.cli import app


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """60 small photos in two folders: the portrait cut and scaled in various ways, some without a face."""
    from skimage import data

    portrait = np.ascontiguousarray(data.astronaut())
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(60):
        x, y, side = int(rng.integers(0, 200)), int(rng.integers(0, 120)), int(rng.integers(160, 300))
        image = cv2.resize(portrait[y:y + side, x:x + side], (160, 160))
        (folder / f"set{i % 2}").mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"set{i % 2}" / f"p{i:02d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return folder


def predict(*args):
    return CliRunner().invoke(app, ["predict", *map(str, args)])


@pytest.fixture(scope="module")
def one_worker(photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "rows.csv"
    result = predict(photos, "--out", out)
    assert result.exit_code == 0, result.output
    return out.read_text()


@pytest.mark.slow
def test_two_workers_give_the_rows_of_one_in_the_same_order(photos, one_worker, tmp_path):
    result = predict(photos, "--out", tmp_path / "rows.csv", "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rows.csv").read_text() == one_worker
    assert len(list(csv.DictReader(open(tmp_path / "rows.csv")))) >= 60


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_rows_of_one_process(photos, one_worker, tmp_path):
    result = predict(photos, "--out", tmp_path / "rows.csv", "--jobs", "2", "--cluster", "local")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "rows.csv").read_text() == one_worker


@pytest.mark.slow
def test_a_killed_batch_resumes_to_the_same_rows_with_every_file_once(photos, one_worker, tmp_path):
    out = tmp_path / "rows.csv"
    command = [sys.executable, "-m", "maskfer.cli", "predict", str(photos), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    partial = tmp_path / "rows.csv.partial"
    while time.monotonic() < deadline and not (partial.exists() and len(partial.read_text().splitlines()) > 10):
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)  # a real signal to a real process, in the middle of the batch
    process.wait(timeout=60)
    kept = list(csv.DictReader(open(out)))
    assert 10 <= len(kept) < 60, len(kept)
    again = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"({len({r['file'] for r in kept})} kept from {out})" in again.stdout
    assert out.read_text() == one_worker  # every file once, the same rows in the same order


@pytest.mark.slow
def test_a_batch_killed_hard_keeps_every_row_in_its_partial_file_and_resumes_from_it(photos, one_worker, tmp_path):
    out = tmp_path / "rows.csv"
    partial = tmp_path / "rows.csv.partial"
    command = [sys.executable, "-m", "maskfer.cli", "predict", str(photos), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (partial.exists() and len(partial.read_text().splitlines()) > 10):
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.02)
    process.kill()  # SIGKILL: nothing runs after it, no rename, no summary
    process.wait(timeout=60)
    assert not out.exists()
    kept = list(csv.DictReader(open(partial)))
    assert 10 <= len(kept) < 60, len(kept)
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60)  # not started over unasked
    assert refused.returncode == 2 and "--resume" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    again = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert out.read_text() == one_worker and not partial.exists()  # every file once, in order


def test_resume_needs_an_output_file_and_refuses_one_it_did_not_write(photos, tmp_path):
    assert "--resume needs --out" in predict(photos, "--resume").output
    (tmp_path / "rows.jsonl").write_text("not json\n")
    refused = predict(photos, "--out", tmp_path / "rows.jsonl", "--resume")
    assert refused.exit_code == 2 and "cannot resume from it" in refused.output


@pytest.mark.slow
def test_a_separately_started_dask_scheduler_and_two_workers_give_the_same_rows(photos, one_worker, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                                 str(port), "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            started.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1",
                                             "--nthreads", "1", "--no-dashboard"], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        result = predict(photos, "--out", tmp_path / "rows.csv", "--scheduler", address)
        assert result.exit_code == 0, result.output
        assert (tmp_path / "rows.csv").read_text() == one_worker
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)
