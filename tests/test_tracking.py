"""Faces followed through a video: ids kept while faces move, detection skipped between, smoothing off by default."""

import csv

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from maskfer.cli import app
from maskfer.prediction.tracking import FaceTracker, TrackerConfig


def moving_faces(frames: int = 24) -> list[np.ndarray]:
    """Three portrait heads on a grey 640x360 frame: one drifting right, one down, one still."""
    from skimage import data

    head = cv2.resize(np.ascontiguousarray(data.astronaut()[20:260, 130:330]), (120, 144))
    video = []
    for t in range(frames):
        frame = np.full((360, 640, 3), 170, np.uint8)
        for x, y in ((20 + 6 * t, 20), (250, 10 + 4 * t), (470, 150)):
            frame[y:y + 144, x:x + 120] = head
        video.append(frame)
    return video


def test_tracks_keep_their_ids_while_faces_move():
    tracker = FaceTracker(TrackerConfig(redetect_every=8))
    centres = {}
    for t, frame in enumerate(moving_faces()):
        tracked = tracker.faces(frame, t / 10)
        assert len(tracked) == 3
        for track, face in tracked:
            x0, y0, x1, y1 = face.box
            centres.setdefault(track, []).append(((x0 + x1) / 2, (y0 + y1) / 2))
    assert sorted(centres) == [0, 1, 2]  # three ids in 24 frames: none lost, none new
    paths = {track: np.array(points) for track, points in centres.items()}
    moves = {track: path[-1] - path[0] for track, path in paths.items()}
    right, down, still = (min(moves, key=lambda t: -moves[t][0]), min(moves, key=lambda t: -moves[t][1]),
                          min(moves, key=lambda t: np.abs(moves[t]).sum()))
    assert moves[right][0] > 100 and moves[down][1] > 60 and np.abs(moves[still]).max() < 10
    assert len({right, down, still}) == 3
    for path in paths.values():  # each id follows one face: no jump between frames
        assert np.abs(np.diff(path, axis=0)).max() < 20


def test_detection_runs_only_every_nth_frame_while_faces_are_followed(monkeypatch):
    import maskfer.faces as faces

    calls = []
    find = faces.find_faces
    monkeypatch.setattr(faces, "find_faces", lambda *a, **k: calls.append(1) or find(*a, **k))
    tracker = FaceTracker(TrackerConfig(redetect_every=5))
    for t, frame in enumerate(moving_faces(12)):
        tracker.faces(frame, t / 10)
    assert len(calls) == 3  # frames 0, 5 and 10


def write_video(path, frames, fps=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "moving.avi", moving_faces())


def rows(video, tmp_path, *options):
    out = tmp_path / f"rows{len(options)}.csv"
    result = CliRunner().invoke(app, ["predict", str(video), "--fps", "10", "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(open(out)))


def test_predict_writes_a_track_per_face_and_smooths_only_when_asked(video, tmp_path):
    plain = rows(video, tmp_path)
    assert {r["track"] for r in plain} == {"0", "1", "2"} and len(plain) == 3 * 24
    smoothed = rows(video, tmp_path, "--smooth", "0.8")
    assert [r["track"] for r in smoothed] == [r["track"] for r in plain]

    def jitter(table):  # how much each track's happy probability moves from frame to frame
        series = {}
        for r in table:
            series.setdefault(r["track"], []).append(float(r["p_happy"]))
        return np.mean([np.abs(np.diff(s)).mean() for s in series.values()])

    assert jitter(smoothed) < jitter(plain)
    first = {r["track"]: r for r in smoothed if r["frame"] == plain[0]["frame"]}
    assert all(first[r["track"]]["p_happy"] == r["p_happy"] for r in plain if r["frame"] == plain[0]["frame"])


def test_smoothing_is_checked():
    with pytest.raises(ValueError, match="--smooth must be at least 0 and under 1"):
        TrackerConfig(smooth=1.0)
    result = CliRunner().invoke(app, ["predict", "x.jpg", "--redetect-every", "0"])
    assert result.exit_code == 2 and "--redetect-every must be at least 1" in result.output


def walking_face(seconds: float = 6.0, fps: int = 25, speed: float = 70.0) -> list[np.ndarray]:
    """Issue 32's clip: the portrait's head, its face about 110 pixels wide, crossing a 640x480 frame at `speed` px/s."""
    from skimage import data

    head = cv2.resize(np.ascontiguousarray(data.astronaut()[20:260, 130:330]), (234, 281))
    video = []
    for k in range(int(seconds * fps)):
        frame = np.full((480, 640, 3), 170, np.uint8)
        x = int(round(speed * k / fps))
        frame[100:381, x:x + 234] = head[:, :min(234, 640 - x)]
        video.append(frame)
    return video


@pytest.fixture(scope="module")
def walking(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("walking") / "walking.avi", walking_face(), fps=25)


@pytest.mark.parametrize("fps, redetect", [("1", "10"), ("5", "10"), ("2", "1")])
def test_a_walking_face_is_one_track_found_and_read_at_every_sample(walking, tmp_path, fps, redetect):
    out = tmp_path / "rows.csv"
    result = CliRunner().invoke(app, ["predict", str(walking), "--fps", fps, "--redetect-every", redetect, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(open(out)))
    frames = [r["frame"] for r in table]
    assert len(set(frames)) == len(frames) >= 6 * int(fps)  # one face at every sample: never "no face", never two
    assert {r["status"] for r in table} == {"ok"} and {r["track"] for r in table} == {"0"}
    assert {r["expression"] for r in table} == {"happy"} and {r["mask_worn"] for r in table} == {"False"}


def test_two_faces_that_pass_each_other_keep_their_ids_and_one_that_leaves_ends_its_track():
    from skimage import data

    head = cv2.resize(np.ascontiguousarray(data.astronaut()[20:260, 130:330]), (150, 180))
    tracker = FaceTracker()
    seen = []
    for k in range(30):  # 3 s at 10 samples a second: two heads pass each other, a third leaves after 1 s
        frame = np.full((420, 700, 3), 170, np.uint8)
        left, right = 10 + 15 * k, 540 - 15 * k
        frame[10:190, left:left + 150] = head
        frame[230:410, right:right + 150] = head
        if k < 10:
            frame[230:410, 10:160] = head
        seen.append({track: face.box for track, face in tracker.faces(frame, k / 10)})
    assert all(len(frame) == 3 for frame in seen[:10]) and all(len(frame) == 2 for frame in seen[12:]), seen
    top = {track for frame in seen for track, box in frame.items() if box[1] < 200}
    moving = {track for frame in seen for track, box in frame.items() if box[1] >= 200 and box[0] > 200}
    assert len(top) == 1 and len(moving) == 1 and top != moving, seen
