"""Random occluders on aligned face crops: no mask's shape or look, just "something covers the lower face".

The drawn masks teach a model seven looks; a user's mask has its own. Training also sees the
lower face of an aligned crop (eyes level at 40% of its height) hidden under an occluder of random
height, curvature, width, colour, texture (plain, noise, stripes, checks, blobs) and shading, so
what it learns is to read the upper face whatever covers the rest.
"""

from __future__ import annotations

import cv2
import numpy as np

from maskfer.masks.draw import pattern_mask


def occluder_region(side: int, rng: np.random.Generator) -> np.ndarray:
    """A boolean (side, side) lower-face region: a curved top edge between the nose bridge and the nose tip."""
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    top = rng.uniform(0.52, 0.64)  # the eyes sit at 0.40, the nose tip near 0.66
    bend = rng.uniform(-0.08, 0.15)  # > 0: the edge rises towards the cheeks, as a cup does
    edge = top - bend * (2 * xs - 1) ** 2
    half = rng.uniform(0.28, 0.45) + rng.uniform(0.0, 0.3) * np.clip(ys - edge, 0, None)  # wider lower down
    centre = 0.5 + rng.uniform(-0.04, 0.04)
    return (ys >= edge) & (np.abs(xs - centre) <= half)


def occluder_texture(side: int, rng: np.random.Generator) -> np.ndarray:
    """A random float32 RGB texture in [0, 255]."""
    base = rng.uniform(0, 255, 3).astype(np.float32)
    other = rng.uniform(0, 255, 3).astype(np.float32)
    period = rng.uniform(3, 14)
    pattern = rng.choice(["plain", "noise", "stripes", "checks", "blobs"])
    on = pattern_mask(pattern, side, side, period, rng)
    texture = np.where(on[..., None], other, base)
    grain = rng.uniform(0, 25 if pattern == "noise" else 6)
    return texture + rng.normal(0, grain, (side, side, 1)).astype(np.float32)


def occlude_lower_face(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An aligned uint8 RGB crop with its lower face under a random occluder (a grey crop stays grey)."""
    side = crop.shape[0]
    region = occluder_region(side, rng)
    texture = occluder_texture(side, rng)
    ys = np.linspace(0, 1, side, dtype=np.float32)[:, None, None]
    texture *= 1 - rng.uniform(0, 0.35) * ys  # a little darker lower down, as light from above falls
    if np.array_equal(crop[..., 0], crop[..., 1]) and np.array_equal(crop[..., 1], crop[..., 2]):
        texture = np.repeat(texture.mean(axis=2, keepdims=True), 3, axis=2)
    alpha = cv2.GaussianBlur(region.astype(np.float32), (3, 3), 0)[..., None]
    return np.clip(alpha * texture + (1 - alpha) * crop, 0, 255).astype(np.uint8)
