"""A small model registry (in the spirit of timm's): names -> builders + default configs.

>>> from xfer_keras.models.registry import create, list_models, model_config
>>> model = create("resnet50_bam", weights=None, input_size=224)      # the XFERa model
>>> model = create("tiny_bam", input_size=64)                          # tests / CI
>>> config = model_config("resnet50_bam", weights="imagenet")         # preprocessing, size...

Every model maps ``(N, S, S, C)`` float inputs (already preprocessed) to ``(N, num_classes)``
softmax probabilities, and has a pre-softmax ``logits`` layer. The preprocessing that goes with
a weight set lives in the config (``"caffe"`` for ImageNet weights, ``"unit"`` = x / 255 when
training from scratch, ``"symmetric"`` = x / 127.5 - 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras

from xfer_keras.emotions import EMOTIONS7
from xfer_keras.models.resnet_bam import build_bam_resnet, build_resnet50_bam, load_imagenet_weights

PREPROCESSINGS = ("unit", "symmetric", "caffe")


@dataclass(frozen=True)
class ModelSpec:
    """How to build one registered model and what goes with it by default."""

    name: str
    builder: Callable[..., keras.Model]  # builder(input_size, channels, num_classes, **kw)
    input_size: int
    channels: int
    preprocessing: str
    description: str
    imagenet: bool = False  # ImageNet weights available (ResNet50 layer names)
    defaults: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    _REGISTRY[spec.name] = spec
    return spec


def _resnet50(input_size, channels, num_classes, dropout=0.0, **kw):
    return build_resnet50_bam(input_size=input_size, channels=channels, num_classes=num_classes,
                              dropout=dropout, **kw)


def _small(depths, widths, strides, stem_filters, name, bam_after=(0, 1, 2), stem_stride=1):
    def build(input_size, channels, num_classes, dropout=0.3, **kw):
        return build_bam_resnet(
            (input_size, input_size, channels), num_classes=num_classes, block="basic",
            depths=depths, widths=widths, strides=strides, stem="small",
            stem_filters=stem_filters, stem_stride=stem_stride, bam_after=bam_after,
            bam_min_hidden=8,
            dropout=dropout, name=name, **kw)
    return build


register(ModelSpec(
    "resnet50_bam", _resnet50, input_size=224, channels=3, preprocessing="unit",
    description="XFERa: ResNet50 (bottleneck 3-4-6-3) + BAM after conv2/3/4, 7 classes",
    imagenet=True))
register(ModelSpec(
    "resnet_small_bam", _small((1, 1, 1, 1), (32, 64, 128, 256), (1, 2, 2, 2), 32,
                               "resnet_small_bam", stem_stride=2),
    input_size=48, channels=1, preprocessing="unit",
    description="small BAM-ResNet: 3x3/2 stem, basic blocks 1-1-1-1 (32-64-128-256 wide, "
                "strides 1-2-2-2), BAM after stages 1-3, for 48x48 gray faces on CPU"))
register(ModelSpec(
    "resnet_bam_wide", _small((1, 1, 1, 1), (64, 128, 256, 512), (1, 2, 2, 2), 32,
                              "resnet_bam_wide", stem_stride=2),
    input_size=48, channels=1, preprocessing="unit",
    description="wide BAM-ResNet: 3x3/2 stem, basic blocks 1-1-1-1 (64-128-256-512 wide, "
                "strides 1-2-2-2), BAM after stages 1-3, for 48x48 gray faces; twice the "
                "width (4x the arithmetic) of resnet_small_bam, trained in mixed bf16"))
register(ModelSpec(
    "resnet_bam_wide_s1", _small((1, 1, 1, 1), (64, 128, 256, 512), (1, 2, 2, 2), 32,
                                 "resnet_bam_wide_s1", stem_stride=1),
    input_size=48, channels=1, preprocessing="unit",
    description="resnet_bam_wide with a 3x3/1 stem: every stage at twice the resolution "
                "(48-24-12-6 instead of 24-12-6-3), 4x the arithmetic, the same weight shapes; "
                "one of the shipped model's teachers"))
register(ModelSpec(
    "tiny_bam", _small((1, 1), (8, 16), (2, 2), 8, "tiny_bam", bam_after=(0,)),
    input_size=64, channels=3, preprocessing="unit",
    description="a few convolutions and one BAM: for tests and CI only"))


def list_models() -> list[str]:
    """Registered model names."""
    return sorted(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; registered: {list_models()}")
    return _REGISTRY[name]


def default_gradcam_layer(model: keras.Model, min_cells: int = 7) -> str:
    """The deepest stage output (BAM or ``conv*_block*_out``) with at least ``min_cells`` x
    ``min_cells`` cells; falls back to the deepest 4-D layer of that size, then the largest."""
    import re

    four_d = []
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", None)
        if shape is not None and len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            four_d.append((layer.name, shape[1] or 0, shape[2] or 0))
    if not four_d:
        raise ValueError(f"model {model.name!r} has no 4-D (convolutional) layer for Grad-CAM")
    stage = re.compile(r"^(bam\d+|conv\d+_block\d+_out)$")
    for candidates in ([f for f in four_d if stage.match(f[0])], four_d):
        big = [f for f in candidates if min(f[1], f[2]) >= min_cells]
        if big:
            return big[-1][0]
    return max(four_d, key=lambda f: f[1] * f[2])[0]


def create(name: str, weights: str | Path | None = None, input_size: int | None = None,
           num_classes: int = 7, channels: int | None = None, **kwargs) -> keras.Model:
    """Build a registered model.

    Args:
        weights: ``None`` (random init), ``"imagenet"`` (ResNet50 layers, downloaded by Keras
            when online; only for models with ImageNet layer names), or a local file: a
            ``.weights.h5`` saved from the same architecture, or a ResNet50 no-top weight file.
        input_size: side of the square input (default: the model's).
        channels: 1 (gray) or 3 (default: the model's; ImageNet weights want 3).
    """
    spec = get_spec(name)
    size = int(input_size or spec.input_size)
    chans = int(channels or spec.channels)
    model = spec.builder(size, chans, num_classes, **{**spec.defaults, **kwargs})
    if weights is None:
        return model
    if str(weights) == "imagenet":
        if not spec.imagenet:
            raise ValueError(f"{name!r} has no ImageNet weights")
        load_imagenet_weights(model, "imagenet")
        return model
    path = Path(weights).expanduser()
    if not path.is_file():
        from xfer_keras.errors import ModelFileError

        raise ModelFileError(f"weights file not found: {path}")
    if path.name.endswith(".weights.h5"):
        model.load_weights(path)
    elif spec.imagenet:
        load_imagenet_weights(model, str(path))
    else:
        model.load_weights(path)
    return model


def model_config(name: str, weights=None, input_size: int | None = None,
                 channels: int | None = None, model: keras.Model | None = None,
                 preprocessing: str | None = None) -> dict:
    """The classifier config (see ``EmotionClassifier``) that goes with a model and weights."""
    spec = get_spec(name)
    imagenet_file = (weights is not None and spec.imagenet and str(weights) != "imagenet"
                     and not str(weights).endswith(".weights.h5"))
    prep = preprocessing or ("caffe" if str(weights) == "imagenet" or imagenet_file
                             else spec.preprocessing)
    if prep not in PREPROCESSINGS:
        raise ValueError(f"preprocessing must be one of {PREPROCESSINGS}, got {prep!r}")
    config = {
        "architecture": name,
        "input_size": int(input_size or spec.input_size),
        "channels": int(channels or spec.channels),
        "preprocessing": prep,
        "class_names": list(EMOTIONS7),
        "weights": None if weights is None else str(weights),
    }
    if model is not None:
        config["gradcam_layer"] = default_gradcam_layer(model)
    return config
