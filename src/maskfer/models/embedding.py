"""`CNNEmbedding`: a frozen ImageNet backbone's pooled features as a scikit-learn transformer, for the classical models
(`effnet+logreg`, `effnet+svm`). Each row's features are cached by its content, so cross-validation embeds an image once."""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from maskfer.core.cache import Cache, cached_map, stable_key
from maskfer.models.backbones import BACKBONES, create_backbone
from maskfer.models.batches import to_images
from maskfer.models.cnn import check_common, resolve_device


@lru_cache(maxsize=4)
def _frozen_backbone(backbone: str, weights: str, device: str) -> torch.nn.Module:
    return create_backbone(backbone, 7, weights).to(resolve_device(device)).eval()


@torch.no_grad()
def _embed_rows(rows: list[np.ndarray], backbone: str, weights: str, device: str) -> list[dict]:
    net = _frozen_backbone(backbone, weights, device)
    E = net.embed(to_images(np.stack(rows)).to(resolve_device(device))).cpu().numpy()
    return [{"E": e} for e in E]


class CNNEmbedding(TransformerMixin, BaseEstimator):
    """A frozen backbone's pooled features, each row's cached by its content (`cached_map`).

    Cross-validation embeds the same images once per fold and per head (`effnet+logreg`,
    `effnet+svm`): the per-row cache makes that one pass.
    """

    def __init__(self, *, backbone: str = "efficientnet_lite0", weights: str = "imagenet", batch_size: int = 128,
                 device: str = "cpu", cache: bool = True):
        self.backbone = backbone
        self.weights = weights
        self.batch_size = batch_size
        self.device = device
        self.cache = cache

    def fit(self, X, y=None):
        validate_data(self, X, dtype=np.float32)
        check_common(self.backbone, self.weights, self.device)
        return self

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        resolve_device(self.device)
        tag = (self.backbone, str(self.weights))
        keys = [stable_key("embedding", *tag, hashlib.blake2b(row.tobytes(), digest_size=16).hexdigest()) for row in X]
        parts = cached_map(_embed_rows, list(X), keys, cache=Cache(enabled=self.cache), kind="embeddings", store="arrays",
                           args=(self.backbone, str(self.weights), self.device), batch=self.batch_size)
        if not parts:
            return np.zeros((0, BACKBONES[self.backbone].build.dim), np.float32)
        return np.stack([p["E"] for p in parts]).astype(np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # always float32 embeddings
        return tags
