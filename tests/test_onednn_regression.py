"""Regression: TensorFlow's oneDNN CPU kernels crash (segmentation fault) on the gradient of a
1x1 stride-2 Conv2D with few input channels when allowed AVX-512 on this machine; ``import
xfer_keras`` caps ``ONEDNN_MAX_CPU_ISA`` at AVX2 before TensorFlow loads, which avoids it
(``benchmarks/image_model_speed.py`` measures every cap). The nets train in a subprocess, so a
crash is a failed test, not a dead test run."""

import os
import subprocess
import sys

import xfer_keras

# (input side, input channels, conv channels, 1x1 stride-2 output channels, batch): the first
# crashed with AVX512_CORE / AVX512_CORE_BF16 / no cap here (TF 2.21); the second is the
# original regression model
SHAPES = ((48, 1, 4, 8, 32), (16, 3, 8, 4, 8))

TRAIN = """
import sys, numpy as np, xfer_keras, keras
size, c_in, c_mid, c_out, batch = map(int, sys.argv[1:])
keras.utils.set_random_seed(0)
inputs = keras.Input((size, size, c_in))
x = keras.layers.Conv2D(c_mid, 3, padding="same", activation="relu")(inputs)
x = keras.layers.Conv2D(c_out, 1, strides=2)(x)  # the projection shortcut that crashed
x = keras.layers.BatchNormalization()(x)
x = keras.layers.GlobalAveragePooling2D()(x)
model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
model.compile("adam", "sparse_categorical_crossentropy")
X = np.random.default_rng(0).normal(size=(4 * batch, size, size, c_in)).astype("float32")
loss = model.fit(X, np.arange(4 * batch) % 2, batch_size=batch, epochs=2, verbose=0).history["loss"]
assert np.all(np.isfinite(loss)), loss
"""


def test_import_sets_onednn_isa():
    assert xfer_keras.__name__ == "xfer_keras"
    assert os.environ.get("ONEDNN_MAX_CPU_ISA"), "import xfer_keras must set ONEDNN_MAX_CPU_ISA"


def test_one_by_one_stride_two_convs_train_with_finite_loss():
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"}  # the package's cap
    for shape in SHAPES:
        proc = subprocess.run([sys.executable, "-c", TRAIN, *map(str, shape)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (shape, proc.returncode, proc.stderr[-1500:])
