"""BAM layer: shapes, the attention formula, parameter counts, serialisation."""

import numpy as np
import pytest

import keras

from xfer_keras.models.bam import BAM


def bam_param_counts(channels: int, hidden: int) -> tuple[int, int]:
    """(trainable, non-trainable) parameters of a BAM, from the paper's description."""
    channel_gate = channels * hidden + hidden + 2 * hidden + hidden * channels + channels
    spatial_gate = (channels * hidden + hidden) + 2 * (9 * hidden * hidden + hidden) + hidden + 1
    spatial_bn = 3 * 2 * hidden
    trainable = channel_gate + spatial_gate + spatial_bn
    non_trainable = 4 * 2 * hidden  # moving mean / variance of the four batch norms
    return trainable, non_trainable


def _model(shape=(12, 12, 32), **kw):
    inputs = keras.Input(shape)
    return keras.Model(inputs, BAM(name="bam", **kw)(inputs))


def test_shape_is_preserved_and_output_is_f_plus_f_times_m():
    layer = BAM(reduction=4, return_attention=True)
    x = np.random.default_rng(0).normal(size=(2, 10, 9, 16)).astype("float32")
    out, att = layer(x, training=False)
    out, att = np.asarray(out), np.asarray(att)
    assert out.shape == x.shape and att.shape == x.shape
    assert att.min() >= 0.0 and att.max() <= 1.0
    np.testing.assert_allclose(out, x + x * att, rtol=1e-5, atol=1e-5)


def test_attention_is_sum_of_broadcast_gates():
    layer = BAM(reduction=8)
    x = np.random.default_rng(1).normal(size=(3, 8, 8, 16)).astype("float32")
    layer(x)
    ch = np.asarray(layer.channel_gate(x, training=False))
    sp = np.asarray(layer.spatial_gate(x, training=False))
    assert ch.shape == (3, 1, 1, 16) and sp.shape == (3, 8, 8, 1)
    expected = 1.0 / (1.0 + np.exp(-(ch + sp)))
    np.testing.assert_allclose(np.asarray(layer.attention(x, training=False)), expected, atol=1e-5)


@pytest.mark.parametrize("channels,reduction,min_hidden", [(64, 16, 1), (32, 16, 8), (256, 16, 1)])
def test_parameter_counts_match_the_paper_structure(channels, reduction, min_hidden):
    model = _model((7, 7, channels), reduction=reduction, min_hidden=min_hidden)
    hidden = max(min_hidden, channels // reduction)
    trainable, frozen = bam_param_counts(channels, hidden)
    layer = model.get_layer("bam")
    assert layer.hidden_units == hidden
    assert sum(int(np.prod(w.shape)) for w in layer.trainable_weights) == trainable
    assert sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights) == frozen


def test_dilated_convolutions_use_the_dilation():
    layer = BAM(dilation=4)
    layer.build((None, 16, 16, 32))
    assert layer.sp_dil1.dilation_rate == (4, 4) and layer.sp_dil2.dilation_rate == (4, 4)
    assert layer.sp_dil1.kernel_size == (3, 3)


def test_get_config_round_trip():
    layer = BAM(reduction=8, dilation=2, min_hidden=4, name="b")
    clone = BAM.from_config(layer.get_config())
    assert (clone.reduction, clone.dilation, clone.min_hidden, clone.name) == (8, 2, 4, "b")


def test_keras_file_round_trip(tmp_path):
    model = _model()
    x = np.random.default_rng(2).normal(size=(2, 12, 12, 32)).astype("float32")
    # move the batch-norm statistics away from their initial values
    model.compile("adam", "mse")
    model.fit(x, x, epochs=1, verbose=0)
    path = tmp_path / "bam.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-5)
    assert isinstance(loaded.get_layer("bam"), BAM)


def test_rejects_bad_input_and_arguments():
    with pytest.raises(ValueError):
        BAM(reduction=0)
    with pytest.raises(ValueError):
        BAM().build((None, 10, 10))
