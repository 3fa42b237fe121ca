"""PCA as a step any model can take (the study's future work)."""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted, validate_data


class PCAProjection(TransformerMixin, BaseEstimator):
    """Randomized PCA to at most `n_components` dimensions.

    Unlike `sklearn.decomposition.PCA(n_components=k)`, which fails when a fold has fewer
    than k samples, this caps k at what the training fold allows, so one model name works on
    an 80-image sample and on 15,000 images alike.
    """

    def __init__(self, n_components: int = 100, whiten: bool = False, random_state=0):
        self.n_components = n_components
        self.whiten = whiten
        self.random_state = random_state

    def fit(self, X, y=None):
        X = validate_data(self, X)
        k = max(1, min(self.n_components, X.shape[0] - 1, X.shape[1]))
        solver = "full" if k >= min(X.shape) else "randomized"
        self.pca_ = PCA(n_components=k, whiten=self.whiten, svd_solver=solver, random_state=self.random_state).fit(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.pca_.transform(X)
