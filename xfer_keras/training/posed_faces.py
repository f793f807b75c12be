"""Posed training faces mixed into FER2013's internet faces.

FER2013 has few prototypical, posed expressions, and the default model is judged on posed studio
photos. CK+48 adds posed faces of other people: a seeded share of its subjects
(:func:`xfer_keras.data.ckplus_frames.ckplus48_training_subjects`, never those of the
full-resolution dev sequences), repeated so that they make up a chosen share of the training
arrays. The subjects go into the model's config (``extra["posed_training"]``), and every CK+48
figure of that model leaves them out (:func:`~xfer_keras.data.ckplus_frames.trained_subjects`).
"""

from __future__ import annotations

import numpy as np


def ckplus48_training_arrays(subjects, size: int = 48, channels: int = 1, soft: bool = True,
                             root=None):
    """``(x, y)`` of the CK+48 crops of ``subjects``: uint8 ``(N, size, size, channels)`` and
    one-hot float32 ``(N, 7)`` targets (``soft``, beside FER+ vote distributions) or int labels."""
    from xfer_keras.data.image_folders import encode_labels, load_images

    frame = _crops_of(subjects, root)
    x = load_images(frame["path"], size=size, channels=channels)
    labels = encode_labels(frame["emotion"])
    return x, (np.eye(7, dtype=np.float32)[labels] if soft else labels)


def _crops_of(subjects, root=None):
    """CK+48's ``[path, emotion, subject]`` rows of ``subjects``; ValueError when there are none."""
    from xfer_keras.data.ckplus_frames import ckplus48_frame

    frame = ckplus48_frame(root)
    frame = frame[frame["subject"].isin(set(subjects))]
    if frame.empty:
        raise ValueError("none of the given subjects is in CK+48")
    return frame


def mix_in(x, y, x_extra, y_extra, share: float):
    """``(x, y, repeats)``: the extra samples repeated ``repeats`` times and appended, so that
    they are about ``share`` of the result (at least once each)."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be in (0, 1), got {share}")
    if len(x_extra) == 0:
        raise ValueError("no extra samples to mix in")
    y_extra = np.asarray(y_extra, dtype=np.asarray(y).dtype)
    if y_extra.shape[1:] != np.asarray(y).shape[1:]:
        raise ValueError(f"targets {y_extra.shape[1:]} do not match {np.asarray(y).shape[1:]}")
    repeats = max(1, round(share * len(x) / ((1.0 - share) * len(x_extra))))
    x_out = np.concatenate([x] + [x_extra] * repeats)
    y_out = np.concatenate([y] + [y_extra] * repeats)
    return x_out, y_out, repeats


def class_mix(targets, posed: dict | None = None, root=None) -> np.ndarray:
    """The class mix of a model's training arrays: the mean of ``targets`` (``(N, 7+)`` vote
    distributions or one-hot rows, first 7 columns; or int labels) with the posed CK+48 faces of
    ``posed`` (a config's ``extra["posed_training"]``: its subjects, each crop counted
    ``repeats`` times).

    The prior correction divides by this mix. Posed faces are never neutral, so leaving them
    out overstates the neutral share a posed-trained model learned (27.5 % instead of 34.2 %
    at a 19 % posed share) and the correction then suppresses neutral too much."""
    from xfer_keras.data.image_folders import encode_labels

    targets = np.asarray(targets)
    counts = (targets[:, :7].astype(np.float64).sum(0) if targets.ndim == 2
              else np.bincount(targets, minlength=7).astype(np.float64))
    if posed:
        labels = encode_labels(_crops_of(posed["subjects"], root)["emotion"])
        counts += int(posed["repeats"]) * np.bincount(labels, minlength=7)
    return counts / counts.sum()
