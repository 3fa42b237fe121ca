"""Seven synthetic masks drawn from the face landmarks: no template images, every texture generated.

Each mask type is registered with `@register_mask` as one small painting function; the outline,
shading helpers and compositing are shared.

The outline runs over the nose bridge and under the eyes to the sides of the face, then
follows the face oval round (and a little under) the chin. Because it is built from the
projected mesh, on a turned head it covers what the camera sees of the lower face. Shading
follows the distance from the mask's edge (a cheap stand-in for the cup's curvature) and the
head's yaw; pleats, folds and seams are curves between the top and bottom edges, so they bend
with the face. The same seed gives the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from maskfer.errors import MaskferError, check_name
from maskfer.faces.landmarks import MUST_COVER, MUST_NOT_COVER, Face

TOP_EDGE = [234, 117, 118, 100, 197, 329, 347, 346, 454]
LOWER_EDGE = [454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234]
LOWER_LIP, CHIN, NOSE_BRIDGE, MOUTH_CENTRE = 17, 152, 197, 13

WORK_WIDTH = 200  # masks are drawn with the face at most this wide, then the layer is scaled up
SURGICAL_COLOURS = [(170, 205, 235), (236, 238, 240), (175, 220, 205), (240, 205, 215), (60, 62, 70)]
RESPIRATOR_COLOURS = [(238, 238, 232), (225, 228, 230), (245, 242, 236), (200, 205, 210)]


@dataclass(frozen=True)
class MaskQuality:
    """Shares of landmarks under the mask: mouth and nostrils must be 1.0, eyes and brows 0.0."""

    mouth_nose_covered: float
    eyes_brows_covered: float
    outside_image: int  # must-cover landmarks that fall outside the image

    @property
    def passed(self) -> bool:
        return self.mouth_nose_covered == 1.0 and self.eyes_brows_covered == 0.0

    @property
    def reason(self) -> str:
        if self.passed:
            return ""
        if self.outside_image:
            return f"face cut off by the frame ({self.outside_image} mouth or nose landmarks outside the image)"
        if self.mouth_nose_covered < 1.0:
            return f"mouth or nostrils left uncovered ({100 * (1 - self.mouth_nose_covered):.0f}% of their landmarks)"
        return f"mask over the eyes or brows ({100 * self.eyes_brows_covered:.0f}% of their landmarks)"


@dataclass
class MaskedFace:
    image: np.ndarray  # the whole image, RGB uint8, with this face masked
    coverage: np.ndarray  # uint8 0/255, the mask's region in the whole image
    quality: MaskQuality
    kind: str
    seed: int


def _outline(face: Face, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Top edge (left to right) and lower edge (right, round the chin, to left) in image pixels."""
    points = face.landmarks[:, :2].astype(np.float64)
    height = np.linalg.norm(points[CHIN] - points[NOSE_BRIDGE]) + 1e-6
    # Downward only, so jitter can never bring the edge up over the eyes.
    top = points[TOP_EDGE] + [rng.uniform(-0.02, 0.02) * height, rng.uniform(0.0, 0.03) * height]
    # Keep the edge below every eye and brow landmark near it (small or turned faces put the
    # lower eyelid close to the cheek points the edge runs through).
    guard = points[MUST_NOT_COVER]
    near = np.abs(top[:, None, 0] - guard[None, :, 0]) < 0.15 * height
    floor = np.where(near, guard[None, :, 1] + 0.05 * height, -np.inf).max(axis=1)
    top[:, 1] = np.maximum(top[:, 1], floor)
    lower = points[LOWER_EDGE].copy()
    # Wrap a little under the chin: push points below the lower lip further down.
    below_lip = np.clip((lower[:, 1] - points[LOWER_LIP, 1]) / (points[CHIN, 1] - points[LOWER_LIP, 1] + 1e-6), 0, 1)
    lower[:, 1] += below_lip * rng.uniform(0.04, 0.08) * height
    lower[1:-1, 0] += rng.uniform(-0.01, 0.01) * height
    lower[0], lower[-1] = top[-1], top[0]
    return top, lower


def _resample(line: np.ndarray, n: int) -> np.ndarray:
    """n points evenly spaced along a polyline."""
    steps = np.r_[0, np.cumsum(np.linalg.norm(np.diff(line, axis=0), axis=1))]
    at = np.linspace(0, steps[-1], n)
    return np.stack([np.interp(at, steps, line[:, 0]), np.interp(at, steps, line[:, 1])], axis=1)


def _between(top: np.ndarray, lower: np.ndarray, t: float, n: int = 40) -> np.ndarray:
    """A curve a fraction t of the way from the top edge to the lower edge (for pleats and seams)."""
    return (1 - t) * _resample(top, n) + t * _resample(lower[::-1], n)


def _shading(region: np.ndarray, yaw: float, strength: float) -> np.ndarray:
    """Brighter in the middle of the mask, darker at its edges and on the side turned away."""
    distance = cv2.distanceTransform(region, cv2.DIST_L2, 3)
    depth = np.sqrt(distance / (distance.max() + 1e-6))
    xs = np.linspace(-1, 1, region.shape[1], dtype=np.float32)[None, :]
    side = 1 - 0.12 * np.sin(np.radians(yaw)) * xs
    return ((1 - strength) + strength * depth) * side


def _lines(canvas: np.ndarray, curves, colour, thickness: int) -> None:
    for curve in curves:
        cv2.polylines(canvas, [np.round(curve * 4).astype(np.int32)], False, colour, thickness, cv2.LINE_AA, shift=2)


def pattern_mask(pattern: str, height: int, width: int, period: float, rng: np.random.Generator) -> np.ndarray:
    """Where a fabric's second colour goes: stripes (at a random angle), checks, dots, blobs, or nowhere."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if pattern == "stripes":
        angle = rng.uniform(0, np.pi)
        return (np.cos(angle) * xs + np.sin(angle) * ys) % period < period / 2
    if pattern == "checks":
        return ((xs // period + ys // period) % 2).astype(bool)
    if pattern == "dots":
        return ((xs % period - period / 2) ** 2 + (ys % period - period / 2) ** 2) < (period / 4) ** 2
    if pattern == "blobs":
        return cv2.GaussianBlur(rng.normal(size=(height, width)).astype(np.float32), (0, 0), period / 2) > 0
    return np.zeros((height, width), bool)


def _cloth_texture(shape, rng: np.random.Generator, unit: float) -> np.ndarray:
    """A generated fabric: stripes, checks, dots or a plain weave, in seeded colours."""
    height, width = shape
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(90, 230), rng.integers(90, 230)]]])
    base = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    accent = 255 - base if rng.random() < 0.5 else base * rng.uniform(0.4, 0.7)
    period = max(3.0, unit * rng.uniform(0.08, 0.16))
    on = pattern_mask(rng.choice(["stripes", "checks", "dots", "plain"]), height, width, period, rng)
    texture = np.where(on[..., None], accent, base)
    weave = rng.normal(0, 6, size=(height, width, 1)).astype(np.float32)  # fabric grain
    return texture + weave


RENDERERS = {
    "drawn": "painted inside an outline traced along the face's landmarks (this module); the masks training sees",
    "template": "a textured picture warped onto the face from anchor landmarks (templates.py); never trained on",
}


@dataclass(frozen=True)
class MaskType:
    """A registered mask type: its name, what it looks like, its renderer, and what draws it."""

    name: str
    description: str
    paint: Callable[["MaskCanvas"], None] | None  # drawn types: paints the canvas inside the outline
    hard_edge: bool = False  # no soft blend at the outline (inpainting fills with the face itself)
    renderer: str = "drawn"
    render: Callable | None = None  # other renderers: render(image, face, kind, seed) -> MaskedFace


MASKS: dict[str, MaskType] = {}


def register_mask(name: str, description: str, hard_edge: bool = False, renderer: str = "drawn", render: Callable | None = None):
    """Register `paint(canvas)` as the mask type `name`: `@register_mask("surgical", "...")`.

    A type of another renderer passes its `render(image, face, kind, seed)` instead of a painter.
    """
    check_name("mask renderer", renderer, RENDERERS)

    def register(paint):
        MASKS[name] = MaskType(name, description, paint, hard_edge, renderer, render)
        return paint
    return register


def check_mask_type(name: str) -> str:
    """`name` if it is a registered mask type, else a one-line error listing the valid ones."""
    return check_name("mask type", name, MASKS)


@dataclass
class MaskCanvas:
    """What a mask type paints on: a crop around the face at work size, and the mask's outline in it."""

    crop: np.ndarray  # float32 RGB: the photo under the mask
    canvas: np.ndarray  # float32 RGB: the mask's own pixels, which the type paints
    region: np.ndarray  # uint8 0/255: inside the outline
    extra: np.ndarray  # uint8 0/255: parts painted outside the outline (ear loops, cartridges)
    top: np.ndarray  # top edge, left to right
    lower: np.ndarray  # lower edge, right, round the chin, to left
    face_size: float  # the face's width at work size
    thin: int  # a thin line's width at work size
    yaw: float
    rng: np.random.Generator

    def between(self, t: float, n: int = 40) -> np.ndarray:
        return _between(self.top, self.lower, t, n)

    def lines(self, curves, colour, thickness: int) -> None:
        _lines(self.canvas, curves, colour, thickness)

    def shade(self, strength: float) -> None:
        self.canvas *= _shading(self.region, self.yaw, strength)[..., None]


@register_mask("surgical", "pleated surgical mask in one of five colours, with a nose wire and ear loops")
def _surgical(c: MaskCanvas) -> None:
    colour = np.float32(SURGICAL_COLOURS[c.rng.integers(len(SURGICAL_COLOURS))])
    c.canvas[:] = colour
    c.canvas += c.rng.normal(0, 3, c.canvas.shape[:2])[..., None]
    for t in sorted(c.rng.uniform(0.2, 0.8, 3)):
        curve = c.between(t)
        c.lines([curve], (colour * 0.72).tolist(), c.thin)
        c.lines([curve + [0, c.thin * 1.5]], np.minimum(colour * 1.1, 255).tolist(), c.thin)
    c.lines([c.between(0.03)], (colour * 0.85).tolist(), c.thin)  # nose wire
    c.shade(0.25)
    for corner, low in ((c.top[0], c.lower[-3]), (c.top[-1], c.lower[2])):  # ear loops, from the corners towards the ears
        outward = corner - c.top[len(c.top) // 2]
        ear = corner + outward / (np.linalg.norm(outward) + 1e-6) * c.face_size * 0.12
        loop = np.array([corner, ear, low])
        c.lines([loop], (235, 235, 235), c.thin)
        cv2.polylines(c.extra, [np.round(loop * 4).astype(np.int32)], False, 255, c.thin, cv2.LINE_AA, shift=2)


@register_mask("cloth", "cloth mask of a generated fabric: stripes, checks, dots or a plain weave")
def _cloth(c: MaskCanvas) -> None:
    c.canvas[:] = _cloth_texture(c.canvas.shape[:2], c.rng, c.face_size)
    c.shade(0.25)


def _respirator(c: MaskCanvas) -> np.ndarray:
    colour = np.float32(RESPIRATOR_COLOURS[c.rng.integers(len(RESPIRATOR_COLOURS))])
    c.canvas[:] = colour + c.rng.normal(0, 2.5, c.canvas.shape[:2])[..., None]
    return colour


@register_mask("n95", "moulded N95 cup with a rim, half of them with an exhalation valve")
def _n95(c: MaskCanvas) -> None:
    colour = _respirator(c)
    c.lines([c.between(0.5)], (colour * 0.88).tolist(), c.thin)
    c.lines([c.top, c.lower], (colour * 0.8).tolist(), c.thin * 2)  # the moulded rim
    c.shade(0.45)
    if c.rng.random() < 0.5:  # exhalation valve on one cheek
        centre = tuple(np.round(c.between(0.55)[int(c.rng.choice([10, 29]))]).astype(int))
        radius = int(c.face_size * 0.09)
        cv2.circle(c.canvas, centre, radius, (colour * 0.75).tolist(), -1, cv2.LINE_AA)
        cv2.circle(c.canvas, centre, int(radius * 0.6), (colour * 0.6).tolist(), c.thin, cv2.LINE_AA)


@register_mask("kn95", "folded KN95: two panels and a centre seam")
def _kn95(c: MaskCanvas) -> None:
    colour = _respirator(c)
    middle = np.array([c.top[len(c.top) // 2], c.lower[len(c.lower) // 2]])
    c.lines([_resample(middle, 20)], (colour * 0.7).tolist(), c.thin + 1)
    xs = np.arange(c.canvas.shape[1])[None, :]
    c.canvas *= np.where(xs < middle[:, 0].mean(), 0.94, 1.0)[..., None]  # the two panels of the fold
    c.lines([c.top, c.lower], (colour * 0.8).tolist(), c.thin * 2)  # the moulded rim
    c.shade(0.25)


@register_mask("gas", "dark respirator with two filter cartridges and a front port")
def _gas(c: MaskCanvas) -> None:
    colour = np.float32([c.rng.integers(25, 60)] * 3)
    c.canvas[:] = colour + c.rng.normal(0, 4, c.canvas.shape[:2])[..., None]
    c.shade(0.45)
    curve = c.between(0.6)
    for index in (7, 32):
        centre = tuple(np.round(curve[index]).astype(int))
        radius = int(c.face_size * c.rng.uniform(0.16, 0.2))
        shade = float(c.rng.integers(60, 110))
        cv2.circle(c.canvas, centre, radius, (shade,) * 3, -1, cv2.LINE_AA)
        cv2.circle(c.canvas, centre, int(radius * 0.7), (shade * 0.6,) * 3, c.thin * 2, cv2.LINE_AA)
        cv2.circle(c.extra, centre, radius, 255, -1, cv2.LINE_AA)
    port = tuple(np.round(c.between(0.45)[20]).astype(int))
    cv2.circle(c.canvas, port, int(c.face_size * 0.07), (90, 90, 90), -1, cv2.LINE_AA)


@register_mask("black", "the lower face blacked out (the study's plainest occluder)")
def _black(c: MaskCanvas) -> None:
    c.canvas[:] = 0


@register_mask("inpaint", "the lower face filled in from its surroundings (OpenCV's Telea inpainting)", hard_edge=True)
def _inpaint(c: MaskCanvas) -> None:
    # Inpainting costs grow with the area filled, and its fill is smooth: do it at half size.
    small = cv2.resize(c.crop.astype(np.uint8), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    hole = cv2.resize(c.region, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
    filled = cv2.inpaint(small, hole, max(2, int(c.face_size / 80)), cv2.INPAINT_TELEA)
    c.canvas[:] = cv2.resize(filled, (c.crop.shape[1], c.crop.shape[0]), interpolation=cv2.INTER_LINEAR)


MASK_TYPES = tuple(name for name, spec in MASKS.items() if spec.renderer == "drawn")  # the study's seven, in its order


def check_seed(seed) -> int:
    """`seed` if it is a whole number 0 or more (what numpy's generators take), else a `MaskferError` saying so."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise MaskferError(f"seed must be a whole number 0 or more, got {seed!r}")
    return int(seed)


def draw_mask(image: np.ndarray, face: Face, kind: str = "surgical", seed: int = 0) -> MaskedFace:
    """Draw one mask of `kind` on one face of an RGB uint8 image; returns a new image."""
    spec = MASKS[check_mask_type(kind)]
    check_seed(seed)
    if spec.render is not None:
        return spec.render(image, face, kind, seed)
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    top, lower = _outline(face, rng)
    polygon = np.concatenate([top, lower[1:-1]])
    face_size = np.linalg.norm(top[0] - top[-1]) + 1e-6

    # Work in a crop around the mask, scaled so the face is at most WORK_WIDTH wide: the cost of
    # drawing stays the same for a 256-pixel and a 4,000-pixel photo.
    pad = int(0.35 * face_size) + 4
    x0, y0 = np.maximum(np.floor(polygon.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(axis=0)).astype(int) + pad, [width, height])
    if x1 <= x0 or y1 <= y0:  # the face lies outside the image
        quality = mask_quality(np.zeros((height, width), np.uint8), face)
        return MaskedFace(image.copy(), np.zeros((height, width), np.uint8), quality, kind, seed)
    full_crop = image[y0:y1, x0:x1]
    scale = min(1.0, WORK_WIDTH / face_size)
    crop = cv2.resize(full_crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else full_crop
    crop = crop.astype(np.float32)
    offset = np.array([x0, y0], dtype=np.float64)
    top, lower, polygon = (top - offset) * scale, (lower - offset) * scale, (polygon - offset) * scale
    face_size *= scale
    region = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(region, [np.round(polygon * 4).astype(np.int32)], 255, cv2.LINE_AA, shift=2)
    # On a turned head the nose tip and the far mouth corner stand out past the far cheek's
    # outline; the mask tents over them, so the covered region takes in their hull too.
    core = face.landmarks[MUST_COVER, :2].astype(np.float64)
    core = core.mean(axis=0) + (core - core.mean(axis=0)) * 1.12
    hull = cv2.convexHull(np.round((core - offset) * scale * 4).astype(np.int32))
    cv2.fillConvexPoly(region, hull, 255, cv2.LINE_AA, shift=2)
    region = np.where(region > 127, 255, 0).astype(np.uint8)
    canvas = MaskCanvas(crop, np.zeros_like(crop), region, np.zeros(crop.shape[:2], np.uint8), top, lower, face_size,
                        max(1, int(round(face_size / 120))), face.yaw, rng)
    spec.paint(canvas)

    coverage = np.maximum(region, canvas.extra)
    alpha = cv2.GaussianBlur(coverage, (3, 3), 0)
    if spec.hard_edge:
        alpha = coverage = region
    layer = np.clip(canvas.canvas, 0, 255).astype(np.uint8)
    if np.array_equal(full_crop[..., 0], full_crop[..., 1]) and np.array_equal(full_crop[..., 1], full_crop[..., 2]):
        # A grey photo gets a grey mask: a coloured one would be a cue no real photo has.
        layer = cv2.cvtColor(cv2.cvtColor(layer, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    if scale < 1:
        size = (full_crop.shape[1], full_crop.shape[0])
        layer = cv2.resize(layer, size, interpolation=cv2.INTER_LINEAR)
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
        coverage = np.where(cv2.resize(coverage, size, interpolation=cv2.INTER_LINEAR) > 127, 255, 0).astype(np.uint8)
    weight = alpha.astype(np.float32) / 255.0
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.blendLinear(layer, full_crop, weight, 1.0 - weight)
    full = np.zeros((height, width), np.uint8)
    full[y0:y1, x0:x1] = coverage
    return MaskedFace(out, full, mask_quality(full, face), kind, seed)


def mask_quality(coverage: np.ndarray, face: Face) -> MaskQuality:
    def covered(indices):
        xy = np.round(face.landmarks[indices, :2]).astype(int)
        inside = (xy[:, 0] >= 0) & (xy[:, 1] >= 0) & (xy[:, 0] < coverage.shape[1]) & (xy[:, 1] < coverage.shape[0])
        hits = np.zeros(len(indices), bool)
        hits[inside] = coverage[xy[inside, 1], xy[inside, 0]] > 127
        return float(hits.mean()), int((~inside).sum())

    mouth_nose, outside = covered(MUST_COVER)
    eyes_brows, _ = covered(MUST_NOT_COVER)
    return MaskQuality(mouth_nose, eyes_brows, outside)
