"""Aligned face crops of a dataset, optionally masked on the fly: the shipped model's inputs.

One landmark pass per photo (cached by its pixels) gives both the mask outline and the
alignment, so an unmasked and a masked crop of the same photo cost one detection. Faces come
from the one face path (`maskfer.faces.find_faces`), so a photo's training crop is the crop that
`maskfer.predict` makes of it. Crops are uint8 (a 57,000-face training set at 64x64 is 700 MB, not
2.8 GB) and cached by chunk, keyed by the photos' content, every parameter and the face path's
version, so an interrupted run resumes and an older face path's crops are never reused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from maskfer.core.cache import Cache, cached_map, stable_key
from maskfer.core.images import ImageError, content_hash, read_image
from maskfer.core.parallel import ComputeConfig
from maskfer.errors import check_name
from maskfer.faces import FACE_DATASETS, FACES_VERSION, aligned_crop, cached_faces, cut_to_face
from maskfer.masks.dataset import mask_seed
from maskfer.masks.draw import MASK_TYPES, MASKS, draw_mask
from maskfer.masks.occluder import occlude_lower_face
from maskfer.masks.templates import TEMPLATE_TYPES

# "random": a drawn mask of a random type per photo; "template": a template-renderer mask of a random type per
# photo (the renderer training never sees; for scoring); "occluder": a random occluder on the aligned crop
# (maskfer.masks.occluder); or one mask type's name.
MASKING = ("none", "random", "template", "occluder")
RANDOM_TYPES = {"random": MASK_TYPES, "template": TEMPLATE_TYPES}
# "photo": the photo as it is; "tight": the photo first cut to the face (a random margin of -15% to +15% of the
# face's size on each side), as a user's tight crop is, so the aligned crop leaves the image and repeats its edges.
FRAMINGS = ("photo", "tight")
TIGHT_MARGINS = (-0.15, 0.15)
CHUNK = 256


@dataclass(frozen=True)
class FaceCropConfig:
    size: int = 64
    mask: str = "none"  # "none", "random" (a random drawn type per photo), "template", "occluder", or a mask type
    seed: int = 0
    framing: str = "photo"  # FRAMINGS
    border: str = "replicate"  # what the crop shows past the photo's edge: maskfer.faces.BORDERS

    def __post_init__(self):
        check_name("masking", self.mask, (*MASKING, *MASKS))
        check_name("framing", self.framing, FRAMINGS)


def _crop_photos(chunks: list[tuple[list[str], list[str]]], config: FaceCropConfig, cache_root: str, cache_enabled: bool) -> list[dict]:
    cache = Cache(cache_root, enabled=cache_enabled)
    return [_crop_chunk(refs, sources, config, cache) for refs, sources in chunks]


def _crop_chunk(refs: Sequence[str], sources: Sequence[str], config: FaceCropConfig, cache: Cache) -> dict:
    out = np.zeros((len(refs), config.size, config.size, 3), np.uint8)
    status = np.full(len(refs), "", dtype=object)
    kinds = np.full(len(refs), "none", dtype=object)
    for i, (ref, source) in enumerate(zip(refs, sources)):
        try:
            image = read_image(ref)
        except ImageError as exc:
            status[i] = exc.reason
            continue
        faces = cached_faces(image, cache, rule=FACE_DATASETS)
        if not faces:
            status[i] = "no face found"
            continue
        face = faces[0]
        if config.mask not in ("none", "occluder"):
            seed = mask_seed(config.seed, source, config.mask)
            types = RANDOM_TYPES.get(config.mask, (config.mask,))
            kind = types[seed % len(types)]
            image = draw_mask(image, face, kind, seed).image
            kinds[i] = kind
        if config.framing == "tight":
            margins = np.random.default_rng(mask_seed(config.seed, source, "tight")).uniform(*TIGHT_MARGINS, 4)
            image, face = cut_to_face(image, face, margins)
        out[i] = aligned_crop(image, face, config.size, config.border)
        if config.mask == "occluder":
            out[i] = occlude_lower_face(out[i], np.random.default_rng(mask_seed(config.seed, source, "occluder")))
            kinds[i] = "occluder"
        status[i] = "ok"
    return {"crops": out, "status": status.astype(str), "kinds": kinds.astype(str)}


def face_crops(refs: Sequence[str], sources: Sequence[str], config: FaceCropConfig = FaceCropConfig(),
               cache: Cache | None = None, jobs: int = 1, on_chunk: Callable[[int], None] | None = None):
    """(crops uint8 (N, size, size, 3), status per photo ("ok" or the reason), mask type per photo)."""
    cache = cache if cache is not None else Cache()
    refs, sources = [str(r) for r in refs], [str(s) for s in sources]
    chunks = [(refs[s:s + CHUNK], sources[s:s + CHUNK]) for s in range(0, len(refs), CHUNK)]
    keys = [stable_key("crops", FACES_VERSION, asdict(config), [content_hash(r) for r in chunk_refs], chunk_sources)
            for chunk_refs, chunk_sources in chunks]
    parts = cached_map(_crop_photos, chunks, keys, cache=cache, kind="crops", store="arrays",
                       args=(config, str(cache.root), cache.enabled), compute=ComputeConfig(jobs=jobs),
                       on_progress=on_chunk, weight=lambda chunk: len(chunk[0]))
    if not parts:
        return np.zeros((0, config.size, config.size, 3), np.uint8), np.zeros(0, str), np.zeros(0, str)
    return tuple(np.concatenate([p[name] for p in parts]) for name in ("crops", "status", "kinds"))
