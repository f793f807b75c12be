"""Training and evaluation of the image emotion classifiers (XFERa recipe).

Paper recipe (:data:`PAPER_RECIPE`): Adam, lr 1e-5, batch 64, learning rate / 10 after 5 epochs
without validation improvement, at most 100 epochs, early stopping; we add augmentation and
class weights. :func:`fit_classifier` runs it on uint8 image arrays (from
:mod:`xfer_keras.data.image_folders`), fed by ``tf.data`` under any ``tf.distribute`` strategy
(default: the current one) or, on any Keras backend (JAX without TensorFlow), with the
augmentation inside the graph (:mod:`xfer_keras.training.augmentation`); it checkpoints the best
epoch on validation accuracy atomically and can stop at a wall-clock deadline.
:func:`evaluate_classifier` gives accuracy, the per-class precision / recall / F1 table (the
paper's Table 1 shape) and the confusion matrix.
"""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pandas as pd

from xfer_keras.emotions import EMOTIONS7


@dataclasses.dataclass
class TrainRecipe:
    learning_rate: float = 1e-5
    batch_size: int = 64
    epochs: int = 100
    reduce_lr_patience: int = 5
    reduce_lr_factor: float = 0.1
    early_stopping_patience: int = 10
    augment: bool = True
    augmentation: str = "basic"  # xfer_keras.data.augment: "basic" or "studio" (capture shifts)
    erasing: float = 0.0  # share of images with one randomly erased rectangle (data.augment)
    class_weights: bool = True
    label_smoothing: float = 0.0
    monitor: str = "val_accuracy"


PAPER_RECIPE = TrainRecipe()


def class_weights(labels: np.ndarray, num_classes: int = 7, power: float = 0.5) -> dict[int, float]:
    """Inverse-frequency class weights ``(n / (k * n_c)) ** power`` (power 1 = "balanced",
    0.5 = softened, kinder to rare FER2013 ``disgust``), normalised to mean 1 over samples."""
    counts = np.bincount(np.asarray(labels), minlength=num_classes).astype(np.float64)
    counts = np.maximum(counts, 1.0)
    weights = (counts.sum() / (num_classes * counts)) ** power
    weights = weights / (weights[np.asarray(labels)].mean())
    return {i: float(w) for i, w in enumerate(weights)}


class BestCheckpoint:
    """Keras callback factory: save the classifier at its best ``monitor`` value, atomically."""

    def __new__(cls, classifier, path, monitor="val_accuracy", extra=None):
        import keras

        class _Callback(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.best = -np.inf
                self.best_epoch = None

            def on_epoch_end(self, epoch, logs=None):
                value = (logs or {}).get(monitor)
                if value is None or value <= self.best:
                    return
                self.best, self.best_epoch = float(value), epoch + 1
                classifier.config.extra.update(extra or {})
                classifier.config.extra["best_epoch"] = epoch + 1
                classifier.config.extra[f"best_{monitor}"] = float(value)
                classifier.save(path)
                print(f"[checkpoint] epoch {epoch + 1}: {monitor}={value:.4f} -> {path}",
                      flush=True)

        return _Callback()


class Deadline:
    """Keras callback factory: stop training when the next epoch would pass ``deadline``."""

    def __new__(cls, deadline: float):
        import keras

        class _Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start = time.time()
                self.epoch_start = self.start

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch_start = time.time()

            def on_epoch_end(self, epoch, logs=None):
                now = time.time()
                if now + (now - self.epoch_start) > deadline:
                    print(f"[deadline] stopping after epoch {epoch + 1}: another epoch would "
                          "pass the time box", flush=True)
                    self.model.stop_training = True

        return _Callback()


class TimeCosineLR:
    """Keras callback factory: cosine learning-rate decay over a wall-clock time box.

    For time-boxed training (the number of epochs is unknown in advance on a shared CPU):
    ``lr = floor + (lr0 - floor) * (1 + cos(pi * elapsed / budget)) / 2``, updated every
    ``every`` batches.
    """

    def __new__(cls, lr0: float, deadline: float, floor: float = 1e-6, every: int = 20):
        import math

        import keras

        class _Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start = time.time()
                self.step = 0

            def on_train_batch_begin(self, batch, logs=None):
                self.step += 1
                if self.step % every != 1:
                    return
                frac = min(1.0, (time.time() - self.start) / max(1.0, deadline - self.start))
                lr = floor + (lr0 - floor) * 0.5 * (1.0 + math.cos(math.pi * frac))
                self.model.optimizer.learning_rate.assign(lr)

        return _Callback()


class EpochLog:
    """Keras callback factory: one flushed line per epoch (for nohup logs)."""

    def __new__(cls, stream=None):
        import sys

        import keras

        out = stream or sys.stdout

        class _Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.t0 = time.time()

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                items = " ".join(f"{k}={v:.4f}" for k, v in sorted(logs.items())
                                 if k != "learning_rate")
                print(f"epoch {epoch + 1}: {items} lr={lr:.2g} ({time.time() - self.t0:.0f} s)",
                      file=out, flush=True)

        return _Callback()


def resolve_input_pipeline(name: str = "auto") -> str:
    """``"tf.data"`` or ``"layers"`` for ``fit_classifier``'s ``input_pipeline``: ``"auto"`` is
    ``tf.data`` on the TensorFlow backend, else ``layers``."""
    import keras

    if name == "auto":
        return "tf.data" if keras.backend.backend() == "tensorflow" else "layers"
    if name not in ("tf.data", "layers"):
        raise ValueError(f"input_pipeline is 'auto', 'tf.data' or 'layers'; got {name!r}")
    return name


def fit_classifier(classifier, x_train, y_train, x_val=None, y_val=None, recipe=PAPER_RECIPE,
                   strategy=None, checkpoint=None, deadline: float | None = None,
                   steps_per_epoch: int | None = None, verbose: int = 0, seed: int = 0,
                   class_weight_power: float = 0.5, extra_callbacks=(), train_model=None,
                   compile_options: dict | None = None, input_pipeline: str = "auto"):
    """Train ``classifier.model`` on uint8 image arrays with the recipe; returns the History.

    Args:
        classifier: an :class:`~xfer_keras.models.classifier.EmotionClassifier` (its
            ``preprocess`` is applied to the raw arrays, its config saved with checkpoints).
        x_train: uint8 ``(N, S, S, C)``, any S and C (resized / converted on the fly to the
            model's input); ``y_train`` int class indices in ``classifier.class_names`` order,
            or soft targets ``(N, K)`` (e.g. FER+ vote distributions, rows summing to 1; class
            weights then follow each row's argmax and accuracy compares argmaxes).
        strategy: a ``tf.distribute.Strategy`` (MirroredStrategy, TPUStrategy, ...). The model
            must have been built under the same strategy's scope; default: the current one.
        checkpoint: path of the best-epoch ``.keras`` file (atomic writes); None = no file.
        deadline: ``time.time()`` value after which no new epoch starts.
        train_model: the model to fit instead of ``classifier.model``, e.g. a two-head model
            sharing its layers (:mod:`xfer_keras.training.two_heads`), with its
            ``compile_options`` (``loss``, ``metrics``; the optimizer is the recipe's Adam);
            checkpoints still save the classifier.
        input_pipeline: ``"tf.data"`` (augmentation in a ``tf.data`` pipeline,
            :func:`~xfer_keras.data.image_folders.make_dataset`; needs TensorFlow, takes a
            ``strategy``), ``"layers"`` (the same recipe as a layer inside the training graph,
            :mod:`xfer_keras.training.augmentation`, fed raw arrays by ``model.fit``: any Keras
            backend, e.g. JAX on a GPU machine without TensorFlow) or ``"auto"`` (``tf.data``
            on the TensorFlow backend, else ``layers``).
    """
    import keras

    pipeline = resolve_input_pipeline(input_pipeline)
    if pipeline == "layers" and strategy is not None:
        raise ValueError("a tf.distribute strategy needs input_pipeline='tf.data'")
    soft = np.asarray(y_train).ndim == 2
    model = train_model if train_model is not None else classifier.model
    n_cls = len(classifier.class_names)
    smooth_hard = bool(recipe.label_smoothing) and not soft  # hard labels turned one-hot
    if compile_options is None:
        compile_options = dict(
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing)
            if recipe.label_smoothing or soft else keras.losses.SparseCategoricalCrossentropy(),
            # one metric name for both target kinds, so monitors and logs stay the same
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")] if soft or smooth_hard
            else ["accuracy"])
    if pipeline == "tf.data":
        import tensorflow as tf

        from xfer_keras.data.image_folders import make_dataset
        from xfer_keras.models.classifier import apply_preprocessing

        strategy = strategy or tf.distribute.get_strategy()
        prep_name = classifier.preprocessing
        batch = recipe.batch_size * max(1, strategy.num_replicas_in_sync)

        def prep(x):
            return apply_preprocessing(x, prep_name)

        shape = dict(size=classifier.input_size, channels=classifier.channels)
        train_data = make_dataset(x_train, y_train, batch_size=batch, shuffle=True,
                                  augment=recipe.augment, seed=seed, preprocess=prep,
                                  augmentation=recipe.augmentation, erasing=recipe.erasing,
                                  **shape)
        val_data = None
        if x_val is not None:
            val_data = make_dataset(x_val, y_val, batch_size=batch, preprocess=prep, **shape)
        if smooth_hard:
            train_data = train_data.map(lambda x, y: (x, tf.one_hot(y, n_cls)))
            if val_data is not None:
                val_data = val_data.map(lambda x, y: (x, tf.one_hot(y, n_cls)))
        if steps_per_epoch is not None:
            train_data = train_data.repeat()
        with strategy.scope():
            model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                          **compile_options)
        fit_model, fit_args = model, dict(x=train_data, validation_data=val_data)
    else:
        from xfer_keras.training.augmentation import array_batches, augmented_model

        x_train = np.asarray(x_train)
        fit_model = augmented_model(model, classifier.preprocessing, x_train.shape[1:],
                                    recipe.augmentation, recipe.erasing, augment=recipe.augment,
                                    seed=seed)
        fit_model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                          **compile_options)
        y_fit, y_val_fit = np.asarray(y_train), None if y_val is None else np.asarray(y_val)
        if smooth_hard:
            y_fit = np.eye(n_cls, dtype=np.float32)[y_fit.astype(int)]
            if y_val_fit is not None:
                y_val_fit = np.eye(n_cls, dtype=np.float32)[y_val_fit.astype(int)]
        fit_args = dict(x=array_batches(x_train, y_fit, recipe.batch_size, seed,
                                        endless=steps_per_epoch is not None),
                        validation_data=None if x_val is None else
                        array_batches(x_val, y_val_fit, recipe.batch_size))
    monitor = recipe.monitor if x_val is not None else recipe.monitor.replace("val_", "")
    callbacks = [EpochLog()]
    if recipe.reduce_lr_patience:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode="max", factor=recipe.reduce_lr_factor,
            patience=recipe.reduce_lr_patience, min_lr=1e-7, verbose=0))
    if recipe.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, mode="max", patience=recipe.early_stopping_patience,
            restore_best_weights=True))
    as_trained = {"recipe": dataclasses.asdict(recipe)}  # recorded in every saved file
    if checkpoint is not None:
        callbacks.append(BestCheckpoint(classifier, checkpoint, monitor=monitor,
                                        extra=as_trained))
    if deadline is not None:
        callbacks.append(Deadline(deadline))
    callbacks.extend(extra_callbacks)
    hard = np.asarray(y_train).argmax(1) if soft else y_train
    weights = class_weights(hard, len(classifier.class_names), class_weight_power) \
        if recipe.class_weights else None
    return fit_model.fit(**fit_args, epochs=recipe.epochs, steps_per_epoch=steps_per_epoch,
                         class_weight=weights, callbacks=callbacks, verbose=verbose,
                         shuffle=False)  # each pipeline shuffles its own batches, seeded


@dataclasses.dataclass
class Evaluation:
    """Accuracy, the per-class table and the confusion matrix of one test set."""

    accuracy: float
    table: pd.DataFrame          # rows: classes + "macro avg"; precision, recall, f1, support
    confusion: np.ndarray        # (K, K) counts, rows = true class, cols = predicted
    class_names: tuple
    y_true: np.ndarray
    y_pred: np.ndarray

    @property
    def macro_f1(self) -> float:
        return float(self.table.loc["macro avg", "f1"])

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "table": json.loads(self.table.to_json(orient="index")),
                "confusion": self.confusion.tolist(), "class_names": list(self.class_names)}

    def markdown(self, digits: int = 2) -> str:
        lines = ["| Emotion | Precision | Recall | F1-score | Support |", "|---|---|---|---|---|"]
        for name, row in self.table.iterrows():
            lines.append(f"| {name} | {row.precision:.{digits}f} | {row.recall:.{digits}f} | "
                         f"{row.f1:.{digits}f} | {int(row.support)} |")
        return "\n".join(lines)


def per_class_table(y_true, y_pred, class_names=EMOTIONS7) -> tuple[pd.DataFrame, np.ndarray]:
    """Precision / recall / F1 / support per class (+ macro avg) and the confusion matrix."""
    k = len(class_names)
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    table = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1,
                          "support": cm.sum(1)}, index=list(class_names))
    table.loc["macro avg"] = [precision.mean(), recall.mean(), f1.mean(), cm.sum()]
    table["support"] = table["support"].astype(int)
    return table, cm


def evaluate_classifier(classifier, images, labels, batch_size: int = 256,
                        already_resized: bool = False) -> Evaluation:
    """Evaluate on uint8 images ``(N, S, S, C)`` and integer labels (class_names order).

    Inputs always go through ``classifier.predict_proba`` (``already_resized`` is kept for
    compatibility and ignored), so config steps such as ``input_blur`` and ``tta_flip`` apply.
    """
    labels = np.asarray(labels, dtype=int)
    preds = [classifier.predict_proba(images[start:start + batch_size], batch_size).argmax(1)
             for start in range(0, len(images), batch_size)]
    y_pred = np.concatenate(preds) if preds else np.zeros(0, int)
    table, cm = per_class_table(labels, y_pred, classifier.class_names)
    accuracy = float((y_pred == labels).mean()) if len(labels) else float("nan")
    return Evaluation(accuracy, table, cm, classifier.class_names, labels, y_pred)
