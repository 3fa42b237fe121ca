"""A kernel SVM in minutes at 15,000 images: a Nystroem map of the kernel, then a linear fit.

An exact `SVC` solves a problem over every pair of training images, so its time grows about
with the square of their number (up to 2 minutes per fit at 12,000 on 2 cores). The Nystroem
method approximates the same kernel (RBF, or polynomial with SVC's parameters) from
`n_components` sampled images, and a linear model on those features fits in time linear in the
images. Which linear fit was chosen by measurement (`bench/svm_grid.py`): liblinear's hinge
and squared-hinge solvers took 5 to 190 s per fit at 2,400 images on these features (slower
than exact `SVC`), the least-squares SVM (a ridge fit to +-1 targets, one-vs-rest) 0.1-0.7 s.
Its accuracy is not exact `SVC`'s: at 3,000 images its best grid point is 1.9 points lower,
and single points differ by -4.9 to +9.5 points (docs/benchmarks.md).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import RidgeClassifier
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from maskfer.errors import check_name

KERNELS = ("rbf", "poly")
LOSSES = {
    "squared": "least-squares SVM: a ridge fit to +-1 targets, one-vs-rest (seconds at 15,000 images)",
    "hinge": "the SVM's hinge loss, liblinear's dual solver, one-vs-rest (slow to converge on these features)",
}


class NystroemSVC(ClassifierMixin, BaseEstimator):
    """`SVC(kernel, C, gamma, degree, coef0)` approximated: Nystroem features, then a linear SVM with penalty `C`.

    `gamma="scale"` means what it does for `SVC`: 1 / (n_features * X.var()). `loss` names the
    linear fit (see `LOSSES`); with `"squared"` the ridge penalty is 1 / C, the least-squares
    SVM's form of the same trade-off between margin and training error.
    """

    def __init__(self, *, kernel: str = "rbf", C: float = 1.0, gamma="scale", degree: int = 3, coef0: float = 0.0,
                 n_components: int = 1000, loss: str = "squared", random_state=0):
        self.kernel = kernel
        self.C = C
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.n_components = n_components
        self.loss = loss
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y)
        check_name("kernel", self.kernel, KERNELS)
        check_name("loss", self.loss, LOSSES)
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C}")
        self.classes_ = unique_labels(y)
        gamma = 1.0 / (X.shape[1] * X.var()) if self.gamma == "scale" else float(self.gamma)
        gamma = gamma if np.isfinite(gamma) and gamma > 0 else 1.0  # constant images: every gamma gives the same kernel
        kernel_params = {"degree": self.degree, "coef0": self.coef0} if self.kernel == "poly" else {}
        self.map_ = Nystroem(kernel=self.kernel, gamma=gamma, n_components=min(self.n_components, X.shape[0]),
                             random_state=self.random_state, **kernel_params).fit(X)
        self.linear_ = (RidgeClassifier(alpha=1.0 / self.C) if self.loss == "squared"
                        else LinearSVC(C=self.C, loss="hinge", dual=True, max_iter=5000, random_state=self.random_state))
        if len(self.classes_) > 1:
            self.linear_.fit(self.map_.transform(X), y)
        return self

    def decision_function(self, X):
        check_is_fitted(self, "map_")
        return self.linear_.decision_function(self.map_.transform(validate_data(self, X, reset=False)))

    def predict(self, X):
        check_is_fitted(self, "map_")
        Z = self.map_.transform(validate_data(self, X, reset=False))
        return np.repeat(self.classes_, len(Z)) if len(self.classes_) == 1 else self.linear_.predict(Z)
