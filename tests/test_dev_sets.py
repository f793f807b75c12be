"""Out-of-domain dev sets (``xfer_keras.training.dev_sets``): neutral onsets, balanced accuracy,
FaceSet bookkeeping."""

import numpy as np
import pytest

from xfer_keras.emotions import EMOTIONS7
from xfer_keras.training.dev_sets import FaceSet, balanced_accuracy, score_predictions


def test_balanced_accuracy_is_mean_recall_and_counts_misses_as_wrong():
    labels = np.array([0, 0, 0, 0, 6, 6])
    pred = np.array([0, 0, 0, -1, 6, 0])  # recall 0.75 and 0.5
    assert balanced_accuracy(labels, pred) == pytest.approx(0.625)
    assert score_predictions(labels, pred)["accuracy"] == pytest.approx(4 / 6)
    always_common = np.zeros(6, int)  # never answering the rare class is not rewarded
    assert balanced_accuracy(labels, always_common) == pytest.approx(0.5)


def test_faceset_predictions_and_subset():
    faces = FaceSet(["a", "b", "c"], np.array([1, 2, 3]), [object(), None, object()], [0, 1, 2])
    pred = faces.predictions(np.eye(7)[[4, 5]])
    np.testing.assert_array_equal(pred, [4, -1, 5])
    part = faces.subset(faces.labels != 2)
    assert part.paths == ["a", "c"] and list(part.labels) == [1, 3] and part.found.all()


@pytest.mark.real_data
def test_ckplus_onset_frames_are_the_first_frames_labelled_neutral(ckplus_dir):
    from xfer_keras.data.ckplus import load_ckplus_sequences
    from xfer_keras.training.dev_sets import ckplus_onset_frames, ckplus_peak_frames

    onsets, peaks = ckplus_onset_frames(ckplus_dir), ckplus_peak_frames(root=ckplus_dir)
    records = load_ckplus_sequences(ckplus_dir)
    assert len(onsets) == len(records) == 40 and (onsets["emotion"] == "neutral").all()
    assert set(onsets["path"]) == {str(r.frame_paths[0]) for r in records}
    assert not set(onsets["path"]) & set(peaks["path"])  # never a peak frame
    assert "neutral" in EMOTIONS7 and "neutral" not in set(peaks["emotion"])
