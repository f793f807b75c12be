"""``SequenceDataset``: landmark-sequence tensors with their labels, subjects and landmark ids.

The container every step of the landmark method shares (data -> EMO nets -> IG -> pruning).
``X`` has the paper's shape ``(N, P, C, L, 1)``: N videos, P frames, C coordinates (x, y[, z]),
L landmarks, one channel. ``landmark_indices`` remembers which landmarks of the full topology
the L columns are, so a pruned dataset can still be plotted on the full face.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from xfer_keras.emotions import EMOTIONS6, canonical_emotion
from xfer_keras.errors import InputShapeError


@dataclass(frozen=True)
class SequenceDataset:
    X: np.ndarray  #: (N, P, C, L, 1) float32
    emotions: np.ndarray  #: (N,) canonical emotion names
    subjects: np.ndarray  #: (N,) subject ids (splits group by these)
    ids: np.ndarray  #: (N,) sample ids, e.g. "S052_001" or "S052_001_flip"
    landmark_indices: np.ndarray  #: (L,) indices into the full topology
    topology: str = "mesh468"  #: "mesh468", "dlib68" or "synthetic"
    meta: dict = field(default_factory=dict)  #: provenance (backend, normalisation, P, ...)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim != 5 or X.shape[-1] != 1:
            raise InputShapeError(f"X must be (N, P, C, L, 1), got shape {X.shape}")
        n, length = X.shape[0], X.shape[3]
        for name in ("emotions", "subjects", "ids"):
            if len(getattr(self, name)) != n:
                raise InputShapeError(f"{name} has {len(getattr(self, name))} entries, X has {n}")
        if len(self.landmark_indices) != length:
            raise InputShapeError(
                f"landmark_indices has {len(self.landmark_indices)} entries, X has L={length}"
            )
        object.__setattr__(self, "X", X.astype(np.float32, copy=False))
        object.__setattr__(self, "emotions", np.array([canonical_emotion(e) for e in self.emotions]))
        object.__setattr__(self, "subjects", np.asarray(self.subjects).astype(str))
        object.__setattr__(self, "ids", np.asarray(self.ids).astype(str))
        object.__setattr__(self, "landmark_indices", np.asarray(self.landmark_indices, dtype=int))

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(P, C, L, 1)``: what an EMO net is built for."""
        return tuple(self.X.shape[1:])  # type: ignore[return-value]

    @property
    def n_landmarks(self) -> int:
        return int(self.X.shape[3])

    @property
    def labels6(self) -> np.ndarray:
        """Integer labels, index into :data:`~xfer_keras.emotions.EMOTIONS6`."""
        return np.array([EMOTIONS6.index(e) for e in self.emotions], dtype=int)

    def binary_labels(self, emotion: str) -> np.ndarray:
        """One-vs-rest labels: 1 where the sample shows ``emotion``, else 0."""
        return (self.emotions == canonical_emotion(emotion)).astype(np.int32)

    def subset(self, index) -> "SequenceDataset":
        """Samples selected by an index array or boolean mask."""
        index = np.asarray(index)
        return replace(
            self, X=self.X[index], emotions=self.emotions[index],
            subjects=self.subjects[index], ids=self.ids[index],
        )

    def select_landmarks(self, columns) -> "SequenceDataset":
        """Keep landmark *columns* (positions 0..L-1 of this dataset), e.g. the IG top-K."""
        columns = np.asarray(columns, dtype=int)
        if columns.size == 0 or columns.min() < 0 or columns.max() >= self.n_landmarks:
            raise InputShapeError(f"landmark columns must lie in [0, {self.n_landmarks})")
        return replace(
            self, X=self.X[:, :, :, columns, :], landmark_indices=self.landmark_indices[columns]
        )

    def select_topology_landmarks(self, landmark_ids) -> "SequenceDataset":
        """Keep landmarks by their id in the full topology (e.g. mesh index 13)."""
        position = {int(k): i for i, k in enumerate(self.landmark_indices)}
        missing = [int(k) for k in landmark_ids if int(k) not in position]
        if missing:
            raise InputShapeError(f"landmarks {missing[:10]} are not in this dataset")
        return self.select_landmarks([position[int(k)] for k in landmark_ids])

    def relative_to_first_frame(self) -> "SequenceDataset":
        """Every frame minus its sequence's first (neutral) frame: the *motion* of each landmark.

        Subtracting the neutral face removes who the person is (face shape) and keeps what the
        face does. Not in the paper (which feeds positions); on the 40 shared CK+ videos it
        lifts the EMO nets' ROC-AUC for anger, fear and sadness from near chance to 0.9+
        (``docs/emo.md``). Frame 0 becomes all zeros.
        """
        if self.meta.get("relative_to_first_frame"):
            return self
        return replace(self, X=self.X - self.X[:, :1],
                       meta={**self.meta, "relative_to_first_frame": True})

    def summary(self) -> dict:
        """Counts per emotion and basic shape facts, for printing."""
        names, counts = np.unique(self.emotions, return_counts=True)
        return {
            "n": len(self), "input_shape": self.input_shape, "topology": self.topology,
            "subjects": int(np.unique(self.subjects).size),
            "per_emotion": dict(zip(names.tolist(), counts.tolist())),
        }
