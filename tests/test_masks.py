"""Synthetic masks: the quality rule on real faces, determinism, and bad input."""

import cv2
import numpy as np
import pandas as pd
import pytest

import maskfer.masks.dataset as masking
from maskfer.core.images import read_image
from maskfer.data import read_dataset
from maskfer.errors import UnknownNameError
from maskfer.faces import find_faces
from maskfer.masks import MASK_TYPES, apply_mask, draw_mask
from maskfer.masks.dataset import MaskingConfig, mask_dataset, masking_summary
from maskfer.faces.landmarks import MUST_COVER, MUST_NOT_COVER

from conftest import save, shared


@pytest.fixture(scope="module")
def tcep_face():
    return read_image(shared("tcep") / "Taiwanese" / "faces_256x256" / "0311g04.jpg")


def test_the_seven_study_mask_types():
    assert MASK_TYPES == ("surgical", "cloth", "n95", "kn95", "gas", "black", "inpaint")
    with pytest.raises(UnknownNameError, match="valid: .*surgical"):
        MaskingConfig(types=("medical",))


@pytest.mark.parametrize("kind", MASK_TYPES)
def test_each_type_covers_mouth_and_nose_and_never_the_eyes(tcep_face, kind):
    face = find_faces(tcep_face)[0]
    result = draw_mask(tcep_face, face, kind, seed=3)
    assert result.quality.mouth_nose_covered == 1.0 and result.quality.eyes_brows_covered == 0.0
    points = np.round(face.landmarks[:, :2]).astype(int)
    changed = np.abs(result.image.astype(int) - tcep_face.astype(int)).sum(axis=2) > 0
    assert changed[points[MUST_COVER, 1], points[MUST_COVER, 0]].mean() > 0.9  # the pixels really changed there
    assert not changed[points[MUST_NOT_COVER, 1], points[MUST_NOT_COVER, 0]].any()


def test_same_seed_same_pixels_other_seed_other_pixels(tcep_face):
    face = find_faces(tcep_face)[0]
    for kind in ("surgical", "cloth", "n95", "gas"):
        a, b = draw_mask(tcep_face, face, kind, 7).image, draw_mask(tcep_face, face, kind, 7).image
        assert np.array_equal(a, b)
    assert not np.array_equal(draw_mask(tcep_face, face, "cloth", 1).image, draw_mask(tcep_face, face, "cloth", 2).image)


def test_head_pose_follows_the_head(tcep_face):
    face = find_faces(tcep_face)[0]
    assert abs(face.yaw) < 15 and abs(face.roll) < 10
    centre = (tcep_face.shape[1] / 2, tcep_face.shape[0] / 2)
    tilted = cv2.warpAffine(tcep_face, cv2.getRotationMatrix2D(centre, 20, 1.0), tcep_face.shape[1::-1])
    assert find_faces(tilted)[0].roll - face.roll > 10


@pytest.mark.slow
@pytest.mark.parametrize("folder, minimum, sample", [("kdef-sample", 0.99, None), ("tcep", 0.99, 60), ("fer2013", 0.95, 150)])
def test_quality_rule_pass_rate_on_real_faces(folder, minimum, sample, tmp_path):
    table = read_dataset(shared(folder)).table
    if sample:
        table = table.sample(sample, random_state=0)
    masked = mask_dataset(table, tmp_path / "out", MaskingConfig(types=("surgical", "kn95", "black")))
    summary = masking_summary(masked)
    assert summary["pass_rate"] >= minimum, summary
    assert len(masked) == 3 * len(table)  # every photo x type is a row, failures included


def test_several_faces_are_each_masked_or_only_the_largest(tcep_face, tmp_path):
    small = cv2.resize(tcep_face, (160, 160))
    group = np.full((300, 600, 3), 200, np.uint8)
    group[20:276, 10:266] = tcep_face
    group[60:220, 400:560] = small
    assert len(find_faces(group)) == 2
    path = save(tmp_path / "group.png", group)
    table = pd.DataFrame([{"path": str(path), "emotion": "happy", "subject": "x", "dataset": "t", "source": "group"}])
    masked = mask_dataset(table, tmp_path / "all", MaskingConfig(types=("black",)))
    assert masked["n_faces"].iloc[0] == 2 and masked["status"].iloc[0] == "ok"
    both = read_image(masked["path"].iloc[0])
    largest = apply_mask(group, "black", largest=True)
    big_mouth, small_mouth = [np.round(f.landmarks[13, :2]).astype(int) for f in find_faces(group)]
    assert both[big_mouth[1], big_mouth[0]].max() < 40 and largest[big_mouth[1], big_mouth[0]].max() < 40
    assert both[small_mouth[1], small_mouth[0]].max() < 40  # every face is masked by default
    assert np.array_equal(largest[small_mouth[1], small_mouth[0]], group[small_mouth[1], small_mouth[0]])


def test_bad_images_get_a_reason_and_the_run_goes_on(tcep_face, tmp_path):
    files = {
        "noise.png": save(tmp_path / "noise.png", np.random.default_rng(0).integers(0, 255, (200, 200, 3)).astype(np.uint8)),
        "grey.png": save(tmp_path / "grey.png", cv2.cvtColor(tcep_face, cv2.COLOR_RGB2GRAY), mode="L"),
        "rgba.png": save(tmp_path / "rgba.png", np.dstack([tcep_face, np.full(tcep_face.shape[:2], 255, np.uint8)])),
        "tiny.png": save(tmp_path / "tiny.png", cv2.resize(tcep_face, (48, 48), interpolation=cv2.INTER_AREA)),
        "huge.png": save(tmp_path / "huge.png", cv2.resize(tcep_face, (1600, 1600))),
        "cut.png": save(tmp_path / "cut.png", np.ascontiguousarray(tcep_face[:200])),  # chin and mouth partly off the frame
    }
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    files["corrupt.jpg"] = tmp_path / "corrupt.jpg"
    table = pd.DataFrame([{"path": str(p), "emotion": "sad", "subject": n, "dataset": "t", "source": n} for n, p in files.items()])
    masked = mask_dataset(table, tmp_path / "out", MaskingConfig(types=("surgical",), crop_fallback=False)).set_index("subject")
    for name in ("grey.png", "rgba.png", "tiny.png", "huge.png"):
        assert masked.loc[name, "status"] == "ok", (name, masked.loc[name, "reason"])
    assert masked.loc["noise.png", "reason"] == "no face found"
    assert "corrupt" in masked.loc["corrupt.jpg", "reason"] or "not an image" in masked.loc["corrupt.jpg", "reason"]
    assert masked.loc["cut.png", "status"] == "failed" and masked.loc["cut.png", "reason"]
    assert masked.loc[masked["status"] == "failed", "path"].isna().all()


def test_an_interrupted_masking_run_resumes(tmp_path, monkeypatch):
    table = read_dataset(shared("kdef-sample")).table.head(6)
    monkeypatch.setattr(masking, "CHUNK", 2)

    def interrupt(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        mask_dataset(table, tmp_path / "out", MaskingConfig(types=("n95",)), on_photo=interrupt)
    done = []
    original = masking.mask_photo
    monkeypatch.setattr(masking, "mask_photo", lambda row, *a: done.append(row["path"]) or original(row, *a))
    masked = mask_dataset(table, tmp_path / "out", MaskingConfig(types=("n95",)))
    assert len(done) == 4 and (masked["status"] == "ok").all()
    assert not list((tmp_path / "out").rglob("*.tmp"))


@pytest.mark.slow
def test_mask_command_writes_table_and_contact_sheets(tmp_path):
    from typer.testing import CliRunner

    from maskfer.cli import app

    out = tmp_path / "masked"
    result = CliRunner().invoke(app, ["mask", str(shared("kdef-sample")), "--types", "surgical,gas", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "masks.csv")
    assert len(table) == 2 * 82 and set(table["mask_type"]) == {"surgical", "gas"}
    assert {"original", "seed", "mouth_nose_covered", "eyes_brows_covered", "reason"} <= set(table.columns)
    assert (out / "contact_surgical.png").exists() and (out / "contact_gas.png").exists()
    bad = CliRunner().invoke(app, ["mask", str(shared("kdef-sample")), "--types", "scarf", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown mask type 'scarf'" in bad.output


def test_landmarks_are_found_on_a_face_that_already_wears_a_mask(tcep_face):
    face = find_faces(tcep_face)[0]
    for kind in ("surgical", "black"):
        again = find_faces(draw_mask(tcep_face, face, kind, 0).image)
        assert again, kind
        eyes = [33, 263]  # the eyes stay visible, so they must land where they were
        assert np.abs(again[0].landmarks[eyes, :2] - face.landmarks[eyes, :2]).max() < 8, kind


def test_a_grey_photo_gets_a_grey_mask(tcep_face):
    grey = np.repeat(cv2.cvtColor(tcep_face, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    face = find_faces(grey)[0]
    for seed in range(3):
        masked = draw_mask(grey, face, "cloth", seed).image
        assert np.array_equal(masked[..., 0], masked[..., 1]) and np.array_equal(masked[..., 1], masked[..., 2])
    coloured = draw_mask(tcep_face, find_faces(tcep_face)[0], "cloth", 0).image
    assert not np.array_equal(coloured[..., 0], coloured[..., 1])


def test_a_registered_mask_type_is_drawn_and_validated_like_the_seven(tcep_face, monkeypatch):
    import maskfer.masks.draw as draw

    monkeypatch.setitem(draw.MASKS, "scarf", None)  # removed again after the test

    @draw.register_mask("scarf", "a plain red scarf")
    def _scarf(canvas):
        canvas.canvas[:] = (200, 30, 30)
        canvas.shade(0.2)

    result = draw_mask(tcep_face, find_faces(tcep_face)[0], "scarf", 0)
    assert result.quality.passed and result.kind == "scarf"
    assert result.image[result.coverage > 0].mean(axis=0)[0] > 120  # red where the mask is
    assert MaskingConfig(types=("scarf",)).types == ("scarf",)
    with pytest.raises(UnknownNameError, match="valid: .*scarf"):
        draw.check_mask_type("balaclava")


@pytest.mark.parametrize("kind", ["bandana", "printed", "duckbill", "sport"])
def test_template_masks_cover_mouth_and_nose_and_are_a_renderer_of_their_own(tcep_face, kind):
    from maskfer.masks import MASKS, TEMPLATE_TYPES

    face = find_faces(tcep_face)[0]
    result = draw_mask(tcep_face, face, kind, 5)
    assert kind in TEMPLATE_TYPES and kind not in MASK_TYPES and MASKS[kind].renderer == "template"
    assert result.quality.passed, result.quality.reason
    assert np.array_equal(result.image, draw_mask(tcep_face, face, kind, 5).image)
    assert not np.array_equal(result.image, draw_mask(tcep_face, face, kind, 6).image)


def test_masked_rows_name_their_renderer(tmp_path):
    table = read_dataset(shared("kdef-sample")).table.head(2)
    masked = mask_dataset(table, tmp_path / "out", MaskingConfig(types=("surgical", "duckbill")))
    assert dict(zip(masked["mask_type"], masked["mask_renderer"])) == {"surgical": "drawn", "duckbill": "template"}


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_a_seed_that_is_not_a_whole_number_0_or_more_is_a_maskfer_error(seed):
    from skimage import data

    import maskfer

    with pytest.raises(maskfer.MaskferError, match="seed must be a whole number 0 or more"):
        maskfer.apply_mask(np.ascontiguousarray(data.astronaut()), "n95", seed=seed)
