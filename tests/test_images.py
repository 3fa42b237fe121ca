"""Bad images: every kind gets a one-line reason naming the file, and runs go on."""

import numpy as np
import pytest
from PIL import Image

from maskfer.core.images import ImageError, read_image
from maskfer.features import PixelConfig, pixel_features

from conftest import face_like, save


def test_modes_are_converted_to_rgb(tmp_path):
    rgb = face_like(3, 0)
    grey = save(tmp_path / "grey.png", rgb[:, :, 0], mode="L")
    palette = tmp_path / "palette.png"
    Image.fromarray(rgb).convert("P").save(palette)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])).save(rgba)
    sixteen = tmp_path / "sixteen.png"
    Image.fromarray((rgb[:, :, 0].astype(np.uint16) * 257)).save(sixteen)
    for path in (grey, palette, rgba, sixteen):
        image = read_image(path)
        assert image.dtype == np.uint8 and image.shape == (32, 32, 3), path
    assert np.array_equal(read_image(rgba), rgb)
    # 16-bit is rescaled over its range, not clipped to 255
    assert read_image(sixteen).max() == 255 and read_image(sixteen).min() == 0


def test_transparent_pixels_become_white_not_black(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    path = save(tmp_path / "clear.png", rgba)
    assert read_image(path).min() == 255


def bad_files(tmp_path):
    good = save(tmp_path / "good.jpg", face_like(0, 0))
    data = good.read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("this is not an image")
    return {
        "truncated.jpg": "truncated", "corrupt.png": "corrupt", "empty.jpg": "empty",
        "text.jpg": "not an image", "missing.jpg": "no such file",
    }


def test_each_bad_file_gets_its_reason(tmp_path):
    for name, reason in bad_files(tmp_path).items():
        with pytest.raises(ImageError, match=reason) as info:
            read_image(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_features_go_on_past_bad_images_and_name_each_once(tmp_path):
    expected = bad_files(tmp_path)
    refs = [str(tmp_path / "good.jpg"), *[str(tmp_path / n) for n in expected]]
    X, ok, errors = pixel_features(refs, PixelConfig(size=16))
    assert ok.tolist() == [True] + [False] * len(expected)
    assert X.shape == (len(refs), 16 * 16 * 3) and 0 <= X.min() and X.max() <= 1
    assert len(errors) == len(expected)
    for name in expected:
        assert sum(name in e for e in errors) == 1
