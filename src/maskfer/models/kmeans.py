"""MiniBatchKMeans as a classifier: each cluster predicts the majority label of its members."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class KMeansClassifier(ClassifierMixin, BaseEstimator):
    """Cluster the training images, then label each cluster by majority vote (the study's k-means).

    Parameters
    ----------
    n_clusters : int, the study tried 7..25. Capped at the number of training samples.
    batch_size : int, MiniBatchKMeans batch size; the study tried 6..2400.
    n_init : int, restarts of the clustering.
    random_state : int or None.
    """

    def __init__(self, *, n_clusters: int = 25, batch_size: int = 1024, n_init: int = 3, random_state=0):
        self.n_clusters = n_clusters
        self.batch_size = batch_size
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        self.kmeans_ = MiniBatchKMeans(
            n_clusters=min(self.n_clusters, len(X)), batch_size=self.batch_size, n_init=self.n_init,
            random_state=self.random_state,
        ).fit(X)
        counts = np.zeros((self.kmeans_.n_clusters, len(self.classes_)), dtype=np.int64)
        np.add.at(counts, (self.kmeans_.labels_, y_index), 1)
        # A cluster that got no training member votes for the overall majority class.
        counts[counts.sum(axis=1) == 0] = np.bincount(y_index, minlength=len(self.classes_))
        self.cluster_label_ = counts.argmax(axis=1)
        self.cluster_proba_ = counts / counts.sum(axis=1, keepdims=True)
        return self

    def _clusters(self, X):
        check_is_fitted(self)
        # Predict in the dtype the centres were fitted in (float32 features stay float32).
        X = validate_data(self, X, reset=False, dtype=self.kmeans_.cluster_centers_.dtype)
        return self.kmeans_.predict(X)

    def predict_proba(self, X):
        clusters = self._clusters(X)
        return self.cluster_proba_[clusters]

    def predict(self, X):
        clusters = self._clusters(X)
        return self.classes_[self.cluster_label_[clusters]]
