"""Every dataset reader, on layouts made here and on the real shared data."""

import numpy as np
import pandas as pd
import pytest

from maskfer.labels import EMOTIONS
from maskfer.data import COLUMNS, DatasetError, detect_layout, read_dataset
from maskfer.errors import UnknownNameError

from conftest import face_like, save, shared


def test_kdef_fields_come_from_file_names_and_misnamed_files_are_reported(kdef_like):
    dataset = read_dataset(kdef_like)
    assert dataset.layout == "kdef"
    table = dataset.table
    assert list(table.columns) == COLUMNS
    assert len(table) == 10 * 7 * 2
    row = table[table["path"].str.endswith("AM02HAHL.JPG")].iloc[0]
    assert (row.emotion, row.subject, row.session, row.gender, row.angle) == ("happy", "M02", "A", "M", "half_left")
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in dataset.skipped}
    assert set(reasons) == {"AF01XXS.JPG", "AF03ANS.JPG", "notes.txt"}
    assert "misnamed" in reasons["AF01XXS.JPG"] and "folder" in reasons["AF03ANS.JPG"]
    assert "not an image" in reasons["notes.txt"]


def test_kdef_extension_case_does_not_matter(tmp_path):
    save(tmp_path / "KDEF" / "BM07" / "BM07SUFR.jpeg", face_like(6, 0))
    save(tmp_path / "KDEF" / "BM07" / "BM07SAFL.Jpg", face_like(5, 0))
    table = read_dataset(tmp_path).table
    assert sorted(table["emotion"]) == ["sad", "surprised"]
    assert set(table["session"]) == {"B"} and set(table["angle"]) == {"full_left", "full_right"}


def test_tcep_names_parse_including_calm_images_with_a_zero(tmp_path):
    folder = tmp_path / "faces_256x256"
    for name in ["0311g04", "1221c01", "0901a02", "1201002"]:
        save(folder / f"{name}.jpg", face_like(0, 0))
    (tmp_path / "Readme.txt").write_text("x")
    dataset = read_dataset(tmp_path)
    assert dataset.layout == "tcep"
    by_name = dict(zip(dataset.table["source"], dataset.table["emotion"]))
    assert by_name == {"0311g04": "surprised", "1221c01": "sad", "0901a02": "neutral", "1201002": "neutral"}
    assert set(dataset.table["subject"]) == {"P03", "P12", "P09"}
    assert len(dataset.skipped) == 1


def test_ckplus_drops_and_counts_contempt(tmp_path):
    for folder, n in [("anger", 3), ("contempt", 2), ("happiness", 4), ("neutral", 5)]:
        for i in range(n):
            save(tmp_path / "CK+" / folder / f"S{10 + i:03d}_00{i}_0000001{i}.png", face_like(0, i)[:, :, 0], mode="L")
    dataset = read_dataset(tmp_path)
    assert dataset.layout == "ckplus"
    assert dataset.table["emotion"].value_counts().to_dict() == {"neutral": 5, "happy": 4, "angry": 3}
    assert sum("contempt" in s.reason for s in dataset.skipped) == 2
    assert dataset.table["subject"].iloc[0].startswith("S0")


def test_fer2013_folders_keep_the_official_split(tmp_path):
    for split in ("train", "test"):
        for cls in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"):
            save(tmp_path / split / cls / f"{split}_{cls}.jpg", face_like(0, 0)[:, :, 0], mode="L")
    dataset = read_dataset(tmp_path)
    assert dataset.layout == "fer2013"
    assert set(dataset.table["emotion"]) == set(EMOTIONS)
    assert dataset.table["split"].value_counts().to_dict() == {"train": 7, "test": 7}
    assert dataset.table["subject"].isna().all()


def test_fer2013_csv_reads_pixel_strings_and_usage(tmp_path):
    from maskfer.core.images import read_image

    rng = np.random.default_rng(0)
    rows = [{"emotion": e, "pixels": " ".join(map(str, rng.integers(0, 256, 48 * 48))), "Usage": u}
            for e, u in [(0, "Training"), (3, "PublicTest"), (6, "PrivateTest"), (9, "Training")]]
    csv = tmp_path / "fer2013.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    dataset = read_dataset(csv)
    assert dataset.layout == "fer2013_csv"
    assert list(dataset.table["emotion"]) == ["angry", "happy", "neutral"]
    assert list(dataset.table["split"]) == ["train", "public_test", "test"]
    assert len(dataset.skipped) == 1 and "0..6" in dataset.skipped[0].reason
    image = read_image(dataset.table["path"].iloc[0])
    assert image.shape == (48, 48, 3)
    assert image[0, 0, 0] == int(rows[0]["pixels"].split()[0])


def test_any_class_folder_layout_with_a_subject_pattern(tmp_path):
    for person in ("ann", "bob"):
        for cls in ("Joy", "Anger", "Surprised"):
            save(tmp_path / cls / f"{person}-{cls}.png", face_like(0, 0))
    (tmp_path / "loose.png").write_bytes(b"")
    dataset = read_dataset(tmp_path, subject_regex=r"^(\w+)-")
    assert dataset.layout == "class_folders"
    assert sorted(dataset.table["subject"].unique()) == ["ann", "bob"]
    assert set(dataset.table["emotion"]) == {"happy", "angry", "surprised"}
    assert any("class folder" in s.reason for s in dataset.skipped)


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "empty folder"),
    (lambda p: (p / "a.txt").write_text("x") and p, "unknown layout"),
    (lambda p: p / "missing", "no such file"),
])
def test_paths_that_are_not_datasets_fail_in_one_line(tmp_path, make, message):
    with pytest.raises(DatasetError, match=message) as info:
        read_dataset(make(tmp_path))
    assert "\n" not in str(info.value)


def test_unknown_layout_name_lists_the_valid_ones(kdef_like):
    with pytest.raises(UnknownNameError, match="valid: .*kdef"):
        read_dataset(kdef_like, layout="kdfe")


@pytest.mark.parametrize("folder, layout, n_images, n_subjects", [
    ("kdef-sample", "kdef", 82, 52),
    ("tcep", "tcep", 1232, 29),
    ("ckplus", "ckplus", 873, 123),
    ("fer2013", "fer2013", 35887, 0),
    ("rafdb", "rafdb", 15339, 0),
    ("affectnet-subset", "affectnet", 15380, 0),
])
@pytest.mark.slow
def test_real_datasets(folder, layout, n_images, n_subjects):
    dataset = read_dataset(shared(folder))
    assert detect_layout(shared(folder)) == layout
    assert len(dataset.table) == n_images
    assert dataset.table["subject"].nunique() == n_subjects
    assert set(dataset.table["emotion"]) <= set(EMOTIONS)
    if layout == "ckplus":
        assert sum("contempt" in s.reason for s in dataset.skipped) == 17
    if layout == "kdef":
        assert set(dataset.table["angle"]) == {"straight"} and set(dataset.table["session"]) == {"A"}


@pytest.mark.slow
def test_ferplus_votes_are_the_seven_classes_counts_in_our_order_joined_by_folder_and_name():
    from conftest import shared

    from maskfer.data.readers import ferplus_labels, ferplus_votes

    root = shared("fer2013")
    table = read_dataset(root).table.sample(400, random_state=0)
    votes, majority = ferplus_votes(table, root), ferplus_labels(table, root)
    assert votes.shape == (400, 7)
    has = ~np.isnan(votes).any(axis=1)
    assert has.mean() > 0.95 and (votes[has] >= 0).all() and (votes[has].sum(axis=1) <= 10).all()
    named = majority.notna().to_numpy()
    assert np.array_equal(votes[named].argmax(axis=1), [EMOTIONS.index(e) for e in majority[named]])


def test_rafdb_and_affectnet_layouts_are_told_apart_from_fer2013(tmp_path):
    for split in ("train", "test"):
        save(tmp_path / "raf" / split / "happy" / f"{split}_0001_aligned.jpg", face_like(0, 0))
        save(tmp_path / "fer" / split / "happy" / f"{split.title()}_1.jpg", face_like(0, 0))
    for split in ("train", "valid", "test"):
        save(tmp_path / "aff" / split / "sad" / f"image000{len(split)}.jpg", face_like(0, 0))
    assert [detect_layout(tmp_path / n) for n in ("raf", "fer", "aff")] == ["rafdb", "fer2013", "affectnet"]
    affectnet = read_dataset(tmp_path / "aff").table
    assert sorted(affectnet["split"]) == ["test", "train", "val"] and not affectnet["duplicate_of_train"].any()


def test_affectnet_marks_photos_whose_copy_is_in_train(tmp_path):
    for path in ("train/sad/image01.jpg", "valid/sad/image02.jpg", "test/sad/image03.jpg", "test/sad/image04.jpg"):
        save(tmp_path / path, face_like(0, 0))
    (tmp_path / "duplicates.csv").write_text("group,path,split,label\n0,train/sad/image01.jpg,train,sad\n"
                                             "0,valid/sad/image02.jpg,valid,sad\n1,test/sad/image03.jpg,test,sad\n"
                                             "1,valid/sad/image09.jpg,valid,sad\n")
    table = read_dataset(tmp_path, layout="affectnet").table
    marked = dict(zip(table["path"].map(lambda p: p.split("/")[-1]), table["duplicate_of_train"]))
    assert marked == {"image01.jpg": False, "image02.jpg": True, "image03.jpg": False, "image04.jpg": False}
