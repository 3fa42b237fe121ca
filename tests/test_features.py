"""Pixels as the study computed them, the six augmentations, and the content-keyed cache."""

import numpy as np
import pytest

import maskfer.features.pixels as pixels
from maskfer.errors import UnknownNameError
from maskfer.core.cache import Cache
from maskfer.features import (AUGMENTATIONS, AugmentConfig, PixelConfig, augment_image, augment_training_set,
                              image_to_pixels, imagenet_normalize, pixel_features)

from conftest import face_like, save


def test_study_features_are_64x64_in_unit_range_flattened():
    vector = image_to_pixels(face_like(2, 0, size=100))
    assert vector.shape == (64 * 64 * 3,) and vector.dtype == np.float32
    assert 0.0 <= vector.min() and vector.max() <= 1.0
    assert image_to_pixels(face_like(2, 0), PixelConfig(size=16, color="gray")).shape == (256,)


def test_unknown_colour_fails_with_valid_names():
    with pytest.raises(UnknownNameError, match="gray, rgb"):
        PixelConfig(color="grey")


def test_imagenet_normalisation():
    normalised = imagenet_normalize(np.full((1, 2, 2, 3), [0.485, 0.456, 0.406], np.float32))
    assert np.allclose(normalised, 0)


def test_augmentations_are_exactly_the_study_six():
    image = np.arange(7 * 7).reshape(7, 7, 1).astype(np.float32)
    assert set(AUGMENTATIONS) == {"rot90_cw", "rot90_ccw", "rot180", "flip_ud", "flip_lr", "crop_upper"}
    assert augment_image(image, "rot90_cw")[0, 0, 0] == image[6, 0, 0]  # top-left comes from bottom-left
    assert augment_image(image, "rot90_ccw")[0, 0, 0] == image[0, 6, 0]
    assert np.array_equal(augment_image(image, "rot180"), image[::-1, ::-1])
    assert np.array_equal(augment_image(image, "flip_ud"), image[::-1])
    assert np.array_equal(augment_image(image, "flip_lr"), image[:, ::-1])
    cropped = augment_image(image, "crop_upper")
    assert cropped.shape == image.shape and cropped.max() <= image[3].max()  # rows 4..6 (lower 3/7) are gone


def test_augmentation_adds_six_copies_of_a_seeded_fraction():
    X = np.random.default_rng(0).random((20, 8 * 8 * 3)).astype(np.float32)
    y = np.arange(20) % 7
    config = AugmentConfig(fraction=0.5, seed=1)
    X2, y2 = augment_training_set(X, y, (8, 8, 3), config)
    assert X2.shape == (20 + 6 * 10, X.shape[1]) and len(y2) == len(X2)
    assert np.array_equal(X2[:20], X)
    X3, _ = augment_training_set(X, y, (8, 8, 3), config)
    assert np.array_equal(X2, X3)
    assert augment_training_set(X, y, (8, 8, 3), AugmentConfig())[0] is X


def _images(tmp_path, n):
    return [str(save(tmp_path / f"{i}.png", face_like(i % 7, i))) for i in range(n)]


def test_second_run_reads_the_cache_and_content_changes_invalidate_it(tmp_path, monkeypatch):
    refs = _images(tmp_path, 5)
    cache = Cache(tmp_path / "cache")
    first = pixel_features(refs, cache=cache)[0]
    monkeypatch.setattr(pixels, "_pixel_chunks", lambda *a: pytest.fail("recomputed a cached chunk"))
    assert np.array_equal(pixel_features(refs, cache=cache)[0], first)
    save(tmp_path / "0.png", face_like(6, 99))  # same name, new content
    with pytest.raises(pytest.fail.Exception):
        pixel_features(refs, cache=cache)


def test_an_interrupted_run_resumes_and_leaves_nothing_half_written(tmp_path, monkeypatch):
    monkeypatch.setattr(pixels, "CHUNK", 4)
    refs = _images(tmp_path, 12)
    cache = Cache(tmp_path / "cache")

    def interrupt(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pixel_features(refs, cache=cache, on_chunk=interrupt)  # killed after the first chunk
    computed = []
    original = pixels._pixel_chunks
    monkeypatch.setattr(pixels, "_pixel_chunks", lambda chunks, config: computed.extend(map(len, chunks)) or original(chunks, config))
    X, ok, _ = pixel_features(refs, cache=cache)
    assert computed == [4, 4] and ok.all() and X.shape[0] == 12
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".tmp")]


def test_a_damaged_cache_entry_is_recomputed(tmp_path):
    refs = _images(tmp_path, 3)
    cache = Cache(tmp_path / "cache")
    expected = pixel_features(refs, cache=cache)[0]
    for entry in (tmp_path / "cache").rglob("*.npz"):
        entry.write_bytes(b"damaged")
    assert np.array_equal(pixel_features(refs, cache=cache)[0], expected)
