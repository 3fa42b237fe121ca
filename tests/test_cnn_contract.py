"""The scikit-learn contract of the CNN estimators, checked on tiny images.

scikit-learn's own checks feed 1 to 10 features, which no image has (see test_estimators.py);
here the same promises are checked on what these estimators take: flattened 8x8 RGB images.
"""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

pytest.importorskip("torch")

from maskfer.models.cnn import CNNClassifier  # noqa: E402
from maskfer.models.embedding import CNNEmbedding  # noqa: E402

SIDE = 8


def _images(n=24, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["happy", "sad", "angry"])[np.arange(n) % 3]
    X = rng.random((n, SIDE * SIDE * 3), dtype=np.float32)
    return X, y


def _classifier(**params):
    return CNNClassifier(**{"backbone": "mobilenet_v2", "weights": "none", "epochs": 2, "batch_size": 8, "max_batches": 2,
                            "random_state": 3, **params})


def _embedding():
    return CNNEmbedding(backbone="mobilenet_v2", weights="none", cache=False)


@pytest.mark.slow
@pytest.mark.parametrize("make", [_classifier, _embedding], ids=["CNNClassifier", "CNNEmbedding"])
def test_fit_returns_self_and_leaves_params_alone(make):
    X, y = _images()
    estimator = make()
    before = estimator.get_params()
    assert estimator.fit(X, y) is estimator
    assert estimator.get_params() == before and estimator.n_features_in_ == X.shape[1]


@pytest.mark.parametrize("make", [_classifier, _embedding], ids=["CNNClassifier", "CNNEmbedding"])
def test_unfitted_use_raises_not_fitted(make):
    X, _ = _images()
    estimator = make()
    method = estimator.predict if hasattr(estimator, "predict") else estimator.transform
    with pytest.raises(NotFittedError):
        method(X)


@pytest.mark.parametrize("make", [_classifier, _embedding], ids=["CNNClassifier", "CNNEmbedding"])
def test_clone_and_set_params(make):
    X, y = _images()
    fitted = make().fit(X, y)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "n_features_in_")
    copy.set_params(batch_size=4)
    assert copy.batch_size == 4 and fitted.batch_size != 4


def test_classifier_fit_is_repeatable_with_a_seed_and_labels_keep_their_type():
    X, y = _images()
    first, second = _classifier().fit(X, y), _classifier().fit(X, y)
    assert np.array_equal(first.predict_proba(X), second.predict_proba(X))
    assert set(first.predict(X)) <= set(y) and list(first.classes_) == sorted(set(y))
    other = _classifier(random_state=4).fit(X, y)
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))  # the seed is what makes it repeatable


def test_classifier_refuses_rows_of_another_width_after_fit():
    X, y = _images()
    model = _classifier().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :-3])


def test_embedding_gives_the_same_rows_whatever_the_order_and_however_often_fitted():
    X, y = _images()
    embedding = _embedding().fit(X, y)
    forward = embedding.transform(X)
    assert forward.shape == (len(X), 1280) and forward.dtype == np.float32
    assert np.allclose(embedding.transform(X[::-1])[::-1], forward, atol=1e-5)
    assert np.array_equal(embedding.fit(X, y).transform(X), forward)  # fitting again changes nothing


def test_classifier_takes_read_only_arrays_and_plain_lists():
    X, y = _images()
    X.setflags(write=False)
    probabilities = _classifier().fit(X, y).predict_proba(X)
    assert np.array_equal(_classifier().fit(X.tolist(), list(y)).predict_proba(X.tolist()), probabilities)



def test_sample_weights_are_checked_and_left_alone():
    X, y = _images()
    weights = np.ones(len(y))
    weights[0] = 10.0
    given = weights.copy()
    probabilities = _classifier().fit(X, y, sample_weight=weights).predict_proba(X)
    assert np.array_equal(weights, given)  # not overwritten
    for same in (weights.tolist(), pd.Series(weights)):
        assert np.array_equal(_classifier().fit(X, y, sample_weight=same).predict_proba(X), probabilities)
    for wrong, message in ((np.ones(2 * len(y)), "finite non-negative"), (np.ones((len(y), 2)), "finite non-negative"),
                           (-weights, "finite non-negative"), (np.zeros(len(y)), "all zero"),
                           (np.where(y == "sad", 0.0, 1.0), "no weight to class sad")):
        with pytest.raises(ValueError, match=message):
            _classifier().fit(X, y, sample_weight=wrong)


def test_rows_of_zero_weight_are_never_drawn():
    X, y = _images()
    junk = np.ones((8, X.shape[1]), dtype=np.float32)  # bright rows labelled against the pattern, weighing nothing
    weighted = _classifier().fit(np.vstack([X, junk]), np.concatenate([y, np.full(8, "happy")]),
                                 sample_weight=np.r_[np.ones(len(y)), np.zeros(8)])
    alone = _classifier().fit(X, y, sample_weight=np.ones(len(y)))
    assert np.allclose(weighted.predict_proba(X), alone.predict_proba(X), atol=1e-6)
    assert not np.allclose(_classifier().fit(X, y).predict_proba(X), alone.predict_proba(X), atol=1e-6)

def _fit_killed_after_epoch_two(monkeypatch, checkpoint, X, y):
    """A 3-epoch fit with `checkpoint` that is interrupted just after epoch 2's checkpoint is written."""
    import maskfer.models.checkpoints as checkpoints

    write = checkpoints.write_training_state

    def killed_after_epoch_two(path, state):
        write(path, state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(checkpoints, "write_training_state", killed_after_epoch_two)
        with pytest.raises(KeyboardInterrupt):
            _classifier(epochs=3, checkpoint=str(checkpoint)).fit(X, y)


def test_a_killed_fit_resumes_at_the_epoch_it_reached_and_ends_where_an_unbroken_one_does(tmp_path, monkeypatch):
    X, y = _images()
    unbroken = _classifier(epochs=3).fit(X, y)
    state = tmp_path / "state.pt"
    _fit_killed_after_epoch_two(monkeypatch, state, X, y)
    before = __import__("torch").load(state, weights_only=True)["history"]
    resumed = _classifier(epochs=3, checkpoint=str(state)).fit(X, y)
    assert resumed.history_[:2] == before  # epochs 1 and 2 read back (their timings too), not trained again
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    assert np.array_equal(resumed.predict_proba(X), unbroken.predict_proba(X))


def test_a_damaged_or_foreign_checkpoint_is_a_one_line_error(tmp_path):
    from maskfer.errors import MaskferError

    X, y = _images()
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"not a checkpoint")
    with pytest.raises(MaskferError, match="damaged or not a training checkpoint"):
        _classifier(checkpoint=str(damaged)).fit(X, y)
    other = tmp_path / "other.pt"
    _classifier(epochs=1, checkpoint=str(other)).fit(X, y)
    with pytest.raises(MaskferError, match="another training run .*lr"):
        _classifier(epochs=1, lr=0.1, checkpoint=str(other)).fit(X, y)


def test_probabilities_are_the_softmax_of_the_decision_function():
    X, y = _images()
    model = _classifier().fit(X, y)
    logits = model.decision_function(X)
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert np.allclose(softmax / softmax.sum(axis=1, keepdims=True), model.predict_proba(X), atol=1e-5)
    assert np.array_equal(model.classes_[logits.argmax(axis=1)], model.predict(X))


def test_uint8_rows_train_and_predict_as_the_same_images_scaled_to_one():
    X, y = _images()
    pixels = np.round(X * 255).astype(np.uint8)
    scaled = pixels.astype(np.float32) / 255
    assert np.allclose(_classifier().fit(pixels, y).predict_proba(pixels), _classifier().fit(scaled, y).predict_proba(scaled),
                       atol=1e-5)


def test_one_hot_soft_targets_train_exactly_as_the_labels_and_others_change_the_fit():
    X, y = _images()
    classes = sorted(set(y))
    onehot = np.eye(len(classes))[np.searchsorted(classes, y)]
    plain = _classifier().fit(X, y).predict_proba(X)
    assert np.allclose(_classifier().fit(X, y, soft_targets=onehot).predict_proba(X), plain, atol=1e-6)
    assert not np.allclose(_classifier().fit(X, y, soft_targets=np.full_like(onehot, 1 / 3)).predict_proba(X), plain, atol=1e-4)


def test_soft_targets_of_the_wrong_shape_or_sign_are_refused():
    from maskfer.errors import MaskferError

    X, y = _images()
    with pytest.raises(MaskferError, match="soft_targets must be 24 x 3"):
        _classifier().fit(X, y, soft_targets=np.ones((24, 2)))
    with pytest.raises(MaskferError, match="non-negative"):
        _classifier().fit(X, y, soft_targets=-np.ones((24, 3)))


def test_the_training_loss_is_cross_entropy_on_adjusted_logits_and_soft_targets():
    import torch

    from maskfer.models.cnn import training_loss

    logits, labels = torch.randn(6, 3, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 0, 0, 0])
    onehot = torch.eye(3)[labels]
    assert torch.isclose(training_loss(logits, onehot), torch.nn.functional.cross_entropy(logits, labels))
    prior = torch.tensor([4 / 6, 1 / 6, 1 / 6])
    shift = 1.0 * prior.log()
    assert torch.isclose(training_loss(logits, onehot, shift), torch.nn.functional.cross_entropy(logits + shift, labels))
    # A rare class is owed a larger logit: at equal logits its adjusted loss is higher than the common class's.
    flat = torch.zeros(2, 3)
    rare, common = training_loss(flat[:1], torch.eye(3)[[1]], shift), training_loss(flat[:1], torch.eye(3)[[0]], shift)
    assert rare > common
    half = torch.full((1, 3), 1 / 3)
    assert torch.isclose(training_loss(flat[:1], half), torch.log(torch.tensor(3.0)))


def test_denormals_are_flushed_inside_training_and_its_validation_and_not_after():
    import torch

    from maskfer.models.cnn import denormals_flushed

    tiny = torch.tensor([1e-39])  # below float32's normal range
    assert (tiny * 1.0).item() > 0
    with denormals_flushed():
        with denormals_flushed():  # the validation pass inside an epoch loop
            assert (tiny * 1.0).item() == 0
        assert (tiny * 1.0).item() == 0  # still flushed after the inner block
    assert (tiny * 1.0).item() > 0


def test_colour_jitter_changes_colours_within_range_and_greys_some_images():
    import torch

    from maskfer.models.batches import MEAN, STD, normalise

    pixels = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (200, 4, 4, 3), dtype=np.uint8))
    plain = normalise(pixels)
    jittered = normalise(pixels, 0.3, torch.Generator().manual_seed(0))
    unit = jittered * STD + MEAN
    assert not torch.allclose(plain, jittered) and unit.min() >= -1e-6 and unit.max() <= 1 + 1e-6
    grey = (unit.std(1) < 1e-6).flatten(1).all(1)
    assert 20 <= int(grey.sum()) <= 60  # about one in five
    assert torch.equal(normalise(pixels, 0.0), plain)


@pytest.mark.slow
def test_a_run_recorded_in_the_repository_continues_on_a_fresh_machine(tmp_path, monkeypatch):
    # bench/long_run.py records each epoch's checkpoint in bfloat16; a machine without the local checkpoint
    # puts it back and continues at the recorded epoch, ending near an unbroken run (the rounding, no more).
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("long_run", Path(__file__).parents[1] / "bench" / "long_run.py")
    long_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(long_run)
    monkeypatch.setattr(long_run, "RECORD", tmp_path / "record")
    X, y = _images()
    unbroken = _classifier(epochs=3).fit(X, y)
    local = tmp_path / "machine-1" / "state.pt"
    local.parent.mkdir()
    _fit_killed_after_epoch_two(monkeypatch, local, X, y)  # the first session stops after epoch 2 of 3
    assert long_run.record(local) == 2 and (tmp_path / "record" / "training-state.pt").stat().st_size < local.stat().st_size
    fresh = tmp_path / "machine-2" / "state.pt"
    fresh.parent.mkdir()
    assert long_run.restore(fresh) == 2 and long_run.restore(fresh) == 2  # put back once; a second call changes nothing
    continued = _classifier(epochs=3, checkpoint=str(fresh)).fit(X, y)
    assert [h["epoch"] for h in continued.history_] == [1, 2, 3]
    assert np.abs(continued.predict_proba(X) - unbroken.predict_proba(X)).max() < 0.05


def test_a_checkpoint_from_before_a_parameter_existed_resumes_while_that_parameter_is_at_its_default(tmp_path):
    import torch

    X, y = _images()
    state = tmp_path / "state.pt"
    _classifier(epochs=1, checkpoint=str(state)).fit(X, y)
    saved = torch.load(state, weights_only=True)
    del saved["params"]["augment_colour"]  # as an older maskfer wrote it
    torch.save(saved, state)
    assert [h["epoch"] for h in _classifier(epochs=1, checkpoint=str(state)).fit(X, y).history_] == [1]  # read back
    from maskfer.errors import MaskferError

    with pytest.raises(MaskferError, match="differs in augment_colour"):
        _classifier(epochs=1, checkpoint=str(state), augment_colour=0.2).fit(X, y)


def test_a_checkpoint_continues_on_changed_data_only_when_asked_and_the_record_says_after_which_epoch(tmp_path, monkeypatch):
    from maskfer.errors import MaskferError

    X, y = _images()
    state = tmp_path / "state.pt"
    _fit_killed_after_epoch_two(monkeypatch, state, X, y)
    remade = np.clip(X + 0.01, 0, 1)  # the same photos, crops made anew
    with pytest.raises(MaskferError, match="another training run .*the training data"):
        _classifier(epochs=3, checkpoint=str(state)).fit(remade, y)
    with pytest.raises(ValueError, match="resume_data"):
        _classifier(epochs=3, checkpoint=str(state), resume_data="whatever").fit(remade, y)
    continued = _classifier(epochs=3, checkpoint=str(state), resume_data="changed").fit(remade, y)
    assert [h["epoch"] for h in continued.history_] == [1, 2, 3] and continued.data_changes_ == [2]
    again = _classifier(epochs=3, checkpoint=str(state)).fit(remade, y)  # the checkpoint now holds the new data
    assert again.data_changes_ == [2] and again.history_ == continued.history_
    assert _classifier(epochs=1).fit(X, y).data_changes_ == []
