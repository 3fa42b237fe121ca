"""Rows of flattened RGB images to the tensors a CNN trains and predicts on: pixels, ImageNet normalisation with
colour jitter, random shifts and mixup. Shared by `CNNClassifier`, `CNNEmbedding` and the exported graphs' checks."""

from __future__ import annotations

import numpy as np
import torch

from maskfer.core.images import IMAGENET_MEAN, IMAGENET_STD
from maskfer.errors import InvalidValueError

MEAN = torch.from_numpy(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.from_numpy(IMAGENET_STD).view(1, 3, 1, 1)


def to_pixels(X: np.ndarray) -> torch.Tensor:
    """(N, side*side*3) rows, uint8 in 0..255 or float in [0, 1] -> (N, side, side, 3) tensor of the same dtype.

    uint8 rows stay uint8 (a 100,000-face set at 96x96 is 2.8 GB, not 11 GB); `normalise` scales each batch.
    """
    X = np.asarray(X)
    if X.dtype != np.uint8:
        X = X.astype(np.float32, copy=False)
    if not X.flags.writeable:  # torch tensors may not share read-only memory
        X = X.copy()
    side = int(round(np.sqrt(X.shape[1] / 3)))
    if side * side * 3 != X.shape[1]:
        raise InvalidValueError(f"CNN input rows must be flattened side x side x 3 RGB images; got {X.shape[1]} values per row")
    return torch.from_numpy(X.reshape(-1, side, side, 3))


def normalise(pixels: torch.Tensor, colour_jitter: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, side, side, 3) pixels from `to_pixels` -> ImageNet-normalised float (N, 3, side, side).

    With `colour_jitter` s > 0 (training only), each image first gets a random gain and offset per channel
    (up to s and s/2: another camera's colour cast, contrast and exposure), and one in five is made grey.
    """
    images = pixels.permute(0, 3, 1, 2).float()
    if pixels.dtype == torch.uint8:
        images = images / 255
    if colour_jitter:
        n = len(images)
        gain = 1 + colour_jitter * (2 * torch.rand(n, 3, 1, 1, generator=generator) - 1)
        offset = colour_jitter / 2 * (2 * torch.rand(n, 3, 1, 1, generator=generator) - 1)
        grey = torch.rand(n, generator=generator) < 0.2
        images = (images * gain + offset).clamp(0, 1)
        images[grey] = images[grey].mean(1, keepdim=True).expand(-1, 3, -1, -1)
    return (images - MEAN) / STD


def to_images(X: np.ndarray) -> torch.Tensor:
    """(N, side*side*3) rows -> ImageNet-normalised (N, 3, side, side) tensor."""
    return normalise(to_pixels(X))


def random_shift(batch: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Each image moved by up to `pixels` in x and y (edges replicated)."""
    side = batch.shape[-1]
    padded = torch.nn.functional.pad(batch, (pixels,) * 4, mode="replicate")
    offsets = torch.randint(0, 2 * pixels + 1, (len(batch), 2), generator=generator).tolist()
    return torch.stack([padded[i, :, dy:dy + side, dx:dx + side] for i, (dy, dx) in enumerate(offsets)])


def mixed(batch: torch.Tensor, target: torch.Tensor, alpha: float, generator: torch.Generator):
    """Mixup (Zhang et al. 2018): each image and its target blended with another of the batch, by a Beta(alpha, alpha)
    share; the image keeps the larger part, so its own label stays the top one."""
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))  # torch's Beta takes no generator: numpy's, seeded from it
    share = torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, len(batch)).astype(np.float32))
    keep = torch.maximum(share, 1 - share).to(batch.device)
    partner = torch.randperm(len(batch), generator=generator).to(batch.device)
    return (keep.view(-1, 1, 1, 1) * batch + (1 - keep.view(-1, 1, 1, 1)) * batch[partner],
            keep.view(-1, 1) * target + (1 - keep.view(-1, 1)) * target[partner])
