"""On top of the stages: prediction on any photo or video, with the shipped model (ONNX Runtime, no PyTorch)."""

from maskfer.prediction.api import FaceResult, apply_mask, detect, load_image, predict

__all__ = ["FaceResult", "apply_mask", "detect", "load_image", "predict"]
