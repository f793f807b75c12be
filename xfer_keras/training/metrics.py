"""Classification metrics that stay honest on tiny, imbalanced test sets.

With 4-9 positives among 40 CK+ sequences, "always no" already scores 0.78-0.90 accuracy, so
every binary result carries balanced accuracy, F1, ROC-AUC *and* the majority-class baseline
(the accuracy of always predicting the training set's majority class). Undefined values (AUC
with one class in the test set) are NaN, never a made-up 0.5; summaries use ``nanmean``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def format_mean_std(mean: float, std: float, digits: int = 3) -> str:
    """``0.924 ± 0.016`` (as in the paper's tables); ``nan`` when undefined."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "nan"
    std = 0.0 if std is None or (isinstance(std, float) and math.isnan(std)) else std
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def majority_baseline(y_train, y_test) -> float:
    """Accuracy on ``y_test`` of always predicting the most frequent class of ``y_train``."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    values, counts = np.unique(y_train, return_counts=True)
    return float(np.mean(y_test == values[np.argmax(counts)]))


def binary_metrics(y_true, p_positive, threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, balanced accuracy, F1 (positive class) and ROC-AUC of positive probabilities.

    Balanced accuracy is the mean recall over the classes *present* in ``y_true``; ROC-AUC is
    NaN when only one class is present.
    """
    from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

    y_true = np.asarray(y_true).astype(int)
    p_positive = np.asarray(p_positive, dtype=float)
    y_pred = (p_positive > threshold).astype(int)
    one_class = np.unique(y_true).size < 2
    return {
        "accuracy": float(np.mean(y_pred == y_true)),
        "balanced_accuracy": float(np.mean(y_pred[y_true == y_true[0]] == y_true[0]))
        if one_class else float(balanced_accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, zero_division=0.0)),
        "roc_auc": float("nan") if one_class else float(roc_auc_score(y_true, p_positive)),
    }


def multiclass_metrics(y_true, y_pred) -> dict[str, float]:
    """Accuracy, balanced accuracy and macro F1 of label arrays (any hashable labels)."""
    from sklearn.metrics import balanced_accuracy_score, f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    with warnings.catch_warnings():  # a small test part lacks some classes: expected, not news
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return {
            "accuracy": float(np.mean(y_true == y_pred)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0.0)),
        }


def balanced_class_weights(y) -> dict[int, float]:
    """``n / (k * n_c)`` per present class (sklearn's "balanced"), for Keras ``class_weight``."""
    y = np.asarray(y).astype(int)
    values, counts = np.unique(y, return_counts=True)
    return {int(v): float(len(y) / (len(values) * c)) for v, c in zip(values, counts)}


__all__ = [
    "balanced_class_weights", "binary_metrics", "format_mean_std", "majority_baseline",
    "multiclass_metrics",
]
