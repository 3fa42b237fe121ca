"""Stage 3: models by name. Every model is a scikit-learn estimator."""

from maskfer.models.kmeans import KMeansClassifier
from maskfer.models.pca import PCAProjection
from maskfer.models.registry import DESCRIPTIONS, MODELS, base_name, create_model, list_models

__all__ = ["DESCRIPTIONS", "KMeansClassifier", "MODELS", "PCAProjection", "base_name", "create_model", "list_models"]
