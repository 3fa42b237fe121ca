"""End to end: the page in headless Chromium (Debian's), driven by Playwright, against a live server.

Uploads a photo, waits for the face box and label, switches the mask, and keeps a screenshot
in `artifacts/` (or $MASKFER_ARTIFACTS). The test command installs Chromium where it can (as root on
Debian); where it is missing the test skips and says so, except under CI=true, where it fails.
"""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags that work on a machine with no network: no background connections, no updates, no sync.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("MASKFER_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVED = {}  # the app behind `server`, for a look at its state


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from maskfer.web.app import create_app

    port = free_port()
    SERVED["app"] = create_app()
    config = uvicorn.Config(SERVED["app"], host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not instance.started:
        if time.time() > deadline:
            raise RuntimeError("the server did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def playwright():
    from conftest import missing

    if CHROMIUM is None:
        missing("needs a Chromium on PATH (e.g. apt-get install chromium); the test command installs it where it can")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python client (pip install playwright)")
    with sync_api.sync_playwright() as instance:
        yield instance


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)  # headless, a fresh empty profile
    yield browser
    browser.close()


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_upload_see_the_face_switch_the_mask(server, browser, tmp_path, viewport):
    from skimage import data

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(np.ascontiguousarray(data.astronaut())).save(photo, quality=92)
    page = browser.new_page(viewport=viewport)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}"))
    page.goto(server + "/")
    page.wait_for_selector("#mask option[value=surgical]", state="attached")
    assert page.inner_text("#mask option[value=kn95]") == "KN95"  # written as people write it
    page.set_input_files("#file", str(photo))
    page.wait_for_selector("#faces li.face")
    first = page.inner_text("#faces li.face h2")
    assert first.startswith("Face 1: ") and "(mask)" not in first
    assert page.locator("#faces li.face .bar").count() == 7
    # The box was drawn: the canvas now holds the photo at its own size, with orange box pixels on it.
    assert page.evaluate("[document.getElementById('canvas').width, document.getElementById('canvas').height]") == [512, 512]
    boxed = page.evaluate("""() => { const c = document.getElementById('canvas').getContext('2d');
        const d = c.getImageData(0, 0, 512, 512).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 240 && d[i+1] > 160 && d[i+1] < 200 && d[i+2] < 30) n++;
        return n; }""")
    assert boxed > 200
    page.select_option("#mask", "surgical")
    page.wait_for_function("document.getElementById('status').textContent.includes('surgical')")
    assert "(mask)" in page.inner_text("#faces li.face h2")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"web-page-{'phone' if viewport['width'] < 500 else 'desktop'}.png"), full_page=True)
    if viewport["width"] < 500:  # nothing wider than the phone's screen
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    # A file that fails leaves no earlier photo's boxes and bars under its error.
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 10)
    page.set_input_files("#file", str(broken))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Error:')")
    assert page.locator("#faces li.face").count() == 0 and not page.is_visible("#canvas")
    assert problems == []
    page.close()


def fake_camera(path: Path, rgb: np.ndarray, frames: int = 20) -> Path:
    """A Y4M video of `rgb` for Chromium's fake camera (--use-file-for-fake-video-capture)."""
    import cv2

    height, width = (rgb.shape[0] // 2) * 2, (rgb.shape[1] // 2) * 2
    yuv = cv2.cvtColor(np.ascontiguousarray(rgb[:height, :width]), cv2.COLOR_RGB2YUV_I420)
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            handle.write(b"FRAME\n" + yuv.tobytes())
    return path


@pytest.mark.slow
def test_live_webcam_reads_faces_continuously(server, playwright, tmp_path):
    from skimage import data

    video = fake_camera(tmp_path / "camera.y4m", np.ascontiguousarray(data.astronaut()))
    flags = [*CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
             f"--use-file-for-fake-video-capture={video}"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)  # its own: camera flags are fixed at launch
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(server + "/")
    assert page.is_visible("#hint") and not page.is_visible("#canvas")  # the empty page says what to do
    assert page.is_visible("#live-toggle") and not page.is_visible("#snap")  # Live is offered at once; ticking it
    page.check("#live")  # starts the camera; the snapshot button waits for frames
    page.wait_for_selector("#snap", state="visible")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Live: 1 face')", timeout=30_000)
    readings = page.evaluate("""() => new Promise((resolve) => {  // count the answers over two seconds
        let n = 0; const seen = new MutationObserver(() => n++);
        seen.observe(document.getElementById('faces'), {childList: true});
        setTimeout(() => { seen.disconnect(); resolve(n); }, 2000); })""")
    assert readings >= 2  # several readings a second, not one snapshot
    assert page.inner_text("#faces li.face h2").startswith("Face 1: ")  # the face's track, kept from frame to frame
    (tracker, _), = SERVED["app"].state.live_streams.trackers.values()  # the frames are one stream: the server
    assert list(tracker.tracks) == [0] and tracker.config.smooth == 0.6  # follows its face, and "Steady" averages it
    page.uncheck("#live")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page-live.png"))
    assert problems == []
    browser.close()


@pytest.mark.slow
def test_api_docs_render_with_the_network_off(server, browser):
    page = browser.new_page()
    outside = []

    def only_this_server(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(server + "/docs")
    page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=20_000)
    paths = page.locator(".swagger-ui .opblock-summary-path").all_inner_texts()
    assert "/api/predict" in paths and outside == []
    icon = page.request.get(server + "/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/png"
    page.close()
