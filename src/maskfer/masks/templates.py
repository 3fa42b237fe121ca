"""A second mask renderer that works differently: textured templates warped onto the face.

The drawn masks (`draw.py`) are painted inside an outline traced along the face's own landmarks.
These are pictures first: each template is made in a fixed 200 x 200 frame (its shape, straps,
seams, prints and colours chosen by the seed), then warped onto the face triangle by triangle from
eleven anchor landmarks, the way template-warping tools put a photo of a mask on a face. Other
shapes (a bandana's point under the chin, a duckbill's ridge, a sport mask's vents), other
textures (prints, neoprene, paisley blobs) and straps to the ears make a family the shipped model
never trains on: it is what the `mask_renderer` protocol and the model card score against.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from maskfer.faces.landmarks import Face
from maskfer.masks.draw import MaskedFace, mask_quality, register_mask

SIDE = 200  # the template frame
# Anchor points: template frame (u, v in [0, 1]) -> MediaPipe landmark. v = 0 is the nose bridge's
# lower half, v = 1 the chin; u = 0 and 1 are the face's sides.
ANCHORS = [
    ((0.50, 0.00), 197), ((0.02, 0.04), 234), ((0.98, 0.04), 454), ((0.05, 0.42), 132), ((0.95, 0.42), 361),
    ((0.16, 0.74), 172), ((0.84, 0.74), 397), ((0.32, 0.93), 150), ((0.68, 0.93), 379), ((0.50, 1.00), 152),
    ((0.50, 0.30), 1),
]
_UV = np.array([uv for uv, _ in ANCHORS], np.float32)
_TRIANGLES = Delaunay(_UV).simplices
PAD = 0.08  # the frame reaches this far past the anchors (a mask overhangs the chin and cheeks)


def _frame(uv: np.ndarray) -> np.ndarray:
    """Template-frame pixels of (u, v) points (the frame has a margin of PAD all round)."""
    return (np.asarray(uv, np.float32) * (1 - 2 * PAD) + PAD) * SIDE


def _polygon(points_uv) -> np.ndarray:
    return np.round(_frame(points_uv) * 4).astype(np.int32)


def _print_texture(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A float32 RGB texture for the frame: a print, neoprene, or plain fabric with grain."""
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(60, 255), rng.integers(60, 240)]]])
    base = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    other = cv2.cvtColor(np.uint8([[[rng.integers(0, 180), rng.integers(0, 255), rng.integers(120, 255)]]]),
                         cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)
    texture = np.empty((SIDE, SIDE, 3), np.float32)
    texture[:] = base
    if kind == "dots":
        step = int(rng.integers(10, 22))
        for y in range(step // 2, SIDE, step):
            for x in range((y // step % 2) * step // 2, SIDE, step):
                cv2.circle(texture, (x, y), max(2, step // 4), other.tolist(), -1, cv2.LINE_AA)
    elif kind == "paisley":
        field = cv2.GaussianBlur(rng.normal(size=(SIDE, SIDE)).astype(np.float32), (0, 0), rng.uniform(4, 9))
        texture[field > 0.02] = other
        texture[np.abs(field) < 0.01] = base * 0.4
    elif kind == "flowers":
        for _ in range(int(rng.integers(12, 30))):
            centre = rng.integers(0, SIDE, 2)
            radius = int(rng.integers(4, 10))
            for angle in np.linspace(0, 2 * np.pi, 5, endpoint=False):
                petal = centre + radius * np.array([np.cos(angle), np.sin(angle)])
                cv2.circle(texture, tuple(int(v) for v in petal), radius // 2 + 1, other.tolist(), -1, cv2.LINE_AA)
            cv2.circle(texture, tuple(int(v) for v in centre), max(1, radius // 3), (240, 220, 60), -1, cv2.LINE_AA)
    elif kind == "neoprene":
        texture[:] = rng.uniform(15, 70)
        texture += cv2.GaussianBlur(rng.normal(0, 10, (SIDE, SIDE)).astype(np.float32), (0, 0), 1.2)[..., None]
    return texture + rng.normal(0, 3, (SIDE, SIDE, 1)).astype(np.float32)


def _bandana(rng: np.random.Generator):
    shape = [(0.0, 0.05), (1.0, 0.05), (0.98, 0.55), (0.5, 1.12), (0.02, 0.55)]  # a point hanging under the chin
    texture = _print_texture(rng, rng.choice(["paisley", "dots", "plain"]))
    alpha = np.zeros((SIDE, SIDE), np.uint8)
    cv2.fillPoly(alpha, [_polygon(shape)], 255, cv2.LINE_AA, shift=2)
    for t in np.linspace(0.2, 0.8, 4):  # folds of loose cloth
        y = int(_frame([(0, t * 0.6 + 0.1)])[0, 1])
        cv2.line(texture, (0, y), (SIDE, y + int(rng.integers(-6, 6))), (texture[y, SIDE // 2] * 0.8).tolist(), 2, cv2.LINE_AA)
    return texture, alpha, False


def _printed(rng: np.random.Generator):
    shape = [(0.04, 0.02), (0.96, 0.02), (0.97, 0.80), (0.80, 0.98), (0.20, 0.98), (0.03, 0.80)]
    texture = _print_texture(rng, rng.choice(["dots", "flowers", "plain"]))
    alpha = np.zeros((SIDE, SIDE), np.uint8)
    cv2.fillPoly(alpha, [_polygon(shape)], 255, cv2.LINE_AA, shift=2)
    hem = (np.clip(texture.mean(axis=(0, 1)) * 0.7, 0, 255)).tolist()
    cv2.polylines(texture, [_polygon(shape)], True, hem, 3, cv2.LINE_AA, shift=2)
    return texture, alpha, True


def _duckbill(rng: np.random.Generator):
    shape = [(0.0, 0.10), (0.5, -0.02), (1.0, 0.10), (0.92, 0.70), (0.5, 1.08), (0.08, 0.70)]
    colour = np.float32([(236, 240, 244), (150, 190, 230), (60, 60, 66)][int(rng.integers(3))])
    texture = np.empty((SIDE, SIDE, 3), np.float32)
    texture[:] = colour
    texture += rng.normal(0, 2.5, (SIDE, SIDE, 1)).astype(np.float32)
    ridge = _frame([(0.02, 0.55), (0.5, 0.62), (0.98, 0.55)])
    cv2.polylines(texture, [np.round(ridge * 4).astype(np.int32)], False, (colour * 0.7).tolist(), 3, cv2.LINE_AA, shift=2)
    ys = np.linspace(0, 1, SIDE, dtype=np.float32)[:, None, None]
    texture *= np.where(ys < ridge[1, 1] / SIDE, 1.0, 0.86)  # the lower bill in shadow
    alpha = np.zeros((SIDE, SIDE), np.uint8)
    cv2.fillPoly(alpha, [_polygon(shape)], 255, cv2.LINE_AA, shift=2)
    return texture, alpha, True


def _sport(rng: np.random.Generator):
    shape = [(0.03, 0.0), (0.5, -0.03), (0.97, 0.0), (0.96, 0.62), (0.62, 0.97), (0.38, 0.97), (0.04, 0.62)]
    texture = _print_texture(rng, "neoprene")
    stripe = np.float32([rng.integers(0, 255), rng.integers(0, 255), rng.integers(0, 255)])
    cv2.line(texture, tuple(_frame([(0.05, 0.35)])[0].astype(int)), tuple(_frame([(0.35, 0.05)])[0].astype(int)),
             stripe.tolist(), 6, cv2.LINE_AA)
    for side in (0.22, 0.78):  # vent grilles
        centre = _frame([(side, 0.55)])[0]
        cv2.circle(texture, tuple(centre.astype(int)), 16, (90, 90, 95), -1, cv2.LINE_AA)
        for dy in range(-10, 11, 5):
            cv2.line(texture, (int(centre[0]) - 11, int(centre[1]) + dy), (int(centre[0]) + 11, int(centre[1]) + dy),
                     (20, 20, 20), 2, cv2.LINE_AA)
    alpha = np.zeros((SIDE, SIDE), np.uint8)
    cv2.fillPoly(alpha, [_polygon(shape)], 255, cv2.LINE_AA, shift=2)
    return texture, alpha, rng.random() < 0.5


TEMPLATES = {
    "bandana": ("bandana tied behind the head: printed cloth with a point under the chin", _bandana),
    "printed": ("rounded fabric mask with a printed pattern, a hem and ear straps", _printed),
    "duckbill": ("duckbill respirator with a ridge across the middle and straps", _duckbill),
    "sport": ("neoprene sport mask with vent grilles and a stripe", _sport),
}


def render_template(image: np.ndarray, face: Face, kind: str, seed: int) -> MaskedFace:
    """Warp the `kind` template (made from `seed`) onto one face; straps are drawn to the ears."""
    rng = np.random.default_rng(seed)
    texture, alpha, straps = TEMPLATES[kind][1](rng)
    height, width = image.shape[:2]
    points = face.landmarks[[index for _, index in ANCHORS], :2].astype(np.float32)
    centre = points.mean(axis=0)
    frame_points = _frame(_UV)
    layer = np.zeros((height, width, 3), np.float32)
    coverage = np.zeros((height, width), np.float32)
    for triangle in _TRIANGLES:
        src, dst = frame_points[triangle], points[triangle]
        x0, y0 = np.floor(dst.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(dst.max(axis=0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 <= x0 or y1 <= y0:
            continue
        matrix = cv2.getAffineTransform(src, (dst - [x0, y0]).astype(np.float32))
        size = (x1 - x0, y1 - y0)
        warped = cv2.warpAffine(texture, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        warped_alpha = cv2.warpAffine(alpha.astype(np.float32) / 255, matrix, size, flags=cv2.INTER_LINEAR)
        inside = np.zeros((size[1], size[0]), np.uint8)
        cv2.fillConvexPoly(inside, np.round((dst - [x0, y0]) * 4).astype(np.int32), 1, cv2.LINE_8, shift=2)
        take = inside.astype(bool)
        layer[y0:y1, x0:x1][take] = warped[take]
        coverage[y0:y1, x0:x1][take] = warped_alpha[take]
    # The template extends past the outer anchors (a bandana's point, a cup's overhang): continue the
    # lowest triangles' warp below the chin by warping the whole frame with the chin triangle's map.
    chin = [i for i, (_, index) in enumerate(ANCHORS) if index in (150, 379, 152)]
    matrix = cv2.getAffineTransform(frame_points[chin], points[chin])
    below = cv2.warpAffine(alpha.astype(np.float32) / 255, matrix, (width, height), flags=cv2.INTER_LINEAR)
    below_texture = cv2.warpAffine(texture, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    chin_y = points[[index for index, (_, i) in enumerate(ANCHORS) if i == 152][0], 1]
    ys = np.arange(height, dtype=np.float32)[:, None]
    extra = (below > 0.01) & (ys > chin_y) & (coverage == 0)
    layer[extra], coverage[extra] = below_texture[extra], below[extra]
    if straps:
        thick = max(1, int(round(np.linalg.norm(points[2] - points[1]) / 90)))
        for side, low in ((1, 5), (2, 6)):  # from the mask's side towards the ear, above and below
            ear = points[side] + (points[side] - centre) * 0.18
            for start in (points[side] * 0.7 + points[low] * 0.3, points[low]):
                cv2.line(layer, tuple(np.round(start).astype(int)), tuple(np.round(ear).astype(int)), (230, 230, 230), thick, cv2.LINE_AA)
                cv2.line(coverage, tuple(np.round(start).astype(int)), tuple(np.round(ear).astype(int)), 1.0, thick, cv2.LINE_AA)
    # Shade: lit from above, a little darker towards the turned-away side.
    xs = (np.arange(width, dtype=np.float32)[None, :] - centre[0]) / max(1.0, np.ptp(points[:, 0]))
    layer *= (1 - 0.10 * np.sin(np.radians(face.yaw)) * xs)[..., None]
    grey = np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])
    if grey:
        layer = np.repeat(layer.mean(axis=2, keepdims=True), 3, axis=2)
    weight = np.clip(coverage, 0, 1)[..., None]
    out = np.clip(weight * layer + (1 - weight) * image, 0, 255).astype(np.uint8)
    full = np.where(coverage > 0.5, 255, 0).astype(np.uint8)
    return MaskedFace(out, full, mask_quality(full, face), kind, seed)


for _name, (_description, _) in TEMPLATES.items():
    register_mask(_name, _description, renderer="template", render=render_template)(None)

TEMPLATE_TYPES = tuple(TEMPLATES)
