"""Integrated Gradients: analytic answers, completeness, batching, no retracing, no mutation."""

from __future__ import annotations

import json

import numpy as np
import pytest

import xfer_keras  # noqa: F401  (environment before TensorFlow)
import keras
import tensorflow as tf

from xfer_keras.errors import InputShapeError
from xfer_keras.explain.integrated_gradients import (
    METHODS, IGResult, IntegratedGradients, approximation_parameters, integrated_gradients,
    interpolation_scores, trace_count,
)
from xfer_keras.explain.scores import ClassScore, LogOddsScore


# ----------------------------------------------------------------------------- small models
def linear_model(shape, seed=0, units=1):
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    out = keras.layers.Dense(units, kernel_initializer="random_normal",
                             bias_initializer="random_normal")(keras.layers.Flatten()(inp))
    return keras.Model(inp, out)


def square_model(shape):
    """F(x) = sum x^2 (no weights): IG_i = x_i^2 - x'_i^2 exactly for rules exact on lines."""
    inp = keras.Input(shape)
    out = keras.layers.Lambda(lambda z: tf.reduce_sum(tf.square(tf.reshape(z, (tf.shape(z)[0], -1))),
                                                      axis=1, keepdims=True))(inp)
    return keras.Model(inp, out)


def emo_like_model(input_shape, seed=0):
    """The EMO net when available, else a same-shaped Conv2D -> LSTM -> softmax(2) stand-in."""
    try:
        from xfer_keras.models.emo_net import build_emo_net
        return build_emo_net(input_shape, seed=seed)  # default size (32 filters, 64, 64)
    except ImportError:  # pragma: no cover - before the EMO module exists
        keras.utils.set_random_seed(seed)
        P, C, L, _ = input_shape
        inp = keras.Input(input_shape)
        x = keras.layers.TimeDistributed(keras.layers.Conv2D(32, (C, 1), activation="relu"))(inp)
        x = keras.layers.TimeDistributed(keras.layers.Flatten())(x)
        x = keras.layers.LSTM(64)(x)
        x = keras.layers.Dense(64, activation="relu")(x)
        return keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x))


@pytest.fixture(scope="module")
def planted():
    from xfer_keras.data import planted_sequences
    return planted_sequences(n=96, n_frames=6, n_landmarks=20, planted=(2, 9, 15), seed=1)


@pytest.fixture(scope="module")
def trained_emo(planted):
    keras.utils.set_random_seed(0)  # deterministic shuffling and dropout: a stable test model
    model = emo_like_model(planted.input_shape, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    y = planted.binary_labels("happiness")
    model.fit(planted.X, y, epochs=25, batch_size=16, verbose=0)
    acc = model.evaluate(planted.X, y, verbose=0)[1]
    assert acc > 0.9, f"the test model did not learn the planted signal (accuracy {acc:.2f})"
    return model


def naive_ig(model, x, xb, target, alphas, weights):
    """Reference: one eager GradientTape per step (what the engine must equal)."""
    total = np.zeros_like(x, dtype=np.float64)
    for a, w in zip(alphas, weights):
        z = tf.constant(xb + a * (x - xb), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(z)
            out = model(z, training=False)
            s = out[:, target] if target is not None else tf.reshape(out, (-1,))
        total += w * tape.gradient(s, z).numpy()
    return total * (x - xb)


# ----------------------------------------------------------------------------- quadrature
@pytest.mark.parametrize("method", METHODS)
def test_quadrature_weights_sum_to_one(method):
    alphas, weights = approximation_parameters(method, 9)
    assert alphas.shape == weights.shape == (9,)
    assert np.isclose(weights.sum(), 1.0)
    assert alphas.min() >= 0.0 and alphas.max() <= 1.0


def test_riemann_right_is_the_papers_eq2():
    alphas, weights = approximation_parameters("riemann_right", 4)
    np.testing.assert_allclose(alphas, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(weights, 0.25)


def test_bad_method_and_steps():
    with pytest.raises(ValueError):
        approximation_parameters("simpson", 10)
    with pytest.raises(ValueError):
        approximation_parameters("riemann_trapezoid", 1)


# ----------------------------------------------------------------------------- analytic
@pytest.mark.parametrize("method", METHODS)
def test_linear_model_ig_equals_difference_times_weights(method):
    rng = np.random.default_rng(0)
    shape = (3, 2, 5, 1)
    model = linear_model(shape)
    w = model.layers[-1].kernel.numpy()[:, 0]
    x = rng.normal(size=(4, *shape)).astype(np.float32)
    xb = rng.normal(size=shape).astype(np.float32)
    attr, delta = integrated_gradients(model, x, xb, n_steps=8, method=method,
                                       return_convergence_delta=True, internal_batch_size=5)
    expected = ((x - xb).reshape(4, -1) * w).reshape(x.shape)
    np.testing.assert_allclose(attr, expected, atol=1e-5)
    assert np.abs(delta).max() < 1e-4


@pytest.mark.parametrize("form", ["zeros", "scalar", "broadcast", "per_sample", "tensor"])
def test_linear_model_every_baseline_form(form):
    rng = np.random.default_rng(1)
    shape = (4, 3)
    model = linear_model(shape, seed=2)
    w = model.layers[-1].kernel.numpy()[:, 0].reshape(shape)
    x = rng.normal(size=(5, *shape)).astype(np.float32)
    base = {
        "zeros": None,
        "scalar": 0.5,
        "broadcast": rng.normal(size=(1, 3)).astype(np.float32),  # broadcast over rows
        "per_sample": rng.normal(size=(5, *shape)).astype(np.float32),
        "tensor": tf.constant(rng.normal(size=(1, *shape)), tf.float32),
    }[form]
    attr = integrated_gradients(model, x, base, n_steps=3)
    xb = np.broadcast_to(np.zeros(shape) if base is None else np.asarray(base), x.shape)
    np.testing.assert_allclose(attr, (x - xb) * w, atol=1e-5)


def test_square_model_exact_and_riemann_converges():
    rng = np.random.default_rng(2)
    shape = (6,)
    model = square_model(shape)
    x = rng.normal(size=(3, 6)).astype(np.float32)
    xb = rng.normal(size=(3, 6)).astype(np.float32)
    exact = x**2 - xb**2
    for method in ("gausslegendre", "riemann_middle", "riemann_trapezoid"):
        np.testing.assert_allclose(integrated_gradients(model, x, xb, n_steps=4, method=method),
                                   exact, atol=1e-5)
    errors = [np.abs(integrated_gradients(model, x, xb, n_steps=m, method="riemann_right") - exact).max()
              for m in (10, 100)]
    assert errors[1] < errors[0] / 5  # first-order rule: error ~ 1/m


# ----------------------------------------------------------------------------- EMO net
def test_completeness_gausslegendre_64_on_trained_emo_net(trained_emo, planted):
    y = planted.binary_labels("happiness")
    x = planted.X[y == 1][:6]
    baselines = [planted.X[y == 0][i] for i in range(3)]  # negatives: F(x') is low
    result = IntegratedGradients(trained_emo, n_steps=64, method="gausslegendre").explain(
        x, targets=1, baselines=baselines)
    gap = np.abs(result.score_inputs[None, :] - result.score_baselines)
    assert (gap > 0.05).sum() >= 6, "the test needs pairs with a real change in F"
    ok = gap > 0.05
    assert np.all(np.abs(result.convergence_delta[ok]) <= 0.01 * gap[ok]), result.relative_delta


@pytest.mark.parametrize("batch", [1, 7, None])
def test_batched_equals_naive_loop(trained_emo, planted, batch):
    x = planted.X[:3]
    xb = planted.X[10]
    alphas, weights = approximation_parameters("riemann_right", 12)
    expected = naive_ig(trained_emo, x, np.broadcast_to(xb, x.shape), 1, alphas, weights)
    attr = integrated_gradients(trained_emo, x, xb, target=1, n_steps=12, method="riemann_right",
                                internal_batch_size=batch)
    np.testing.assert_allclose(attr, expected, atol=1e-6, rtol=1e-4)


def test_no_retracing_across_calls(trained_emo, planted):
    ig = IntegratedGradients(trained_emo, n_steps=8, internal_batch_size=16)
    ig.explain(planted.X[:2], targets=1)
    before = trace_count(trained_emo)
    ig.explain(planted.X[:5], targets=1, baselines=planted.X[7])
    ig.explain(planted.X[3:4], targets=0)
    integrated_gradients(trained_emo, planted.X[:4], [planted.X[8], planted.X[9]], target=[0, 1, 1, 0],
                         n_steps=5, method="riemann_trapezoid", internal_batch_size=3)
    assert trace_count(trained_emo) == before


def test_model_is_never_modified(trained_emo, planted):
    weights = [w.copy() for w in trained_emo.get_weights()]
    trainable = [layer.trainable for layer in trained_emo.layers]
    n_layers = len(trained_emo.layers)
    IntegratedGradients(trained_emo, n_steps=6).explain(planted.X[:4], targets=1,
                                                        baselines=[planted.X[5], None])
    for before, after in zip(weights, trained_emo.get_weights()):
        np.testing.assert_array_equal(before, after)  # incl. BatchNorm moving statistics
    assert [layer.trainable for layer in trained_emo.layers] == trainable
    assert len(trained_emo.layers) == n_layers


# ----------------------------------------------------------------------------- targets, sets
def test_target_forms_agree(trained_emo, planted):
    x = planted.X[:4]
    by_int = integrated_gradients(trained_emo, x, target=1, n_steps=6)
    by_list = integrated_gradients(trained_emo, x, target=[1, 1, 1, 1], n_steps=6)
    by_onehot = integrated_gradients(trained_emo, x, target=np.tile([0, 1], (4, 1)), n_steps=6)
    by_score = integrated_gradients(trained_emo, x, target=ClassScore(1), n_steps=6)
    for other in (by_list, by_onehot, by_score):
        np.testing.assert_allclose(other, by_int, atol=1e-7)
    # softmax(2): the two columns' attributions are opposite (p0 = 1 - p1)
    np.testing.assert_allclose(integrated_gradients(trained_emo, x, target=0, n_steps=6), -by_int,
                               atol=1e-6)
    log_odds, delta = integrated_gradients(trained_emo, x, target=LogOddsScore(), n_steps=32,
                                           return_convergence_delta=True)
    assert log_odds.shape == x.shape and np.all(np.isfinite(delta))


def test_target_required_for_multi_output(trained_emo, planted):
    with pytest.raises(InputShapeError, match="target"):
        integrated_gradients(trained_emo, planted.X[:2], n_steps=4)
    with pytest.raises(InputShapeError):
        integrated_gradients(trained_emo, planted.X[:2], target=5, n_steps=4)


def test_bad_baseline_shape(trained_emo, planted):
    with pytest.raises(InputShapeError, match="baseline"):
        integrated_gradients(trained_emo, planted.X[:2], np.zeros((3, 3)), target=1, n_steps=4)


def test_baseline_set_is_mean_of_single_runs(trained_emo, planted):
    x = planted.X[:3]
    bases = [planted.X[20], planted.X[21], np.zeros(planted.input_shape, np.float32)]
    result = IntegratedGradients(trained_emo, n_steps=10).explain(x, targets=1, baselines=bases)
    assert result.per_baseline.shape == (3, *x.shape) and result.baseline_set
    singles = [integrated_gradients(trained_emo, x, b, target=1, n_steps=10) for b in bases]
    for k, single in enumerate(singles):
        np.testing.assert_allclose(result.per_baseline[k], single, atol=1e-6)
    np.testing.assert_allclose(result.attributions, np.mean(singles, axis=0), atol=1e-6)
    stacked = integrated_gradients(trained_emo, x, np.stack(bases)[:, None], target=1, n_steps=10)
    np.testing.assert_allclose(stacked, result.attributions, atol=1e-6)


def test_result_object_tables(trained_emo, planted, tmp_path):
    result = IntegratedGradients(trained_emo, n_steps=8).explain(
        planted.X[:3], targets=1, baselines=[planted.X[30], planted.X[31]], ids=planted.ids[:3])
    assert isinstance(result, IGResult)
    frame = result.to_dataframe()
    assert len(frame) == 6
    assert {"baseline", "sample", "score_input", "score_baseline", "convergence_delta"} <= set(frame)
    text = result.to_json(tmp_path / "ig.json")
    data = json.loads(text)
    assert data["n_baselines"] == 2 and data["method"] == "gausslegendre"
    assert json.loads((tmp_path / "ig.json").read_text())["rows"][0]["sample"] == planted.ids[0]
    assert result.landmark_mask().shape == (3, planted.n_landmarks)
    assert result.landmark_mask(per_baseline=True).shape == (2, 3, planted.n_landmarks)
    assert result.path_scores.shape == (2, 3, 8)


def test_interpolation_scores_endpoints(trained_emo, planted):
    x, xb = planted.X[0], planted.X[40]
    curve = interpolation_scores(trained_emo, x, xb, target=1, alphas=11)
    assert list(curve.columns) == ["alpha", "score"] and len(curve) == 11
    p = trained_emo.predict(np.stack([xb, x]), verbose=0)[:, 1]
    np.testing.assert_allclose(curve["score"].iloc[[0, -1]], p, atol=1e-5)


# ----------------------------------------------------------------------------- image input
def test_image_model_completeness():
    keras.utils.set_random_seed(3)
    inp = keras.Input((12, 12, 3))
    h = keras.layers.Conv2D(4, 3, activation="tanh")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax")(h))
    x = np.random.default_rng(4).uniform(size=(2, 12, 12, 3)).astype(np.float32)
    attr, delta = integrated_gradients(model, x, target=[0, 2], n_steps=64,
                                       method="gausslegendre", return_convergence_delta=True)
    assert attr.shape == x.shape
    assert np.abs(delta).max() < 1e-4
