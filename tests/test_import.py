"""Importing maskfer does nothing: no heavy imports, no warning filters, no environment changes."""

import subprocess
import sys


def test_import_is_inert():
    code = (
        "import os, sys, warnings; before = (dict(os.environ), list(warnings.filters)); "
        "import maskfer, maskfer.cli; "
        "heavy = [m for m in ('sklearn', 'cv2', 'torch', 'matplotlib', 'dask', 'pandas') if m in sys.modules]; "
        "print(heavy, before == (dict(os.environ), list(warnings.filters)))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert output == "[] True"


def test_predict_loads_neither_scikit_learn_nor_pandas_nor_torch_nor_mediapipe(tmp_path):
    from PIL import Image
    from skimage import data

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    code = (
        "import sys, maskfer; faces = maskfer.predict(sys.argv[1]); "
        "print(len(faces), faces[0].expression in maskfer.prediction.api.EMOTIONS, "
        "[m for m in ('sklearn', 'pandas', 'torch', 'mediapipe', 'tensorflow') if m in sys.modules])"
    )
    output = subprocess.run([sys.executable, "-c", code, str(photo)], capture_output=True, text=True, check=True).stdout
    assert output.strip().splitlines()[-1] == "1 True []"


def test_dir_lists_the_lazily_imported_api():
    import maskfer

    assert {"predict", "detect", "apply_mask", "FaceResult", "MaskferError", "__version__"} <= set(dir(maskfer))


def test_runtime_threads_come_from_the_environment_or_the_cores(monkeypatch):
    import pytest

    from maskfer.core.parallel import runtime_threads

    monkeypatch.setenv("MASKFER_THREADS", "1")
    assert runtime_threads() == 1
    monkeypatch.setenv("MASKFER_THREADS", "none")
    with pytest.raises(ValueError, match="MASKFER_THREADS must be a whole number"):
        runtime_threads()
    monkeypatch.delenv("MASKFER_THREADS")
    assert 1 <= runtime_threads() <= 4
