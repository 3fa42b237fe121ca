"""A user's own files are never touched, and every mistake is one line before any work (issue 33)."""

import csv
import json
import socket

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import maskfer
from maskfer.cli import app
from maskfer.errors import MaskferError


def run(*args):
    return CliRunner().invoke(app, [*map(str, args)])


@pytest.fixture
def photo(tmp_path, astronaut):
    path = tmp_path / "astronaut.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    return path


def one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert all(word in lines[0] for word in words), lines[0]


@pytest.mark.parametrize("name, content", [("notes.csv", "a,b\n1,2\n"), ("mine.json", "[1, 2]\n"),
                                           ("notes2.csv", "file,note\nx.jpg,my own note\n"), ("one.csv", "garbage"),
                                           ("rows.jsonl", '{"name": "not a row of maskfer"}\n')])
def test_resume_refuses_a_file_maskfer_did_not_write_and_leaves_it_as_it_was(photo, tmp_path, name, content):
    target = tmp_path / name
    target.write_text(content)
    one_line_error(run("predict", photo, "--out", target, "--resume"), str(target), "cannot resume")
    assert target.read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["astronaut.jpg", name])  # nothing left beside it


def test_an_existing_output_is_replaced_only_with_overwrite(photo, tmp_path):
    out = tmp_path / "rows.csv"
    out.write_text("300 rows of yesterday's batch\n")
    one_line_error(run("predict", photo, "--out", out), str(out), "already exists", "--overwrite")
    assert out.read_text() == "300 rows of yesterday's batch\n"
    assert run("predict", photo, "--out", out, "--overwrite").exit_code == 0
    assert list(csv.DictReader(out.open()))[0]["status"] == "ok"


def test_an_output_that_cannot_be_written_is_refused_before_any_photo_is_read(photo, tmp_path, monkeypatch):
    import maskfer.prediction.batch as batch

    monkeypatch.setattr(batch, "read_faces", lambda *a, **k: pytest.fail("a photo was read"))
    (tmp_path / "d.csv").mkdir()
    (tmp_path / "a-file").write_text("mine")
    one_line_error(run("predict", photo, "--out", tmp_path / "d.csv"), "is a folder")
    one_line_error(run("predict", photo, "--out", tmp_path / "nonexistent" / "dir" / "x.csv"), "does not exist")
    assert not (tmp_path / "nonexistent").exists()
    one_line_error(run("predict", photo, "--out", "/proc/nope/x.csv"), "/proc/nope")
    one_line_error(run("predict", photo, "--annotate", tmp_path / "a-file"), "must be a folder")
    assert (tmp_path / "a-file").read_text() == "mine"


def test_demo_writes_only_into_a_folder_it_may_and_replaces_only_with_overwrite(tmp_path):
    (tmp_path / "a-file").write_text("mine")
    one_line_error(run("demo", "--out", tmp_path / "a-file"), "must be a folder")
    one_line_error(run("demo", "--out", "/proc/nope"), "/proc")
    (tmp_path / "page").mkdir()
    (tmp_path / "page" / "index.html").write_text("my page")
    one_line_error(run("demo", "--out", tmp_path / "page"), "index.html", "already exists")
    assert (tmp_path / "page" / "index.html").read_text() == "my page"


def test_serve_refuses_a_bad_or_taken_port_in_one_line_before_saying_its_url():
    result = run("serve", "--port", "99999")
    assert result.exit_code == 2 and "99999" in result.output and "Traceback" not in result.output
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = run("serve", "--port", port)
    one_line_error(result, f"127.0.0.1:{port}", "--port")
    assert "http://" not in result.output
    assert run("serve", "--max-upload-mb", "-1").exit_code == 2


@pytest.mark.parametrize("option, value", [("--max-faces", "-1"), ("--max-faces", "0"), ("--jobs", "0"), ("--fps", "0")])
def test_options_out_of_range_are_one_line_naming_the_option(photo, option, value):
    one_line_error(run("predict", photo, option, value), option)


@pytest.mark.parametrize("dtype", ["int8", "int16", "complex64"])
def test_arrays_with_no_one_reading_are_refused(astronaut, dtype):
    with pytest.raises(MaskferError, match=f"dtype {dtype}"):
        maskfer.predict(astronaut.astype(dtype))


def test_apply_mask_on_a_photo_without_a_face_says_so():
    with pytest.raises(MaskferError, match="no face"):
        maskfer.apply_mask(np.full((200, 300, 3), 90, np.uint8), "kn95")


def test_a_no_face_row_under_try_mask_says_no_mask_was_drawn(tmp_path):
    wall = tmp_path / "wall.png"
    cv2.imwrite(str(wall), np.full((200, 300, 3), 90, np.uint8))
    out = tmp_path / "rows.jsonl"
    assert run("predict", wall, "--try-mask", "kn95", "--out", out).exit_code == 0
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["status"] == "no face" and row["mask_drawn"] == ""


def test_a_damaged_video_is_reported_damaged_in_one_line_without_ffmpegs_own(tmp_path, astronaut):
    import subprocess
    import sys

    writer = cv2.VideoWriter(str(tmp_path / "whole.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(40):
        writer.write(cv2.cvtColor(cv2.resize(astronaut, (320, 240)), cv2.COLOR_RGB2BGR))
    writer.release()
    data = (tmp_path / "whole.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[:int(len(data) * 0.6)])  # a download that stopped part way
    out = tmp_path / "rows.csv"
    result = subprocess.run([sys.executable, "-m", "maskfer.cli", "predict", str(tmp_path / "cut.avi"), "--fps", "10",
                             "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "damaged video" in lines[0] and "cut.avi" in lines[0], result.stderr  # no FFmpeg line
    rows = list(csv.DictReader(out.open()))
    assert 10 <= len(rows) < 40 and {r["status"] for r in rows} == {"ok"}  # the frames before the damage are read


def test_help_answers_to_h_and_says_what_the_options_take():
    assert run("-h").exit_code == 0 and run("predict", "-h").exit_code == 0
    assert ".json" in run("predict", "--help").output
    assert all(name in run("reproduce", "--help").output for name in ("mask_type", "mask_renderer"))


def test_an_image_without_a_suffix_in_a_folder_is_read_and_other_files_are_not(tmp_path, astronaut):
    folder = tmp_path / "photos"
    folder.mkdir()
    ok, png = cv2.imencode(".png", cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    (folder / "scan").write_bytes(png.tobytes())
    (folder / "README").write_text("not a photo")
    out = tmp_path / "rows.csv"
    assert run("predict", folder, "--out", out).exit_code == 0
    assert [r["file"].split("/")[-1] for r in csv.DictReader(out.open())] == ["scan"]


def test_labels_of_faces_close_together_never_overlap():
    from maskfer.prediction.annotate import label_place

    boxes = [(100, 100, 160, 170), (150, 105, 210, 175), (120, 172, 180, 240)]  # two side by side, one just below
    placed = []
    for box in boxes:
        spot = label_place(box, (150, 20), (640, 480), placed)
        if spot is not None:
            placed.append((spot[0], spot[1], spot[0] + 150, spot[1] + 20))
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    assert len(placed) >= 2  # the others have free places; any left over go in the band, numbered
    assert label_place((0, 0, 10, 10), (700, 20), (640, 480), []) is None  # wider than the image: the band


def test_problems_are_told_in_the_order_the_paths_were_given(photo, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "empty").mkdir()
    given = [tmp_path / "first-missing.jpg", photo, tmp_path / "broken.jpg", tmp_path / "empty", tmp_path / "last-missing.png"]
    result = run("predict", *given, "--out", tmp_path / "rows.csv")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert [next(p.name for p in given if str(p) in line) for line in lines] == \
        ["first-missing.jpg", "broken.jpg", "empty", "last-missing.png"], lines


def test_reproduce_and_report_write_only_where_they_may(tmp_path):
    (tmp_path / "a-file").write_text("mine")
    one_line_error(run("reproduce", tmp_path, "--out", tmp_path / "a-file"), "must be a folder")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "report.md").write_text("my notes")
    one_line_error(run("reproduce", tmp_path, "--out", tmp_path / "runs"), "report.md", "already exists", "--overwrite")
    (tmp_path / "runs" / "results.json").write_text("{}")
    one_line_error(run("report", tmp_path / "runs" / "results.json"), "report.md", "already exists")
    assert (tmp_path / "runs" / "report.md").read_text() == "my notes"


def test_the_model_card_replaces_a_card_only_with_overwrite(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    card = tmp_path / "card.md"
    card.write_text("my card")
    results = str(root / "bench" / "results" / "model-card.json")
    one_line_error(run("model-card", "--rewrite", "--results", results, "--out", card), "card.md", "already exists")
    assert card.read_text() == "my card"
    assert run("model-card", "--rewrite", "--results", results, "--out", card, "--overwrite").exit_code == 0
    assert card.read_text().startswith("# Model card")
