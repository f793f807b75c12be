"""The NumPy bilinear resize equals ``tf.image.resize`` (with and without antialiasing, down and
up, odd sizes), so the classifier's input is the same with or without TensorFlow."""

import numpy as np
import pytest

from xfer_keras.models.resize import resize_bilinear, resize_weights


@pytest.mark.parametrize("src, dst, antialias", [((224, 224), (48, 48), True),
                                                 ((100, 61), (48, 17), True),
                                                 ((224, 224), (64, 64), False),
                                                 ((30, 17), (48, 61), False),
                                                 ((48, 48), (48, 48), True)])
def test_equals_tensorflow(src, dst, antialias):
    import tensorflow as tf

    x = np.random.default_rng(0).uniform(0, 255, (3, *src, 2)).astype(np.float32)
    want = tf.image.resize(x, dst, method="bilinear", antialias=antialias).numpy()
    got = resize_bilinear(x, dst, antialias=antialias)
    assert got.shape == want.shape and got.dtype == np.float32
    downscale_plain = not antialias and dst[0] < src[0]
    # float32 rounding on a 0-255 scale; TensorFlow's plain bilinear downscale (ResizeBilinear,
    # which the classifier never uses: it antialiases when shrinking) interpolates in another
    # order, a few thousandths apart
    assert np.abs(got - want).max() <= (1e-2 if downscale_plain else 1e-4)


def test_weights_are_a_partition_of_unity_and_keep_constants():
    for n_in, n_out, aa in ((224, 48, True), (17, 61, False), (5, 5, True)):
        w = resize_weights(n_in, n_out, aa)
        np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-6)
        assert (w >= 0).all()
    flat = np.full((1, 90, 70, 1), 77.0, np.float32)
    np.testing.assert_allclose(resize_bilinear(flat, (48, 48)), 77.0, atol=1e-4)


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        resize_bilinear(np.zeros((4, 4, 3)), (2, 2))
    with pytest.raises(ValueError):
        resize_weights(0, 3)
