"""Regression: TensorFlow's oneDNN CPU kernels crashed on gradients of a 1x1 stride-2 Conv2D with
few input channels on this machine; ``import xfer_keras`` sets ``ONEDNN_MAX_CPU_ISA=AVX2``
before TensorFlow loads, which avoids it. Training such a model must give a finite loss."""

import os

import numpy as np

import xfer_keras


def test_import_sets_onednn_isa():
    assert xfer_keras.__name__ == "xfer_keras"
    assert os.environ.get("ONEDNN_MAX_CPU_ISA"), "import xfer_keras must set ONEDNN_MAX_CPU_ISA"


def test_one_by_one_stride_two_conv_trains_with_finite_loss():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(4, 1, strides=2)(x)  # the projection shortcut that crashed
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 16, 16, 3)).astype("float32")
    y = rng.integers(0, 2, size=32)
    history = model.fit(X, y, batch_size=8, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
