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
from PIL import Image, UnidentifiedImageError

from maskfer.errors import MaskferError

ENCODINGS = ("png", "jpg")
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"})


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


def _to_rgb_uint8(image: Image.Image) -> np.ndarray:
    """Convert any PIL mode to RGB uint8; 16-bit and float images are rescaled, not clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        array = np.asarray(image, dtype=np.float64)
        lo, hi = float(array.min()), float(array.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        grey = ((array - lo) * scale).round().astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Composite over white so transparent regions do not turn black.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def read_image(ref: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image reference as an RGB uint8 array of shape (H, W, 3).

    Grayscale, palette, 16-bit and RGBA images are converted; a missing, corrupt, truncated
    or non-image file, or one whose header claims more than `max_pixels` pixels (checked before
    decoding), raises `ImageError` naming the file and the problem.
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
    try:
        with warnings.catch_warnings():
            # maskfer checks the size itself, below; Pillow's own warning would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                check_size(ref, *image.size, max_pixels=max_pixels)
                image.load()  # decodes fully, so truncation is found here and not later
                array = _to_rgb_uint8(image)
    except Image.DecompressionBombError as exc:  # Pillow's own guard, for headers far over any limit
        claimed = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(claimed.group(1)):,} pixels" if claimed else f"over {2 * Image.MAX_IMAGE_PIXELS:,} pixels"
        raise ImageTooLarge(ref, f"image of {size} is over the limit of {max_pixels:,} pixels "
                                 "(a guard against decompression bombs; raise it with --max-pixels)") from None
    except UnidentifiedImageError:
        raise ImageError(ref, "not an image (unrecognised format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(ref, f"corrupt or truncated image ({exc})") from None
    if array.ndim != 3 or array.shape[0] < 2 or array.shape[1] < 2:
        raise ImageError(ref, f"unusable image shape {array.shape}")
    return np.ascontiguousarray(array)


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
