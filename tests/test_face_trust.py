"""Faces you can trust (issue 32): what is not a face is not read, a face too small is not read, an upside-down
face is read upright, and every face says how sure the face path is (`face_score`)."""

import csv
import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

import maskfer
from maskfer.cli import app
from maskfer.faces import FACE_DATASETS, find_faces


def cat_and_cup_crops() -> list[np.ndarray]:
    """Issue 32's pictures, as bench/face_score.py makes them: scikit-image's cat and coffee cup, and crops of each at
    a random scale of 0.45-1, a third turned by up to 25 degrees."""
    spec = importlib.util.spec_from_file_location("face_score", Path(__file__).parents[1] / "bench" / "face_score.py")
    face_score = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(face_score)
    return list(face_score.cat_and_cup_crops().values())


def test_crops_of_a_cat_and_a_cup_are_not_read_as_faces():
    crops = cat_and_cup_crops()
    read = [i for i, crop in enumerate(crops) if maskfer.predict(crop)]
    kept_by_the_old_rule = [i for i, crop in enumerate(crops) if find_faces(crop, rule=FACE_DATASETS)]
    assert len(kept_by_the_old_rule) >= 5  # every detection kept, as before face scores: these pictures do fool it
    assert len(read) <= 1, read  # docs/faces.md: one coffee-cup crop still passes as a face crop (crop score 0.8)


def test_every_face_says_how_sure_the_face_path_is(astronaut):
    (face,) = maskfer.predict(astronaut)
    assert face.face_score > 0.99 and face.status == "ok"
    assert face.to_dict()["face_score"] == round(face.face_score, 4)


def test_a_face_too_small_to_read_is_boxed_and_not_read(astronaut, tmp_path):
    small = cv2.resize(astronaut, (48, 48), interpolation=cv2.INTER_AREA)  # the face about 9 pixels wide
    (face,) = maskfer.predict(small)
    assert face.status == "too small to read"
    assert face.expression is None and face.probabilities is None and face.mask_worn is None
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    out = tmp_path / "rows.csv"
    result = CliRunner().invoke(app, ["predict", str(path), "--out", str(out), "--annotate", str(tmp_path / "annotated")])
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(out.open())
    assert row["status"] == "too small to read" and row["expression"] == "" and row["mask_worn"] == "" and row["x1"]
    assert float(row["face_score"]) >= 0


def test_an_upside_down_face_is_read_upright(astronaut):
    (upright,) = maskfer.predict(astronaut)
    (turned,) = maskfer.predict(np.ascontiguousarray(np.rot90(astronaut, 2)))
    assert abs(turned.roll) > 120  # found the right way up in a window turned half round
    assert turned.expression == upright.expression == "happy"


def test_the_web_api_reports_the_face_score_and_the_status(astronaut):
    from fastapi.testclient import TestClient

    from maskfer.web.app import create_app

    client = TestClient(create_app())
    for image, status in ((astronaut, "ok"), (cv2.resize(astronaut, (48, 48), interpolation=cv2.INTER_AREA), "too small to read")):
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        answer = client.post("/api/predict", files={"image": ("photo.png", encoded.tobytes(), "image/png")})
        assert answer.status_code == 200, answer.text
        (face,) = json.loads(answer.text)["faces"]
        assert face["status"] == status and 0 <= face["face_score"] <= 1
        assert (face["expression"] is None) == (status != "ok")
