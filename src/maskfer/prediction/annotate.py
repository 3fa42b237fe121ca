"""Annotated copies: each face boxed and labelled, labels never over one another, copies named after the input tree.

`maskfer predict --annotate DIR` writes them (`maskfer.prediction.batch`), `maskfer demo` draws its tiles with them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from maskfer.core.files import atomic_write_bytes
from maskfer.core.images import VIDEO_EXTENSIONS, encode_image

ANNOTATION_SIDE = 320  # smaller images are enlarged first, so that their labels can be read


def label_scale(height: int, width: int) -> float:
    """OpenCV font scale for labels: sized to the image (about 1/50 of its short side, 12 pixels at least)."""
    return max(0.5, min(height, width) / 600)


def _overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def label_place(box, size, image_size, placed) -> tuple[int, int] | None:
    """Where a label of `size` (w, h) goes for a face `box` in an image of `image_size` (w, h): above the box, else
    below it, else inside its top, the first that fits in the image and overlaps none of the `placed` labels
    ((x0, y0, x1, y1) each); None when none does (the label then goes in the band under the image)."""
    (x0, y0, _, y1), (w, h), (width, height) = box, size, image_size
    if w > width:
        return None
    x = min(max(0, x0), width - w)
    return next(((x, y) for y in (y0 - h, y1, y0)
                 if 0 <= y <= height - h and not any(_overlaps((x, y, x + w, y + h), other) for other in placed)), None)


def annotate(image: np.ndarray, faces) -> np.ndarray:
    """A copy of the RGB image with each face boxed and labelled with its top two expressions.

    Labels are sized to the image, not the face, and placed above the box, else below it, else
    inside its top, wherever no other label is; a small image is enlarged first, and a label wider
    than the image, or with no free place, goes in a band under it, numbered, so no label is ever cut
    off or hidden under another.
    """
    factor = max(1, int(np.ceil(ANNOTATION_SIDE / max(1, min(image.shape[:2])))))
    out = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC) if factor > 1 else image.copy()
    height, width = out.shape[:2]
    thickness = max(1, round(max(height, width) / 400))
    scale = label_scale(height, width)
    band = []  # labels that fit nowhere in the image
    placed = []  # the labels drawn so far, (x0, y0, x1, y1): none is drawn over another
    for number, face in enumerate(faces, 1):
        x0, y0, x1, y1 = (int(v) * factor for v in face.box)
        colour = (40, 200, 255) if face.mask_worn else (255, 200, 40)
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, thickness)
        if face.probabilities is None:
            label = face.status
        else:
            top = sorted(face.probabilities.items(), key=lambda kv: -kv[1])[:2]
            label = " ".join(f"{e} {100 * p:.0f}%" for e, p in top) + (" [mask]" if face.mask_worn else "")
        (w, h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        box_h = h + base + 4
        spot = label_place((x0, y0, x1, y1), (w + 4, box_h), (width, height), placed)
        if spot is None:  # too wide, or every place taken by another label: numbered, in the band
            band.append((f"{number}: {label}", colour))
            cv2.putText(out, str(number), (x0 + 2, max(h + 2, y0 + h + 2)), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)
            continue
        x, y = spot
        placed.append((x, y, x + w + 4, y + box_h))
        cv2.rectangle(out, (x, y), (x + w + 4, y + box_h), colour, -1)
        cv2.putText(out, label, (x + 2, y + h + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    if band:
        (_, h), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        line = h + base + 6
        widest = max(cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for text, _ in band) + 8
        canvas = np.full((height + line * len(band), max(width, widest), 3), 255, np.uint8)
        canvas[:height, :width] = out
        for k, (text, colour) in enumerate(band):
            cv2.putText(canvas, text, (4, height + k * line + h + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
        out = canvas
    return out


ANNOTATION_SUFFIXES = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png"}


class AnnotationNames:
    """Where each file's annotated copy goes, relative to the annotation folder: the input tree, mirrored.

    A file found in a folder given on the command line keeps its path below that folder; a file
    given itself keeps its name. The name keeps its case and, for JPEG and PNG, its suffix (other
    images become PNG); two inputs that would land on one name get -2, -3, ... Called on each file
    in turn, so names follow the files' order.
    """

    def __init__(self, inputs: list[str | Path]):
        self.folders = [Path(p) for p in inputs if Path(p).is_dir()]
        self.taken: set[str] = set()

    def __call__(self, file: Path) -> Path:
        home = next((f for f in self.folders if f in file.parents), None)
        relative = file.relative_to(home) if home else Path(file.name)
        if file.suffix.lower() not in ANNOTATION_SUFFIXES and file.suffix.lower() not in VIDEO_EXTENSIONS:
            relative = relative.with_name(relative.name + ".png")
        candidate, n = relative, 1
        while str(candidate).lower() in self.taken:
            n += 1
            candidate = relative.with_name(f"{relative.stem}-{n}{relative.suffix}")
        self.taken.add(str(candidate).lower())
        return candidate


def write_annotated(folder: Path, annotations, overwrite: bool) -> str | None:
    """Write each annotated copy; a file that was there before is kept, and named in the line returned."""
    kept = []
    for target, image, faces in annotations:
        path = folder / target
        if path.exists() and not overwrite:
            kept.append(path)
            continue
        encoding = ANNOTATION_SUFFIXES.get(path.suffix.lower(), "png")
        atomic_write_bytes(path, encode_image(annotate(image, faces), encoding, quality=92))
    if kept:
        return f"{kept[0]}: already exists, not overwritten" + (f" (and {len(kept) - 1} more)" if len(kept) > 1 else "") \
               + "; choose another --annotate folder or add --overwrite"
    return None
