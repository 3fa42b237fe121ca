"""One face path: masking, training crops and prediction see the same landmarks and the same crop."""

import numpy as np
import pytest

import maskfer
from maskfer.core.cache import Cache
from maskfer.core.images import read_image
from maskfer.data import read_dataset
from maskfer.faces import FACE_DATASETS, FACES_VERSION, USER_PHOTOS, aligned_crop, cached_faces, find_faces
from maskfer.training.crops import FaceCropConfig, face_crops

from conftest import shared

SETS = [("tcep", None), ("ckplus", None), ("kdef-sample", None), ("fer2013", "test")]


def _photos(n_per_set=2):
    rows = []
    for name, split in SETS:
        table = read_dataset(shared(name)).table
        if split:
            table = table[table["split"] == split]
        rows += table.sample(n_per_set, random_state=1)[["path", "source"]].values.tolist()
    return rows


@pytest.mark.slow
def test_training_crops_and_prediction_crops_are_identical(tmp_path):
    photos = _photos()
    refs, sources = [r for r, _ in photos], [s for _, s in photos]
    crops, status, _ = face_crops(refs, sources, FaceCropConfig(size=64), Cache(tmp_path / "cache"))
    for ref, crop, ok in zip(refs, crops, status):
        image = read_image(ref)
        predicted = maskfer.detect(image)
        assert (ok == "ok") == bool(predicted), ref
        if predicted:
            # The same landmarks as prediction reports, and the crop prediction would classify.
            (face,) = find_faces(image, max_faces=1)
            assert np.array_equal(face.landmarks, predicted[0].landmarks), ref
            assert np.array_equal(aligned_crop(image, face, 64), crop), ref


@pytest.mark.slow
def test_landmark_cache_is_keyed_by_pixels_and_face_path_version(tmp_path, monkeypatch):
    import maskfer.faces.landmarks as landmarks

    image = read_image(_photos(1)[0][0])
    cache = Cache(tmp_path / "cache")
    first = cached_faces(image, cache, rule=FACE_DATASETS)
    monkeypatch.setattr(landmarks, "find_faces", lambda *a, **k: pytest.fail("recomputed cached landmarks"))
    assert np.array_equal(cached_faces(image.copy(), cache, rule=FACE_DATASETS)[0].landmarks, first[0].landmarks)  # same pixels, another array
    monkeypatch.setattr(landmarks, "FACES_VERSION", FACES_VERSION + 1)
    with pytest.raises(pytest.fail.Exception):
        cached_faces(image, cache, rule=FACE_DATASETS)  # a newer face path never reads an older one's landmarks


def test_landmarks_match_those_recorded_from_mediapipes_own_graphs():
    # tests/data/recorded-landmarks.npz: the landmarks MediaPipe 0.10.21's detection graphs led to (commit 4a5df6f),
    # on a seeded sample of the shared photos; the face path's own detectors must land within 0.05 pixel of them.
    from pathlib import Path

    recorded = np.load(Path(__file__).parent / "data" / "recorded-landmarks.npz")
    root = shared("")
    for key in sorted(set(recorded["keys"])):
        faces = find_faces(read_image(root / key))
        expected = recorded["landmarks"][recorded["keys"] == key]
        assert len(faces) == len(expected), key
        for face, landmarks in zip(faces, expected):
            assert np.abs(face.landmarks - landmarks).max() < 0.05, key


def test_the_detectors_decode_what_the_models_say():
    from skimage import data

    from maskfer.faces.detection import DETECTORS, anchors, detect

    assert [len(anchors(spec)) for spec in DETECTORS.values()] == [2304, 896]  # the models' output rows
    image = data.astronaut()
    for name in DETECTORS:
        (face,) = detect(image, name)
        x, y, w, h = face.box
        right_eye, left_eye = face.keypoints[:2]
        assert 150 < x < 200 and 40 < y < 120 and 80 < w < 130 and face.score > 0.9, (name, face)
        assert right_eye[0] < left_eye[0] and x < right_eye[0] < x + w and y < right_eye[1] < y + h
    assert detect(np.zeros((200, 300, 3), np.uint8), "full_range") == []


def test_a_tight_crop_of_a_masked_face_that_the_detectors_miss_is_read_as_a_face_and_a_cat_is_not(astronaut):
    import cv2
    from skimage import data

    from maskfer.faces import cut_to_face
    from maskfer.masks import apply_mask

    face = find_faces(astronaut)[0]
    cut, _ = cut_to_face(apply_mask(astronaut, "kn95", 0), face, [-0.05] * 4)  # cut into the face a little
    tight = cv2.resize(cut, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)  # 188 x 172: larger than FER2013's crops
    assert find_faces(tight, crop_fallback=False) == []  # both detectors miss it
    (found,) = find_faces(tight)
    assert found.source == "crop" and found.face_score >= USER_PHOTOS.min_crop_score
    eyes_y = found.landmarks[[33, 263], 1].mean()
    assert 0.2 * tight.shape[0] < eyes_y < 0.55 * tight.shape[0]  # the landmarks sit on the face: eyes in the upper half
    for picture in (data.chelsea(), data.coffee()):  # no face: the landmark model does not call them one
        assert find_faces(np.ascontiguousarray(picture)) == []
