"""Synthetic landmark sequences with a *planted* signal: known answers for models and IG.

Every landmark jitters (a noisy random walk around a fixed face); in samples of the target
emotion only the ``planted`` landmarks drift steadily over the frames, as a mouth opening does.
A model that learns, and an explainer that is right, must find exactly those landmarks.
"""

from __future__ import annotations

import numpy as np

from xfer_keras.data.dataset import SequenceDataset
from xfer_keras.emotions import EMOTIONS6, canonical_emotion


def planted_sequences(
    n: int = 120,
    n_frames: int = 8,
    n_landmarks: int = 40,
    planted=(3, 7, 11, 19),
    emotion: str = "happiness",
    positive_fraction: float = 0.3,
    amplitude: float = 1.0,
    noise: float = 0.15,
    n_subjects: int = 12,
    seed: int = 0,
) -> SequenceDataset:
    """A ``SequenceDataset`` whose label depends only on the ``planted`` landmarks.

    Positives (``emotion``) move the planted landmarks by up to ``amplitude`` (in face-size
    units) from the first to the last frame; negatives get one of the other five emotions and
    no drift. All coordinates carry Gaussian noise of scale ``noise``.
    """
    rng = np.random.default_rng(seed)
    emotion = canonical_emotion(emotion)
    planted = np.asarray(planted, dtype=int)
    face = rng.normal(0.0, 1.0, size=(n_landmarks, 2))
    n_pos = max(1, int(round(n * positive_fraction)))
    is_pos = np.zeros(n, dtype=bool)
    is_pos[rng.choice(n, size=n_pos, replace=False)] = True

    ramp = np.linspace(0.0, 1.0, n_frames)[:, None]  # (P, 1)
    X = np.empty((n, n_frames, 2, n_landmarks, 1), dtype=np.float32)
    for i in range(n):
        frames = np.repeat(face[None], n_frames, axis=0)  # (P, L, 2)
        frames = frames + rng.normal(0.0, noise, size=frames.shape)
        if is_pos[i]:
            direction = np.array([0.3, 1.0]) * amplitude
            frames[:, planted, :] += ramp[:, :, None] * direction
        X[i, :, :, :, 0] = frames.transpose(0, 2, 1)

    others = [e for e in EMOTIONS6 if e != emotion]
    emotions = np.where(is_pos, emotion, rng.choice(others, size=n))
    subjects = np.array([f"S{s:03d}" for s in rng.integers(0, n_subjects, size=n)])
    return SequenceDataset(
        X=X, emotions=emotions, subjects=subjects,
        ids=np.array([f"synthetic_{i:04d}" for i in range(n)]),
        landmark_indices=np.arange(n_landmarks), topology="synthetic",
        meta={"planted": planted.tolist(), "emotion": emotion, "seed": seed},
    )
