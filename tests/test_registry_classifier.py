"""Registry (create / list_models / configs) and EmotionClassifier (preprocess, save/load)."""

import json
import zipfile

import numpy as np
import pytest

import keras

from xfer_keras.emotions import EMOTIONS7
from xfer_keras.errors import InputShapeError, ModelFileError
from xfer_keras.models.classifier import EmotionClassifier, apply_preprocessing
from xfer_keras.models.registry import create, default_gradcam_layer, list_models, model_config


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    model = create("tiny_bam", input_size=64)
    return EmotionClassifier(model, model_config("tiny_bam", model=model))


def test_list_and_create():
    assert {"resnet50_bam", "resnet_small_bam", "tiny_bam"} <= set(list_models())
    model = create("tiny_bam", input_size=40, channels=1, num_classes=5)
    assert model.input_shape == (None, 40, 40, 1) and model.output_shape == (None, 5)
    with pytest.raises(KeyError):
        create("no_such_model")
    with pytest.raises(ModelFileError):
        create("tiny_bam", weights="/no/such/file.weights.h5")


def test_model_configs_carry_preprocessing():
    assert model_config("resnet50_bam", weights="imagenet")["preprocessing"] == "caffe"
    assert model_config("resnet50_bam")["preprocessing"] == "unit"
    cfg = model_config("resnet_small_bam")
    assert (cfg["input_size"], cfg["channels"]) == (48, 1)
    assert tuple(cfg["class_names"]) == EMOTIONS7


def test_small_default_backbone_gradcam_layer():
    model = create("resnet_small_bam")
    layer = default_gradcam_layer(model)
    assert min(model.get_layer(layer).output.shape[1:3]) >= 7


def test_weights_file_round_trip(tmp_path):
    a = create("tiny_bam", input_size=32)
    path = tmp_path / "w.weights.h5"
    a.save_weights(path)
    b = create("tiny_bam", input_size=32, weights=path)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), atol=1e-6)


def test_contract_properties(tiny):
    assert tiny.input_size == 64 and tiny.class_names == EMOTIONS7
    assert isinstance(tiny.gradcam_layer, str) and tiny.model is not None


def test_preprocess_any_size_gray_and_scaling(tiny):
    crops = np.random.default_rng(0).integers(0, 256, (3, 100, 100, 3), dtype=np.uint8)
    x = tiny.preprocess(crops)
    assert x.shape == (3, 64, 64, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    gray = EmotionClassifier(create("tiny_bam", input_size=48, channels=1),
                             {"input_size": 48, "channels": 1, "preprocessing": "symmetric"})
    g = gray.preprocess(crops)
    assert g.shape == (3, 48, 48, 1) and -1.0 <= g.min() and g.max() <= 1.0
    # a uniform RGB crop becomes its BT.601 luma
    flat = np.zeros((1, 48, 48, 3), np.uint8) + np.array([200, 100, 50], np.uint8)
    lum = 0.299 * 200 + 0.587 * 100 + 0.114 * 50
    np.testing.assert_allclose(gray.resize(flat), lum, atol=0.01)
    with pytest.raises(InputShapeError):
        tiny.preprocess(np.zeros((2, 5, 5, 7), np.uint8))


def test_caffe_preprocessing_matches_keras():
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    expected = keras.applications.resnet50.preprocess_input(x.copy())
    np.testing.assert_allclose(apply_preprocessing(x, "caffe"), expected, atol=1e-4)


def test_predict_proba(tiny):
    crops = np.random.default_rng(1).integers(0, 256, (4, 70, 70, 3), dtype=np.uint8)
    probs = tiny.predict_proba(crops, batch_size=3)
    assert probs.shape == (4, 7)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert tiny.predict_proba(crops[0]).shape == (1, 7)  # one (S, S, 3) crop
    assert tiny.predict(crops)[0] in EMOTIONS7


def test_save_load_round_trip_with_embedded_config(tiny, tmp_path, monkeypatch):
    path = tiny.save(tmp_path / "clf.keras")
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read("xfer_config.json"))["input_size"] == 64
    assert not list(tmp_path.glob("*.tmp*"))
    crops = np.random.default_rng(2).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    loaded = EmotionClassifier.load(path)
    assert loaded.gradcam_layer == tiny.gradcam_layer and loaded.class_names == EMOTIONS7
    np.testing.assert_allclose(loaded.predict_proba(crops), tiny.predict_proba(crops), atol=1e-6)
    monkeypatch.setenv("XFER_EMOTION_MODEL", str(path))
    assert EmotionClassifier.load().input_size == 64


def test_load_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelFileError):
        EmotionClassifier.load(tmp_path / "missing.keras")
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError):
        EmotionClassifier.load(bad)
    monkeypatch.setenv("XFER_EMOTION_MODEL", str(tmp_path / "nope.keras"))
    with pytest.raises(ModelFileError):
        EmotionClassifier.load()


def test_config_validation(tiny):
    with pytest.raises(ValueError):
        EmotionClassifier(tiny.model, {"input_size": 64, "class_names": ["a", "b"]})
    with pytest.raises(ValueError):
        EmotionClassifier(tiny.model, {"channels": 3})


def test_input_blur_and_flip_averaging_are_config_steps(tiny, tmp_path):
    """``input_blur`` softens what the model sees; ``tta_flip`` makes predictions mirror-invariant
    and averages the two views; both travel inside the .keras file."""
    crops = np.random.default_rng(3).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    config = dict(tiny.config.to_dict(), input_blur=2.0, tta_flip=True)
    clf = EmotionClassifier(tiny.model, config)
    sharp, soft = tiny.preprocess(crops), clf.preprocess(crops)
    assert np.abs(np.diff(soft, axis=2)).mean() < 0.3 * np.abs(np.diff(sharp, axis=2)).mean()
    probs = clf.predict_proba(crops)
    np.testing.assert_allclose(probs, clf.predict_proba(crops[:, :, ::-1]), atol=1e-5)
    plain = EmotionClassifier(tiny.model, dict(config, tta_flip=False))
    both = 0.5 * (plain.predict_proba(crops) + plain.predict_proba(crops[:, :, ::-1]))
    np.testing.assert_allclose(probs, both, atol=1e-5)
    loaded = EmotionClassifier.load(clf.save(tmp_path / "tta.keras"))
    assert loaded.config.tta_flip and loaded.config.input_blur == 2.0
    assert tiny.config.tta_flip is False  # the fixture's config was copied, not changed


def test_crop_options_carry_the_framing_and_travel_in_the_file(tiny, tmp_path):
    """A box margin, plus ``level_eyes`` when the config levels the box crop; a config saved
    before ``crop_level_eyes`` existed loads without it."""
    config = dict(tiny.config.to_dict(), framing=None, crop_margin=0.0)
    assert EmotionClassifier(tiny.model, config).crop_options() == {"margin": 0.0}
    clf = EmotionClassifier(tiny.model, dict(config, crop_level_eyes=True))
    assert clf.crop_options() == {"margin": 0.0, "level_eyes": True}
    assert EmotionClassifier.load(clf.save(tmp_path / "level.keras")).config.crop_level_eyes
    old = {k: v for k, v in config.items() if k != "crop_level_eyes"}
    assert EmotionClassifier(tiny.model, old).config.crop_level_eyes is False
    framed = EmotionClassifier(tiny.model, dict(config, framing="fer2013", crop_level_eyes=True))
    assert framed.crop_options() == {"framing": "fer2013"}


def test_prior_correction_is_bayes_rule_and_travels_in_the_file(tiny, tmp_path):
    """probabilities / prior ** power, renormalised; power 0 or no correction: unchanged; the
    correction is saved in the .keras file; a wrong prior is a clear error."""
    crops = np.random.default_rng(5).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    raw = tiny.predict_proba(crops)
    prior = np.array([0.1, 0.02, 0.1, 0.3, 0.3, 0.1, 0.08])
    clf = EmotionClassifier(tiny.model, dict(tiny.config.to_dict(), prior_correction={
        "prior": prior.tolist(), "power": 0.5}))
    expected = raw / np.sqrt(prior)
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(crops), expected, atol=1e-6)
    assert np.isclose(clf.class_weights().mean(), 1.0) and clf.class_weights()[1] > clf.class_weights()[3]
    loaded = EmotionClassifier.load(clf.save(tmp_path / "prior.keras"))
    np.testing.assert_allclose(loaded.predict_proba(crops), expected, atol=1e-6)
    off = EmotionClassifier(tiny.model, dict(tiny.config.to_dict(), prior_correction={
        "prior": prior.tolist(), "power": 0.0}))
    np.testing.assert_allclose(off.predict_proba(crops), raw, atol=0)
    bad = EmotionClassifier(tiny.model, dict(tiny.config.to_dict(), prior_correction={
        "prior": [0.5, 0.5], "power": 1.0}))
    with pytest.raises(ValueError, match="7 positive class priors"):
        bad.predict_proba(crops)
