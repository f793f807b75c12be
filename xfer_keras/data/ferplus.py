"""FER+ votes (Barsoum et al. 2016: 10 raters per FER2013 image) as targets for our 7 classes.

``$XFER_DATA_DIR/fer2013_ferplus_labels/msambare_to_ferplus.csv`` holds, for every FER2013 file
(``train/...`` of ``fer2013_sharp``, ``test/...`` of ``fer2013``), the vote counts of the 8 FER+
emotions plus ``unknown`` and ``NF`` (not a face); byte-identical images carry the sum of their
rows' votes (``n_ferplus_rows`` > 1).

Our classifiers have 7 classes (no contempt), so the votes are mapped explicitly:

* votes are counted per rater (divided by ``n_ferplus_rows``), and a class with at most one
  vote per 10 raters is treated as noise and zeroed, as in the FER+ reference code;
* an image is **kept** only when, after that, its strongest class is one of our 7 emotions:
  images FER+ dropped (no row), whose top votes are ``contempt``, ``unknown`` or ``NF``, or with
  no vote left are excluded, and the reason is recorded (``ferplus_status``);
* :func:`soft_targets` is the kept images' vote distribution over the 7 emotions (FER+'s
  "probability" scheme); :func:`majority_labels` their argmax, with ties excluded (FER+'s
  majority scheme, used for the "FER+ majority" test figures).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xfer_keras.config import dataset_dir
from xfer_keras.emotions import EMOTIONS7
from xfer_keras.errors import MissingColumnsError

VOTE_COLUMNS = {  # our class name -> FER+ column
    "anger": "votes_anger", "disgust": "votes_disgust", "fear": "votes_fear",
    "happiness": "votes_happiness", "neutral": "votes_neutral", "sadness": "votes_sadness",
    "surprise": "votes_surprise",
}
OTHER_COLUMNS = ("votes_contempt", "votes_unknown", "votes_NF")
CSV_NAME = "msambare_to_ferplus.csv"


def read_ferplus_votes(root=None) -> pd.DataFrame:
    """The vote table indexed by ``rel`` path (``train/happy/x.jpg``, ``test/...``), with the
    votes per rater and ``ferplus_status``: ``ok`` or why the image has no 7-class target."""
    path = dataset_dir("fer2013_ferplus_labels", root) / CSV_NAME
    table = pd.read_csv(path)
    needed = {"path", "n_ferplus_rows", *VOTE_COLUMNS.values(), *OTHER_COLUMNS}
    missing = needed - set(table.columns)
    if missing:
        raise MissingColumnsError(f"{path}: missing columns {sorted(missing)}")
    table = table.set_index("path")
    rows = table["n_ferplus_rows"].to_numpy(dtype=np.float64)
    columns = [*VOTE_COLUMNS.values(), *OTHER_COLUMNS]
    votes = table[columns].to_numpy(dtype=np.float64) / np.maximum(rows, 1.0)[:, None]
    votes[votes <= 1.0 + 1e-9] = 0.0  # one vote in 10 is noise (FER+ reference code)
    ours, others = votes[:, :len(VOTE_COLUMNS)], votes[:, len(VOTE_COLUMNS):]
    status = np.full(len(table), "ok", dtype=object)
    status[ours.sum(1) == 0] = "no_votes_left"
    status[(others.max(1) > 0) & (ours.max(1) <= others.max(1))] = "top_vote_not_ours"
    status[rows == 0] = "dropped_by_ferplus"
    out = pd.DataFrame(ours, index=table.index, columns=list(VOTE_COLUMNS))
    out["ferplus_status"] = status
    return out


def soft_targets(votes: pd.DataFrame, rel_paths, classes=EMOTIONS7) -> tuple[np.ndarray, np.ndarray]:
    """``(targets (N, K) float32 summing to 1, kept (N,) bool)`` for ``rel_paths``; rows of
    images without a 7-class target are zero and not kept."""
    frame = votes.reindex(list(rel_paths))
    kept = (frame["ferplus_status"] == "ok").to_numpy()
    values = frame[list(classes)].fillna(0.0).to_numpy(dtype=np.float64, copy=True)
    values[~kept] = 0.0
    sums = values.sum(1, keepdims=True)
    targets = np.divide(values, sums, out=np.zeros_like(values), where=sums > 0)
    return targets.astype(np.float32), kept


def majority_labels(votes: pd.DataFrame, rel_paths, classes=EMOTIONS7) -> tuple[np.ndarray, np.ndarray]:
    """``(labels (N,) int, kept (N,) bool)``: the FER+ majority class; images without a 7-class
    target or with a tie for the top vote are not kept (label -1)."""
    targets, kept = soft_targets(votes, rel_paths, classes)
    top = targets.max(1, keepdims=True)
    tie = (np.isclose(targets, top) & (top > 0)).sum(1) > 1
    kept = kept & ~tie
    labels = np.where(kept, targets.argmax(1), -1)
    return labels.astype(np.int32), kept
