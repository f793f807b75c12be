"""Joined classifiers (:mod:`xfer_keras.models.ensemble`): one flat graph whose every head answers
with the weighted mean of the members' logits, whose Grad-CAM at the joined layer is that of the
members it weighs, which saves and loads as a plain ``.keras`` file and leaves the members as
they were."""

import numpy as np
import pytest

import xfer_keras  # noqa: F401  (environment before Keras)
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.models.registry import create, model_config


def _member(seed: int, subjects=("S005",)):
    """An untrained small net with random batch-norm statistics (so members differ in every
    layer), a stored ``fer2013`` head and posed training subjects."""
    import keras

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = create("resnet_small_bam", input_size=48, channels=1)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2, var.shape)])
    config = model_config("resnet_small_bam", input_size=48, channels=1, model=model)
    width = model.get_layer("logits").input.shape[-1]
    config["extra"] = {"seed": seed, "posed_training": {"dataset": "ckplus48",
                                                        "subjects": list(subjects)},
                       "heads": {"fer2013": {"kernel": rng.normal(0, 0.5, (width, 7)).tolist(),
                                             "bias": rng.normal(0, 0.3, 7).tolist(),
                                             "labels": "fer2013"}}}
    return EmotionClassifier(model, config)


@pytest.fixture(scope="module")
def members():
    return [_member(1), _member(2, subjects=("S005", "S010"))]


def _faces(n=4):
    return np.random.default_rng(7).integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)


def _logits(model, x):
    import keras

    return np.asarray(keras.Model(model.input, model.get_layer("logits").output)(x))


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_every_head_answers_with_the_weighted_mean_logit(members):
    from xfer_keras.models.ensemble import join_classifiers

    x = members[0].preprocess(_faces())
    before = [np.array(w) for w in members[0].model.get_weights()]
    joined = join_classifiers(members, weights=[3, 1])
    mean = 0.75 * _logits(members[0].model, x) + 0.25 * _logits(members[1].model, x)
    np.testing.assert_allclose(_logits(joined.model, x), mean, atol=1e-4)
    np.testing.assert_allclose(joined.proba_of_inputs(x), _softmax(mean), atol=1e-5)
    assert not np.allclose(_logits(members[0].model, x), _logits(members[1].model, x), atol=1e-2)

    heads = [clf.with_head("fer2013") for clf in members]
    mean = 0.75 * _logits(heads[0].model, x) + 0.25 * _logits(heads[1].model, x)
    np.testing.assert_allclose(joined.with_head("fer2013").proba_of_inputs(x), _softmax(mean),
                               atol=1e-5)
    # the members are left as they were; the record names them and all their posed subjects
    for old, new in zip(before, members[0].model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert [m["weight"] for m in joined.config.extra["ensemble"]["members"]] == [0.75, 0.25]
    assert [m["seed"] for m in joined.config.extra["ensemble"]["members"]] == [1, 2]
    assert joined.config.extra["posed_training"]["subjects"] == ["S005", "S010"]
    # one flat graph: no nested model, the Grad-CAM layer the only unprefixed stage output
    import keras

    assert not any(isinstance(layer, keras.Model) for layer in joined.model.layers)
    from xfer_keras.explain.localisation import candidate_layers

    assert candidate_layers(joined.model, min_cells=2) == [joined.gradcam_layer]


def test_gradcam_of_the_joined_layer_is_that_of_the_member_it_weighs(members):
    from xfer_keras.explain.fast_gradcam import FusedGradCAM
    from xfer_keras.models.ensemble import join_classifiers

    x = members[0].preprocess(_faces())
    layer = members[0].gradcam_layer
    only_first = join_classifiers(members, weights=[1, 0])
    probs, cams, targets = FusedGradCAM(only_first.model, layer)(x)
    own_probs, own_cams, own_targets = FusedGradCAM(members[0].model, layer)(x, targets=targets)
    np.testing.assert_allclose(probs, own_probs, atol=1e-5)
    np.testing.assert_allclose(cams, own_cams, atol=1e-4)
    # with both members weighed, the map is neither member's alone
    _, both, _ = FusedGradCAM(join_classifiers(members).model, layer)(x, targets=targets)
    assert not np.allclose(both, own_cams, atol=1e-2)


def test_joined_file_loads_with_plain_keras_and_answers_the_same(members, tmp_path):
    import keras

    from xfer_keras.models.ensemble import join_classifiers

    joined = join_classifiers(members)
    path = joined.save(tmp_path / "joined.keras")
    x = members[0].preprocess(_faces())
    plain = keras.saving.load_model(path, compile=False)
    np.testing.assert_allclose(np.asarray(plain(x)), joined.proba_of_inputs(x), atol=1e-5)
    loaded = EmotionClassifier.load(path)
    np.testing.assert_allclose(loaded.with_head("fer2013").proba_of_inputs(x),
                               joined.with_head("fer2013").proba_of_inputs(x), atol=1e-5)
    assert loaded.gradcam_layer == members[0].gradcam_layer


def test_members_that_cannot_be_joined_are_refused(members):
    from xfer_keras.models.ensemble import (ChannelSlice, IncompatibleMembersError,
                                            join_classifiers)

    with pytest.raises(IncompatibleMembersError, match="at least two"):
        join_classifiers(members[:1])
    other = _member(3)
    other.config.extra["heads"] = {}
    with pytest.raises(IncompatibleMembersError, match="heads"):
        join_classifiers([members[0], other])
    with pytest.raises(IncompatibleMembersError, match="Grad-CAM layer"):
        join_classifiers(members, layer="no_such_layer")
    with pytest.raises(ValueError, match="weights"):
        join_classifiers(members, weights=[1, -1])
    with pytest.raises(ValueError, match="start < stop"):
        ChannelSlice(3, 3)
