"""One face path: masking, training crops and prediction see the same landmarks and the same crop."""

import numpy as np
import pytest

import maskfer
from maskfer.core.cache import Cache
from maskfer.core.images import read_image
from maskfer.data import read_dataset
from maskfer.faces import FACES_VERSION, aligned_crop, cached_faces, find_faces
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


def test_landmark_cache_is_keyed_by_pixels_and_face_path_version(tmp_path, monkeypatch):
    import maskfer.faces.landmarks as landmarks

    image = read_image(_photos(1)[0][0])
    cache = Cache(tmp_path / "cache")
    first = cached_faces(image, cache)
    monkeypatch.setattr(landmarks, "find_faces", lambda *a, **k: pytest.fail("recomputed cached landmarks"))
    assert np.array_equal(cached_faces(image.copy(), cache)[0].landmarks, first[0].landmarks)  # same pixels, another array
    monkeypatch.setattr(landmarks, "FACES_VERSION", FACES_VERSION + 1)
    with pytest.raises(pytest.fail.Exception):
        cached_faces(image, cache)  # a newer face path never reads an older one's landmarks
