"""Training input on any Keras backend: augmentation as a layer, raw arrays as batches.

:func:`xfer_keras.data.image_folders.make_dataset` augments inside a ``tf.data`` pipeline, which
needs TensorFlow. The GPU machines this project can borrow run Keras 3 on JAX without
TensorFlow, so :class:`TrainingAugmentation` draws the same recipe ("basic" or "studio", plus
random erasing) with ``keras.ops`` and ``keras.random`` inside the training graph (on the
accelerator, beside the model), :func:`augmented_model` puts it in front of a model together
with the pixel preprocessing, and :func:`array_batches` feeds the raw uint8 arrays in seeded,
reshuffled passes (:func:`xfer_keras.training.image.fit_classifier` with
``input_pipeline="layers"``). Outside training the layer passes its input through unchanged.
The draws follow their own seeded stream, not ``make_dataset``'s: the same distributions, not
the same images.
"""

from __future__ import annotations

import numpy as np

from xfer_keras.data.image_folders import AUGMENTATIONS

_LAYER_CLASS = None


def _layer_class():
    """The layer class, defined on first use so importing this module does not import Keras."""
    global _LAYER_CLASS
    if _LAYER_CLASS is not None:
        return _LAYER_CLASS
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="xfer_keras")
    class TrainingAugmentation(keras.layers.Layer):
        """Random mirror, rotation + zoom + shift (one affine map, reflected borders), contrast
        and brightness jitter, for "studio" also gamma and side light, then random erasing, on
        float pixels in ``[0, 255]`` (``make_dataset``'s recipe); identity when not training."""

        def __init__(self, augmentation: str = "basic", erasing: float = 0.0,
                     seed: int | None = None, **kwargs):
            kwargs.setdefault("dtype", "float32")  # pixels keep float32 under mixed precision
            super().__init__(**kwargs)
            if augmentation not in AUGMENTATIONS:
                raise ValueError(f"unknown augmentation {augmentation!r}; known: "
                                 f"{AUGMENTATIONS}")
            if not 0.0 <= erasing <= 1.0:
                raise ValueError(f"erasing is a share of images, in [0, 1]; got {erasing}")
            self.augmentation = augmentation
            self.erasing = float(erasing)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def _uniform(self, shape, low=0.0, high=1.0):
            return keras.random.uniform(shape, low, high, seed=self.seed_generator)

        def call(self, x, training=None):
            x = ops.cast(x, "float32")
            if not training:
                return x
            n, h, w = ops.shape(x)[0], x.shape[1], x.shape[2]
            studio = self.augmentation == "studio"
            x = ops.where(self._uniform((n, 1, 1, 1)) < 0.5, ops.flip(x, axis=2), x)
            max_angle = 15.0 if studio else 10.0
            angle = self._uniform((n,), -max_angle, max_angle) * (np.pi / 180.0)
            zoom = self._uniform((n,), 0.9, 1.1)
            tx = self._uniform((n,), -0.1, 0.1) * float(w)
            ty = self._uniform((n,), -0.1, 0.1) * float(h)
            a0, a1 = ops.cos(angle) / zoom, -ops.sin(angle) / zoom
            b0, b1 = -a1, a0
            cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
            a2 = cx - a0 * cx - a1 * cy + tx
            b2 = cy - b0 * cx - b1 * cy + ty
            zeros = ops.zeros_like(a0)
            transform = ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
            x = ops.image.affine_transform(x, transform, interpolation="bilinear",
                                           fill_mode="reflect", data_format="channels_last")
            gain = self._uniform((n, 1, 1, 1), *((0.6, 1.5) if studio else (0.8, 1.2)))
            bias = self._uniform((n, 1, 1, 1), -20.0, 20.0)
            mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
            x = ops.clip((x - mean) * gain + mean + bias, 0.0, 255.0)
            if studio:
                x = self._studio_light(x, n, h, w)
            if self.erasing > 0:
                x = self._erase(x, n, h, w)
            return x

        def _studio_light(self, x, n, h, w):
            log_gamma = self._uniform((n, 1, 1, 1), np.log(0.5), np.log(2.0))
            x = 255.0 * ops.power(ops.maximum(x, 0.0) / 255.0, ops.exp(log_gamma))
            theta = self._uniform((n, 1, 1), 0.0, 2.0 * np.pi)
            far = ops.where(self._uniform((n, 1, 1)) < 0.5, self._uniform((n, 1, 1), 0.4, 1.0),
                            1.0)
            ys, xs = np.meshgrid(np.linspace(-1.0, 1.0, h), np.linspace(-1.0, 1.0, w),
                                 indexing="ij")
            along = (xs[None].astype("float32") * ops.cos(theta)
                     + ys[None].astype("float32") * ops.sin(theta)) / np.sqrt(2.0)
            ramp = 1.0 - (1.0 - far) * (along + 1.0) / 2.0
            return ops.clip(x * ops.expand_dims(ramp, -1), 0.0, 255.0)

        def _erase(self, x, n, h, w):
            area = self._uniform((n, 1, 1), 0.02, 0.33) * float(h * w)
            aspect = ops.exp(self._uniform((n, 1, 1), np.log(0.3), np.log(1 / 0.3)))
            eh = ops.minimum(ops.sqrt(area * aspect), float(h))
            ew = ops.minimum(ops.sqrt(area / aspect), float(w))
            y0 = self._uniform((n, 1, 1)) * (float(h) - eh)
            x0 = self._uniform((n, 1, 1)) * (float(w) - ew)
            ys, xs = np.meshgrid(np.arange(h, dtype="float32"), np.arange(w, dtype="float32"),
                                 indexing="ij")
            ys, xs = ys[None], xs[None]
            inside = ops.logical_and(
                ops.logical_and(ops.logical_and(ys >= y0, ys < y0 + eh),
                                ops.logical_and(xs >= x0, xs < x0 + ew)),
                self._uniform((n, 1, 1)) < self.erasing)
            noise = self._uniform(ops.shape(x), 0.0, 255.0)
            return ops.where(ops.expand_dims(inside, -1), noise, x)

        def compute_output_shape(self, input_shape):
            return input_shape

        def get_config(self):
            return {**super().get_config(), "augmentation": self.augmentation,
                    "erasing": self.erasing, "seed": self.seed}

    _LAYER_CLASS = TrainingAugmentation
    return _LAYER_CLASS


def TrainingAugmentation(*args, **kwargs):  # noqa: N802  (a layer's constructor)
    """A :class:`TrainingAugmentation` layer (see the module docstring)."""
    return _layer_class()(*args, **kwargs)


def augmented_model(model, preprocessing: str, image_shape, augmentation: str = "basic",
                    erasing: float = 0.0, augment: bool = True, seed: int | None = None):
    """``uint8 (N, H, W, C) -> [augmentation] -> gray/RGB + resize to the model's input ->
    preprocessing -> model``: a model sharing ``model``'s layers (nothing copied, the caller's
    model unchanged) that trains on raw arrays on any backend; augmentation only in training.

    ``image_shape`` is the arrays' ``(H, W, C)``; the model's own input size and channels are
    read from ``model.input_shape``.
    """
    import keras
    from keras import ops

    from xfer_keras.models.classifier import apply_preprocessing

    h, w, c = (int(v) for v in image_shape)
    size, channels = int(model.input_shape[1]), int(model.input_shape[-1])
    if channels not in (1, 3) or c not in (1, 3):
        raise ValueError(f"images {image_shape} or model input {model.input_shape}: channels "
                         "must be 1 or 3")
    inputs = keras.Input((h, w, c), dtype="uint8", name="pixels")
    x = (TrainingAugmentation(augmentation, erasing, seed=seed, name="augmentation")(inputs)
         if augment else keras.layers.Activation("linear", dtype="float32")(inputs))

    def to_model_input(x):
        if channels == 3 and c == 1:
            x = ops.repeat(x, 3, axis=-1)
        elif channels == 1 and c == 3:
            x = ops.sum(x * np.array([0.299, 0.587, 0.114], "float32"), axis=-1, keepdims=True)
        if (size, size) != (h, w):
            x = ops.image.resize(x, (size, size), interpolation="bilinear")
        return apply_preprocessing(x, preprocessing)

    x = keras.layers.Lambda(to_model_input, dtype="float32", name="to_model_input")(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_augmented")


def array_batches(x, y=None, batch_size: int = 64, seed: int = 0, endless: bool = False):
    """A ``keras.utils.PyDataset`` of ``(x, y)`` batches (numpy, any backend) in a seeded order,
    reshuffled for every pass over the arrays. ``endless`` (for ``steps_per_epoch``): one pass
    runs on into the next, so pseudo-epochs are never cut short where a pass ends; otherwise
    one pass per epoch."""
    import keras

    x = np.asarray(x)
    y = None if y is None else np.asarray(y)
    if y is not None and len(y) != len(x):
        raise ValueError(f"{len(x)} images but {len(y)} targets")
    if not len(x) or batch_size < 1:
        raise ValueError(f"no batches: {len(x)} images, batch size {batch_size}")

    class _Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.per_pass = -(-len(x) // batch_size)
            self.rng = np.random.default_rng(seed)
            self.orders = {}  # pass index -> permutation (the last two passes)
            self.passes_drawn = 0

        @property
        def num_batches(self):
            return None if endless else self.per_pass

        def __len__(self):
            return self.per_pass

        def order(self, n_pass):
            if n_pass < self.passes_drawn - 2:
                raise IndexError(f"pass {n_pass} is behind the batches already served")
            while self.passes_drawn <= n_pass:  # drawn in pass order: one reproducible stream
                self.orders[self.passes_drawn] = self.rng.permutation(len(x))
                self.passes_drawn += 1
            for old in [k for k in self.orders if k < n_pass - 1]:
                del self.orders[old]
            return self.orders[n_pass]

        def __getitem__(self, index):
            n_pass, i = divmod(int(index), self.per_pass)
            if not endless:
                n_pass = self.passes_done
            rows = self.order(n_pass)[i * batch_size:(i + 1) * batch_size]
            return x[rows] if y is None else (x[rows], y[rows])

        passes_done = 0

        def on_epoch_end(self):
            if not endless:
                self.passes_done += 1

    return _Batches()
