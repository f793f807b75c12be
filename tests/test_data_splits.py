"""Subject-grouped splits: no subject on both sides, flipped copies stay with their subject."""

import numpy as np
import pytest

from xfer_keras.data import (grouped_kfold, grouped_train_test_split, leave_one_subject_out,
                             planted_sequences)
from xfer_keras.data.splits import check_disjoint


def _subjects_with_flips(n_subjects=10, per_subject=4):
    base = np.repeat([f"S{i:03d}" for i in range(n_subjects)], per_subject)
    ids = np.array([f"{s}_{k:03d}" for s, k in zip(base, np.tile(np.arange(per_subject), n_subjects))])
    subjects = np.concatenate([base, base])  # flipped copies keep the subject id
    ids = np.concatenate([ids, np.char.add(ids, "_flip")])
    labels = np.tile(np.arange(per_subject) % 6, 2 * n_subjects)
    return subjects, ids, labels


def _assert_grouped(subjects, ids, train, test):
    assert np.intersect1d(train, test).size == 0
    check_disjoint(subjects, train, test)
    test_ids = set(ids[test])
    for i in test:  # the flipped twin (or original) of every test sample is in test too
        twin = ids[i][:-5] if ids[i].endswith("_flip") else ids[i] + "_flip"
        assert twin in test_ids


def test_leave_one_subject_out_covers_every_subject_once():
    subjects, ids, _ = _subjects_with_flips()
    folds = list(leave_one_subject_out(subjects))
    assert len(folds) == 10
    seen = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(seen), np.arange(subjects.size))
    for train, test in folds:
        assert np.unique(subjects[test]).size == 1
        assert train.size + test.size == subjects.size
        _assert_grouped(subjects, ids, train, test)


@pytest.mark.parametrize("stratify", [False, True])
def test_grouped_kfold_partitions_subjects(stratify):
    subjects, ids, labels = _subjects_with_flips()
    folds = list(grouped_kfold(subjects, n_splits=5, seed=3, labels=labels if stratify else None))
    assert len(folds) == 5
    seen = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(seen), np.arange(subjects.size))
    for train, test in folds:
        _assert_grouped(subjects, ids, train, test)
        assert test.size == 16  # 2 subjects x 4 videos x (original + flip): balanced


def test_grouped_kfold_is_seeded_and_checks_n_splits():
    subjects, _, _ = _subjects_with_flips()
    a = [t.tolist() for _, t in grouped_kfold(subjects, 5, seed=1)]
    b = [t.tolist() for _, t in grouped_kfold(subjects, 5, seed=1)]
    c = [t.tolist() for _, t in grouped_kfold(subjects, 5, seed=2)]
    assert a == b and a != c
    with pytest.raises(ValueError):
        list(grouped_kfold(subjects, n_splits=11))


def test_stratified_kfold_falls_back_when_a_class_has_few_subjects():
    subjects = np.array(["A", "A", "B", "B", "C", "C", "D", "D"])
    labels = np.array([0, 1, 0, 0, 0, 0, 0, 0])  # class 1 lives in one subject only
    folds = list(grouped_kfold(subjects, n_splits=2, labels=labels))
    for train, test in folds:
        check_disjoint(subjects, train, test)


@pytest.mark.parametrize("labels", [None, "use"])
def test_grouped_train_test_split(labels):
    subjects, ids, lab = _subjects_with_flips()
    train, test = grouped_train_test_split(subjects, test_size=0.2, seed=0,
                                           labels=lab if labels else None)
    _assert_grouped(subjects, ids, train, test)
    assert train.size + test.size == subjects.size
    assert abs(test.size / subjects.size - 0.2) < 0.11


def test_split_works_on_a_dataset():
    ds = planted_sequences(n=60, n_subjects=8, seed=1)
    train, test = grouped_train_test_split(ds.subjects, test_size=0.25, seed=0)
    assert not set(ds.subset(train).subjects) & set(ds.subset(test).subjects)
    with pytest.raises(ValueError):
        check_disjoint(ds.subjects, np.arange(len(ds)), np.arange(len(ds)))
