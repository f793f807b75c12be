"""ResNet + BAM image classifiers, built as ONE FLAT functional graph.

Every convolution of the backbone is a node of the same functional graph (no nested backbone
model), so Grad-CAM tools such as tf-keras-vis can read any intermediate layer without a
"Graph disconnected" error. A :class:`~xfer_keras.models.bam.BAM` follows each of the first
three stages (Park et al.: "at the end of the first three bottlenecks").

* :func:`build_resnet50_bam` - the XFERa configuration: ResNet50 (bottleneck blocks 3-4-6-3,
  ImageNet stem), BAM after stages conv2/conv3/conv4, 7-class head. Layer names follow
  ``keras.applications.ResNet50`` (``conv2_block1_1_conv``, ...), so ImageNet weights load by
  layer name (:func:`load_imagenet_weights`).
* :func:`build_bam_resnet` - the generic builder (basic or bottleneck blocks, any depths and
  widths, ImageNet or small stem): the small BAM-family nets of the registry use it.

The head is ``GlobalAveragePooling2D -> Dropout -> Dense("logits") -> Activation("predictions",
softmax)``: explainers read the pre-softmax ``logits`` layer without modifying the model.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from xfer_keras.models.bam import BAM

BN_EPS = 1.001e-5  # keras.applications.ResNet50's epsilon (weights load unchanged)


def _bn(x, name):
    return layers.BatchNormalization(axis=-1, epsilon=BN_EPS, name=name)(x)


def bottleneck_block(x, filters: int, stride: int = 1, conv_shortcut: bool = True, name: str = ""):
    """ResNet v1 bottleneck (1x1 -> 3x3 -> 1x1 x4), named like keras.applications.ResNet50."""
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
        shortcut = _bn(shortcut, name + "_0_bn")
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
    x = _bn(x, name + "_1_bn")
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", name=name + "_2_conv")(x)
    x = _bn(x, name + "_2_bn")
    x = layers.Activation("relu", name=name + "_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
    x = _bn(x, name + "_3_bn")
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def basic_block(x, filters: int, stride: int = 1, conv_shortcut: bool = True, name: str = ""):
    """ResNet basic block (3x3 -> 3x3), projection shortcut when shape changes."""
    if conv_shortcut:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False,
                                 name=name + "_0_conv")(x)
        shortcut = _bn(shortcut, name + "_0_bn")
    else:
        shortcut = x
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                      name=name + "_1_conv")(x)
    x = _bn(x, name + "_1_bn")
    x = layers.Activation("relu", name=name + "_1_relu")(x)
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name + "_2_conv")(x)
    x = _bn(x, name + "_2_bn")
    x = layers.Add(name=name + "_add")([shortcut, x])
    return layers.Activation("relu", name=name + "_out")(x)


def stage_output_names(depths: Sequence[int], bam_after: Sequence[int] = (0, 1, 2)) -> list[str]:
    """Name of the layer that ends each stage (the BAM when one follows it)."""
    names = []
    for i, depth in enumerate(depths):
        names.append(f"bam{i + 1}" if i in bam_after else f"conv{i + 2}_block{depth}_out")
    return names


def build_bam_resnet(
    input_shape: tuple[int, int, int],
    num_classes: int = 7,
    block: str = "bottleneck",
    depths: Sequence[int] = (3, 4, 6, 3),
    widths: Sequence[int] = (64, 128, 256, 512),
    strides: Sequence[int] = (1, 2, 2, 2),
    stem: str = "imagenet",
    stem_filters: int = 64,
    stem_stride: int = 1,
    bam_after: Sequence[int] = (0, 1, 2),
    bam_reduction: int = 16,
    bam_dilation: int = 4,
    bam_min_hidden: int = 1,
    dropout: float = 0.0,
    name: str = "bam_resnet",
) -> keras.Model:
    """A ResNet with BAM after the stages listed in ``bam_after`` (0-based), one flat graph.

    Args:
        input_shape: ``(H, W, C)``.
        block: ``"bottleneck"`` (ResNet50-style, output width ``4 * width``) or ``"basic"``.
        stem: ``"imagenet"`` (7x7/2 conv + 3x3/2 max-pool, as ResNet50) or ``"small"``
            (one 3x3 conv with stride ``stem_stride``: for 48-64 px inputs).
    """
    if block not in ("bottleneck", "basic"):
        raise ValueError(f"block must be 'bottleneck' or 'basic', got {block!r}")
    if stem not in ("imagenet", "small"):
        raise ValueError(f"stem must be 'imagenet' or 'small', got {stem!r}")
    if not (len(depths) == len(widths) == len(strides)):
        raise ValueError("depths, widths and strides must have the same length")
    make_block = bottleneck_block if block == "bottleneck" else basic_block
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    if stem == "imagenet":
        x = layers.ZeroPadding2D(padding=3, name="conv1_pad")(inputs)
        x = layers.Conv2D(stem_filters, 7, strides=2, name="conv1_conv")(x)
        x = _bn(x, "conv1_bn")
        x = layers.Activation("relu", name="conv1_relu")(x)
        x = layers.ZeroPadding2D(padding=1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    else:
        x = layers.Conv2D(stem_filters, 3, strides=stem_stride, padding="same", use_bias=False,
                          name="conv1_conv")(inputs)
        x = _bn(x, "conv1_bn")
        x = layers.Activation("relu", name="conv1_relu")(x)
    in_width = stem_filters
    for stage, (depth, width, stride) in enumerate(zip(depths, widths, strides)):
        out_width = 4 * width if block == "bottleneck" else width
        for b in range(depth):
            first = b == 0
            x = make_block(
                x, width, stride=stride if first else 1,
                conv_shortcut=first and (stride != 1 or in_width != out_width),
                name=f"conv{stage + 2}_block{b + 1}",
            )
            in_width = out_width
        if stage in bam_after:
            x = BAM(reduction=bam_reduction, dilation=bam_dilation, min_hidden=bam_min_hidden,
                    name=f"bam{stage + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def build_resnet50_bam(input_size: int = 224, channels: int = 3, num_classes: int = 7,
                       dropout: float = 0.0, name: str = "resnet50_bam") -> keras.Model:
    """The XFERa model: ResNet50 + BAM after conv2/conv3/conv4 + 7-class head."""
    return build_bam_resnet(
        (input_size, input_size, channels), num_classes=num_classes, block="bottleneck",
        depths=(3, 4, 6, 3), widths=(64, 128, 256, 512), strides=(1, 2, 2, 2),
        stem="imagenet", stem_filters=64, bam_after=(0, 1, 2), dropout=dropout, name=name,
    )


def load_imagenet_weights(model: keras.Model, weights: str = "imagenet") -> int:
    """Copy ``keras.applications.ResNet50`` weights into ``model`` layer by layer (by name).

    ``weights`` is ``"imagenet"`` (downloaded by Keras when online) or a path to a ResNet50
    (no-top) weight file. Layers absent from ``model`` or of another shape (a gray first conv)
    are skipped; returns the number of layers copied.
    """
    channels = model.input_shape[-1]
    reference = keras.applications.ResNet50(include_top=False, weights=weights,
                                            input_shape=(None, None, 3))
    copied = 0
    for ref_layer in reference.layers:
        ref_weights = ref_layer.get_weights()
        if not ref_weights:
            continue
        try:
            layer = model.get_layer(ref_layer.name)
        except ValueError:
            continue
        own = layer.get_weights()
        if ref_layer.name == "conv1_conv" and channels == 1 and own[0].shape[2] == 1:
            ref_weights = [ref_weights[0].sum(axis=2, keepdims=True)] + ref_weights[1:]
        if [w.shape for w in own] != [w.shape for w in ref_weights]:
            continue
        layer.set_weights(ref_weights)
        copied += 1
    return copied

