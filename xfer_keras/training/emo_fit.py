"""Fitting one EMO net with the paper's recipe, and a pool of compiled nets to refit quickly.

* :func:`fit_emo_net` - the paper's recipe: Adam (lr 1e-4), batch 16, 10% of the training part
  held out for validation, early stopping on the validation loss with the best weights
  restored; balanced class weights (and a class-balanced validation loss) for the 1-vs-5
  imbalance; everything seeded.
* :class:`NetPool` - compiled nets reused across fits (building and tracing a net costs more
  than training it on a few dozen sequences).

The protocol (:mod:`xfer_keras.training.emo`) and the grid search
(:mod:`xfer_keras.training.tuning`) both fit through this module.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

import numpy as np

import xfer_keras  # noqa: F401  (environment before TensorFlow)
from xfer_keras import config
from xfer_keras.models.emo_net import build_emo_net, canonical_variant
from xfer_keras.training.metrics import balanced_class_weights

#: The paper's optimiser settings.
LEARNING_RATE = 1e-4


BATCH_SIZE = 16


VALIDATION_FRACTION = 0.1


def default_epochs() -> int:
    """Maximum epochs (early stopping usually ends sooner): quick 6, full 100."""
    return config.pick(quick=6, full=100)


def default_patience() -> int:
    return config.pick(quick=3, full=10)


def validation_indices(y, fraction: float = VALIDATION_FRACTION, seed: int = 0):
    """Split positions ``0..len(y)-1`` into (fit, validation), stratified by ``y``.

    The validation part is ``fraction`` of the samples (at least one per class when each class
    has two or more samples). It only drives early stopping; the test part is never touched.
    """
    y = np.asarray(y).astype(int)
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        if members.size < 2:
            continue
        k = min(members.size - 1, max(1, int(round(fraction * members.size))))
        val.extend(members[:k].tolist())
    val = np.sort(np.asarray(val, dtype=int))
    fit = np.setdiff1d(np.arange(len(y)), val)
    return fit, val


@dataclass
class FitResult:
    model: object
    history: dict
    epochs_run: int
    best_epoch: int
    fit_seconds: float

    @property
    def seconds_per_epoch(self) -> float:
        return self.fit_seconds / max(1, self.epochs_run)


def compile_emo_net(model, learning_rate: float = LEARNING_RATE):
    """Adam + sparse categorical cross-entropy on the 2-way softmax (= binary cross-entropy)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit_emo_net(model, X, y, *, epochs: int | None = None, patience: int | None = None,
                batch_size: int = BATCH_SIZE, learning_rate: float = LEARNING_RATE,
                validation_fraction: float = VALIDATION_FRACTION, class_weight="balanced",
                seed: int = 0, compile: bool = True, verbose: int = 0) -> FitResult:
    """Train ``model`` on ``(X, y)`` (y binary 0/1) with the paper's recipe; returns a FitResult.

    ``validation_fraction`` of the samples (stratified) are held out for early stopping on the
    validation loss (``patience`` epochs), weighted so both classes count equally; the best
    weights are restored at the end. ``class_weight="balanced"`` weights the training loss the
    same way (``None`` turns it off, a dict sets it). ``compile=False`` keeps the model's
    compiled optimizer (its state is *not* reset: see :func:`fresh_emo_net`).

    The loop calls ``train_on_batch`` / ``test_on_batch`` (backend-agnostic) rather than
    ``fit``: with 30-odd sequences an epoch is two or three steps, and ``fit``'s per-epoch
    machinery (iterators, callbacks, a separate evaluation pass) cost 2-3x the steps themselves.
    """
    import keras

    seed = int(seed)
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y).astype(np.int32)
    epochs = default_epochs() if epochs is None else int(epochs)
    patience = default_patience() if patience is None else int(patience)
    if compile:
        compile_emo_net(model, learning_rate)
    if validation_fraction:
        fit_idx, val_idx = validation_indices(y, validation_fraction, seed)
    else:
        fit_idx, val_idx = np.arange(len(y)), np.array([], dtype=int)
    if class_weight == "balanced":
        class_weight = balanced_class_weights(y[fit_idx])
    weight = (np.array([class_weight.get(int(c), 1.0) for c in y], dtype=np.float32)
              if class_weight else np.ones(len(y), dtype=np.float32))
    if val_idx.size:
        val_w = balanced_class_weights(y[val_idx])
        val_weight = np.array([val_w[int(c)] for c in y[val_idx]], dtype=np.float32)
    history: dict[str, list[float]] = {"loss": [], "val_loss": []}
    best_loss, best_epoch, best_weights = np.inf, 0, None
    start = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(fit_idx)
        total = 0.0
        for first in range(0, order.size, batch_size):
            b = order[first:first + batch_size]
            out = model.train_on_batch(X[b], y[b], sample_weight=weight[b], return_dict=True)
            total += float(out["loss"]) * b.size
        history["loss"].append(total / max(1, order.size))
        if not val_idx.size:
            continue
        val_loss = float(model.test_on_batch(X[val_idx], y[val_idx], sample_weight=val_weight,
                                             return_dict=True)["loss"])
        history["val_loss"].append(val_loss)
        if verbose:
            print(f"epoch {epoch + 1}: loss {history['loss'][-1]:.4f} val_loss {val_loss:.4f}")
        if val_loss < best_loss:
            best_loss, best_epoch, best_weights = val_loss, epoch + 1, model.get_weights()
        elif epoch + 1 - best_epoch >= patience:
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    seconds = time.perf_counter() - start
    if not history["val_loss"]:
        history.pop("val_loss")
        best_epoch = len(history["loss"])
    return FitResult(model=model, history=history, epochs_run=len(history["loss"]),
                     best_epoch=best_epoch, fit_seconds=seconds)


class NetPool:
    """Compiled EMO nets reused across fits, re-initialised per fit.

    On a few dozen sequences, building a model and tracing its train/predict functions costs
    more than training it. The protocol therefore keeps one compiled net per (input shape,
    variant, hyper-parameters) and, before each fit, loads the weights a fresh
    ``build_emo_net(..., seed=seed)`` would have and zeroes the optimizer state: the result is
    the same as building a new net, without retracing.
    """

    def __init__(self, learning_rate: float = LEARNING_RATE):
        self.learning_rate = learning_rate
        self._nets: dict = {}

    def get(self, input_shape, variant: str, hp: Mapping, seed: int, name: str | None = None):
        key = (tuple(input_shape), canonical_variant(variant), tuple(sorted(hp.items())))
        fresh = build_emo_net(input_shape, variant=variant, seed=seed, name=name, **hp)
        if key not in self._nets:
            compile_emo_net(fresh, self.learning_rate)
            fresh.optimizer.build(fresh.trainable_variables)
            initial = [v.numpy() for v in fresh.optimizer.variables]
            self._nets[key] = (fresh, initial)
            return fresh
        net, initial = self._nets[key]
        for target, value in zip(net.variables, fresh.variables):  # weights, BN stats, RNG states
            target.assign(value)
        for variable, value in zip(net.optimizer.variables, initial):
            variable.assign(value)
        return net
