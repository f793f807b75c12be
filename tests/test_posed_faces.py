"""Posed training faces (xfer_keras.training.posed_faces) and the CK+48 split by subject
(xfer_keras.data.ckplus_frames): mixing shares, a split by person that never touches the
full-res dev sequences, and CK+48 figures that leave the trained subjects out."""

import numpy as np
import pytest

from xfer_keras.data.ckplus_frames import (ckplus48_frame, ckplus48_training_subjects,
                                           ckplus_fullres_subjects, trained_subjects)
from xfer_keras.training.posed_faces import ckplus48_training_arrays, class_mix, mix_in


def test_mix_in_reaches_the_share_by_repetition():
    x = np.zeros((900, 4, 4, 1), np.uint8)
    y = np.zeros((900, 7), np.float32)
    x_extra = np.ones((10, 4, 4, 1), np.uint8)
    y_extra = np.eye(7, dtype=np.float32)[np.arange(10) % 7]
    x_out, y_out, repeats = mix_in(x, y, x_extra, y_extra, 0.1)
    assert repeats == 10 and len(x_out) == len(y_out) == 1000
    assert (x_out[:900] == 0).all() and (x_out[900:] == 1).all()  # the originals first, unchanged
    np.testing.assert_array_equal(y_out[900:910], y_extra)
    assert mix_in(x, y, x_extra, y_extra, 0.001)[2] == 1  # every extra sample at least once
    with pytest.raises(ValueError, match="share"):
        mix_in(x, y, x_extra, y_extra, 1.0)
    with pytest.raises(ValueError, match="do not match"):  # int labels beside soft targets
        mix_in(x, y, x_extra, np.arange(10), 0.1)


@pytest.fixture(scope="module")
def ckplus48(data_dir):
    if not (data_dir / "ckplus48").is_dir():
        pytest.skip("ckplus48 not in XFER_DATA_DIR")
    return ckplus48_frame()


def test_split_by_subject_never_takes_the_fullres_dev_subjects(ckplus48):
    fullres = set(ckplus_fullres_subjects())
    assert len(fullres) == 10 and fullres <= set(ckplus48["subject"])
    train = ckplus48_training_subjects(0.6)
    assert train == ckplus48_training_subjects(0.6)  # seeded
    assert train != ckplus48_training_subjects(0.6, seed=1)
    assert not set(train) & fullres
    others = set(ckplus48["subject"]) - fullres
    assert len(train) == round(0.6 * len(others))
    assert set(ckplus48_training_subjects(0.3)) <= others
    dev = ckplus48_frame(exclude_subjects=train)
    assert not set(dev["subject"]) & set(train) and fullres <= set(dev["subject"])
    assert len(dev) + ckplus48["subject"].isin(train).sum() == len(ckplus48)  # nothing lost


def test_training_arrays_are_the_subjects_crops(ckplus48):
    subjects = ckplus48_training_subjects(0.1)
    x, y = ckplus48_training_arrays(subjects)
    n = ckplus48["subject"].isin(subjects).sum()
    assert x.shape == (n, 48, 48, 1) and x.dtype == np.uint8 and x.std() > 10
    assert y.shape == (n, 7) and np.allclose(y.sum(1), 1) and set(np.unique(y)) == {0.0, 1.0}
    labels = ckplus48_training_arrays(subjects, soft=False)[1]
    np.testing.assert_array_equal(labels, y.argmax(1))
    with pytest.raises(ValueError, match="none of the given subjects"):
        ckplus48_training_arrays(["nobody"])


def test_trained_subjects_reads_the_config():
    class Config:
        extra = {"posed_training": {"subjects": ["S011", "S005"]}}

    class Classifier:
        config = Config()

    assert trained_subjects(Classifier()) == ["S005", "S011"]
    Classifier.config.extra = {}
    assert trained_subjects(Classifier()) == []


def test_class_mix_counts_the_posed_faces_as_trained(ckplus48):
    """The prior correction's mix: the training targets plus each posed crop ``repeats`` times,
    the same class shares as the arrays :func:`mix_in` builds (known answer)."""
    subjects = ckplus48_training_subjects(0.2)
    x_posed, y_posed = ckplus48_training_arrays(subjects)
    rng = np.random.default_rng(0)
    y = rng.dirichlet(np.ones(7), size=500).astype(np.float32)  # vote distributions
    _, y_mixed, repeats = mix_in(np.zeros((500, 1)), y, np.zeros((len(y_posed), 1)), y_posed, 0.3)
    mix = class_mix(y, {"subjects": subjects, "repeats": repeats})
    np.testing.assert_allclose(mix, y_mixed.mean(0), atol=1e-6)
    np.testing.assert_allclose(class_mix(y), y.mean(0), atol=1e-6)
    neutral = 4  # EMOTIONS7 order; CK+48 has no neutral crops, so the mix has less of it
    assert mix[neutral] < y[:, neutral].mean() and np.isclose(mix.sum(), 1.0)
    labels = rng.integers(0, 7, 300)  # FER2013 labels: class frequencies
    np.testing.assert_allclose(class_mix(labels), np.bincount(labels, minlength=7) / 300)
    two_heads = np.concatenate([y, y[:, ::-1]], axis=1)  # (N, 14): the first head's 7 columns
    np.testing.assert_allclose(class_mix(two_heads), y.mean(0), atol=1e-6)
