"""Grad-CAM (fast and tf-keras-vis engines), Grad-CAM++, ScoreCAM, LayerCAM: shapes, range,
targets, no mutation, the fast engine equal to tf-keras-vis (tiny model; real CK+ crops with the
shipped model), heat on the face (real CK+)."""

import numpy as np
import pytest

import keras

from xfer_keras.explain.gradcam import GradCAM
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.models.registry import create, model_config


@pytest.fixture(scope="module")
def tiny_clf():
    keras.utils.set_random_seed(0)
    model = create("tiny_bam", input_size=64)
    return EmotionClassifier(model, model_config("tiny_bam", model=model))


def peak_frames(ckplus_dir, n):
    """``n`` of the CK+ peak frames, spread over the 40 sequences."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    paths = [str(r.peak_path) for r in load_ckplus_sequences(ckplus_dir)]
    return paths[:: max(1, len(paths) // n)][:n]


@pytest.fixture(scope="module")
def crops():
    return np.random.default_rng(0).integers(0, 256, size=(5, 90, 90, 3), dtype=np.uint8)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_heatmaps_at_crop_resolution_in_unit_range(tiny_clf, crops, method):
    cams, targets = GradCAM(tiny_clf, method=method, batch_size=2).explain(crops, return_targets=True)
    assert cams.shape == (5, 90, 90) and cams.dtype == np.float32
    assert cams.min() >= 0.0 and cams.max() <= 1.0
    np.testing.assert_array_equal(targets, tiny_clf.predict_proba(crops).argmax(1))


def test_targets_int_name_and_list(tiny_clf, crops):
    cam = GradCAM(tiny_clf)
    _, t = cam.explain(crops, targets=3, return_targets=True)
    assert (t == 3).all()
    _, t = cam.explain(crops, targets="happy", return_targets=True)
    assert (t == tiny_clf.class_names.index("happiness")).all()
    _, t = cam.explain(crops, targets=[0, 1, 2, 3, 4], return_targets=True)
    assert t.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        cam.explain(crops, targets=[0, 1])


def test_batching_does_not_change_the_maps(tiny_clf, crops):
    a = GradCAM(tiny_clf, batch_size=5).explain(crops, targets=2)
    b = GradCAM(tiny_clf, batch_size=2).explain(crops, targets=2)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_default_layer_and_layer_choice(tiny_clf, crops):
    assert GradCAM(tiny_clf).layer == tiny_clf.gradcam_layer
    assert GradCAM(tiny_clf, layer="bam1").explain(crops[:1]).shape == (1, 90, 90)
    with pytest.raises(ValueError):
        GradCAM(tiny_clf, layer="no_such_layer")


def test_mirror_averaging_classifier_gives_mirror_equivariant_maps(tiny_clf, crops):
    """With ``tta_flip`` the prediction is mirror-invariant, so the map of a mirrored crop must be
    the mirrored map (the plain model's maps are not: stride-2 grids are not symmetric)."""
    tta = EmotionClassifier(tiny_clf.model, dict(tiny_clf.config.to_dict(), tta_flip=True))
    cams, targets = GradCAM(tta).explain(crops, return_targets=True)
    mirrored, mirrored_targets = GradCAM(tta).explain(crops[:, :, ::-1], return_targets=True)
    np.testing.assert_array_equal(targets, tta.predict_proba(crops).argmax(1))
    np.testing.assert_array_equal(targets, mirrored_targets)
    np.testing.assert_allclose(mirrored[:, :, ::-1], cams, atol=1e-4)
    plain = GradCAM(tiny_clf).explain(crops, targets=targets)
    plain_mirrored = GradCAM(tiny_clf).explain(crops[:, :, ::-1], targets=targets)
    assert np.abs(plain_mirrored[:, :, ::-1] - plain).max() > 1e-3


def test_model_is_not_mutated():
    """A softmax-output model without a logits layer: tf-keras-vis' ReplaceToLinear runs on a clone."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax", name="out")(x))
    before = [w.copy() for w in model.get_weights()]
    x_in = np.random.default_rng(1).uniform(size=(3, 32, 32, 3)).astype("float32")
    probs = np.asarray(model(x_in))
    for method in ("gradcam", "gradcam++"):
        cams = GradCAM(model, method=method).explain(x_in)
        assert cams.shape == (3, 32, 32)
    assert model.get_layer("out").activation.__name__ == "softmax"
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    np.testing.assert_allclose(np.asarray(model(x_in)), probs, atol=1e-6)


# ---------------------------------------------------------------- fast engine vs tf-keras-vis
def with_mirror(clf, mirror):
    return EmotionClassifier(clf.model, dict(clf.config.to_dict(), tta_flip=mirror))


def assert_engines_agree(clf, crops, targets=None, engine="fast"):
    """``engine`` (fast or litert) vs tf-keras-vis: classes, probabilities within 1e-5, maps
    within 1e-4 (max abs); returns the ``engine`` explainer."""
    ref = GradCAM(clf, engine="tf-keras-vis", batch_size=4)
    fast = GradCAM(clf, engine=engine, batch_size=4)
    p_ref, c_ref, t_ref = ref.classify_and_explain(crops, targets)
    p_fast, c_fast, t_fast = fast.classify_and_explain(crops, targets)
    np.testing.assert_array_equal(t_fast, t_ref)
    np.testing.assert_allclose(p_fast, p_ref, atol=1e-5, rtol=0)
    assert c_fast.shape == c_ref.shape == crops.shape[:3]
    assert 0.0 <= c_fast.min() and c_fast.max() <= 1.0
    assert np.abs(c_fast - c_ref).max() <= 1e-4
    return fast


@pytest.mark.parametrize("mirror", [False, True])
def test_fast_equals_tf_keras_vis_tiny_model(tiny_clf, mirror):
    crops = np.random.default_rng(0).integers(0, 256, size=(5, 80, 80, 3), dtype=np.uint8)
    clf = with_mirror(tiny_clf, mirror)
    fast = assert_engines_agree(clf, crops)
    assert_engines_agree(clf, crops, targets=[0, 1, 2, 3, 4])
    # explain() keeps its contract on the fast engine; batches of other sizes do not retrace
    cams, targets = fast.explain(crops[:3], targets="happiness", return_targets=True)
    assert cams.shape == (3, 80, 80) and (targets == clf.class_names.index("happiness")).all()
    fast.explain(crops[:1])
    assert fast._fused_engine()._run.experimental_get_tracing_count() == 1


@pytest.mark.real_data
@pytest.mark.parametrize("mirror", [False, True])
def test_fast_equals_tf_keras_vis_on_ckplus(ckplus_dir, shipped_classifier, mirror):
    """On real CK+ peak-frame crops and the shipped model: maps within 1e-4 (max abs),
    probabilities within 1e-5, the same explained classes."""
    from xfer_keras.face import crop_face, detect_face

    crops = []
    for path in peak_frames(ckplus_dir, 8):
        crops.append(crop_face(path, detect_face(path, backend="dlib"), size=224, margin=0.1).image)
    assert_engines_agree(with_mirror(shipped_classifier, mirror), np.stack(crops))


def test_engine_choice(tiny_clf):
    assert GradCAM(tiny_clf).engine == "fast"
    assert GradCAM(tiny_clf, method="gradcam++").engine == "tf-keras-vis"
    with pytest.raises(ValueError):
        GradCAM(tiny_clf, method="gradcam++", engine="fast")
    with pytest.raises(ValueError):
        GradCAM(tiny_clf, engine="nope")


@pytest.mark.parametrize("method", ["scorecam", "layercam"])
def test_other_tf_keras_vis_methods(tiny_clf, method):
    crops = np.random.default_rng(2).integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    cams, targets = GradCAM(tiny_clf, method=method).explain(crops, return_targets=True)
    assert cams.shape == (2, 64, 64) and cams.dtype == np.float32
    assert cams.min() >= 0.0 and cams.max() <= 1.0
    np.testing.assert_array_equal(targets, tiny_clf.predict_proba(crops).argmax(1))


def test_prior_correction_in_both_engines(tiny_clf):
    """A classifier with a prior correction: both engines explain the corrected argmax with the
    corrected probabilities, and the map of a given class does not depend on the correction
    (the explained logit is the same)."""
    crops = np.random.default_rng(4).integers(0, 256, size=(6, 80, 80, 3), dtype=np.uint8)
    plain = tiny_clf.predict_proba(crops)
    prior = np.full(7, 0.05)
    prior[plain.mean(0).argmax()] = 0.7  # the class the tiny net likes most is "common"
    config = dict(tiny_clf.config.to_dict(), prior_correction={"prior": prior.tolist(), "power": 1.0})
    clf = EmotionClassifier(tiny_clf.model, config)
    probs, _, targets = assert_engines_agree(clf, crops)._fused_engine()(
        clf.preprocess(crops), out_hw=(80, 80))
    np.testing.assert_allclose(probs, clf.predict_proba(crops), atol=1e-5)
    np.testing.assert_array_equal(targets, probs.argmax(1))
    assert (targets != plain.argmax(1)).any()  # the correction changed some answers
    given = GradCAM(tiny_clf).explain(crops, targets=list(targets))
    np.testing.assert_allclose(GradCAM(clf).explain(crops, targets=list(targets)), given, atol=1e-6)
