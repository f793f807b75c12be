"""Out-of-domain dev sets (``xfer_keras.evaluation.dev_sets``): neutral onsets, balanced accuracy,
FaceSet bookkeeping."""

import numpy as np
import pytest

from xfer_keras.emotions import EMOTIONS7
from xfer_keras.evaluation.dev_sets import FaceSet, balanced_accuracy, score_predictions


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
    from xfer_keras.data.ckplus_frames import ckplus_onset_frames, ckplus_peak_frames

    onsets, peaks = ckplus_onset_frames(ckplus_dir), ckplus_peak_frames(root=ckplus_dir)
    records = load_ckplus_sequences(ckplus_dir)
    assert len(onsets) == len(records) == 40 and (onsets["emotion"] == "neutral").all()
    assert set(onsets["path"]) == {str(r.frame_paths[0]) for r in records}
    assert not set(onsets["path"]) & set(peaks["path"])  # never a peak frame
    assert "neutral" in EMOTIONS7 and "neutral" not in set(peaks["emotion"])


@pytest.mark.real_data
def test_fullres_dev_frames_are_peaks_then_onsets_and_a_prefix_keeps_whole_sequences(ckplus_dir):
    from xfer_keras.data.ckplus_frames import (ckplus_fullres_dev_frames, ckplus_onset_frames,
                                               ckplus_peak_frames)

    both = ckplus_fullres_dev_frames(root=ckplus_dir)
    peaks, onsets = ckplus_peak_frames(3, ckplus_dir), ckplus_onset_frames(ckplus_dir)
    assert both["path"].tolist() == peaks["path"].tolist() + onsets["path"].tolist()
    few = ckplus_fullres_dev_frames(2, root=ckplus_dir)
    assert len(few) == 2 * 3 + 2 and (few["emotion"] == "neutral").sum() == 2
    assert few.groupby(["subject", "sequence"]).size().tolist() == [4, 4]  # 3 peaks + 1 onset


def test_summarise_shifts_means_kept_share_and_worst_shift():
    from xfer_keras.evaluation.dev_sets import summarise_shifts

    def row(shift, model, acc, bal):
        return {"shift": shift, "model": model, "accuracy": acc, "balanced_accuracy": bal}

    rows = [row("as captured", "a", 0.8, 0.7), row("as captured", "b", 0.5, 0.5),
            row("dark", "a", 0.6, 0.5), row("roll", "a", 0.4, 0.3), row("dark", "b", 0.5, 0.4)]
    s = summarise_shifts(rows)
    assert s["a"]["mean_accuracy"] == pytest.approx(0.5)
    assert s["a"]["mean_balanced_accuracy"] == pytest.approx(0.4)
    assert s["a"]["kept"] == pytest.approx(0.625) and s["a"]["worst_shift"] == "roll"
    assert s["b"]["kept"] == pytest.approx(1.0) and s["b"]["worst_accuracy"] == 0.5
    only_captured = summarise_shifts([row("as captured", "c", 0.9, 0.9)])
    assert only_captured == {"c": {"as_captured": 0.9}}


def test_shifted_face_sets_refuses_unknown_shifts_before_any_detection():
    import pandas as pd

    from xfer_keras.evaluation.dev_sets import shifted_face_sets

    with pytest.raises(KeyError, match="unknown capture shifts"):
        next(shifted_face_sets(pd.DataFrame({"path": [], "emotion": []}), ["underwater"]))
