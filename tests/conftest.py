"""Shared fixtures: where the real data is, and small synthetic datasets made per test."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# Torch's own threads: one, unless the runner says otherwise (MASKFER_TEST_THREADS). Read by torch when a test first
# imports it. With a training run holding one of 2 cores, torch's default pool of 2 busy-waiting threads made a
# MobileNetV2 test take 212 s instead of 13 (tests/test_estimators.py, measured with OMP_NUM_THREADS 2 against 1).
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("MASKFER_TEST_THREADS", "1"))


def missing(reason: str) -> None:
    """Skip a test whose requirement is absent, saying why; under CI=true (where everything is present) fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (required under CI=true)", pytrace=False)
    pytest.skip(reason)


def shared(name: str) -> Path:
    """A folder of ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA / name
    if not path.exists():
        missing(f"needs the real dataset at {path} (see ../shared/data/README.md); absent here")
    return path


def run(*args, env: dict | None = None):
    """`maskfer ARGS...` driven in-process (Typer's runner), its output split into stdout and stderr."""
    from typer.testing import CliRunner

    from maskfer.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env=env)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """NASA's public-domain portrait of Eileen Collins, from scikit-image's wheel: the face the product tests read."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache folder, so no test reads another's results."""
    monkeypatch.setenv("MASKFER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


def face_like(label: int, seed: int, size: int = 32) -> np.ndarray:
    """A synthetic RGB image whose pattern depends on its label, so models can learn it."""
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 60, size=(size, size, 3)).astype(np.uint8)
    band = (label * size) // 7
    image[band:band + size // 7, :, :] += 150
    return image


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path) if mode else Image.fromarray(array).save(path)
    return path


@pytest.fixture
def kdef_like(tmp_path) -> Path:
    """A KDEF release layout: 10 subjects x 7 expressions, straight and half-left, plus traps."""
    root = tmp_path / "KDEF"
    codes = ["AF", "AN", "DI", "HA", "NE", "SA", "SU"]
    for s in range(1, 11):
        gender = "F" if s % 2 else "M"
        for label, code in enumerate(codes):
            for angle in ("S", "HL"):
                name = f"A{gender}{s:02d}{code}{angle}"
                save(root / f"A{gender}{s:02d}" / f"{name}.JPG", face_like(label, s * 100 + label))
    save(root / "AF01" / "AF01XXS.JPG", face_like(0, 1))  # misnamed expression code
    save(root / "AF01" / "AF03ANS.JPG", face_like(1, 2))  # in the wrong folder
    (root / "AF01" / "notes.txt").write_text("not an image")
    return tmp_path
