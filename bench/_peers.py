"""Peers that run offline here, each through its own code and its own shipped model files.

`fer` and `facex` ship TFLite models but import TensorFlow (hundreds of MB) only to reach
`tf.lite.Interpreter`. `install_tflite_runtime()` puts Google's standalone TFLite runtime
(`ai-edge-litert`) in TensorFlow's place, so the peers' own pre-processing, face detection and
post-processing run unchanged. Setup: `pip install ai-edge-litert && pip install --no-deps fer facex`.
"""

from __future__ import annotations

import importlib.resources
import sys
import types

import numpy as np

from maskfer.labels import EMOTIONS

# Each peer's label names, mapped to maskfer's.
FER_LABELS = {"angry": "angry", "disgust": "disgusted", "fear": "afraid", "happy": "happy", "sad": "sad",
              "surprise": "surprised", "neutral": "neutral"}
FACEX_LABELS = {"anger": "angry", "disgust": "disgusted", "fear": "afraid", "happy": "happy", "neutral": "neutral",
                "sadness": "sad", "surprised": "surprised"}


def install_tflite_runtime() -> None:
    from ai_edge_litert.interpreter import Interpreter

    tf = types.ModuleType("tensorflow")
    tf.lite = types.SimpleNamespace(Interpreter=Interpreter)
    keras, models = types.ModuleType("tensorflow.keras"), types.ModuleType("tensorflow.keras.models")

    def load_model(*args, **kwargs):
        raise RuntimeError("the Keras model needs TensorFlow; the peers are run with their TFLite models")

    models.load_model, keras.models, tf.keras = load_model, models, keras
    sys.modules.update({"tensorflow": tf, "tensorflow.keras": keras, "tensorflow.keras.models": models})
    if "pkg_resources" not in sys.modules:  # fer still looks its model up through setuptools' old API
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")
            shim.resource_filename = lambda package, name: str(importlib.resources.files(package) / name)
            sys.modules["pkg_resources"] = shim


class Fer:
    """`fer.FER` as its README runs it (Haar cascade, TFLite model); answers in maskfer's label order."""

    name = "fer 25.10.3"

    def __init__(self):
        install_tflite_runtime()
        from fer.fer import FER

        self.model = FER(use_tflite=True)

    def predict(self, rgb: np.ndarray) -> list[np.ndarray]:
        faces = self.model.detect_emotions(np.ascontiguousarray(rgb[:, :, ::-1]))  # fer expects BGR
        return [np.array([face["emotions"][k] for k in _order(FER_LABELS)]) for face in faces]


class Facex:
    """`facex`'s EmotionClassifier (Haar cascade, its TFLite model)."""

    name = "facex 1.1.0"

    def __init__(self):
        install_tflite_runtime()
        import pathlib

        import facex.core

        self.model = facex.core.EmotionClassifier(str(pathlib.Path(facex.core.__file__).parent / "assets/model_optimized.tflite"))

    def predict(self, rgb: np.ndarray) -> list[np.ndarray]:
        results = self.model.predict(np.ascontiguousarray(rgb[:, :, ::-1]))
        return [np.array([float(r["emot"][k]) for k in _order(FACEX_LABELS)]) for r in results]


def _order(labels: dict[str, str]) -> list[str]:
    back = {ours: theirs for theirs, ours in labels.items()}
    return [back[e] for e in EMOTIONS]
