"""EMO nets: architecture, R-EMO freezing, serialisation, learnability on a planted signal."""

import numpy as np
import pytest

from xfer_keras.data import planted_sequences
from xfer_keras.errors import InputShapeError
from xfer_keras.models.emo_net import (
    EmoNetConfig,
    EmoNetEnsemble,
    build_emo_net,
    conv_kernel,
    count_params,
    emo_net_config,
    is_randomized,
)
from xfer_keras.training.emo import subject_splits
from xfer_keras.training.emo_fit import fit_emo_net
from xfer_keras.training.metrics import binary_metrics

SHAPE = (6, 2, 12, 1)
SMALL = dict(filters=4, lstm_units=8, fc1_units=8)


def test_architecture_follows_figure_1():
    model = build_emo_net(SHAPE, "t-emo", **SMALL)
    names = [layer.name for layer in model.layers]
    assert names == ["landmarks", "conv", "bn", "flatten", "lstm", "dropout", "fc1", "fc2"]
    assert model.output_shape == (None, 2)
    assert model.get_layer("conv").output.shape[1:] == (6, 1, 12, 4)  # (C, 1) kernel per landmark
    out = model.predict(np.zeros((3, *SHAPE), "float32"), verbose=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    rebuilt = EmoNetConfig(SHAPE, **SMALL).build()
    np.testing.assert_array_equal(rebuilt.predict(np.ones((2, *SHAPE), "float32"), verbose=0),
                                  model.predict(np.ones((2, *SHAPE), "float32"), verbose=0))


def test_r_emo_freezes_exactly_the_conv():
    t, r = build_emo_net(SHAPE, "t-emo", **SMALL), build_emo_net(SHAPE, "R-EMO", **SMALL)
    assert not is_randomized(t) and is_randomized(r)
    conv_params = 2 * 1 * 1 * 4 + 4  # kernel (C, 1, 1, F) + bias
    assert count_params(r)["trainable"] == count_params(t)["trainable"] - conv_params
    # same seed -> R-EMO's frozen kernel is T-EMO's initial kernel; another seed -> another draw
    np.testing.assert_array_equal(conv_kernel(t), conv_kernel(r))
    assert not np.array_equal(conv_kernel(r), conv_kernel(build_emo_net(SHAPE, "r-emo", seed=1, **SMALL)))


def test_bad_input_shape_is_rejected():
    with pytest.raises(InputShapeError):
        build_emo_net((6, 2, 12))
    with pytest.raises(ValueError):
        build_emo_net(SHAPE, "x-emo")


@pytest.fixture(scope="module")
def planted():
    return planted_sequences(n=100, n_frames=6, n_landmarks=12, planted=(2, 7), seed=3)


@pytest.fixture(scope="module")
def trained(planted):
    """Both variants trained on a subject-grouped training part (learning rate raised for speed)."""
    train, test = subject_splits(planted.subjects, "grouped", seed=0, test_size=0.3)[0]
    y = planted.binary_labels("happiness")
    out = {}
    for variant in ("t-emo", "r-emo"):
        model = build_emo_net(planted.input_shape, variant, seed=0, **SMALL)
        before = conv_kernel(model)
        fit_emo_net(model, planted.X[train], y[train], epochs=40, patience=40, learning_rate=1e-2,
                    seed=0)
        out[variant] = (model, before)
    return out, test, y


@pytest.mark.parametrize("variant", ["t-emo", "r-emo"])
def test_planted_signal_is_learned_on_held_out_samples(planted, trained, variant):
    models, test, y = trained
    p = models[variant][0].predict(planted.X[test], verbose=0)[:, 1]
    assert y[test].sum() >= 3
    assert binary_metrics(y[test], p)["balanced_accuracy"] >= 0.95


def test_fit_keeps_r_emo_kernels_and_changes_t_emo_kernels(trained):
    models = trained[0]
    r_model, r_before = models["r-emo"]
    t_model, t_before = models["t-emo"]
    np.testing.assert_array_equal(conv_kernel(r_model), r_before)  # bit-identical
    assert not np.array_equal(conv_kernel(t_model), t_before)


@pytest.mark.parametrize("variant", ["t-emo", "r-emo"])
def test_save_load_round_trip_is_exact(planted, trained, tmp_path, variant):
    import keras

    model = trained[0][variant][0]
    path = tmp_path / f"{variant}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(planted.X, verbose=0), model.predict(planted.X, verbose=0))
    assert is_randomized(loaded) == (variant == "r-emo")
    config = emo_net_config(loaded)
    assert (config.variant, config.filters, config.lstm_units, config.fc1_units) == (variant, 4, 8, 8)


def test_ensemble_predicts_argmax_of_positive_probabilities(planted, tmp_path):
    models = {e: build_emo_net(SHAPE, seed=k, **SMALL) for k, e in enumerate(["anger", "happiness", "surprise"])}
    ensemble = EmoNetEnsemble(models)
    X = planted.X[:5, :, :, :12]
    raw = np.stack([models[e].predict(X, verbose=0)[:, 1] for e in ensemble.emotions], axis=1)
    np.testing.assert_allclose(ensemble.predict_proba(X).sum(axis=1), 1.0, rtol=1e-5)
    assert list(ensemble.predict(X)) == [ensemble.emotions[i] for i in raw.argmax(axis=1)]
    loaded = EmoNetEnsemble.load(ensemble.save(tmp_path / "ens"))
    np.testing.assert_array_equal(loaded.predict_proba(X), ensemble.predict_proba(X))
