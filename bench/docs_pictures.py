"""The two pictures in the README, made again from what the code does now.

    python bench/docs_pictures.py

docs/demo.jpg: `maskfer demo`'s contact sheet (the public-domain portrait behind each mask, labelled with the
shipped model's readings), as a JPEG. docs/web-page.png: the web page after a photo and the surgical mask, the
screenshot that the browser test keeps (`tests/test_web_browser.py`, in headless Chromium; it needs Chromium on
PATH, as the test does). Both are replaced; nothing else is written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from PIL import Image

    from maskfer.prediction.demo import run_demo

    with tempfile.TemporaryDirectory() as work:
        run_demo(Path(work) / "demo")
        Image.open(Path(work) / "demo" / "contact-sheet.png").convert("RGB").save(ROOT / "docs" / "demo.jpg", quality=85)
        print(f"wrote {ROOT / 'docs' / 'demo.jpg'}")
        shots = Path(work) / "shots"
        subprocess.run([sys.executable, "-m", "pytest", "-q", str(ROOT / "tests" / "test_web_browser.py"), "-k",
                        "upload_see_the_face and desktop"], check=True, cwd=ROOT, env={**os.environ, "MASKFER_ARTIFACTS": str(shots)})
        shutil.copyfile(shots / "web-page-desktop.png", ROOT / "docs" / "web-page.png")
        print(f"wrote {ROOT / 'docs' / 'web-page.png'}")


if __name__ == "__main__":
    main()
