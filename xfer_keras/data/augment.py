"""The training augmentation recipe, once, in ``keras.ops``: what every training pipeline draws.

:func:`augment_pixels` takes a float batch in ``[0, 255]`` and a ``uniform(shape, low, high)``
source of random numbers, so the same recipe runs inside ``tf.data``
(:func:`xfer_keras.data.image_folders.make_dataset`, with stateless draws keyed per batch) and
inside a model's training graph on any Keras backend
(:class:`xfer_keras.training.augmentation.TrainingAugmentation`, with ``keras.random``). The
draws come in a fixed order, and none for a part of the recipe that is off. After it, both
pipelines bring the batch to the model's channels and size with :func:`to_model_input`.

``"basic"``: random horizontal flip, one affine map per image (rotation +-10 degrees, zoom
x0.9-1.1, shift +-10 %, reflected borders, bilinear), contrast x0.8-1.2 about the image's mean
and brightness +-20. ``"studio"`` widens it towards other capture set-ups
(:mod:`xfer_keras.evaluation.capture_shifts`): rotation +-15 degrees, contrast x0.6-1.5, a gamma of
0.5-2 (log-uniform) and, for half the images, light falling off linearly across the face from a
random direction (down to x0.4-1 at the far corner). ``erasing``: the share of images with one
rectangle of 2-33 % of the image, aspect 0.3-3.3, replaced by uniform noise (random erasing,
Zhong et al. 2020), so that no single face region can carry the answer alone.
"""

from __future__ import annotations

import numpy as np

#: the augmentation recipes
AUGMENTATIONS = ("basic", "studio")


def check_recipe(augmentation: str, erasing: float) -> None:
    """ValueError for an unknown recipe or an erasing share outside ``[0, 1]``."""
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {augmentation!r}; known: {AUGMENTATIONS}")
    if not 0.0 <= erasing <= 1.0:
        raise ValueError(f"erasing is a share of images, in [0, 1]; got {erasing}")


def augment_pixels(x, uniform, augmentation: str = "basic", erasing: float = 0.0):
    """The recipe on float pixels ``(N, H, W, C)`` in ``[0, 255]`` (a tensor of the running
    backend, or of TensorFlow inside ``tf.data``); ``uniform(shape, low, high)`` draws."""
    from keras import ops

    check_recipe(augmentation, erasing)
    n, h, w = ops.shape(x)[0], int(x.shape[1]), int(x.shape[2])
    studio = augmentation == "studio"
    x = ops.where(uniform((n, 1, 1, 1), 0.0, 1.0) < 0.5, ops.flip(x, axis=2), x)
    max_angle = 15.0 if studio else 10.0
    angle = uniform((n,), -max_angle, max_angle) * (np.pi / 180.0)
    zoom = uniform((n,), 0.9, 1.1)
    tx = uniform((n,), -0.1, 0.1) * float(w)
    ty = uniform((n,), -0.1, 0.1) * float(h)
    a0, a1 = ops.cos(angle) / zoom, -ops.sin(angle) / zoom
    b0, b1 = -a1, a0
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    a2 = cx - a0 * cx - a1 * cy + tx
    b2 = cy - b0 * cx - b1 * cy + ty
    zeros = ops.zeros_like(a0)
    transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    x = ops.image.affine_transform(x, transform, interpolation="bilinear", fill_mode="reflect",
                                   data_format="channels_last")
    gain = uniform((n, 1, 1, 1), *((0.6, 1.5) if studio else (0.8, 1.2)))
    bias = uniform((n, 1, 1, 1), -20.0, 20.0)
    mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
    x = ops.clip((x - mean) * gain + mean + bias, 0.0, 255.0)
    if studio:
        x = _studio_light(x, uniform, n, h, w)
    if erasing > 0:  # no draws otherwise: the other recipes' streams stay as they were
        x = _erase(x, uniform, erasing, n, h, w)
    return x


def to_model_input(x, size: int | None, channels: int | None):
    """Float pixels ``(N, H, W, C)`` to the model's channels (gray <-> RGB, ITU-R 601 luma) and
    ``size`` (bilinear), in ``keras.ops``: the step both training pipelines take after the
    recipe. ``None`` keeps the batch's own."""
    from keras import ops

    c = int(x.shape[-1])
    if channels == 3 and c == 1:
        x = ops.repeat(x, 3, axis=-1)
    elif channels == 1 and c == 3:
        x = ops.sum(x * np.array([0.299, 0.587, 0.114], "float32"), axis=-1, keepdims=True)
    if size is not None and (size, size) != (int(x.shape[1]), int(x.shape[2])):
        x = ops.image.resize(x, (size, size), interpolation="bilinear")
    return x


def _studio_light(x, uniform, n, h, w):
    """A gamma of 0.5-2, then for half the images light falling off across the face."""
    from keras import ops

    log_gamma = uniform((n, 1, 1, 1), np.log(0.5), np.log(2.0))
    x = 255.0 * ops.power(x / 255.0, ops.exp(log_gamma))
    theta = uniform((n, 1, 1), 0.0, 2.0 * np.pi)
    far = ops.where(uniform((n, 1, 1), 0.0, 1.0) < 0.5, uniform((n, 1, 1), 0.4, 1.0), 1.0)
    ys, xs = (v[None].astype("float32") for v in np.meshgrid(
        np.linspace(-1.0, 1.0, h), np.linspace(-1.0, 1.0, w), indexing="ij"))
    along = (xs * ops.cos(theta) + ys * ops.sin(theta)) / np.float32(np.sqrt(2.0))  # -1..1
    ramp = 1.0 - (1.0 - far) * (along + 1.0) / 2.0
    return ops.clip(x * ops.expand_dims(ramp, -1), 0.0, 255.0)


def _erase(x, uniform, erasing, n, h, w):
    """One noise rectangle (2-33 % of the image, aspect 0.3-3.3) in ``erasing`` of the images."""
    from keras import ops

    area = uniform((n, 1, 1), 0.02, 0.33) * float(h * w)
    aspect = ops.exp(uniform((n, 1, 1), np.log(0.3), np.log(1 / 0.3)))
    eh = ops.minimum(ops.sqrt(area * aspect), float(h))
    ew = ops.minimum(ops.sqrt(area / aspect), float(w))
    y0 = uniform((n, 1, 1), 0.0, 1.0) * (float(h) - eh)
    x0 = uniform((n, 1, 1), 0.0, 1.0) * (float(w) - ew)
    ys, xs = (v[None] for v in np.meshgrid(np.arange(h, dtype="float32"),
                                           np.arange(w, dtype="float32"), indexing="ij"))
    inside = ops.logical_and(
        ops.logical_and(ops.logical_and(ys >= y0, ys < y0 + eh),
                        ops.logical_and(xs >= x0, xs < x0 + ew)),
        uniform((n, 1, 1), 0.0, 1.0) < erasing)
    noise = uniform(ops.shape(x), 0.0, 255.0)
    return ops.where(ops.expand_dims(inside, -1), noise, x)
