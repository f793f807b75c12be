"""The shipped set of six one-vs-rest EMO nets, with what explaining a clip needs beside them.

A folder (default ``saved_models/emo/``) holds

* ``<emotion>.keras`` and ``ensemble.json``: the six nets, each reading its own IG top-K
  landmark columns (written by :class:`~xfer_keras.models.emo_net.EmoNetEnsemble`);
* ``emo_set.json``: backend, topology, P, normalisation, per-net K, landmark ids and decision
  threshold, the inner-fold scores that chose K, and the recipe's settings;
* ``baselines.npz``: the *typical baselines*, one mean motion sequence ``(P, C, L)`` per emotion
  (averaged landmark tracks of that emotion's training videos: no subject's image or track),
  and ``neutral_shape`` ``(L, 2)``, the mean face-normalised neutral frame (for the segmenter).

:func:`~xfer_keras.training.emo_recipe.train_emo_set` makes one; ``EmoNetSet.load()`` reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import xfer_keras  # noqa: F401  (environment before TensorFlow)
from xfer_keras.assets import shipped_dir, shipped_path
from xfer_keras.emotions import EMOTIONS6, canonical_emotion
from xfer_keras.errors import InputShapeError, ModelFileError

DEFAULT_FOLDER = shipped_dir() / "emo"  #: the six shipped nets (:func:`xfer_keras.assets.shipped_dir`)
META_FILE = "emo_set.json"
BASELINE_FILE = "baselines.npz"


def default_folder() -> Path:
    """``$XFER_EMO_MODELS`` when set, else the shipped set (``saved_models/emo/``;
    :func:`xfer_keras.assets.shipped_path`); ModelFileError when the one chosen is missing."""
    return shipped_path("emo", "XFER_EMO_MODELS", what="EMO net set")


@dataclass
class EmoNetSpec:
    """One binary net and how to use it."""

    emotion: str
    model: object  #: Keras model on (N, P, C, K, 1)
    landmarks: list[int]  #: the K topology landmark ids it reads, ascending
    threshold: float  #: P(emotion) above this counts as "shows the emotion"
    inner_scores: list[dict] = field(default_factory=list)  #: [{k, roc_auc, balanced_accuracy}]

    @property
    def k(self) -> int:
        return len(self.landmarks)


@dataclass
class EmoNetSet:
    """Six EMO nets on landmark motion, their thresholds and typical baselines."""

    specs: dict[str, EmoNetSpec]
    baselines: dict[str, np.ndarray]  #: emotion -> (P, C, L) mean motion sequence
    neutral_shape: np.ndarray | None = None  #: (L, 2) mean face-normalised neutral frame
    meta: dict = field(default_factory=dict)
    folder: Path | None = None

    @property
    def emotions(self) -> tuple[str, ...]:
        return tuple(e for e in EMOTIONS6 if e in self.specs)

    @property
    def n_frames(self) -> int:
        return int(self.meta["n_frames"])

    @property
    def backend(self) -> str:
        return str(self.meta["backend"])

    @property
    def n_landmarks(self) -> int:
        return int(self.meta["n_landmarks"])

    def columns(self, emotion: str) -> np.ndarray:
        """Positions of the net's landmarks in a full-landmark input (ids = columns here)."""
        return np.asarray(self.specs[canonical_emotion(emotion)].landmarks, dtype=int)

    def ensemble(self):
        from xfer_keras.models.emo_net import EmoNetEnsemble

        return EmoNetEnsemble({e: s.model for e, s in self.specs.items()},
                              {e: self.columns(e) for e in self.specs})

    def _check(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        want = (self.n_frames, int(self.meta.get("coords", 2)), self.n_landmarks, 1)
        if X.ndim != 5 or X.shape[1:] != want:
            raise InputShapeError(f"the EMO nets take (N, {', '.join(map(str, want))}) motion, got {X.shape}")
        return X

    def positive_probabilities(self, X) -> np.ndarray:
        """``(N, 6)`` P(emotion) of each net on full-landmark motion ``X``, columns ``emotions``."""
        X = self._check(X)
        out = [np.asarray(self.specs[e].model(X[:, :, :, self.columns(e), :], training=False))[:, 1]
               for e in self.emotions]
        return np.stack(out, axis=1)

    def thresholds(self) -> dict[str, float]:
        return {e: float(self.specs[e].threshold) for e in self.emotions}

    # ---------------------------------------------------------------- files
    def save(self, folder) -> Path:
        from xfer_keras.atomic import atomic_path, atomic_write_text

        folder = Path(folder)
        self.ensemble().save(folder)
        meta = {**self.meta, "nets": {
            e: {"k": s.k, "landmarks": [int(i) for i in s.landmarks], "threshold": float(s.threshold),
                "inner_scores": s.inner_scores} for e, s in self.specs.items()}}
        atomic_write_text(folder / META_FILE, json.dumps(_plain(meta), indent=1))
        arrays = {f"typical_{e}": np.asarray(v, np.float32) for e, v in self.baselines.items()}
        if self.neutral_shape is not None:
            arrays["neutral_shape"] = np.asarray(self.neutral_shape, np.float32)
        with atomic_path(folder / BASELINE_FILE, suffix=".tmp") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        self.folder = folder
        return folder

    @classmethod
    def load(cls, folder=None) -> "EmoNetSet":
        """Read a saved set (default :func:`default_folder`); ModelFileError when absent/corrupt."""
        folder = Path(folder) if folder is not None else default_folder()
        meta_path = folder / META_FILE
        if not meta_path.is_file():
            raise ModelFileError(f"no EMO net set in {folder} (expected {META_FILE}); train one with "
                                 "scripts/train_emo_nets.py")
        try:
            from xfer_keras.models.emo_net import EmoNetEnsemble

            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            ensemble = EmoNetEnsemble.load(folder)
            with np.load(folder / BASELINE_FILE, allow_pickle=False) as data:
                arrays = {k: np.array(data[k]) for k in data.files}
        except (OSError, ValueError, KeyError) as error:
            raise ModelFileError(f"cannot read the EMO net set in {folder}: {error}") from error
        nets = meta.pop("nets")
        specs = {e: EmoNetSpec(e, ensemble.models[e], info["landmarks"], info["threshold"],
                               info.get("inner_scores", [])) for e, info in nets.items()}
        baselines = {k[len("typical_"):]: v for k, v in arrays.items() if k.startswith("typical_")}
        return cls(specs=specs, baselines=baselines, neutral_shape=arrays.get("neutral_shape"),
                   meta=meta, folder=folder)

    def files(self) -> dict[str, int]:
        """Sizes in bytes of the saved files (after :meth:`save` or :meth:`load`)."""
        if self.folder is None:
            return {}
        return {p.name: p.stat().st_size for p in sorted(self.folder.iterdir()) if p.is_file()}


def _plain(value):
    """JSON-safe copy (numpy scalars and arrays to Python)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


__all__ = ["DEFAULT_FOLDER", "EmoNetSet", "EmoNetSpec", "default_folder"]
