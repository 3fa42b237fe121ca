"""Stage 5: models by name. Every model is a scikit-learn estimator, declared in the registry."""

from maskfer.models.kmeans import KMeansClassifier
from maskfer.models.pca import PCAProjection
from maskfer.models.registry import FAMILIES, MODELS, ModelSpec, create_model, list_models, model_spec, register_model

__all__ = ["FAMILIES", "KMeansClassifier", "MODELS", "ModelSpec", "PCAProjection", "create_model", "list_models", "model_spec",
           "register_model"]
