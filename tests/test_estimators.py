"""scikit-learn's own estimator checks over maskfer's estimators, and one test over the registry."""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from maskfer.errors import UnknownNameError
from maskfer.models import KMeansClassifier, PCAProjection, create_model, list_models
from maskfer.models.nystroem import NystroemSVC
from maskfer.models.pca import SampleSpan
from maskfer.models.registry import model_spec
from conftest import face_like


# The CNNs take rows that are flattened square RGB images; these checks of scikit-learn's feed 1 to 10
# features (or a single sample), which no image has, so they cannot apply. Each promise they check is
# checked on images instead where it means something for an image model: the reason names where.
ON_IMAGES = "feeds rows that are no image; checked on 8x8 images in test_cnn_contract.py::"
CNN_IMAGE_CHECKS = {
    "check_estimators_overwrite_params": ON_IMAGES + "test_fit_returns_self_and_leaves_params_alone",
    "check_estimators_fit_returns_self": ON_IMAGES + "test_fit_returns_self_and_leaves_params_alone",
    "check_fit_check_is_fitted": ON_IMAGES + "test_unfitted_use_raises_not_fitted",
    "check_fit_idempotent": ON_IMAGES + "test_classifier_fit_is_repeatable_with_a_seed_and_labels_keep_their_type",
    "check_classifiers_classes": ON_IMAGES + "test_classifier_fit_is_repeatable_with_a_seed_and_labels_keep_their_type",
    "check_n_features_in": ON_IMAGES + "test_fit_returns_self_and_leaves_params_alone",
    "check_n_features_in_after_fitting": ON_IMAGES + "test_classifier_refuses_rows_of_another_width_after_fit",
    "check_readonly_memmap_input": ON_IMAGES + "test_classifier_takes_read_only_arrays_and_plain_lists",
    "check_classifier_data_not_an_array": ON_IMAGES + "test_classifier_takes_read_only_arrays_and_plain_lists",
    "check_classifiers_train": "feeds 2-feature blobs; learning is checked on images in test_every_registered_model_fits_and_beats_chance",
    "check_estimators_dtypes": "feeds 4-feature integer and float rows, which are no image (float32 images are the only input)",
    "check_dtype_object": "feeds 10-feature object rows, which are no image",
    "check_positive_only_tag_during_fit": "feeds 2-feature rows, which are no image",
    "check_fit2d_1sample": "feeds one 10-feature row; no image, and batch norm cannot train on a single sample",
    "check_fit2d_1feature": "feeds one feature per row, which no image has",
    "check_decision_proba_consistency": ON_IMAGES + "test_probabilities_are_the_softmax_of_the_decision_function",
    "check_sample_weights_not_an_array": ON_IMAGES + "test_sample_weights_are_checked_and_left_alone",
    "check_sample_weights_pandas_series": ON_IMAGES + "test_sample_weights_are_checked_and_left_alone",
    "check_sample_weights_shape": ON_IMAGES + "test_sample_weights_are_checked_and_left_alone",
    "check_sample_weights_not_overwritten": ON_IMAGES + "test_sample_weights_are_checked_and_left_alone",
    # Weights are sampling probabilities: a weight of 2 equals a repeated row in distribution, not draw by draw.
    "check_sample_weight_equivalence_on_dense_data": ON_IMAGES + "test_rows_of_zero_weight_are_never_drawn",
}
EMBEDDING_IMAGE_CHECKS = {  # its fit only records the width; transform reads the images
    "check_estimators_dtypes": CNN_IMAGE_CHECKS["check_estimators_dtypes"],
    "check_dtype_object": CNN_IMAGE_CHECKS["check_dtype_object"],
    "check_fit_idempotent": ON_IMAGES + "test_embedding_gives_the_same_rows_whatever_the_order_and_however_often_fitted",
}


def expected_failures(estimator):
    from maskfer.models.cnn import CNNClassifier
    from maskfer.models.embedding import CNNEmbedding

    if isinstance(estimator, CNNClassifier):
        return CNN_IMAGE_CHECKS
    if isinstance(estimator, CNNEmbedding):
        return EMBEDDING_IMAGE_CHECKS
    return {}


def _cnn_estimators():
    from maskfer.models.cnn import CNNClassifier
    from maskfer.models.embedding import CNNEmbedding

    return [CNNClassifier(backbone="mobilenet_v2", weights="none", epochs=1, batch_size=16, max_batches=2),
            CNNEmbedding(backbone="mobilenet_v2", weights="none", cache=False)]


@parametrize_with_checks([KMeansClassifier(n_clusters=8, n_init=1), PCAProjection(n_components=3), SampleSpan(), NystroemSVC(n_components=20)],
                         expected_failed_checks=expected_failures)
def test_sklearn_contract(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(_cnn_estimators(), expected_failed_checks=expected_failures)
def test_sklearn_contract_of_the_cnns(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow if model_spec(name).deep else ())
                                  for name in list_models()])
def test_every_registered_model_fits_and_beats_chance(name):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    model = create_model(name)
    if model_spec(name).deep:
        # CNNs take images: flattened 64x64 RGB, a band whose height and colour depend on the label
        # (the colour for the frozen embeddings, whose global pooling cannot see where the band is;
        # at 32x32 their stride-32 features are a single pixel and the test fails).
        images = np.stack([face_like(label, i, 64) for i, label in enumerate(y)]).astype(np.float32)
        images[np.arange(len(y)), :, :, y] += 60
        X = (np.clip(images, 0, 255) / 255).reshape(len(y), -1)
        if hasattr(model, "epochs"):
            from maskfer.models.backbones import imagenet_available

            model.set_params(epochs=8, batch_size=20, lr=1e-3)
            if model.weights == "imagenet" and not imagenet_available(model.backbone):
                model.set_params(weights="none")  # resnet18's ImageNet file is not on this machine: tested via checkpoints
    else:
        centres = rng.normal(size=(3, 20)) * 3
        X = centres[y] + rng.normal(size=(120, 20))
    model.fit(X[::2], y[::2])
    accuracy = (model.predict(X[1::2]) == y[1::2]).mean()
    assert accuracy > 0.8, f"{name} reached only {accuracy:.2f} on separable blobs"


def test_params_reach_the_final_step():
    assert create_model("random_forest", n_estimators=7).n_estimators == 7
    assert create_model("pca+svm", C=3.0).steps[-1][1].C == 3.0


def test_unknown_model_lists_the_valid_names():
    with pytest.raises(UnknownNameError, match="valid: .*logreg"):
        create_model("resnet9000")


def test_kmeans_maps_clusters_to_majority_labels():
    X = np.array([[0.0], [0.1], [0.2], [10.0], [10.1], [10.2]])
    y = np.array(["sad", "sad", "happy", "happy", "happy", "happy"])
    model = KMeansClassifier(n_clusters=2, random_state=0).fit(X, y)
    assert list(model.predict([[0.05], [10.05]])) == ["sad", "happy"]


def test_list_models_filters_by_pattern_and_family():
    from maskfer.models import list_models, model_spec

    assert list_models("pca+*") == [name for name in list_models() if name.startswith("pca+")] and list_models("pca+*")
    cnns = list_models(family="cnn")
    assert "mobilenet_v2" in cnns and "logreg" not in cnns and all(model_spec(n).eval_set for n in cnns)
    assert set(list_models(family="classical")) | set(cnns) | set(list_models(family="cnn_features")) == set(list_models())
    with pytest.raises(UnknownNameError, match="valid: classical, cnn, cnn_features"):
        list_models(family="transformer")


def test_a_registered_model_is_usable_by_name_everywhere(monkeypatch):
    from sklearn.linear_model import RidgeClassifier

    import maskfer.models.registry as registry
    from maskfer.evaluation.experiment import ExperimentConfig
    from maskfer.study import choose_models

    monkeypatch.setitem(registry.MODELS, "ridge", None)  # removed again after the test
    registry.register_model("ridge", family="classical", description="ridge classifier")(lambda: RidgeClassifier())
    assert isinstance(create_model("ridge", alpha=2.0), RidgeClassifier) and create_model("ridge", alpha=2.0).alpha == 2.0
    assert ExperimentConfig(model="ridge").model == "ridge" and "ridge" in list_models(family="classical")
    assert choose_models("ridge,logreg") == (("ridge", "logreg"), [])


def test_logistic_regression_in_the_training_span_is_the_same_model():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 500)) + np.repeat(np.eye(4, 500) * 3, 10, axis=0)  # fewer rows than columns, as faces are
    y = np.repeat(np.arange(4), 10)
    test = rng.normal(size=(30, 500))
    plain = LogisticRegression(C=1.0, max_iter=5000, tol=1e-10).fit(X, y)
    spanned = create_model("logreg", tol=1e-10).fit(X, y)
    assert np.allclose(plain.predict_proba(test), spanned.predict_proba(test), atol=1e-5)


def test_pca_fits_are_reused_only_for_the_same_data_and_parameters():
    rng = np.random.default_rng(0)
    X = rng.random((60, 40), dtype=np.float32)
    first, again = PCAProjection(n_components=5).fit(X), PCAProjection(n_components=5).fit(X.copy())
    assert again.pca_ is first.pca_ and first.transform(X).dtype == np.float32  # a grid's points share their fold's PCA
    changed = X.copy()
    changed[0, 0] += 1
    assert PCAProjection(n_components=5).fit(changed).pca_ is not first.pca_
    assert PCAProjection(n_components=6).fit(X).pca_ is not first.pca_
    assert PCAProjection(n_components=5, random_state=None).fit(X).pca_ is not first.pca_
    fresh = PCAProjection(n_components=5, random_state=np.random.RandomState(0)).fit(X)
    np.testing.assert_allclose(np.abs(fresh.transform(X)), np.abs(first.transform(X)), atol=1e-4)
