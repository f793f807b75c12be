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
