"""Images in and out: any file (whatever its mode) as an RGB uint8 array, or a one-line reason why not;
an RGB array as PNG or JPEG bytes; and content hashes for the caches.

Images are addressed by a *reference*: a file path, or `CSV#ROW` for a row of the original
`fer2013.csv` (pixels stored as a string of 2,304 numbers).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from maskfer.errors import MaskferError

ENCODINGS = ("png", "jpg")
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"})
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")  # read by `maskfer predict`
# Magic numbers of the image formats read, for bytes that come without a trustworthy name (an upload, a file with no
# suffix in a folder).
SIGNATURES = {
    "jpeg": [b"\xff\xd8\xff"],
    "png": [b"\x89PNG\r\n\x1a\n"],
    "gif": [b"GIF87a", b"GIF89a"],
    "bmp": [b"BM"],
    "tiff": [b"II*\x00", b"MM\x00*"],
}


def image_kind(data: bytes) -> str | None:
    """The image format its first bytes say ("jpeg", "png", "gif", "bmp", "tiff", "webp"), or None."""
    for kind, magics in SIGNATURES.items():
        if any(data.startswith(m) for m in magics):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# ImageNet's channel mean and std (RGB, pixels in [0, 1]): what every ImageNet-initialised network expects.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MAX_PIXELS = 40_000_000  # about 7,300 x 5,500: a larger image is refused from its header, before decoding
MIN_SIDE = 2


class ImageError(MaskferError):
    """An image that cannot be used; the message names the file and the reason."""

    def __init__(self, ref: str, reason: str):
        self.ref, self.reason = str(ref), reason
        super().__init__(f"{ref}: {reason}")


class ImageTooLarge(ImageError):
    """An image whose header claims more pixels than allowed (a decompression bomb, or just too big)."""


def check_size(ref, width: int, height: int, max_pixels: int = MAX_PIXELS) -> None:
    """The one size rule for every image, from files, uploads or arrays: not over `max_pixels`, at least 2x2."""
    if width * height > max_pixels:
        raise ImageTooLarge(ref, f"image of {width}x{height} pixels is over the limit of {max_pixels:,} pixels "
                                 "(a guard against decompression bombs; raise it with --max-pixels)")
    if min(width, height) < MIN_SIDE:
        raise ImageError(ref, f"image of {width}x{height} pixels is too small to hold a face")


def is_csv_ref(ref: str) -> bool:
    return "#" in ref and ref.rsplit("#", 1)[0].lower().endswith(".csv")


@lru_cache(maxsize=2)
def _csv_pixel_strings(csv_path: str) -> tuple[str, ...]:
    import pandas as pd

    return tuple(pd.read_csv(csv_path, usecols=["pixels"])["pixels"].astype(str))


def _read_csv_row(ref: str) -> np.ndarray:
    csv_path, row = ref.rsplit("#", 1)
    try:
        text = _csv_pixel_strings(csv_path)[int(row)]
        pixels = np.array(text.split(), dtype=np.uint8)
    except (IndexError, ValueError, OSError) as exc:
        raise ImageError(ref, f"cannot read pixels ({exc})") from None
    side = int(round(np.sqrt(pixels.size)))
    if side * side != pixels.size or side == 0:
        raise ImageError(ref, f"{pixels.size} pixel values do not make a square image")
    return np.repeat(pixels.reshape(side, side, 1), 3, axis=2)


def _alpha_over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite float RGB (0-255) with alpha (0-1) over white, so transparency never turns black."""
    return rgb * alpha[:, :, None] + 255.0 * (1.0 - alpha[:, :, None])


def _levels_to_uint8(values: np.ndarray) -> np.ndarray:
    """Numbers of any dtype as 0-255 levels, by one rule shared by files, PIL images and arrays.

    uint8 as is; bool as 0/255; uint16 by its full range (a 16-bit photo keeps its brightness);
    other integers and floats by the range their values occupy: 0-1 is read as a fraction (floats),
    0-255 as 8-bit levels, 0-65535 as 16-bit levels, anything else is stretched from min to max.
    """
    if values.dtype == np.uint8:
        return values
    if values.dtype == np.bool_:
        return values.astype(np.uint8) * 255
    scaled = values.astype(np.float64)
    if values.size and not np.isfinite(scaled).all():
        raise MaskferError("image array holds NaN or infinite values")
    lo, hi = (float(scaled.min()), float(scaled.max())) if values.size else (0.0, 0.0)
    if (values.dtype.kind == "u" and values.dtype.itemsize == 2) or (lo >= 0 and 255 < hi <= 65535 and np.issubdtype(values.dtype, np.integer)):
        scaled = scaled / 257.0
    elif lo >= 0 and hi <= 1.0 and np.issubdtype(values.dtype, np.floating):
        scaled = scaled * 255.0
    elif not (lo >= 0 and hi <= 255):
        scaled = (scaled - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def array_to_rgb(array: np.ndarray, color: str = "rgb") -> np.ndarray:
    """An image array (H x W, H x W x 1, x 3 RGB or x 4 RGBA; unsigned, 32/64-bit integer, float or bool) as
    contiguous RGB uint8 (a signed 8- or 16-bit or a complex array is refused: its levels have no one reading).

    The rule for levels is `_levels_to_uint8`'s; alpha (the fourth channel, on the same scale as the
    colour) is composited over white, as it is for files; `color="bgr"` reads OpenCV's channel order.
    """
    array = np.asarray(array)
    if not (array.dtype == np.bool_ or array.dtype.kind in "uf" or (array.dtype.kind == "i" and array.dtype.itemsize >= 4)):
        raise MaskferError(f"image array of dtype {array.dtype} is not read: give uint8 or uint16 levels, int32 or int64 "
                           "levels, floats in 0-1, or bool")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = array[:, :, None].repeat(3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise MaskferError(f"expected an H x W, H x W x 3 or H x W x 4 image array, got shape {array.shape}")
    levels = _levels_to_uint8(array)
    if color == "bgr":
        levels = np.concatenate([levels[:, :, 2::-1], levels[:, :, 3:]], axis=2)
    if levels.shape[2] == 4:
        alpha = levels[:, :, 3].astype(np.float64) / 255.0
        levels = np.round(_alpha_over_white(levels[:, :, :3].astype(np.float64), alpha)).astype(np.uint8)
    return np.ascontiguousarray(levels)


_NUMERIC_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # modes whose pixels are numbers, not colours


def pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Any PIL image (1, L, LA, P, PA, RGB, RGBA, I;16, I, F, CMYK, YCbCr, ...) as RGB uint8.

    The one conversion behind every entry point: files, PIL images and uploads all come here;
    numeric modes share `array_to_rgb`'s levels rule and transparency is composited over white.
    An EXIF orientation tag (a phone's photo stored sideways) is applied first, so the pixels are the
    picture as its owner sees it, and boxes fall in that picture's coordinates.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in _NUMERIC_MODES:
        return array_to_rgb(np.asarray(image))
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        return array_to_rgb(np.asarray(image.convert("RGBA")))
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def _decompression_bomb(ref: str, exc: Exception, max_pixels: int) -> ImageTooLarge:
    """Pillow's own guard (headers far over any limit) reported with maskfer's limit, not Pillow's."""
    claimed = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(claimed.group(1)):,} pixels" if claimed else f"over {2 * Image.MAX_IMAGE_PIXELS:,} pixels"
    return ImageTooLarge(ref, f"image of {size} is over the limit of {max_pixels:,} pixels "
                              "(a guard against decompression bombs; raise it with --max-pixels)")


def decode_image(source, ref: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a file path or a binary file object as RGB uint8; `ref` names it in errors.

    The size is checked from the header before decoding; the image is decoded fully, so truncation
    is found here and not later. Raises `ImageTooLarge` or `ImageError` with a one-line reason.
    """
    try:
        with warnings.catch_warnings():
            # maskfer checks the size itself, below; Pillow's own warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                check_size(ref, *image.size, max_pixels=max_pixels)
                image.load()
                array = pil_to_rgb(image)
    except Image.DecompressionBombError as exc:
        raise _decompression_bomb(ref, exc, max_pixels) from None
    except UnidentifiedImageError:
        raise ImageError(ref, "not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(ref, f"corrupt or truncated image ({exc})") from None
    if array.ndim != 3 or array.shape[0] < 2 or array.shape[1] < 2:
        raise ImageError(ref, f"unusable image shape {array.shape}")
    return array


def read_image(ref: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image reference (a file, or `CSV#ROW`) as an RGB uint8 array of shape (H, W, 3).

    Every mode is converted by `pil_to_rgb`; a missing, corrupt, truncated or non-image file, or
    one whose header claims more than `max_pixels` pixels, raises `ImageError` naming the file.
    """
    ref = str(ref)
    if is_csv_ref(ref):
        return _read_csv_row(ref)
    path = Path(ref)
    if not path.exists():
        raise ImageError(ref, "no such file")
    if path.is_dir():
        raise ImageError(ref, "is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(ref, "empty file")
    return decode_image(path, ref, max_pixels)


def content_hash(ref: str | Path) -> str:
    """A hash of what the reference holds (file bytes or CSV row text), for content-keyed caches."""
    ref = str(ref)
    digest = hashlib.blake2b(digest_size=16)
    if is_csv_ref(ref):
        csv_path, row = ref.rsplit("#", 1)
        try:
            digest.update(_csv_pixel_strings(csv_path)[int(row)].encode())
        except (IndexError, ValueError, OSError):
            digest.update(b"missing:" + ref.encode())
        return digest.hexdigest()
    try:
        digest.update(Path(ref).read_bytes())
    except OSError:
        digest.update(b"missing:" + ref.encode())
    return digest.hexdigest()


def pixels_hash(image: np.ndarray) -> str:
    """A hash of decoded pixels and their shape: the same picture gives the same key whatever file it came from."""
    digest = hashlib.blake2b(str(image.shape).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def encode_image(image: np.ndarray, encoding: str = "png", quality: int = 95) -> bytes:
    """An RGB (or grey) uint8 array as PNG (fast compression) or JPEG (`quality`) bytes."""
    import cv2

    from maskfer.errors import check_name

    check_name("image encoding", encoding, ENCODINGS)
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    options = [cv2.IMWRITE_JPEG_QUALITY, quality] if encoding == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, data = cv2.imencode(f".{encoding}", pixels, options)
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as {encoding}")
    return data.tobytes()
