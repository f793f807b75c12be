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
    convs = [layer.name for layer in resnet.layers if isinstance(layer, keras.layers.Conv2D)]
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
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_class_count_and_imagenet_weights_offline_error():
    assert len(EMOTIONS7) == 7
    with pytest.raises(ValueError):
        create("tiny_bam", weights="imagenet")

