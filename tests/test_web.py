"""The web API through FastAPI's test client: every route and every error, and concurrent requests."""

import io
import re
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest

import maskfer
from fastapi.testclient import TestClient
from PIL import Image

from maskfer.labels import EMOTIONS
from maskfer.masks.draw import MASK_TYPES
from maskfer.web.app import ServeConfig, create_app


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def post(client, route, data: bytes, name="photo.png", content_type="image/png", **form):
    return client.post(route, files={"image": (name, data, content_type)}, data=form)


def test_health_version_page_and_openapi(client):
    assert client.get("/api/health").json() == {"status": "ok"}
    version = client.get("/api/version").json()
    assert version["classes"] == list(EMOTIONS) and version["mask_types"] == [*MASK_TYPES, "bandana", "printed", "duckbill", "sport"]
    assert version["mask_renderers"]["sport"] == "template" and version["mask_renderers"]["n95"] == "drawn"
    page = client.get("/")
    assert page.status_code == 200 and "maskfer" in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    # Offline: the page loads nothing from another host.
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        assert not re.search(r"(src|href)=\"https?://|url\(https?://|import .* from \"https?://", text)
    schema = client.get("/openapi.json").json()
    assert {"/api/predict", "/api/mask", "/api/health", "/api/version"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200


def test_predict_returns_each_face(client, astronaut):
    answer = post(client, "/api/predict", png_bytes(astronaut))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["width"], body["height"]) == (512, 512) and body["mask_drawn"] is None and "image" not in body
    (face,) = body["faces"]
    assert set(face["probabilities"]) == set(EMOTIONS) and face["mask_worn"] is False
    assert face["expression"] == max(face["probabilities"], key=face["probabilities"].get)


def test_predict_with_a_mask_returns_the_masked_photo(client, astronaut):
    body = post(client, "/api/predict", png_bytes(astronaut), mask="kn95").json()
    assert body["mask_drawn"] == "kn95" and body["faces"][0]["mask_worn"] is True
    assert body["image"].startswith("data:image/jpeg;base64,")


def test_mask_route_returns_a_png(client, astronaut):
    answer = post(client, "/api/mask", png_bytes(astronaut), mask="black")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert answer.headers["x-faces-masked"] == "1"
    masked = np.asarray(Image.open(io.BytesIO(answer.content)))
    assert masked.shape == astronaut.shape and not np.array_equal(masked, astronaut)


@pytest.mark.parametrize("route, data, form, status, message", [
    ("/api/predict", b"", {}, 400, "empty upload"),
    ("/api/predict", b"GIF? no, just text pretending to be a JPEG", {}, 415, "not a supported image"),
    ("/api/predict", "truncated", {}, 422, "damaged or unusable png image: corrupt or truncated"),
    ("/api/predict", "photo", {"mask": "balaclava"}, 422, "mask: Input should be 'none', '', 'surgical', 'cloth'"),
    ("/api/mask", "photo", {"mask": "none"}, 422, "mask: Input should be 'surgical', 'cloth'"),
    ("/api/predict", "photo", {"seed": "-1"}, 422, "seed: Input should be greater than or equal to 0"),
    ("/api/predict", "dot", {}, 422, "1x1 pixels is too small to hold a face"),  # as the CLI and maskfer.predict say
    ("/api/mask", "wall", {"mask": "n95"}, 422, "no face found in the photo"),
    ("/api/predict", "photo", {"stream": "my stream!"}, 422, "stream: String should match pattern"),
    ("/api/predict", "photo", {"stream": "cam", "smooth": "1"}, 422, "smooth: Input should be less than 1"),
    ("/api/predict", "photo", {"smooth": "0.5"}, 422, "smooth: averages a stream's frames, so it needs a stream"),
    ("/api/predict", "photo", {"stream": "cam", "time_s": "-1"}, 422, "time_s: Input should be greater than or equal to 0"),
    ("/api/predict", "photo", {"stream": "cam", "time_s": "soon"}, 422, "time_s: Input should be a valid number"),
    ("/api/predict", "photo", {"time_s": "1.5"}, 422, "time_s: the time of a stream's frame, so it needs a stream"),
    ("/api/predict", "photo", {"seed": "seven"}, 422, "seed: Input should be a valid integer"),
])
def test_bad_uploads_get_a_4xx_json_error(client, astronaut, route, data, form, status, message):
    if data == "truncated":
        data = png_bytes(astronaut)[:4000]
    elif data == "dot":
        data = png_bytes(np.zeros((1, 1, 3), np.uint8))
    elif data == "wall":
        data = png_bytes(np.full((200, 300, 3), 90, np.uint8))
    elif data == "photo":
        data = png_bytes(astronaut)
    answer = post(client, route, data, name="photo.jpg", content_type="image/jpeg", **form)  # name and type are not trusted
    assert answer.status_code == status, answer.text
    assert message in answer.json()["detail"]


def test_a_stream_keeps_its_tracks_and_reads_its_frames_as_a_video_is_read(client, astronaut):
    from maskfer.prediction.batch import PredictConfig, tracked_frame
    from maskfer.prediction.tracking import FaceTracker, TrackerConfig

    frames = [astronaut, np.ascontiguousarray(np.roll(astronaut, 6, axis=1))]  # the face moves a little
    forms = [{}, {"mask": "surgical"}]  # and is masked in the second frame: its reading changes
    answers = [post(client, "/api/predict", png_bytes(frame), stream="cam-1", smooth="0.5", time_s=str(k / 10), **form).json()
               for k, (frame, form) in enumerate(zip(frames, forms))]
    tracker = FaceTracker(TrackerConfig(smooth=0.5))
    video = [tracked_frame(tracker, frame, PredictConfig(try_mask=form.get("mask")), k / 10)
             for k, (frame, form) in enumerate(zip(frames, forms))]
    for answer, (_, faces, tracks) in zip(answers, video):
        assert [face["track"] for face in answer["faces"]] == tracks == [0]
        for face, expected in zip(answer["faces"], faces):
            assert face["probabilities"] == pytest.approx(expected.probabilities, abs=1e-4)
            assert face["expression"] == expected.expression
    first, second = (answer["faces"][0]["probabilities"] for answer in answers)
    alone = post(client, "/api/predict", png_bytes(frames[1]), mask="surgical").json()["faces"][0]
    assert "track" not in alone  # a photo on its own has no track
    assert max(abs(second[e] - alone["probabilities"][e]) for e in EMOTIONS) > 0.05  # the second frame leans on the first
    assert second["happy"] < first["happy"]


def test_streams_are_kept_up_to_the_limit_least_recently_used_forgotten_first(astronaut):
    app = create_app(ServeConfig(max_streams=2))
    client = TestClient(app)
    for stream in ("a", "b", "a", "c"):
        assert post(client, "/api/predict", png_bytes(astronaut), stream=stream).status_code == 200
    assert list(app.state.live_streams.trackers) == ["a", "c"]


def test_mask_route_needs_a_mask_field(client, astronaut):
    assert post(client, "/api/mask", png_bytes(astronaut)).status_code == 422


def test_size_and_pixel_limits(astronaut):
    small = TestClient(create_app(ServeConfig(max_upload_mb=0.05)))
    answer = post(small, "/api/predict", png_bytes(astronaut))  # about 500 kB
    assert answer.status_code == 413 and "over the limit of" in answer.json()["detail"]
    # A decompression bomb: 8,000 x 8,000 pixels that compress to a few kB.
    bomb = io.BytesIO()
    Image.new("L", (8000, 8000)).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < 200_000
    answer = post(TestClient(create_app()), "/api/predict", bomb.getvalue())
    assert answer.status_code == 413 and "8000x8000" in answer.json()["detail"]
    # Far over Pillow's own guard too: the answer still quotes maskfer's limit, as for files.
    huge = io.BytesIO()
    Image.new("1", (15000, 15000)).save(huge, format="PNG")
    answer = post(TestClient(create_app()), "/api/predict", huge.getvalue())
    assert answer.status_code == 413 and "40,000,000" in answer.json()["detail"], answer.text
    assert "178,956,970" not in answer.text


def test_sixteen_bit_and_transparent_uploads_read_as_files_do(client, astronaut, tmp_path):
    grey16 = np.round(astronaut.mean(axis=2) * 257).astype(np.uint16)
    answer = post(client, "/api/predict", png_bytes(grey16))
    assert answer.status_code == 200 and len(answer.json()["faces"]) == 1, answer.text
    path = tmp_path / "grey16.png"
    Image.fromarray(grey16).save(path)
    assert answer.json()["faces"][0]["box"] == list(maskfer.detect(path)[0].box)


def test_concurrent_requests_do_not_mix_answers(client, astronaut):
    images = [astronaut, np.ascontiguousarray(astronaut[:, ::-1]), cv2.resize(astronaut, (300, 300)),
              np.ascontiguousarray(astronaut[40:, 60:])]
    payloads = [png_bytes(image) for image in images]
    expected = [post(client, "/api/predict", p).json() for p in payloads]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: post(client, "/api/predict", payloads[i % 4]).json(), range(16)))
    for i, answer in enumerate(answers):
        assert answer == expected[i % 4]


@pytest.mark.parametrize("route", ["/api/predict", "/api/mask"])
def test_a_negative_seed_is_a_4xx_that_says_so_not_a_500(client, astronaut, route):
    answer = post(client, route, png_bytes(astronaut), mask="n95", seed="-1")
    assert answer.status_code == 422 and "seed" in answer.text, answer.text
    assert post(client, route, png_bytes(astronaut), mask="n95", seed="3").status_code == 200


def test_serve_builds_the_app_with_the_limits_it_is_given(monkeypatch):
    import uvicorn
    from conftest import run

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    result = run("serve", "--port", "8123", "--max-upload-mb", "2", "--max-streams", "3")
    assert result.exit_code == 0, result.output
    assert served["port"] == 8123 and served["host"] == "127.0.0.1"
    limits = TestClient(served["app"]).get("/api/version").json()["limits"]
    assert limits["max_upload_mb"] == 2 and limits["max_streams"] == 3
    assert run("serve", "--max-streams", "0").exit_code != 0
