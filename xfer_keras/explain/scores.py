"""Score objects: which scalar of a model's output an explainer differentiates.

An explainer needs one number per sample. ``target`` arguments accept

* ``None`` - the model has a single output unit (``(N,)`` or ``(N, 1)``): that value;
* an ``int`` - the output column for every sample (EMO nets: ``1`` = "is the emotion");
* a sequence of ints (one per sample) or a one-hot ``(N, C)`` array - a column per sample;
* a callable ``score(outputs) -> (B,)`` written with TensorFlow / ``keras.ops`` operations,
  e.g. one of the frozen dataclasses below.

The dataclasses are frozen (hashable, compared by value), so explainers can reuse a traced
function across calls with an equal score object; a fresh ``lambda`` per call is a new key and
is traced again (correct, just slower).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from xfer_keras.errors import InputShapeError


def _flat(outputs) -> tf.Tensor:
    outputs = tf.convert_to_tensor(outputs)
    return tf.reshape(outputs, (tf.shape(outputs)[0], -1))


@dataclass(frozen=True)
class ClassScore:
    """Output column ``index`` (a probability for a softmax model)."""

    index: int

    def __call__(self, outputs) -> tf.Tensor:
        return _flat(outputs)[:, self.index]


@dataclass(frozen=True)
class LogOddsScore:
    """``log p[positive] - log p[negative]`` of a probability output: does not saturate.

    A softmax EMO net with ``p(is emotion) = 0.999`` has almost no gradient left; the log-odds
    still has one. ``eps`` keeps the logarithm finite.
    """

    positive: int = 1
    negative: int = 0
    eps: float = 1e-7

    def __call__(self, outputs) -> tf.Tensor:
        flat = _flat(outputs)
        return tf.math.log(flat[:, self.positive] + self.eps) - tf.math.log(
            flat[:, self.negative] + self.eps
        )


@dataclass(frozen=True)
class SumScore:
    """Sum of all output units (e.g. a regression head with several outputs)."""

    def __call__(self, outputs) -> tf.Tensor:
        return tf.reduce_sum(_flat(outputs), axis=1)


def is_score_callable(target) -> bool:
    """True when ``target`` is a score function rather than class indices."""
    return callable(target) and not isinstance(target, (int, np.integer, np.ndarray, list, tuple))


def target_indices(target, n: int, n_outputs: int | None) -> np.ndarray:
    """Per-sample output columns ``(n,)`` from ``None`` / int / sequence / one-hot ``target``.

    ``n_outputs`` is the number of output units (``None`` when unknown: no range check).
    """
    if target is None:
        if n_outputs not in (None, 1):
            raise InputShapeError(
                f"the model has {n_outputs} output units: pass target= a class index (e.g. 1 "
                "for an EMO net's 'is emotion'), one index per sample, or a score callable"
            )
        return np.zeros(n, dtype=np.int32)
    if isinstance(target, (int, np.integer)):
        idx = np.full(n, int(target), dtype=np.int32)
    else:
        arr = np.asarray(target)
        if arr.ndim == 2 and arr.shape[0] == n and arr.shape[1] > 1:  # one-hot (xplique style)
            arr = arr.argmax(axis=1)
        if arr.ndim != 1 or arr.shape[0] != n:
            raise InputShapeError(
                f"target must be an int, {n} ints or a one-hot ({n}, C) array; got shape {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.integer):
            raise InputShapeError(f"target indices must be integers, got dtype {arr.dtype}")
        idx = arr.astype(np.int32)
    if n_outputs is not None and (idx.min(initial=0) < 0 or idx.max(initial=0) >= n_outputs):
        raise InputShapeError(f"target index out of range for a model with {n_outputs} outputs")
    return idx
