"""Motion input (frames minus the neutral frame) removes identity and keeps the expression."""

import numpy as np
import pytest

from xfer_keras.data import mean_face, planted_sequences
from xfer_keras.errors import InputShapeError


def test_motion_ignores_where_the_face_is_and_keeps_the_planted_drift():
    ds = planted_sequences(n=30, n_frames=6, n_landmarks=12, planted=(2, 5), noise=0.05, seed=1)
    shifted = type(ds)(**{**ds.__dict__, "X": ds.X + np.float32(3.0)})  # same faces, moved
    motion, motion_shifted = ds.relative_to_first_frame(), shifted.relative_to_first_frame()
    np.testing.assert_allclose(motion.X, motion_shifted.X, atol=1e-5)
    assert np.all(motion.X[:, 0] == 0)
    pos = ds.binary_labels("happiness") == 1
    drift = np.abs(motion.X[:, -1, :, :, 0]).mean(axis=1)  # (N, L) at the last frame
    assert drift[pos][:, [2, 5]].mean() > 5 * drift[pos][:, [0, 1, 3]].mean()
    assert motion.relative_to_first_frame() is motion and motion.meta["relative_to_first_frame"]


def test_mean_face_refuses_motion_data():
    motion = planted_sequences(n=10, n_landmarks=8, planted=(1,)).relative_to_first_frame()
    with pytest.raises(InputShapeError, match="motion"):
        mean_face(motion)


def test_load_ckplus_dataset_motion(ckplus_dir):
    from xfer_keras.data import load_ckplus_dataset

    ds = load_ckplus_dataset(backend="dlib", root=ckplus_dir, motion=True, progress=False)
    assert ds.X.shape[3] == 68 and np.all(ds.X[:, 0] == 0)
