"""FER+ votes -> 7-class targets: the explicit handling of contempt / unknown / not-a-face, noise
votes and ties, on a planted table and on the real vote file."""

import numpy as np
import pandas as pd
import pytest

from xfer_keras.data.ferplus import (OTHER_COLUMNS, VOTE_COLUMNS, majority_labels,
                                     read_ferplus_votes, soft_targets)
from xfer_keras.emotions import EMOTIONS7


def _table(tmp_path, rows):
    columns = ["path", "n_ferplus_rows", *VOTE_COLUMNS.values(), *OTHER_COLUMNS]
    folder = tmp_path / "fer2013_ferplus_labels"
    folder.mkdir()
    pd.DataFrame(rows, columns=columns).to_csv(folder / "msambare_to_ferplus.csv", index=False)
    return read_ferplus_votes(tmp_path)


def test_planted_votes_map_to_seven_classes(tmp_path):
    # votes: anger disgust fear happiness neutral sadness surprise | contempt unknown NF
    votes = _table(tmp_path, [
        ["train/a.jpg", 1, 0, 0, 0, 8, 1, 0, 1, 0, 0, 0],   # happy; single votes are noise
        ["train/b.jpg", 1, 0, 0, 0, 2, 2, 0, 0, 6, 0, 0],   # contempt wins -> excluded
        ["train/c.jpg", 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 7],   # not a face -> excluded
        ["train/d.jpg", 2, 0, 0, 0, 10, 10, 0, 0, 0, 0, 0],  # duplicate rows: a tie
        ["train/e.jpg", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],   # dropped by FER+
    ])
    rel = ["train/a.jpg", "train/b.jpg", "train/c.jpg", "train/d.jpg", "train/e.jpg",
           "train/missing.jpg"]
    targets, kept = soft_targets(votes, rel)
    assert kept.tolist() == [True, False, False, True, False, False]
    happy, neutral = EMOTIONS7.index("happiness"), EMOTIONS7.index("neutral")
    assert targets[0, happy] == pytest.approx(1.0)  # the lone neutral and surprise votes are noise
    assert targets[3, happy] == pytest.approx(0.5) and targets[3, neutral] == pytest.approx(0.5)
    np.testing.assert_allclose(targets[kept].sum(1), 1.0, atol=1e-6)
    assert not targets[~kept].any()
    labels, kept_majority = majority_labels(votes, rel)
    assert kept_majority.tolist() == [True, False, False, False, False, False]  # tie left out
    assert labels[0] == happy and (labels[~kept_majority] == -1).all()
    assert dict(votes["ferplus_status"]) == {
        "train/a.jpg": "ok", "train/b.jpg": "top_vote_not_ours", "train/c.jpg": "top_vote_not_ours",
        "train/d.jpg": "ok", "train/e.jpg": "dropped_by_ferplus"}


def test_real_votes_agree_with_fer2013_where_known(data_dir):
    """The FER+ majority agrees with FER2013's label for most happy faces (the shared README:
    91.5 %) and relabels most fear (11.8 % agreement), as a right mapping must."""
    if not (data_dir / "fer2013_ferplus_labels").is_dir():
        pytest.skip("fer2013_ferplus_labels not in XFER_DATA_DIR")
    from xfer_keras.data.image_folders import encode_labels, list_fer2013

    votes = read_ferplus_votes()
    test = list_fer2013("test")
    labels, kept = majority_labels(votes, test["rel"])
    y = encode_labels(test["emotion"])
    assert 0.9 < kept.mean() < 1.0
    for name, low, high in (("happiness", 0.85, 1.0), ("fear", 0.0, 0.3)):
        sel = kept & (y == EMOTIONS7.index(name))
        assert low <= (labels[sel] == y[sel]).mean() <= high, name
    targets, kept_soft = soft_targets(votes, test["rel"])
    np.testing.assert_allclose(targets[kept_soft].sum(1), 1.0, atol=1e-5)
