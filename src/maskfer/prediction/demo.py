"""`maskfer demo`: the seven masks on a portrait that ships with scikit-image, and how each one reads.

The photo is NASA's portrait of astronaut Eileen Collins (public domain, a work of the US
federal government), which scikit-image's wheel carries as `skimage/data/astronaut.png`; maskfer
ships no photo of its own. The page shows the original, each masked version, its face box and
its seven expression bars; a PNG contact sheet shows the same at a glance.
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

import cv2
import numpy as np

from maskfer.labels import EMOTIONS
from maskfer.errors import MaskferError
from maskfer.core.files import atomic_write_bytes, atomic_write_text
from maskfer.core.images import encode_image

PHOTO_CREDIT = ("NASA portrait of astronaut Eileen Collins (1998), public domain (a work of the US federal government), "
                "as shipped by scikit-image in skimage/data/astronaut.png")


def demo_photo() -> np.ndarray:
    try:
        from skimage import data
    except ImportError:
        raise MaskferError("the demo photo ships with scikit-image: pip install scikit-image") from None
    return np.ascontiguousarray(data.astronaut())


TILE = 320


def _tile(image: np.ndarray, face, caption: str, side: int = TILE) -> np.ndarray:
    """A square around the face (twice its size), annotated at that size and captioned underneath,
    so the mask, the box and the whole label are readable."""
    from dataclasses import replace

    from maskfer.prediction.annotate import annotate

    x0, y0, x1, y1 = face.box
    half = max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    top, left = max(0, cy - half), max(0, cx - half)
    crop = image[top:cy + half, left:cx + half]
    sx, sy = side / crop.shape[1], side / crop.shape[0]
    zoomed = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
    moved = replace(face, box=(round((x0 - left) * sx), round((y0 - top) * sy), round((x1 - left) * sx), round((y1 - top) * sy)))
    tile = annotate(zoomed, [moved])
    band = np.full((34, tile.shape[1], 3), 255, np.uint8)
    (w, h), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)
    cv2.putText(band, caption, ((tile.shape[1] - w) // 2, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (30, 30, 30), 2, cv2.LINE_AA)
    return np.vstack([tile, band])


def run_demo(out: str | Path, seed: int = 0, overwrite: bool = False) -> dict:
    """Write `<out>/index.html` and `<out>/contact-sheet.png` (files already there replaced only with `overwrite`,
    checked before any work); return what each version read as."""
    from maskfer.core.files import check_output_folder
    from maskfer.masks.draw import MASK_TYPES, draw_mask
    from maskfer.prediction.api import faces_in, read_faces

    started = time.perf_counter()
    out = check_output_folder(out, "--out", ("index.html", "contact-sheet.png"), overwrite)
    photo = demo_photo()
    faces = faces_in(photo, 1)
    if not faces:
        raise MaskferError("no face found in the demo photo (are the face models in maskfer/faces/models/ intact?)")
    versions = [("no mask", photo)] + [(kind, draw_mask(photo, faces[0], kind, seed).image) for kind in MASK_TYPES]
    entries = []
    for name, image in versions:
        (face,) = read_faces(image, faces=faces[:1])[1]
        entries.append({"version": name, "image": image, "face": face, "tile": _tile(image, face, name)})

    # a label too wide for its tile goes in a band under it (`annotate`): every tile padded to the largest
    tall, wide = (max(e["tile"].shape[axis] for e in entries) for axis in (0, 1))
    tiles = [np.pad(e["tile"], ((0, tall - e["tile"].shape[0]), (0, wide - e["tile"].shape[1]), (0, 0)), constant_values=255)
             for e in entries]
    sheet = np.vstack([np.hstack(tiles[:4]), np.hstack(tiles[4:])])
    atomic_write_bytes(out / "contact-sheet.png", encode_image(sheet, "png"))
    atomic_write_text(out / "index.html", _page(entries, time.perf_counter() - started))
    return {e["version"]: {"expression": e["face"].expression, "mask_worn": e["face"].mask_worn,
                           "probabilities": e["face"].probabilities} for e in entries}


def _bars(probabilities: dict[str, float]) -> str:
    top = max(probabilities, key=probabilities.get)
    rows = []
    for emotion in EMOTIONS:
        p = probabilities[emotion]
        rows.append(f'<div class="bar{" top" if emotion == top else ""}"><span>{emotion}</span>'
                    f'<i style="width:{100 * p:.1f}%"></i><b>{100 * p:.0f}%</b></div>')
    return "".join(rows)


def _page(entries: list[dict], seconds: float) -> str:
    cards = []
    for e in entries:
        face = e["face"]
        src = "data:image/png;base64," + base64.b64encode(encode_image(e["tile"], "png")).decode()
        cards.append(f'<figure><img src="{src}" alt="{html.escape(e["version"])}"><figcaption><h2>{html.escape(e["version"])}</h2>'
                     f'<p>reads as <strong>{face.expression}</strong>; mask detected: {"yes" if face.mask_worn else "no"} '
                     f'({100 * face.mask_worn_probability:.0f}%)</p>{_bars(face.probabilities)}</figcaption></figure>')
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>maskfer demo</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #222; }}
main {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 1rem; }}
figure {{ margin: 0; border: 1px solid #ddd; border-radius: 8px; padding: .6rem; }}
img {{ width: 100%; border-radius: 4px; }}
h2 {{ font-size: 1rem; margin: .3rem 0; text-transform: capitalize; }}
.bar {{ display: grid; grid-template-columns: 5.5rem 1fr 2.5rem; align-items: center; gap: .3rem; font-size: 13px; }}
.bar i {{ display: block; height: .7rem; background: #8aa; border-radius: 2px; }}
.bar.top i {{ background: #d62; }} .bar b {{ font-weight: normal; text-align: right; }}
</style></head><body>
<h1>maskfer demo: one face, seven masks</h1>
<p>Each synthetic mask is drawn from the face's landmarks; the shipped model reads the expression behind it.
Photo: {html.escape(PHOTO_CREDIT)}. Made in {seconds:.1f} s.</p>
<main>{''.join(cards)}</main>
</body></html>
"""
