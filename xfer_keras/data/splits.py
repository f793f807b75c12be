"""Subject-grouped splits: a subject (and every flipped copy of its videos) is never in both
train and test.

CK+ has several sequences per subject; splitting by video would let a model recognise the
person rather than the expression. Every splitter here takes the per-sample ``subjects`` array
(e.g. ``dataset.subjects``) and returns integer index arrays into it. Flipped copies made by
:func:`~xfer_keras.data.sequences.load_ckplus_dataset` keep their subject id, so they always
travel with the original.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from xfer_keras.errors import InputShapeError


def _groups(subjects) -> tuple[np.ndarray, np.ndarray]:
    subjects = np.asarray(subjects).astype(str)
    if subjects.ndim != 1 or subjects.size == 0:
        raise InputShapeError(f"subjects must be a non-empty 1-D array, got shape {subjects.shape}")
    unique, codes = np.unique(subjects, return_inverse=True)
    return unique, codes


def _split_of(codes: np.ndarray, test_groups) -> tuple[np.ndarray, np.ndarray]:
    is_test = np.isin(codes, np.asarray(list(test_groups), dtype=int))
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def leave_one_subject_out(subjects) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One fold per subject (sorted by id): test = that subject's samples, train = the rest."""
    unique, codes = _groups(subjects)
    if unique.size < 2:
        raise ValueError("leave-one-subject-out needs at least 2 subjects")
    for g in range(unique.size):
        yield _split_of(codes, [g])


def _can_stratify(labels: np.ndarray, codes: np.ndarray, n_splits: int) -> bool:
    """Stratify only when every class spans at least ``n_splits`` subjects."""
    for label in np.unique(labels):
        if np.unique(codes[labels == label]).size < n_splits:
            return False
    return True


def grouped_kfold(subjects, n_splits: int = 5, seed: int = 0,
                  labels=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """K folds over subjects (each subject in exactly one test fold).

    Without ``labels``: subjects are shuffled with ``seed`` and dealt, largest first, to the
    fold with the fewest samples (balanced fold sizes). With ``labels``: scikit-learn's
    ``StratifiedGroupKFold`` (shuffled with ``seed``) keeps each fold's class mix close to the
    whole, when every class spans at least ``n_splits`` subjects; otherwise it falls back to
    the unstratified split (stratifying is then impossible anyway).
    """
    unique, codes = _groups(subjects)
    if not 2 <= n_splits <= unique.size:
        raise ValueError(f"n_splits={n_splits} must lie in [2, number of subjects={unique.size}]")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != codes.shape:
            raise InputShapeError(f"labels has shape {labels.shape}, subjects {codes.shape}")
        if _can_stratify(labels, codes, n_splits):
            from sklearn.model_selection import StratifiedGroupKFold

            splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            for train, test in splitter.split(np.zeros(codes.size), labels, codes):
                yield np.sort(train), np.sort(test)
            return
    rng = np.random.default_rng(seed)
    order = rng.permutation(unique.size)
    sizes = np.bincount(codes, minlength=unique.size)
    order = order[np.argsort(-sizes[order], kind="stable")]  # largest first, ties shuffled
    folds: list[list[int]] = [[] for _ in range(n_splits)]
    load = np.zeros(n_splits, dtype=int)
    for g in order:
        k = int(np.argmin(load))
        folds[k].append(int(g))
        load[k] += sizes[g]
    for groups in folds:
        yield _split_of(codes, groups)


def grouped_train_test_split(subjects, test_size: float = 0.2, seed: int = 0,
                             labels=None) -> tuple[np.ndarray, np.ndarray]:
    """One subject-grouped split with about ``test_size`` of the samples in test.

    Without ``labels``: subjects are shuffled with ``seed`` and added to test until the test
    fraction is closest to ``test_size`` (at least one subject on each side). With ``labels``:
    the first fold of a stratified :func:`grouped_kfold` with ``round(1 / test_size)`` folds.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must lie in (0, 1), got {test_size}")
    unique, codes = _groups(subjects)
    if unique.size < 2:
        raise ValueError("a grouped split needs at least 2 subjects")
    if labels is not None:
        n_splits = int(min(max(2, round(1.0 / test_size)), unique.size))
        return next(grouped_kfold(subjects, n_splits=n_splits, seed=seed, labels=labels))
    rng = np.random.default_rng(seed)
    order = rng.permutation(unique.size)
    sizes = np.bincount(codes, minlength=unique.size)
    target = test_size * codes.size
    cumulative = np.cumsum(sizes[order])[:-1]  # keep >= 1 subject in train
    n_test = int(np.argmin(np.abs(cumulative - target))) + 1
    return _split_of(codes, order[:n_test])


def check_disjoint(subjects, train_idx, test_idx) -> None:
    """Raise ``ValueError`` if a subject appears on both sides of a split."""
    subjects = np.asarray(subjects).astype(str)
    shared = set(subjects[np.asarray(train_idx, int)]) & set(subjects[np.asarray(test_idx, int)])
    if shared:
        raise ValueError(f"subjects in both train and test: {sorted(shared)}")
