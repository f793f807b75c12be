"""Grid search of the EMO-net sizes (F filters, Q LSTM units, R FC1 units) with KerasTuner.

The tuner only ever sees a *training* part: :func:`tune_emo_net` takes ``train_idx`` and
splits a stratified validation part off it (the same 10% as :func:`fit_emo_net`); the test
samples of a run are never touched (the paper: "the grid search procedure is implemented on
the training data"). :func:`tune_emotions` repeats it per emotion and returns the winning
values as a table shaped like the paper's Tables 1-5.

Tuner state (trials, checkpoints) goes under ``XFER_CACHE_DIR/keras_tuner`` or a temporary
folder, never into the repository.

Distributed tuning
------------------
KerasTuner spreads one search over machines with a chief/worker protocol (gRPC), driven by
environment variables only; the code does not change. Start the *same* script everywhere,
with the same ``directory`` (a shared filesystem) and ``project_name``::

    # chief: hands out trials, does not train
    KERASTUNER_TUNER_ID=chief KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 \\
        python scripts/emo_protocol.py --tune-only --tuner-dir /shared/tuner
    # each worker (any unique id that is not "chief")
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=10.0.0.1 KERASTUNER_ORACLE_PORT=8000 \\
        python scripts/emo_protocol.py --tune-only --tuner-dir /shared/tuner

See ``docs/emo_tuning.md``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

import xfer_keras  # noqa: F401  (environment before TensorFlow)
import keras_tuner  # noqa: E402  (after xfer_keras set the environment)
from xfer_keras import config
from xfer_keras.data.dataset import SequenceDataset
from xfer_keras.emotions import EMOTIONS6, canonical_emotion
from xfer_keras.models.emo_net import build_emo_net, canonical_variant
from xfer_keras.training.emo_fit import (BATCH_SIZE, VALIDATION_FRACTION, compile_emo_net,
                                         default_epochs, default_patience, validation_indices)
from xfer_keras.training.metrics import balanced_class_weights

#: A small grid around the paper's tuned values (Tables 1-5: F 16-50, Q 30-68, R 33-74).
DEFAULT_GRID = {"filters": (16, 32), "lstm_units": (32, 64), "fc1_units": (32, 64)}
QUICK_GRID = {"filters": (8, 16), "lstm_units": (16,), "fc1_units": (16,)}
TABLE_COLUMNS = {"filters": "Convolutional Filters (F)", "lstm_units": "LSTM Units (Q)",
                 "fc1_units": "FC1 Neurons (R)"}


def default_grid() -> dict:
    return config.pick(quick=QUICK_GRID, full=DEFAULT_GRID)


def tuner_directory(directory=None) -> Path:
    """``directory`` if given, else ``XFER_CACHE_DIR/keras_tuner`` (never the repository)."""
    if directory is not None:
        return Path(directory)
    try:
        path = config.cache_dir() / "keras_tuner"
        path.mkdir(parents=True, exist_ok=True)
        return path
    except OSError:
        return Path(tempfile.mkdtemp(prefix="xfer_keras_tuner_"))


class _NoTensorBoardMixin:
    """KerasTuner 1.4.8 imports ``tensorboard`` in every trial on the TensorFlow backend, even
    without a TensorBoard callback; TensorFlow 2.21 no longer installs it. Skip that step
    unless a TensorBoard callback is actually given."""

    def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
        if any(type(cb).__name__ == "TensorBoard" for cb in callbacks):
            super()._configure_tensorboard_dir(callbacks, trial, execution)


class GridSearch(_NoTensorBoardMixin, keras_tuner.GridSearch):
    pass


class RandomSearch(_NoTensorBoardMixin, keras_tuner.RandomSearch):
    pass


class EmoHyperModel(keras_tuner.HyperModel):
    """KerasTuner hypermodel over a grid of (F, Q, R); other settings fixed."""

    def __init__(self, input_shape, grid: Mapping, variant: str = "t-emo", seed: int = 0,
                 learning_rate: float = 1e-4):
        super().__init__(name="emo_net")
        self.input_shape, self.grid = tuple(input_shape), dict(grid)
        self.variant, self.seed, self.learning_rate = variant, int(seed), learning_rate

    def build(self, hp):
        values = {k: hp.Choice(k, [int(v) for v in vals]) for k, vals in self.grid.items()}
        model = build_emo_net(self.input_shape, self.variant, seed=self.seed, **values)
        return compile_emo_net(model, self.learning_rate)


def tune_emo_net(dataset: SequenceDataset, emotion: str, train_idx=None, grid: Mapping | None = None,
                 variant: str = "t-emo", algorithm: str = "grid", max_trials: int | None = None,
                 epochs: int | None = None, patience: int | None = None, seed: int = 0,
                 directory=None, project_name: str | None = None, overwrite: bool = True,
                 return_tuner: bool = False):
    """Grid-search (F, Q, R) for one emotion on ``dataset[train_idx]`` only.

    ``algorithm="grid"`` tries every combination (``max_trials`` caps it); ``"random"`` draws
    ``max_trials`` of them. The objective is the class-balanced validation loss on a stratified
    ``VALIDATION_FRACTION`` of the training part. Returns ``{"filters", "lstm_units",
    "fc1_units"}`` (and the tuner with ``return_tuner=True``).
    """
    import keras

    emotion = canonical_emotion(emotion)
    grid = dict(default_grid() if grid is None else grid)
    train_idx = np.arange(len(dataset)) if train_idx is None else np.asarray(train_idx)
    X = dataset.X[train_idx]
    y = dataset.binary_labels(emotion)[train_idx]
    fit_idx, val_idx = validation_indices(y, VALIDATION_FRACTION, seed)
    val_w = balanced_class_weights(y[val_idx])
    sample_w = np.array([val_w[int(c)] for c in y[val_idx]], dtype=np.float32)
    n_combos = int(np.prod([len(v) for v in grid.values()]))
    max_trials = n_combos if max_trials is None else int(max_trials)
    hypermodel = EmoHyperModel(dataset.input_shape, grid, canonical_variant(variant), seed)
    common = dict(objective="val_loss", max_trials=max_trials, seed=int(seed),
                  directory=str(tuner_directory(directory)), overwrite=overwrite,
                  project_name=project_name or f"emo_{emotion}_L{dataset.n_landmarks}",
                  executions_per_trial=1)
    if algorithm == "grid":
        tuner = GridSearch(hypermodel, **common)
    elif algorithm == "random":
        tuner = RandomSearch(hypermodel, **common)
    else:
        raise ValueError(f"algorithm must be 'grid' or 'random', got {algorithm!r}")
    keras.utils.set_random_seed(int(seed))
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", restore_best_weights=True,
        patience=default_patience() if patience is None else int(patience))
    tuner.search(X[fit_idx], y[fit_idx], validation_data=(X[val_idx], y[val_idx], sample_w),
                 epochs=default_epochs() if epochs is None else int(epochs), batch_size=BATCH_SIZE,
                 class_weight=balanced_class_weights(y[fit_idx]), callbacks=[stop], verbose=0)
    best = tuner.get_best_hyperparameters(1)[0].values
    best = {k: int(best[k]) for k in grid}
    return (best, tuner) if return_tuner else best


def tune_emotions(dataset: SequenceDataset, emotions: Sequence[str] = EMOTIONS6, train_idx=None,
                  progress: bool = True, **kwargs) -> pd.DataFrame:
    """:func:`tune_emo_net` per emotion; one row per emotion with the winning F, Q, R."""
    from tqdm.auto import tqdm

    rows = []
    for emotion in tqdm(list(emotions), desc="grid search", disable=not progress):
        best, tuner = tune_emo_net(dataset, emotion, train_idx=train_idx, return_tuner=True, **kwargs)
        score = tuner.oracle.get_best_trials(1)[0].score
        rows.append({"emotion": canonical_emotion(emotion), **best, "val_loss": float(score)})
    return pd.DataFrame(rows)


def hyperparams_table(tuned: pd.DataFrame) -> pd.DataFrame:
    """The paper's Tables 1-5 layout: rows emotions, columns F, Q, R."""
    table = tuned.set_index("emotion")[list(TABLE_COLUMNS)].rename(columns=TABLE_COLUMNS)
    table.index = [e.capitalize() for e in table.index]
    return table


def hyperparams_dict(tuned: pd.DataFrame) -> dict:
    """``{emotion: {filters, lstm_units, fc1_units}}`` for :func:`run_protocol`."""
    return {r["emotion"]: {k: int(r[k]) for k in TABLE_COLUMNS} for _, r in tuned.iterrows()}


__all__ = ["DEFAULT_GRID", "QUICK_GRID", "EmoHyperModel", "hyperparams_dict", "hyperparams_table",
           "tune_emo_net", "tune_emotions", "tuner_directory"]
