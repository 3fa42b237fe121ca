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
