"""Integrated Gradients (Sundararajan et al. 2017) for any Keras model and input rank.

.. math::  IG_i(x) = (x_i - x'_i) \\int_0^1 \\partial F(x' + \\alpha (x - x')) / \\partial x_i \\, d\\alpha
           \\approx (x_i - x'_i) \\sum_k w_k \\, \\partial F(x' + \\alpha_k (x - x')) / \\partial x_i

Two front doors over one engine:

* :func:`integrated_gradients` - Captum-style function: ``inputs, baselines, target, n_steps,
  method, internal_batch_size, return_convergence_delta``; returns arrays.
* :class:`IntegratedGradients` - xplique-style explainer: ``IntegratedGradients(model,
  ...).explain(inputs, targets)`` returns an :class:`IGResult` (attributions, per-baseline
  attributions, convergence deltas, scores along the path, ``to_dataframe`` / ``to_json``).

Quadrature (``method``): ``riemann_left``, ``riemann_right`` (the paper's eq. 2:
:math:`\\alpha_k = k/m`, :math:`w_k = 1/m`), ``riemann_middle``, ``riemann_trapezoid`` and
``gausslegendre`` (default, as Captum: exact for polynomials of degree ``2m - 1`` in alpha, the
best completeness per gradient evaluation).

Baselines: ``None``/``"zeros"``, a scalar, an array broadcastable to one sample or to the whole
batch, one baseline per sample ``(N, ...)``, or a *set* of baselines - a list/tuple of any of
those, or an array with one more leading axis ``(K, N|1, ...)``. With a set, attributions are
computed against every baseline (``IGResult.per_baseline``, ``(K, N, ...)``) and averaged
(``IGResult.attributions``).

Engine: every (baseline, sample, alpha) triple is one *interpolation point*; points are evaluated
``internal_batch_size`` at a time by a traced ``tf.function`` (one forward + backward pass per
chunk, no Python loop per step), gradients are weighted by the quadrature weights and summed per
(baseline, sample) inside the graph. Memory is bounded by ``internal_batch_size`` points. The
traced functions are cached per (model, score, sample shape, dtype) with a batch dimension of
``None``: new inputs, targets, baselines, step counts or batch sizes never retrace. The model
is only called (``training=False``); it is never modified, cloned or recompiled.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from xfer_keras.errors import InputShapeError
from xfer_keras.explain.scores import is_score_callable, target_indices

METHODS = (
    "riemann_left",
    "riemann_right",
    "riemann_middle",
    "riemann_trapezoid",
    "gausslegendre",
)
#: Bytes of interpolated input per chunk when ``internal_batch_size`` is None (16 MiB) ...
AUTO_CHUNK_BYTES = 16 * 2**20
#: ... and at most this many points (larger CPU batches save little and cost cache/memory).
AUTO_CHUNK_POINTS = 128


# --------------------------------------------------------------------------- quadrature rules
def approximation_parameters(method: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Alphas ``(m,)`` in [0, 1] and weights ``(m,)`` (summing to 1) of a quadrature rule."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    m = int(n_steps)
    if m < 1 or (method == "riemann_trapezoid" and m < 2):
        raise ValueError(f"n_steps must be >= {2 if method == 'riemann_trapezoid' else 1}, got {n_steps}")
    if method == "gausslegendre":
        nodes, w = np.polynomial.legendre.leggauss(m)  # on [-1, 1]
        return 0.5 * (nodes + 1.0), 0.5 * w
    if method == "riemann_trapezoid":
        alphas = np.linspace(0.0, 1.0, m)
        w = np.full(m, 1.0 / (m - 1))
        w[0] = w[-1] = 0.5 / (m - 1)
        return alphas, w
    w = np.full(m, 1.0 / m)
    k = np.arange(m, dtype=float)
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (k + offset) / m, w


# --------------------------------------------------------------------------- traced functions
class _Traced:
    """The tf.functions for one (model, score, sample shape, dtype); batch dims are ``None``."""

    def __init__(self, model, score, sample_shape: tuple[int, ...], dtype: tf.DType):
        model_ref = weakref.ref(model)  # the cache must not keep the model alive
        rank = len(sample_shape) + 1
        self.traces = 0

        def scores_of(outputs, target):
            if score is None:
                flat = tf.reshape(outputs, (tf.shape(outputs)[0], -1))
                return tf.gather(flat, target, axis=1, batch_dims=1)
            return tf.reshape(score(outputs), (-1,))

        def expand(v):  # (b,) -> (b, 1, ..., 1)
            return tf.reshape(v, tf.concat([[-1], tf.ones([rank - 1], tf.int32)], 0))

        def grad_step(x, xb, alpha, weight, target, segment, n_segments):
            self.traces += 1  # Python side effect: runs only while tracing
            z = xb + expand(alpha) * (x - xb)
            with tf.GradientTape() as tape:
                tape.watch(z)
                s = scores_of(model_ref()(z, training=False), target)
            g = tape.gradient(s, z, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            summed = tf.math.unsorted_segment_sum(g * expand(weight), segment, n_segments)
            return summed, s

        def forward(z, target):
            self.traces += 1
            return scores_of(model_ref()(z, training=False), target)

        spec = tf.TensorSpec((None, *sample_shape), dtype)
        vec = tf.TensorSpec((None,), dtype)
        ivec = tf.TensorSpec((None,), tf.int32)
        self.grad_step = tf.function(
            grad_step,
            input_signature=[spec, spec, vec, vec, ivec, ivec, tf.TensorSpec((), tf.int32)],
        )
        self.forward = tf.function(forward, input_signature=[spec, ivec])


_CACHE: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def _traced(model, score, sample_shape, dtype) -> _Traced:
    per_model = _CACHE.setdefault(model, {})
    key = (score, tuple(int(s) for s in sample_shape), dtype.name)
    if key not in per_model:
        per_model[key] = _Traced(model, score, tuple(sample_shape), dtype)
    return per_model[key]


def trace_count(model) -> int:
    """How many times IG functions were traced for ``model`` (tests: no retracing per call)."""
    return sum(t.traces for t in _CACHE.get(model, {}).values())


# --------------------------------------------------------------------------- input handling
def _as_array(x, dtype=np.float32) -> np.ndarray:
    if isinstance(x, tf.Tensor) or hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x, dtype=dtype)


def _single_baseline(b, x: np.ndarray) -> np.ndarray:
    """One baseline as ``(1 | N, *S)``."""
    n, sample_shape = x.shape[0], x.shape[1:]
    if b is None or (isinstance(b, str) and b == "zeros"):
        return np.zeros((1, *sample_shape), dtype=x.dtype)
    if isinstance(b, str):
        raise ValueError(f"unknown baseline {b!r}: use 'zeros', a number or an array")
    arr = _as_array(b, x.dtype)
    try:
        if arr.ndim == x.ndim and arr.shape[0] in (1, n):
            return np.ascontiguousarray(np.broadcast_to(arr, (arr.shape[0], *sample_shape)))
        return np.ascontiguousarray(np.broadcast_to(arr, sample_shape))[None]
    except ValueError:
        raise InputShapeError(
            f"baseline of shape {arr.shape} is not broadcastable to one sample {sample_shape} "
            f"or to the inputs {x.shape}"
        ) from None


def baseline_stack(baselines, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(K, 1 | N, *S)`` baselines and whether a *set* was given."""
    if isinstance(baselines, (list, tuple)):
        if not baselines:
            raise InputShapeError("an empty set of baselines")
        items = [_single_baseline(b, x) for b in baselines]
        rows = max(b.shape[0] for b in items)
        return np.stack([np.broadcast_to(b, (rows, *x.shape[1:])) for b in items]), True
    if baselines is not None and not isinstance(baselines, str) and np.ndim(baselines) == x.ndim + 1:
        return baseline_stack(list(_as_array(baselines, x.dtype)), x)
    return _single_baseline(baselines, x)[None], False


def _output_units(model, x: np.ndarray) -> int:
    shape = getattr(model, "output_shape", None)
    if isinstance(shape, tuple) and all(isinstance(s, (int, type(None))) for s in shape):
        return int(np.prod([s for s in shape[1:] if s is not None] or [1]))
    out = model(x[:1], training=False)
    return int(np.prod(out.shape[1:]))


def _auto_batch(sample_shape, total: int) -> int:
    per_point = max(1, int(np.prod(sample_shape)) * 4)
    return int(max(1, min(total, AUTO_CHUNK_POINTS, AUTO_CHUNK_BYTES // per_point)))


# --------------------------------------------------------------------------- result object
@dataclass
class IGResult:
    """Everything one IG call computed; reports and tables read it, never recompute."""

    attributions: np.ndarray  #: (N, *S) mean over baselines
    per_baseline: np.ndarray  #: (K, N, *S) attributions against each baseline
    convergence_delta: np.ndarray  #: (K, N) sum(IG) - (F(x) - F(x'))
    score_inputs: np.ndarray  #: (N,) F(x)
    score_baselines: np.ndarray  #: (K, N) F(x')
    path_scores: np.ndarray  #: (K, N, m) F at every interpolation point
    targets: np.ndarray  #: (N,) output column (0 for a score callable)
    alphas: np.ndarray  #: (m,)
    weights: np.ndarray  #: (m,)
    method: str
    n_steps: int
    multiply_by_inputs: bool = True
    baseline_set: bool = False  #: True when a set of baselines was given
    ids: np.ndarray | None = None  #: optional sample ids (N,)
    meta: dict = field(default_factory=dict)

    @property
    def n_baselines(self) -> int:
        return int(self.per_baseline.shape[0])

    @property
    def relative_delta(self) -> np.ndarray:
        """``|delta| / |F(x) - F(x')|`` per (baseline, sample); inf where F(x) == F(x')."""
        gap = np.abs(self.score_inputs[None, :] - self.score_baselines)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(gap > 0, np.abs(self.convergence_delta) / gap, np.inf)

    def landmark_mask(self, per_baseline: bool = False) -> np.ndarray:
        """The paper's attribution mask: ``sum |IG|`` over frames and coordinates.

        Needs landmark-sequence inputs ``(N, P, C, L, 1)``; returns ``(N, L)`` (mean of the
        per-baseline masks), or ``(K, N, L)`` with ``per_baseline=True``.
        """
        if self.per_baseline.ndim != 6:
            raise InputShapeError("landmark_mask needs (N, P, C, L, 1) landmark-sequence inputs")
        masks = np.abs(self.per_baseline).sum(axis=(2, 3, 5))
        return masks if per_baseline else masks.mean(axis=0)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per (baseline, sample): target, F(x), F(x'), sum IG, delta, relative delta."""
        k, n = self.convergence_delta.shape
        ids = self.ids if self.ids is not None else np.arange(n)
        flat = self.per_baseline.reshape(k, n, -1)
        return pd.DataFrame({
            "baseline": np.repeat(np.arange(k), n),
            "sample": np.tile(np.asarray(ids), k),
            "target": np.tile(self.targets, k),
            "score_input": np.tile(self.score_inputs, k),
            "score_baseline": self.score_baselines.ravel(),
            "attribution_sum": flat.sum(axis=2).ravel(),
            "abs_attribution_sum": np.abs(flat).sum(axis=2).ravel(),
            "convergence_delta": self.convergence_delta.ravel(),
            "relative_delta": self.relative_delta.ravel(),
        })

    def to_dict(self, include_attributions: bool = False) -> dict:
        out = {
            "method": self.method, "n_steps": self.n_steps,
            "multiply_by_inputs": self.multiply_by_inputs,
            "n_samples": int(self.attributions.shape[0]), "n_baselines": self.n_baselines,
            "input_shape": list(self.attributions.shape[1:]),
            "alphas": self.alphas.tolist(), "weights": self.weights.tolist(),
            "rows": json.loads(self.to_dataframe().to_json(orient="records")),
            "meta": self.meta,
        }
        if include_attributions:
            out["attributions"] = self.attributions.tolist()
        return out

    def to_json(self, path=None, include_attributions: bool = False, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(include_attributions), indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
        return text


# --------------------------------------------------------------------------- engine
def _compute(model, inputs, baselines, target, n_steps, method, internal_batch_size,
             multiply_by_inputs=True, ids=None) -> IGResult:
    x = _as_array(inputs)
    if x.ndim < 2 or x.shape[0] == 0:
        raise InputShapeError(f"inputs must be a non-empty batch (N, ...), got shape {x.shape}")
    n, sample_shape = x.shape[0], x.shape[1:]
    stack, is_set = baseline_stack(baselines, x)  # (K, Nb, *S)
    k_count, nb = stack.shape[0], stack.shape[1]
    alphas, weights = approximation_parameters(method, n_steps)
    m = len(alphas)

    score = target if is_score_callable(target) else None
    idx = (np.zeros(n, np.int32) if score is not None
           else target_indices(target, n, _output_units(model, x)))
    fns = _traced(model, score, sample_shape, tf.float32)

    pairs, total = k_count * n, k_count * n * m
    batch = int(internal_batch_size) if internal_batch_size else _auto_batch(sample_shape, total)
    if batch < 1:
        raise ValueError("internal_batch_size must be >= 1")

    def baseline_rows(pair):  # pair = k * n + i
        kk, ii = np.divmod(pair, n)
        return stack[kk, ii if nb == n else 0]

    acc = np.zeros((pairs, *sample_shape), dtype=np.float64)
    path = np.zeros(total, dtype=np.float64)
    alphas32, weights32 = alphas.astype(np.float32), weights.astype(np.float32)
    for q0 in range(0, total, batch):
        q = np.arange(q0, min(total, q0 + batch))
        pair, step = np.divmod(q, m)
        first = int(pair[0])
        summed, s = fns.grad_step(
            tf.constant(x[pair % n]), tf.constant(baseline_rows(pair)),
            tf.constant(alphas32[step]), tf.constant(weights32[step]),
            tf.constant(idx[pair % n]), tf.constant((pair - first).astype(np.int32)),
            tf.constant(int(pair[-1]) - first + 1, tf.int32),
        )
        acc[first: int(pair[-1]) + 1] += summed.numpy()
        path[q] = s.numpy()

    # F(x) and F(x') with one forward pass each (chunked), for the convergence deltas.
    def forward(rows_of, count):
        out = np.empty(count, dtype=np.float64)
        for r0 in range(0, count, batch):
            r = np.arange(r0, min(count, r0 + batch))
            out[r] = fns.forward(tf.constant(rows_of(r)), tf.constant(idx[r % n])).numpy()
        return out

    f_x = forward(lambda r: x[r], n)
    f_b = forward(baseline_rows, pairs).reshape(k_count, n)

    acc = acc.reshape(k_count, n, *sample_shape)
    if multiply_by_inputs:
        diff = x[None].astype(np.float64) - np.broadcast_to(stack, (k_count, n, *sample_shape))
        acc = acc * diff
    per_baseline = acc.astype(np.float32)
    sums = acc.reshape(k_count, n, -1).sum(axis=2)
    delta = sums - (f_x[None, :] - f_b) if multiply_by_inputs else np.full((k_count, n), np.nan)
    return IGResult(
        attributions=per_baseline.mean(axis=0), per_baseline=per_baseline,
        convergence_delta=delta, score_inputs=f_x, score_baselines=f_b,
        path_scores=path.reshape(k_count, n, m), targets=idx, alphas=alphas, weights=weights,
        method=method, n_steps=m, multiply_by_inputs=multiply_by_inputs, baseline_set=is_set,
        ids=None if ids is None else np.asarray(ids),
        meta={"internal_batch_size": batch, "score": repr(score) if score is not None else None},
    )


def integrated_gradients(
    model,
    inputs,
    baselines=None,
    target=None,
    n_steps: int = 50,
    method: str = "gausslegendre",
    internal_batch_size: int | None = None,
    return_convergence_delta: bool = False,
    multiply_by_inputs: bool = True,
):
    """Integrated Gradients of ``model`` at ``inputs`` ``(N, ...)`` (any rank), as numpy.

    Args:
        model: a Keras model (or any callable ``model(x, training=False)`` of TF tensors).
        inputs: ``(N, *S)`` array or tensor.
        baselines: see the module docstring (zeros by default; a list or a ``(K, N|1, *S)``
            array is a *set*: the returned attributions are the mean over the set).
        target: ``None`` (single output), class index, one index per sample, one-hot, or a
            score callable (:mod:`xfer_keras.explain.scores`).
        n_steps: number of interpolation points ``m``.
        method: quadrature rule, one of :data:`METHODS` (the paper's eq. 2 is ``riemann_right``).
        internal_batch_size: interpolation points per forward/backward pass (bounds memory);
            ``None`` -> at most 128 points and about 16 MiB of interpolated inputs per pass.
        return_convergence_delta: also return ``sum(IG) - (F(x) - F(x'))``, shape ``(N,)``
            (``(K, N)`` for a set of baselines).
        multiply_by_inputs: ``False`` returns the path-integrated gradient without the
            ``(x - x')`` factor (no completeness, delta is NaN).

    Returns:
        attributions ``(N, *S)`` float32, or ``(attributions, delta)``.
    """
    res = _compute(model, inputs, baselines, target, n_steps, method, internal_batch_size,
                   multiply_by_inputs)
    if not return_convergence_delta:
        return res.attributions
    delta = res.convergence_delta if res.baseline_set else res.convergence_delta[0]
    return res.attributions, delta


class IntegratedGradients:
    """xplique-style explainer: configure once, ``explain(inputs, targets)`` many times.

    >>> ig = IntegratedGradients(model, n_steps=64, method="gausslegendre")
    >>> result = ig.explain(x, targets=1)             # EMO net: column 1 = "is the emotion"
    >>> result.attributions.shape, result.to_dataframe()
    """

    def __init__(self, model, n_steps: int = 50, method: str = "gausslegendre",
                 baselines=None, internal_batch_size: int | None = None,
                 multiply_by_inputs: bool = True):
        approximation_parameters(method, n_steps)  # validate early
        self.model = model
        self.n_steps = int(n_steps)
        self.method = method
        self.baselines = baselines
        self.internal_batch_size = internal_batch_size
        self.multiply_by_inputs = multiply_by_inputs

    def explain(self, inputs, targets=None, baselines=None, ids=None) -> IGResult:
        """Attributions of ``inputs`` for ``targets`` (index, indices, one-hot or score)."""
        return _compute(
            self.model, inputs, self.baselines if baselines is None else baselines, targets,
            self.n_steps, self.method, self.internal_batch_size, self.multiply_by_inputs, ids,
        )

    __call__ = explain


def interpolation_scores(model, x, baseline=None, target=None, alphas=51,
                         internal_batch_size: int | None = None) -> pd.DataFrame:
    """The model's score along the straight path ``x' + alpha (x - x')`` (the paper's Figure 2).

    ``x`` is one sample ``(*S)`` (or ``(1, *S)``); ``alphas`` an int (evenly spaced in [0, 1])
    or explicit values. Returns a DataFrame with columns ``alpha`` and ``score``.
    """
    x = _as_array(x)
    if alphas is None or isinstance(alphas, (int, np.integer)):
        alphas = np.linspace(0.0, 1.0, int(alphas or 51))
    alphas = np.asarray(alphas, dtype=np.float32)
    in_shape = getattr(model, "input_shape", None)
    has_batch = isinstance(in_shape, tuple) and x.ndim == len(in_shape)
    single = x if has_batch else x[None]
    if single.shape[0] != 1:
        raise InputShapeError(f"interpolation_scores takes one sample, got a batch of {single.shape[0]}")
    xb = _single_baseline(baseline, single)
    path = xb + alphas.reshape((-1,) + (1,) * (single.ndim - 1)) * (single - xb)
    score = target if is_score_callable(target) else None
    idx = (np.zeros(len(alphas), np.int32) if score is not None
           else target_indices(target, len(alphas), _output_units(model, single)))
    fns = _traced(model, score, single.shape[1:], tf.float32)
    batch = int(internal_batch_size) if internal_batch_size else _auto_batch(single.shape[1:], len(alphas))
    out = np.concatenate([
        fns.forward(tf.constant(path[i:i + batch]), tf.constant(idx[i:i + batch])).numpy()
        for i in range(0, len(alphas), batch)
    ])
    return pd.DataFrame({"alpha": alphas.astype(float), "score": out.astype(float)})
