"""Training input on any Keras backend: augmentation as a layer, raw arrays as batches.

:func:`xfer_keras.data.image_folders.make_dataset` augments inside a ``tf.data`` pipeline, which
needs TensorFlow. The GPU machines this project can borrow run Keras 3 on JAX without
TensorFlow, so :class:`TrainingAugmentation` draws the same recipe
(:func:`xfer_keras.data.augment.augment_pixels`: "basic" or "studio", plus random erasing) from
``keras.random`` inside the training graph (on the accelerator, beside the model),
:func:`augmented_model` puts it in front of a model together with the pixel preprocessing, and
:func:`array_batches` feeds the raw uint8 arrays in seeded, reshuffled passes
(:func:`xfer_keras.training.image.fit_classifier` with ``input_pipeline="layers"``). Outside
training the layer passes its input through unchanged. The draws follow their own seeded
stream, not ``make_dataset``'s: the same distributions, not the same images.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from xfer_keras.data.augment import augment_pixels, check_recipe, to_model_input


@keras.saving.register_keras_serializable(package="xfer_keras")
class TrainingAugmentation(keras.layers.Layer):
    """:func:`xfer_keras.data.augment.augment_pixels` (the recipe ``make_dataset`` draws) on
    float pixels in ``[0, 255]``, drawn from ``keras.random`` with a seeded ``SeedGenerator``;
    identity when not training."""

    def __init__(self, augmentation: str = "basic", erasing: float = 0.0,
                 seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")  # pixels keep float32 under mixed precision
        super().__init__(**kwargs)
        check_recipe(augmentation, erasing)
        self.augmentation = augmentation
        self.erasing = float(erasing)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _uniform(self, shape, low, high):
        return keras.random.uniform(shape, low, high, seed=self.seed_generator)

    def call(self, x, training=None):
        x = ops.cast(x, "float32")
        if not training:
            return x
        return augment_pixels(x, self._uniform, self.augmentation, self.erasing)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "augmentation": self.augmentation,
                "erasing": self.erasing, "seed": self.seed}


def augmented_model(model, preprocessing: str, image_shape, augmentation: str = "basic",
                    erasing: float = 0.0, augment: bool = True, seed: int | None = None):
    """``uint8 (N, H, W, C) -> [augmentation] -> gray/RGB + resize to the model's input ->
    preprocessing -> model``: a model sharing ``model``'s layers (nothing copied, the caller's
    model unchanged) that trains on raw arrays on any backend; augmentation only in training.

    ``image_shape`` is the arrays' ``(H, W, C)``; the model's own input size and channels are
    read from ``model.input_shape``.
    """
    from xfer_keras.models.classifier import apply_preprocessing

    h, w, c = (int(v) for v in image_shape)
    size, channels = int(model.input_shape[1]), int(model.input_shape[-1])
    if channels not in (1, 3) or c not in (1, 3):
        raise ValueError(f"images {image_shape} or model input {model.input_shape}: channels "
                         "must be 1 or 3")
    inputs = keras.Input((h, w, c), dtype="uint8", name="pixels")
    x = (TrainingAugmentation(augmentation, erasing, seed=seed, name="augmentation")(inputs)
         if augment else keras.layers.Activation("linear", dtype="float32")(inputs))

    def model_input(x):
        return apply_preprocessing(to_model_input(x, size, channels), preprocessing)

    x = keras.layers.Lambda(model_input, dtype="float32", name="to_model_input")(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_augmented")


def array_batches(x, y=None, batch_size: int = 64, seed: int = 0, endless: bool = False):
    """A ``keras.utils.PyDataset`` of ``(x, y)`` batches (numpy, any backend) in a seeded order,
    reshuffled for every pass over the arrays. ``endless`` (for ``steps_per_epoch``): one pass
    runs on into the next, so pseudo-epochs are never cut short where a pass ends; otherwise
    one pass per epoch."""
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
            self.passes_done = 0  # epochs ended (one pass per epoch unless endless)

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

        def on_epoch_end(self):
            if not endless:
                self.passes_done += 1

    return _Batches()
