"""Extra heads: a training model starts from the stored head when it resumes one."""

import numpy as np
import pytest

import xfer_keras  # noqa: F401  (environment before Keras)


def _tiny_model():
    import keras

    inputs = keras.Input((4,))
    features = keras.layers.Dense(5, activation="relu", name="features")(inputs)
    logits = keras.layers.Dense(3, name="logits")(features)
    return keras.Model(inputs, keras.layers.Activation("softmax", name="predictions")(logits))


def test_training_model_starts_from_the_stored_head_else_from_logits():
    from xfer_keras.models.heads import head_view, head_weights, training_model

    model = _tiny_model()
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    joined, head = training_model(model, "fer2013")
    both = np.asarray(joined(x))
    np.testing.assert_allclose(both[:, 3:], both[:, :3], atol=1e-6)  # a copy of logits

    rng = np.random.default_rng(1)
    stored = {"kernel": rng.normal(size=(5, 3)).tolist(), "bias": rng.normal(size=3).tolist(),
              "labels": "fer2013"}
    joined, head = training_model(model, "fer2013", init_spec=stored)
    np.testing.assert_allclose(head_weights(head, "fer2013")["kernel"], stored["kernel"], atol=1e-6)
    view = np.asarray(head_view(model, stored, "fer2013")(x))
    np.testing.assert_allclose(np.asarray(joined(x))[:, 3:], view, atol=1e-5)

    with pytest.raises(ValueError, match="does not fit"):
        training_model(model, "fer2013", init_spec={"kernel": np.zeros((4, 3)).tolist(),
                                                    "bias": [0.0] * 3})


def _image_classifier(width: int = 6):
    import keras

    from xfer_keras.models.classifier import EmotionClassifier

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(keras.layers.ReLU(name="relu")(x))
    logits = keras.layers.Dense(7, name="logits")(x)
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="predictions")(logits))
    return EmotionClassifier(model, {"input_size": 8, "channels": 1, "preprocessing": "unit",
                                     "tta_flip": True})


def test_a_head_fit_on_the_frozen_trunk_is_the_one_optimum_and_leaves_the_model_alone():
    """The refit head solves its convex problem (zero gradient, the same head from another
    start), moves toward its targets, and changes neither the weights nor the main answers."""
    import keras

    from xfer_keras.models.heads import pooled_features
    from xfer_keras.training.two_heads import fit_head_on_frozen_trunk

    clf = _image_classifier()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (120, 8, 8, 1), dtype=np.uint8)
    y = rng.integers(0, 7, 120)
    soft = 0.5 * np.eye(7)[y] + 0.5 * rng.dirichlet(np.ones(7), 120)
    before = clf.predict_proba(x)
    weights = [w.copy() for w in clf.model.get_weights()]
    record = fit_head_on_frozen_trunk(clf, x, soft, "fer2013", "fer2013", l2=1e-3,
                                      x_val=x[:40], y_val=y[:40], targets_about="test")
    assert record["converged"] and record["targets"] == "test" and record["n_val_images"] == 40
    assert clf.config.extra["head_fer2013_fit"] is record
    np.testing.assert_array_equal(clf.predict_proba(x), before)  # the main head is untouched
    for old, new in zip(weights, clf.model.get_weights()):
        np.testing.assert_array_equal(old, new)
    head = clf.config.extra["heads"]["fer2013"]
    kernel, bias = np.asarray(head["kernel"]), np.asarray(head["bias"])

    # zero gradient of the objective at the stored head (image and mirror, class-weighted)
    features = keras.Model(clf.model.input, pooled_features(clf.model))
    unit = clf.preprocess(x)
    f = np.concatenate([np.asarray(features(unit)), np.asarray(features(unit[:, :, ::-1]))])
    t = np.concatenate([soft, soft])
    s = t @ t.mean(0) ** -0.5
    s = s / s.sum()
    z = f @ kernel + bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = f.T @ (s[:, None] * (p - t)) + 1e-3 * kernel
    start_z = f @ np.asarray(clf.model.get_layer("logits").get_weights()[0])
    assert np.abs(grad).max() < 1e-4 * max(1.0, np.abs(start_z).max())
    # the training targets are nearer than from the logits head it started from
    start = clf.model.predict(clf.preprocess(x), verbose=0)
    view = clf.with_head("fer2013").model.predict(clf.preprocess(x), verbose=0)
    kl = lambda q: float(np.mean(np.sum(soft * np.log(soft / q), axis=1)))  # noqa: E731
    assert kl(view) < kl(start)

    # from another start (the stored head itself), the same optimum
    again = fit_head_on_frozen_trunk(clf, x, soft, "fer2013", "fer2013", l2=1e-3)
    np.testing.assert_allclose(clf.config.extra["heads"]["fer2013"]["kernel"], kernel, atol=1e-3)
    assert again["val_accuracy_before"] is None
    with pytest.raises(ValueError, match="do not fit"):
        fit_head_on_frozen_trunk(clf, x, soft[:10], "fer2013", "fer2013")
