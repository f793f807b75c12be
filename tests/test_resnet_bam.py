"""resnet50_bam: one flat graph, ResNet50 layer names, BAM after conv2/3/4, serialisation.

ResNet50 at 224 is built once for the module (it takes a few seconds on 2 cores).
"""

import numpy as np
import pytest

import keras

from xfer_keras.emotions import EMOTIONS7
from xfer_keras.models.bam import BAM
from xfer_keras.models.registry import create, default_gradcam_layer
from xfer_keras.models.resnet_bam import build_bam_resnet

from test_bam import bam_param_counts

# keras.applications.ResNet50(include_top=False): parameters (total, trainable)
RESNET50_NOTOP = (23_587_712, 23_534_592)


@pytest.fixture(scope="module")
def resnet():
    return create("resnet50_bam", weights=None, input_size=224)


def test_output_and_stage_shapes(resnet):
    assert resnet.input_shape == (None, 224, 224, 3)
    assert resnet.output_shape == (None, 7)
    expected = {"conv1_relu": (112, 112, 64), "bam1": (56, 56, 256), "bam2": (28, 28, 512),
                "bam3": (14, 14, 1024), "conv5_block3_out": (7, 7, 2048)}
    for name, shape in expected.items():
        assert tuple(resnet.get_layer(name).output.shape[1:]) == shape, name


def test_three_bams_after_the_first_three_stages(resnet):
    bams = [layer for layer in resnet.layers if isinstance(layer, BAM)]
    assert [b.name for b in bams] == ["bam1", "bam2", "bam3"]
    names = [layer.name for layer in resnet.layers]
    for stage, bam in ((2, "bam1"), (3, "bam2"), (4, "bam3")):
        last = max(i for i, n in enumerate(names) if n.startswith(f"conv{stage}_") and n.endswith("_out"))
        assert names[last + 1] == bam  # directly after the stage's last block


def test_parameter_counts(resnet):
    bam = sum(bam_param_counts(c, c // 16)[0] for c in (256, 512, 1024))
    bam_frozen = sum(bam_param_counts(c, c // 16)[1] for c in (256, 512, 1024))
    head = 2048 * 7 + 7
    trainable = sum(int(np.prod(w.shape)) for w in resnet.trainable_weights)
    assert trainable == RESNET50_NOTOP[1] + bam + head
    assert resnet.count_params() == RESNET50_NOTOP[0] + bam + bam_frozen + head


def test_flat_graph_every_conv_reachable(resnet):
    assert not any(isinstance(layer, keras.Model) for layer in resnet.layers)
    convs = [l.name for l in resnet.layers if isinstance(l, keras.layers.Conv2D)]
    assert len(convs) == 53  # ResNet50's 53 convolutions, all in the top-level graph
    probe = keras.Model(resnet.input, [resnet.get_layer("conv3_block4_out").output,
                                        resnet.get_layer("logits").output])
    feats, logits = probe(np.zeros((1, 224, 224, 3), "float32"))
    assert feats.shape == (1, 28, 28, 512) and logits.shape == (1, 7)


def test_layer_names_follow_keras_resnet50(resnet):
    names = {layer.name for layer in resnet.layers}
    for name in ("conv1_conv", "conv1_bn", "pool1_pool", "conv2_block1_0_conv", "conv2_block3_3_bn",
                 "conv3_block4_out", "conv4_block6_2_conv", "conv5_block3_3_conv"):
        assert name in names
    assert resnet.get_layer("conv2_block1_1_conv").kernel.shape == (1, 1, 64, 64)


def test_default_gradcam_layer_has_at_least_7x7_cells(resnet):
    assert default_gradcam_layer(resnet) == "conv5_block3_out"  # 7x7 at 224
    small = create("resnet50_bam", input_size=64)  # conv5 would be 2x2 here
    layer = default_gradcam_layer(small)
    assert min(small.get_layer(layer).output.shape[1:3]) >= 7
    assert layer == "bam2"  # 8x8


def test_keras_round_trip(tmp_path):
    model = build_bam_resnet((32, 32, 1), block="bottleneck", depths=(1, 1, 1, 1),
                             widths=(8, 8, 16, 16), stem="small", stem_filters=8,
                             bam_min_hidden=2)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 1)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-5)
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]


def test_class_count_and_imagenet_weights_offline_error():
    assert len(EMOTIONS7) == 7
    with pytest.raises(ValueError):
        create("tiny_bam", weights="imagenet")


def _with_trained_statistics(model, seed=0):
    """Random batch-norm statistics and affine terms, so that a copy that drops or misplaces
    any of them answers differently."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2, var.shape)])
    return model


def _logits(model, x):
    return np.asarray(keras.Model(model.input, model.get_layer("logits").output)(x))


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_grow_into_a_deeper_net_keeps_the_answers(block):
    """The added blocks start as the identity: the grown net answers like the trained one (the
    shipped 1-1-1-1 model grows to 2-2-2-2 this way), and training can still move them."""
    from xfer_keras.models.resnet_bam import grow_into

    kwargs = dict(block=block, widths=(8, 16, 16), strides=(1, 2, 2), stem="small",
                  stem_filters=8, bam_min_hidden=2)
    source = _with_trained_statistics(build_bam_resnet((32, 32, 1), depths=(1, 1, 1), **kwargs))
    target = build_bam_resnet((32, 32, 1), depths=(2, 1, 3), **kwargs)
    record = grow_into(target, source)
    assert record["identity_blocks"] == ["conv2_block2", "conv4_block2", "conv4_block3"]
    assert record["copied"] == sum(1 for layer in source.layers if layer.weights)
    x = np.random.default_rng(1).uniform(size=(4, 32, 32, 1)).astype("float32")
    before = _logits(source, x)
    np.testing.assert_allclose(_logits(target, x), before, atol=1e-5)
    assert np.abs(before - before.mean(0)).max() > 1e-3  # the answers depend on the input

    import tensorflow as tf

    last_bn = target.get_layer("conv4_block3_" + ("3_bn" if block == "bottleneck" else "2_bn"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(target(x, training=True)[:, 0])
    grad = tape.gradient(loss, last_bn.gamma)
    assert float(tf.reduce_max(tf.abs(grad))) > 0  # the zero start is not a dead end


def test_grow_into_refuses_what_cannot_start_as_the_identity():
    from xfer_keras.models.resnet_bam import grow_into

    small = dict(block="basic", stem="small", stem_filters=8, bam_min_hidden=2)
    source = build_bam_resnet((32, 32, 1), depths=(1, 1), widths=(8, 16), strides=(1, 2), **small)
    with pytest.raises(ValueError, match="other shapes"):  # wider
        grow_into(build_bam_resnet((32, 32, 1), depths=(1, 1), widths=(8, 32), strides=(1, 2),
                                   **small), source)
    with pytest.raises(ValueError, match="projection"):  # a new stage that downsamples
        grow_into(build_bam_resnet((32, 32, 1), depths=(1, 1, 1), widths=(8, 16, 16),
                                   strides=(1, 2, 2), **small), source)
    with pytest.raises(ValueError, match="not in the target"):  # shallower
        grow_into(source, build_bam_resnet((32, 32, 1), depths=(2, 1), widths=(8, 16),
                                           strides=(1, 2), **small))


def test_registered_wide_net_grows_into_its_deep_twin():
    from xfer_keras.models.resnet_bam import grow_into

    source = _with_trained_statistics(create("resnet_bam_wide", input_size=48, channels=1))
    target = create("resnet_bam_wide2", input_size=48, channels=1)
    assert grow_into(target, source)["identity_blocks"] == [
        f"conv{stage}_block2" for stage in (2, 3, 4, 5)]
    x = np.random.default_rng(2).uniform(size=(3, 48, 48, 1)).astype("float32")
    np.testing.assert_allclose(_logits(target, x), _logits(source, x), atol=1e-4)
    assert 4 * target.count_params() < 50e6  # float32 weights within the 50 MB model budget


def test_registered_wide_net_grows_into_its_stride_one_stem_twin():
    """``resnet_bam_wide_s1`` has the shipped net's weights, shape for shape, with every stage at
    twice the resolution: ``grow_into`` copies all of them (nothing starts as the identity), and
    the Grad-CAM layer gets a 12x12 map where the shipped net has 6x6."""
    from xfer_keras.models.resnet_bam import grow_into

    source = _with_trained_statistics(create("resnet_bam_wide", input_size=48, channels=1))
    target = create("resnet_bam_wide_s1", input_size=48, channels=1)
    record = grow_into(target, source)
    assert record["identity_blocks"] == []
    assert record["copied"] == sum(1 for layer in source.layers if layer.weights)
    for a, b in zip(target.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert source.get_layer("bam3").output.shape[1:3] == (6, 6)
    assert target.get_layer("bam3").output.shape[1:3] == (12, 12)
