"""Bottleneck Attention Module (BAM; Park, Woo, Lee, Kweon, BMVC 2018), Keras 3 ops only.

For a feature map ``F`` of shape ``(N, H, W, C)``:

* channel gate ``Mc(F)``: global average pool -> Dense(C / r) -> BN -> ReLU -> Dense(C),
  shape ``(N, 1, 1, C)``;
* spatial gate ``Ms(F)``: 1x1 conv to ``C / r`` -> BN -> ReLU -> two 3x3 convs with dilation
  ``d`` (each -> BN -> ReLU) -> 1x1 conv to one map, shape ``(N, H, W, 1)``;
* ``M = sigmoid(Mc + Ms)`` (broadcast to ``(N, H, W, C)``) and the output ``F + F * M``.

The paper's defaults are ``r = 16`` and ``d = 4``. The layer keeps ``(N, H, W, C)`` and is
serialisable (``get_config``; ``.keras`` round trip through ``keras.saving``).
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="xfer_keras")
class BAM(layers.Layer):
    """Bottleneck Attention Module: ``F + F * sigmoid(channel_gate(F) + spatial_gate(F))``.

    Args:
        reduction: channel reduction ratio ``r`` of both gates (paper: 16).
        dilation: dilation of the two 3x3 convolutions of the spatial gate (paper: 4).
        min_hidden: lower bound on the hidden width ``C // r`` (small nets keep >= this many).
        return_attention: when True the layer returns ``(output, M)`` instead of ``output``
            (M is ``(N, H, W, C)`` in ``[0, 1]``); for inspection.
    """

    def __init__(self, reduction: int = 16, dilation: int = 4, min_hidden: int = 1,
                 return_attention: bool = False, **kwargs):
        super().__init__(**kwargs)
        if reduction < 1 or dilation < 1 or min_hidden < 1:
            raise ValueError("reduction, dilation and min_hidden must be >= 1")
        self.reduction = int(reduction)
        self.dilation = int(dilation)
        self.min_hidden = int(min_hidden)
        self.return_attention = bool(return_attention)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"BAM expects (N, H, W, C) with known C, got {input_shape}")
        channels = int(input_shape[-1])
        hidden = max(self.min_hidden, channels // self.reduction)
        self.hidden_units = hidden
        # channel gate
        self.ch_fc1 = layers.Dense(hidden, name="channel_fc1")
        self.ch_bn = layers.BatchNormalization(name="channel_bn")
        self.ch_fc2 = layers.Dense(channels, name="channel_fc2")
        # spatial gate
        self.sp_reduce = layers.Conv2D(hidden, 1, name="spatial_reduce")
        self.sp_bn0 = layers.BatchNormalization(name="spatial_bn0")
        self.sp_dil1 = layers.Conv2D(hidden, 3, padding="same", dilation_rate=self.dilation,
                                     name="spatial_dilated1")
        self.sp_bn1 = layers.BatchNormalization(name="spatial_bn1")
        self.sp_dil2 = layers.Conv2D(hidden, 3, padding="same", dilation_rate=self.dilation,
                                     name="spatial_dilated2")
        self.sp_bn2 = layers.BatchNormalization(name="spatial_bn2")
        self.sp_out = layers.Conv2D(1, 1, name="spatial_out")

        n, h, w, c = input_shape
        self.ch_fc1.build((n, channels))
        self.ch_bn.build((n, hidden))
        self.ch_fc2.build((n, hidden))
        self.sp_reduce.build(input_shape)
        self.sp_bn0.build((n, h, w, hidden))
        self.sp_dil1.build((n, h, w, hidden))
        self.sp_bn1.build((n, h, w, hidden))
        self.sp_dil2.build((n, h, w, hidden))
        self.sp_bn2.build((n, h, w, hidden))
        self.sp_out.build((n, h, w, hidden))
        super().build(input_shape)

    def channel_gate(self, x, training=None):
        """``(N, 1, 1, C)`` channel attention logits."""
        y = ops.mean(x, axis=(1, 2))
        y = ops.relu(self.ch_bn(self.ch_fc1(y), training=training))
        y = self.ch_fc2(y)
        return ops.expand_dims(ops.expand_dims(y, 1), 1)

    def spatial_gate(self, x, training=None):
        """``(N, H, W, 1)`` spatial attention logits."""
        y = ops.relu(self.sp_bn0(self.sp_reduce(x), training=training))
        y = ops.relu(self.sp_bn1(self.sp_dil1(y), training=training))
        y = ops.relu(self.sp_bn2(self.sp_dil2(y), training=training))
        return self.sp_out(y)

    def attention(self, x, training=None):
        """The attention map ``M = sigmoid(Mc + Ms)``, ``(N, H, W, C)`` in ``[0, 1]``."""
        return ops.sigmoid(self.channel_gate(x, training) + self.spatial_gate(x, training))

    def call(self, inputs, training=None):
        att = self.attention(inputs, training=training)
        out = inputs + inputs * att
        if self.return_attention:
            return out, att
        return out

    def compute_output_shape(self, input_shape):
        if self.return_attention:
            return tuple(input_shape), tuple(input_shape)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(reduction=self.reduction, dilation=self.dilation,
                      min_hidden=self.min_hidden, return_attention=self.return_attention)
        return config
