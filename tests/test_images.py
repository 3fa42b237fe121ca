"""Bad images: every kind gets a one-line reason naming the file, and runs go on."""

import numpy as np
import pytest
from PIL import Image

from maskfer.core.images import ImageError, read_image
from maskfer.errors import MaskferError
from maskfer.prediction.api import load_image
from maskfer.web.app import ServeConfig, decode_upload
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
    # 16-bit is read over its full range, not clipped to white
    assert np.array_equal(read_image(sixteen)[:, :, 0], rgb[:, :, 0])


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


def picture_in_mode(mode: str) -> tuple[Image.Image, np.ndarray | None]:
    """A test picture in a Pillow mode, and what reading it must give (None: only its shape is known)."""
    rgb = face_like(5, 1)
    grey = rgb[:, :, 0]
    if mode in ("I;16", "I", "F"):
        values = {"I;16": grey.astype(np.uint16) * 257, "I": grey.astype(np.int32) * 257, "F": grey.astype(np.float32) / 255}
        return Image.fromarray(values[mode]), np.dstack([grey] * 3)
    alpha = np.full(grey.shape, 255, np.uint8)
    alpha[:, : grey.shape[1] // 2] = 0  # the left half transparent: it must read white
    if mode in ("RGBA", "LA", "PA"):
        image = Image.fromarray(np.dstack([rgb, alpha])).convert(mode)
        opaque = np.asarray(image.convert("RGB"))
        return image, np.where(alpha[:, :, None] == 0, 255, opaque).astype(np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    return image, None if mode in ("CMYK", "YCbCr") else np.asarray(image.convert("RGB"))


MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "I;16", "I", "F", "CMYK", "YCbCr")


@pytest.mark.parametrize("mode", MODES)
def test_every_entry_point_reads_every_mode_the_same_way(tmp_path, mode):
    image, expected = picture_in_mode(mode)
    path = tmp_path / f"picture-{mode.replace(';', '')}.tif"  # TIFF keeps every one of these modes
    image.save(path)
    with Image.open(path) as reopened:
        assert reopened.mode == image.mode
    read = {"path": load_image(path), "PIL": load_image(image), "upload": decode_upload(path.read_bytes(), ServeConfig())}
    if mode in ("I;16", "I", "F", "L", "RGB", "RGBA", "LA", "1"):  # modes whose array is the picture itself
        read["array"] = load_image(np.asarray(image) if mode != "LA" else np.asarray(image)[:, :, [0, 0, 0, 1]])
    for entry, array in read.items():
        assert array.dtype == np.uint8 and array.shape == (*image.size[::-1], 3), entry
        assert np.array_equal(array, read["path"]), f"{entry} reads {mode} differently from a path"
    if expected is not None:
        assert np.abs(read["path"].astype(int) - expected).max() <= 1, mode
    else:  # CMYK and YCbCr: colour conversions of the picture, close to it
        assert np.abs(read["path"].astype(int) - face_like(5, 1)).mean() < 8, mode


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32", "float32", "float64", "bool"])
@pytest.mark.parametrize("channels", [0, 1, 3, 4])
def test_arrays_of_every_dtype_read_as_their_uint8_picture(dtype, channels):
    levels = face_like(2, 3)[:, :, : max(channels, 1)]
    if channels == 4:
        levels = np.dstack([face_like(2, 3), np.full(levels.shape[:2], 255, np.uint8)])
    if channels == 0:
        levels = levels[:, :, 0]
    if dtype == "bool":
        levels = np.where(levels > 127, 255, 0).astype(np.uint8)
    scale = {"uint8": 1, "uint16": 257, "int32": 1, "float32": 1 / 255, "float64": 1 / 255, "bool": 1 / 255}[dtype]
    array = (levels.astype(np.float64) * scale).astype(dtype)
    expected = load_image(levels)
    assert np.abs(load_image(array).astype(int) - expected).max() <= 1, (dtype, channels)
    if channels == 3:
        assert np.array_equal(load_image(np.ascontiguousarray(array[..., ::-1]), color="bgr"), load_image(array))


def test_sixteen_bit_and_float_arrays_are_not_clipped_to_white():
    grey = face_like(1, 1)[:, :, 0]
    for array in (grey.astype(np.uint16) * 257, grey.astype(np.float32) / 255, grey.astype(np.float64) * 4):
        assert load_image(array).mean() < 250 and load_image(array).std() > 10, array.dtype


def test_non_finite_arrays_are_refused():
    with pytest.raises(MaskferError, match="NaN"):
        load_image(np.full((8, 8, 3), np.nan))


# EXIF orientation -> the transpose that stores an upright picture so that the tag turns it upright again.
STORED_AS = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation", sorted(STORED_AS))
def test_every_exif_orientation_reads_upright_by_every_entry_point(tmp_path, orientation):
    from skimage import data as skdata

    import maskfer
    from maskfer.web.app import ServeConfig

    upright = Image.fromarray(skdata.astronaut()).resize((256, 256))
    stored = upright if STORED_AS[orientation] is None else upright.transpose(STORED_AS[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"phone-{orientation}.jpg"
    stored.save(path, quality=95, exif=exif)
    expected = np.asarray(upright).astype(int)
    with Image.open(path) as opened:
        reads = [read_image(path), decode_upload(path.read_bytes(), ServeConfig()), load_image(opened)]
    for pixels in reads:
        assert pixels.shape == expected.shape and np.abs(pixels.astype(int) - expected).mean() < 4
    face, = maskfer.predict(path)
    assert abs(face.roll) < 15  # read upright: the portrait's head is nearly level
    assert 60 < (face.box[0] + face.box[2]) / 2 < 200 and (face.box[1] + face.box[3]) / 2 < 140  # the face is high in the picture
