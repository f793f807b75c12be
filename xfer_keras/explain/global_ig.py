"""Global Integrated Gradients: per-emotion landmark importance (Di Luzio et al., §3.3).

For each emotion ``e`` with a binary model ``F_e`` (EMO net, output column 1 = "is e"):

1. **Typical baselines.** For each of the five *other* emotions ``e'`` pick one typical sample
   of ``e'`` (rule below): five baselines.
2. **IG per sample and baseline.** IG of ``F_e`` for every sample of ``e`` in the given data,
   against each of the five baselines (:mod:`~xfer_keras.explain.integrated_gradients`; the
   paper's eq. 2 is ``method="riemann_right"``, the default here).
3. **Attribution mask.** ``sum |IG|`` over frames and coordinates: one value per landmark, per
   (baseline, sample). (Taking ``|.|`` *before* averaging keeps samples whose movements have
   opposite signs from cancelling; the paper sums absolute values per video, then averages.)
4. **Average** over samples, then over baselines: the importance of every landmark for ``e``;
   sorting it gives the ranking of all L landmarks.

Baseline selection rules (``baseline_rule``):

* ``"confidence"`` (default): the sample of ``e'`` that ``e'``'s own binary model classifies as
  ``e'`` most confidently (highest P(is e')); falls back to ``"medoid"`` for an emotion without
  a model. This is our reading of the paper's "video representing a typical behaviour".
* ``"medoid"``: the sample of ``e'`` with the smallest summed Euclidean distance to the other
  samples of ``e'`` (model-free).
* ``"least_target"``: the sample of ``e'`` that ``F_e`` scores *lowest* (most clearly "not e"),
  matching the IG advice that F(baseline) be near zero.

**No test leakage.** Pass only *training* data: both the explained samples and the baselines are
drawn from ``dataset``, and :attr:`GlobalIGResult.seen_ids` lists every sample id the ranking
used, so a caller (and the pruning experiment's tests) can assert it is disjoint from the test
partition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from xfer_keras import config
from xfer_keras.emotions import EMOTIONS6, canonical_emotion
from xfer_keras.errors import InputShapeError
from xfer_keras.explain.integrated_gradients import IntegratedGradients, interpolation_scores

BASELINE_RULES = ("confidence", "medoid", "least_target")


def landmark_mask(attributions: np.ndarray) -> np.ndarray:
    """``sum |IG|`` over frames and coordinates: ``(..., P, C, L, 1) -> (..., L)``."""
    a = np.asarray(attributions)
    if a.ndim < 4 or a.shape[-1] != 1:
        raise InputShapeError(f"expected (..., P, C, L, 1) attributions, got shape {a.shape}")
    return np.abs(a).sum(axis=(-4, -3, -1))


def _positive_probability(model, X: np.ndarray, target: int = 1, batch_size: int = 256) -> np.ndarray:
    return np.asarray(model.predict(X, batch_size=batch_size, verbose=0))[:, target]


def _medoid(X: np.ndarray) -> int:
    flat = X.reshape(len(X), -1).astype(np.float64)
    sq = (flat**2).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T, 0.0)
    return int(np.argmin(np.sqrt(d2).sum(axis=1)))


def typical_samples(dataset, models: Mapping[str, object] | None = None,
                    rule: str = "confidence", emotions=EMOTIONS6, target: int = 1,
                    explained_model=None) -> dict[str, tuple[int, str]]:
    """Position in ``dataset`` of one typical sample per emotion, and the rule actually used.

    ``explained_model`` is needed only by ``"least_target"`` (the model whose IG is computed).
    Emotions absent from ``dataset`` are left out.
    """
    if rule not in BASELINE_RULES:
        raise ValueError(f"baseline_rule must be one of {BASELINE_RULES}, got {rule!r}")
    models = {canonical_emotion(k): v for k, v in (models or {}).items()}
    out: dict[str, tuple[int, str]] = {}
    for emotion in emotions:
        emotion = canonical_emotion(emotion)
        positions = np.flatnonzero(dataset.emotions == emotion)
        if positions.size == 0:
            continue
        X = dataset.X[positions]
        if rule == "confidence" and emotion in models:
            i, used = int(np.argmax(_positive_probability(models[emotion], X, target))), "confidence"
        elif rule == "least_target":
            if explained_model is None:
                raise ValueError("baseline_rule='least_target' needs the explained model")
            i, used = int(np.argmin(_positive_probability(explained_model, X, target))), "least_target"
        else:
            i, used = _medoid(X), "medoid"
        out[emotion] = (int(positions[i]), used)
    return out


@dataclass
class GlobalIGResult:
    """Per-emotion landmark importance and rankings; tables and figures read it."""

    emotions: tuple[str, ...]
    scores: dict[str, np.ndarray]  #: emotion -> (L,) mean over baselines of the mean mask
    per_baseline: dict[str, np.ndarray]  #: emotion -> (K, L) mean mask per baseline
    baselines: dict[str, list[dict]]  #: emotion -> [{emotion, id, rule, score}] per baseline
    sample_ids: dict[str, list[str]]  #: emotion -> ids of the explained samples
    landmark_indices: np.ndarray  #: (L,) topology ids of the L columns
    topology: str = "mesh468"
    diagnostics: dict[str, dict] = field(default_factory=dict)  #: F(x), F(x'), deltas per emotion
    meta: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- rankings
    @property
    def n_landmarks(self) -> int:
        return int(len(self.landmark_indices))

    def ranking(self, emotion: str) -> np.ndarray:
        """Column positions ``0..L-1``, most important first (ties: lower column first)."""
        return np.argsort(-self.scores[canonical_emotion(emotion)], kind="stable")

    def top_k(self, emotion: str, k: int, ids: bool = False) -> np.ndarray:
        """The ``k`` most important columns (or topology landmark ids with ``ids=True``)."""
        if not 1 <= k <= self.n_landmarks:
            raise ValueError(f"k must lie in [1, {self.n_landmarks}], got {k}")
        columns = np.sort(self.ranking(emotion)[:k])
        return self.landmark_indices[columns] if ids else columns

    @property
    def seen_ids(self) -> set[str]:
        """Every sample id the ranking used (explained samples and baselines)."""
        seen = {i for ids in self.sample_ids.values() for i in ids}
        seen |= {b["id"] for bases in self.baselines.values() for b in bases}
        return seen

    # ---------------------------------------------------------------- tables
    def to_dataframe(self) -> pd.DataFrame:
        """Long table: emotion, column, landmark (topology id), score, rank (1 = most important)."""
        frames = []
        for emotion in self.emotions:
            rank = np.empty(self.n_landmarks, dtype=int)
            rank[self.ranking(emotion)] = np.arange(1, self.n_landmarks + 1)
            frames.append(pd.DataFrame({
                "emotion": emotion, "column": np.arange(self.n_landmarks),
                "landmark": self.landmark_indices, "score": self.scores[emotion], "rank": rank,
            }))
        return pd.concat(frames, ignore_index=True)

    def ranking_table(self, top: int = 10) -> pd.DataFrame:
        """Rows = rank 1..top, columns = emotions, cells = topology landmark ids."""
        return pd.DataFrame(
            {e: self.landmark_indices[self.ranking(e)[:top]] for e in self.emotions},
            index=pd.RangeIndex(1, top + 1, name="rank"),
        )

    def to_dict(self) -> dict:
        return {
            "emotions": list(self.emotions), "topology": self.topology,
            "landmark_indices": self.landmark_indices.tolist(),
            "scores": {e: self.scores[e].tolist() for e in self.emotions},
            "per_baseline": {e: self.per_baseline[e].tolist() for e in self.emotions},
            "rankings": {e: self.landmark_indices[self.ranking(e)].tolist() for e in self.emotions},
            "baselines": self.baselines, "sample_ids": self.sample_ids,
            "diagnostics": self.diagnostics, "meta": self.meta,
        }

    def to_json(self, path=None, indent: int = 1) -> str:
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, source) -> "GlobalIGResult":
        text = Path(source).read_text(encoding="utf-8") if not str(source).lstrip().startswith("{") else source
        d = json.loads(text)
        return cls(
            emotions=tuple(d["emotions"]),
            scores={e: np.asarray(v, dtype=float) for e, v in d["scores"].items()},
            per_baseline={e: np.asarray(v, dtype=float) for e, v in d["per_baseline"].items()},
            baselines=d["baselines"], sample_ids=d["sample_ids"],
            landmark_indices=np.asarray(d["landmark_indices"], dtype=int), topology=d["topology"],
            diagnostics=d.get("diagnostics", {}), meta=d.get("meta", {}),
        )


def global_ig(
    models: Mapping[str, object],
    dataset,
    emotions=None,
    baseline_rule: str = "confidence",
    n_steps: int | None = None,
    method: str = "riemann_right",
    internal_batch_size: int | None = None,
    target: int = 1,
    max_samples: int | None = None,
    seed: int = 0,
) -> GlobalIGResult:
    """Global IG landmark importance of each emotion's binary model on ``dataset``.

    Args:
        models: emotion -> binary Keras model taking ``dataset.X`` (``(N, P, C, L, 1)``).
        dataset: a :class:`~xfer_keras.data.SequenceDataset` - the *training* data only.
        emotions: which models to explain (default: every emotion in ``models``, paper order).
        baseline_rule: ``"confidence"`` | ``"medoid"`` | ``"least_target"`` (module docstring).
        n_steps: interpolation steps (default: 16 quick / 50 full profile).
        method: quadrature rule; ``"riemann_right"`` is the paper's eq. 2.
        target: output column explained (1 = "is the emotion").
        max_samples: explain at most this many samples per emotion (random, ``seed``).
    """
    models = {canonical_emotion(k): v for k, v in models.items()}
    emotions = tuple(canonical_emotion(e) for e in (emotions or [e for e in EMOTIONS6 if e in models]))
    missing = [e for e in emotions if e not in models]
    if missing:
        raise ValueError(f"no model for {missing}")
    n_steps = int(n_steps or config.pick(quick=16, full=50))
    present = [e for e in EMOTIONS6 if np.any(dataset.emotions == e)]
    rng = np.random.default_rng(seed)
    shared = None if baseline_rule == "least_target" else typical_samples(
        dataset, models, baseline_rule, present, target)

    scores, per_base, bases, ids, diag = {}, {}, {}, {}, {}
    for emotion in emotions:
        positions = np.flatnonzero(dataset.emotions == emotion)
        if positions.size == 0:
            raise ValueError(f"no sample of {emotion!r} in the dataset to explain")
        if max_samples and positions.size > max_samples:
            positions = np.sort(rng.choice(positions, size=max_samples, replace=False))
        typical = shared if shared is not None else typical_samples(
            dataset, models, "least_target", present, target, explained_model=models[emotion])
        others = [e for e in present if e != emotion]
        if not others:
            raise ValueError(f"no other emotion in the dataset to serve as a baseline for {emotion!r}")
        base_pos = [typical[e][0] for e in others]
        result = IntegratedGradients(
            models[emotion], n_steps=n_steps, method=method, internal_batch_size=internal_batch_size,
        ).explain(dataset.X[positions], targets=target,
                  baselines=[dataset.X[p] for p in base_pos], ids=dataset.ids[positions])
        masks = result.landmark_mask(per_baseline=True)  # (K, n_e, L)
        per_base[emotion] = masks.mean(axis=1)  # average over samples ...
        scores[emotion] = per_base[emotion].mean(axis=0)  # ... then over baselines
        bases[emotion] = [
            {"emotion": e, "id": str(dataset.ids[p]), "rule": typical[e][1],
             "score": float(result.score_baselines[k].mean())}
            for k, (e, p) in enumerate(zip(others, base_pos))
        ]
        ids[emotion] = [str(i) for i in dataset.ids[positions]]
        rel = result.relative_delta
        diag[emotion] = {
            "n_samples": int(positions.size), "n_baselines": len(base_pos),
            "mean_score_input": float(result.score_inputs.mean()),
            "mean_score_baseline": float(result.score_baselines.mean()),
            "median_relative_delta": float(np.median(rel[np.isfinite(rel)])) if np.isfinite(rel).any() else float("nan"),
        }
    return GlobalIGResult(
        emotions=emotions, scores=scores, per_baseline=per_base, baselines=bases, sample_ids=ids,
        landmark_indices=np.asarray(dataset.landmark_indices), topology=dataset.topology,
        diagnostics=diag,
        meta={"method": method, "n_steps": n_steps, "baseline_rule": baseline_rule,
              "target": target, "max_samples": max_samples, "seed": seed,
              "aggregation": "sum|IG| over frames+coords per (baseline, sample); mean over samples, then baselines"},
    )


def alpha_curve(model, dataset, sample, baseline, target: int = 1, n_alphas: int = 51) -> pd.DataFrame:
    """Figure 2 data: P(target) along ``x' + alpha (x - x')`` for one sample and one baseline.

    ``sample`` / ``baseline`` are positions in ``dataset`` or sample ids. Returns columns
    ``alpha``, ``probability``, ``sample``, ``baseline``.
    """
    def position(s):
        if isinstance(s, (int, np.integer)):
            return int(s)
        hits = np.flatnonzero(dataset.ids == str(s))
        if hits.size == 0:
            raise KeyError(f"no sample with id {s!r}")
        return int(hits[0])

    i, j = position(sample), position(baseline)
    curve = interpolation_scores(model, dataset.X[i], dataset.X[j], target=target, alphas=n_alphas)
    curve = curve.rename(columns={"score": "probability"})
    curve["sample"] = f"{dataset.ids[i]} ({dataset.emotions[i]})"
    curve["baseline"] = f"{dataset.ids[j]} ({dataset.emotions[j]})"
    return curve


__all__ = [
    "BASELINE_RULES", "GlobalIGResult", "alpha_curve", "global_ig", "landmark_mask",
    "typical_samples",
]
