"""The recipe of the shipped EMO nets: K chosen inside the training data, thresholds, baselines.

:func:`train_emo_set` turns a landmark-*motion* dataset (``load_ckplus_dataset(...,
motion=True)``) into an :class:`~xfer_keras.models.emo_set.EmoNetSet`, using only that dataset:

1. **K per emotion, chosen inside the training data.** Grouped inner folds over the training
   subjects (``inner_folds``). In each fold and for each emotion: the full-landmark net is
   trained on the inner-training part, global IG
   (:func:`~xfer_keras.explain.global_ig.global_ig`, medoid baselines of the other emotions)
   ranks the landmarks *on that part only*, and every ``K < L`` of ``ks`` retrains the net on
   the IG top-K.
   Each candidate is scored on the inner-validation subjects; the out-of-fold probabilities are
   pooled per (emotion, K). K = the best pooled ROC-AUC (ties within ``k_tolerance``: the
   smaller K, which makes a smaller, cheaper net: the paper's argument for pruning).
2. **Threshold per emotion** from the same out-of-fold probabilities at the chosen K: the one
   maximising balanced accuracy (Youden's J; the midpoint between neighbouring probabilities),
   or 0.5 (what the balanced training loss aims at) when that out-of-fold ROC-AUC is below
   ``threshold_min_auc``: an optimum found on chance-level scores is noise.
3. **Final nets**: full-landmark nets on the whole training data, global IG on it, and each
   emotion's net retrained on its own top-K.
4. **Typical baselines** per emotion: the *mean* motion sequence ``(P, C, L)`` of that
   emotion's training videos (an average of landmark tracks, never a subject's image), and the
   mean neutral shape (face-normalised positions of the first frames) for the clip segmenter.

:func:`leave_one_subject_out` runs the *same* recipe once per held-out subject (K, thresholds
and nets all from the other subjects) and reports per emotion balanced accuracy (at the
recipe's thresholds), ROC-AUC and the majority baseline of the pooled held-out predictions;
folds are checkpointed to a folder so an interrupted run resumes.

This reuses the pruning experiment's building blocks (:func:`subject_splits`,
:func:`train_one_vs_rest`, :func:`global_ig`, :func:`select_columns`) rather than calling
:func:`~xfer_keras.training.pruning.pruning_experiment`, which trains a fresh (untraced) net per
candidate, has no out-of-fold probabilities for the thresholds and fixes 5 inner folds; here
a compiled net is reused per input shape.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

import xfer_keras  # noqa: F401  (environment before TensorFlow)
from xfer_keras.emotions import EMOTIONS6


@dataclass
class RecipeSettings:
    """Everything that defines the recipe (saved in the net set's metadata and model card)."""

    variant: str = "t-emo"
    hyperparams: dict = field(default_factory=lambda: {"filters": 16, "lstm_units": 32, "fc1_units": 32})
    ks: tuple[int, ...] = (68, 16)  #: candidate K (the full L is always a candidate)
    inner_folds: int = 2
    k_tolerance: float = 0.02  #: ROC-AUC within this of the best -> prefer the smaller K
    #: below this out-of-fold ROC-AUC the balanced-accuracy optimum is noise: threshold 0.5
    threshold_min_auc: float = 0.6
    #: Adam's step: 3e-3 instead of the paper's 1e-4, for the CPU budget of nested
    #: leave-one-subject-out (about half the time per net of 1e-3, at some cost in ROC-AUC:
    #: docs/emo.md).
    learning_rate: float = 3e-3
    epochs: int = 40
    patience: int = 5
    ig_n_steps: int = 16
    ig_method: str = "riemann_right"
    baseline_rule: str = "medoid"  #: per-emotion ranking right after each fit (no other nets)
    emotions: tuple[str, ...] = EMOTIONS6
    seed: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ks"], d["emotions"] = list(self.ks), list(self.emotions)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RecipeSettings":
        d = dict(d)
        d["ks"], d["emotions"] = tuple(d["ks"]), tuple(d["emotions"])
        return cls(**d)


def youden_threshold(y, p) -> float:
    """The threshold on ``p`` that maximises balanced accuracy (TPR + TNR) for labels ``y``.

    Candidates are midpoints between consecutive distinct probabilities (and 0.5 when only one
    class is present); ties: the candidate closest to 0.5 (the nets' balanced-loss default).
    """
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=float)
    if np.unique(y).size < 2:
        return 0.5
    values = np.unique(p)
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    pos, neg = y == 1, y == 0
    scores = np.array([np.mean(p[pos] > t) + np.mean(p[neg] <= t) for t in candidates])
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(np.clip(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]], 0.0, 1.0))


def _predict(model, X) -> np.ndarray:
    return np.asarray(model(np.asarray(X, np.float32), training=False))[:, 1]


def _rank_and_train(dataset, train_idx, settings: RecipeSettings, pool, seed: int,
                    eval_idx=None, ks=None, keep_full: Sequence[str] = ()):
    """Full nets on ``train_idx``, global IG on that part, top-K nets for each K in ``ks``
    (one list for all emotions, or emotion -> list).

    Returns ``(rankings, nets, proba)``: ``rankings[emotion]`` columns (most important first),
    ``nets[(emotion, K)]`` uncompiled copies (final training: ``eval_idx`` None; full-landmark
    nets only for ``keep_full``), ``proba[(emotion, K)]`` positive probabilities on
    ``eval_idx``. Each emotion is ranked by its own net right after training it, so the pooled
    net (one object per input shape) is explained before it is re-initialised, and IG is traced
    once per shape.
    """
    from xfer_keras.explain.global_ig import global_ig
    from xfer_keras.training.emo import train_one_vs_rest
    from xfer_keras.training.pruning import select_columns

    L = dataset.n_landmarks
    if not isinstance(ks, dict):  # one list for every emotion
        ks = {e: ks for e in settings.emotions}
    ks = {e: sorted({int(k) for k in (v or settings.ks) if int(k) < L}, reverse=True) for e, v in ks.items()}
    train_part = dataset.subset(train_idx)
    rankings, nets, proba = {}, {}, {}
    for emotion in settings.emotions:
        fit_seed = seed * 1000 + 10 * EMOTIONS6.index(emotion)
        res = train_one_vs_rest(dataset, emotion, settings.variant, train_idx, settings.hyperparams,
                                seed=fit_seed, epochs=settings.epochs, patience=settings.patience,
                                pool=pool)
        if eval_idx is not None:
            proba[(emotion, L)] = _predict(res.model, dataset.X[eval_idx])
        elif emotion in keep_full:
            nets[(emotion, L)] = _frozen_copy(res.model)
        g = global_ig({emotion: res.model}, train_part, emotions=[emotion],
                      baseline_rule=settings.baseline_rule, n_steps=settings.ig_n_steps,
                      method=settings.ig_method, seed=seed)
        if eval_idx is not None and g.seen_ids & set(dataset.ids[eval_idx]):  # never silently
            raise RuntimeError(f"the {emotion} ranking saw validation videos")
        rankings[emotion] = g.ranking(emotion)
        for k in ks[emotion]:
            pruned = dataset.select_landmarks(select_columns(rankings[emotion], k, "ig"))
            res = train_one_vs_rest(pruned, emotion, settings.variant, train_idx,
                                    settings.hyperparams, seed=fit_seed, epochs=settings.epochs,
                                    patience=settings.patience, pool=pool)
            if eval_idx is not None:
                proba[(emotion, k)] = _predict(res.model, pruned.X[eval_idx])
            else:
                nets[(emotion, k)] = _frozen_copy(res.model)
    return rankings, nets, proba


def _frozen_copy(model):
    """An uncompiled copy of a trained EMO net (same weights, no optimizer state: small files)."""
    from xfer_keras.models.emo_net import build_emo_net, emo_net_config

    cfg = emo_net_config(model)
    copy = build_emo_net(cfg.input_shape, cfg.variant, filters=cfg.filters,
                         lstm_units=cfg.lstm_units, fc1_units=cfg.fc1_units,
                         kernel_size=cfg.kernel_size, dropout=cfg.dropout, name=model.name)
    copy.set_weights(model.get_weights())
    return copy


def choose_k(dataset, train_idx, settings: RecipeSettings, pool=None) -> pd.DataFrame:
    """Step 1-2 of the recipe: inner-fold scores per (emotion, K), the chosen K and threshold.

    Returns one row per (emotion, K) with pooled out-of-fold ``roc_auc``,
    ``balanced_accuracy`` (at 0.5), ``chosen`` (bool) and ``threshold`` (on the chosen rows).
    """
    from xfer_keras.training.emo import subject_splits
    from xfer_keras.training.emo_fit import NetPool
    from xfer_keras.training.metrics import binary_metrics

    pool = pool or NetPool(settings.learning_rate)
    train_idx = np.asarray(train_idx, dtype=int)
    inner = dataset.subset(train_idx)
    labels = np.array([e if e in EMOTIONS6 else "other" for e in inner.emotions])
    folds = subject_splits(inner.subjects, "kfold", settings.seed, labels=labels,
                           n_splits=min(settings.inner_folds, np.unique(inner.subjects).size))
    oof: dict[tuple, np.ndarray] = {}
    for f, (tr, va) in enumerate(folds):
        _, _, proba = _rank_and_train(inner, tr, settings, pool, seed=settings.seed + 100 * (f + 1),
                                      eval_idx=va)
        for key, p in proba.items():
            oof.setdefault(key, np.full(len(inner), np.nan))[va] = p
    rows = []
    for (emotion, k), p in oof.items():
        y = inner.binary_labels(emotion)
        m = binary_metrics(y, p)
        rows.append({"emotion": emotion, "k": k, "roc_auc": m["roc_auc"],
                     "balanced_accuracy": m["balanced_accuracy"],
                     "threshold_candidate": youden_threshold(y, p)})
    table = pd.DataFrame(rows).sort_values(["emotion", "k"], ascending=[True, False]).reset_index(drop=True)
    table["chosen"] = False
    table["threshold"] = np.nan
    for emotion, part in table.groupby("emotion"):
        auc = part["roc_auc"].fillna(0.5)
        good = part[auc >= auc.max() - settings.k_tolerance]
        pick = good["k"].idxmin()
        table.loc[pick, "chosen"] = True
        informative = table.loc[pick, "roc_auc"] >= settings.threshold_min_auc
        table.loc[pick, "threshold"] = table.loc[pick, "threshold_candidate"] if informative else 0.5
    return table.drop(columns="threshold_candidate")


def typical_baselines(dataset, emotions: Sequence[str] = EMOTIONS6) -> dict[str, np.ndarray]:
    """Mean motion sequence ``(P, C, L)`` per emotion (an average of tracks, not a subject)."""
    return {e: dataset.X[dataset.emotions == e, ..., 0].mean(axis=0).astype(np.float32)
            for e in emotions if np.any(dataset.emotions == e)}


def load_recipe_data(backend: str = "dlib", n_frames: int = 8, root=None, progress: bool = False):
    """The recipe's training data: ``(motion dataset, mean neutral shape (L, 2))`` of CK+.

    P = 8 by default: the shortest shared CK+ sequence has 8 frames, so no training video
    repeats a frame. The neutral shape is the mean face-normalised first frame.
    """
    from xfer_keras.data import load_ckplus_dataset

    positions = load_ckplus_dataset(backend=backend, n_frames=n_frames, root=root, progress=progress)
    neutral = positions.X[:, 0, :2, :, 0].mean(axis=0).T.astype(np.float32)
    return positions.relative_to_first_frame(), neutral


def train_emo_set(dataset, train_idx=None, settings: RecipeSettings | None = None,
                  neutral_shape: np.ndarray | None = None, progress: bool = False):
    """The whole recipe on ``dataset[train_idx]`` (default: all of it) -> ``EmoNetSet``.

    ``dataset`` must hold landmark motion (``motion=True``). ``neutral_shape``: the mean
    face-normalised neutral frame ``(L, 2)`` kept for the clip segmenter (optional).
    """
    from xfer_keras.errors import InputShapeError
    from xfer_keras.models.emo_set import EmoNetSet, EmoNetSpec
    from xfer_keras.training.emo_fit import NetPool

    settings = settings or RecipeSettings()
    if not dataset.meta.get("relative_to_first_frame"):
        raise InputShapeError("the EMO recipe trains on landmark motion: load the data with motion=True")
    started = time.perf_counter()
    train_idx = np.arange(len(dataset)) if train_idx is None else np.asarray(train_idx, dtype=int)
    pool = NetPool(settings.learning_rate)
    chosen = choose_k(dataset, train_idx, settings, pool)
    picks = chosen[chosen["chosen"]].set_index("emotion")
    ks = {e: [int(picks.loc[e, "k"])] for e in settings.emotions}  # only each emotion's own K
    keep_full = [e for e in settings.emotions if int(picks.loc[e, "k"]) >= dataset.n_landmarks]
    rankings, nets, _ = _rank_and_train(dataset, train_idx, settings, pool, seed=settings.seed,
                                        ks=ks, keep_full=keep_full)
    train = dataset.subset(train_idx)
    specs = {}
    for emotion in settings.emotions:
        k = int(picks.loc[emotion, "k"])
        columns = np.sort(rankings[emotion][:k])
        specs[emotion] = EmoNetSpec(
            emotion=emotion, model=nets[(emotion, k)],
            landmarks=dataset.landmark_indices[columns].tolist(),
            threshold=float(picks.loc[emotion, "threshold"]),
            inner_scores=chosen[chosen["emotion"] == emotion][["k", "roc_auc", "balanced_accuracy"]]
            .to_dict("records"),
        )
    if progress:
        print(f"trained the EMO set on {len(train_idx)} videos in {time.perf_counter() - started:.0f} s")
    return EmoNetSet(
        specs=specs,
        baselines=typical_baselines(train),  # every emotion present: IG's "other emotions"
        neutral_shape=None if neutral_shape is None else np.asarray(neutral_shape, np.float32),
        meta={
            "backend": dataset.meta.get("backend"), "topology": dataset.topology,
            "n_frames": int(dataset.X.shape[1]), "coords": int(dataset.X.shape[2]),
            "normalize": dataset.meta.get("normalize", "face"), "motion": True,
            "n_landmarks": int(dataset.n_landmarks),
            "training_ids": [str(i) for i in train.ids], "recipe": settings.to_dict(),
            "global_ig_ranking": {e: dataset.landmark_indices[rankings[e]].tolist()
                                  for e in settings.emotions},
            "seconds": round(time.perf_counter() - started, 1),
        },
    )


def leave_one_subject_out(dataset, settings: RecipeSettings | None = None, checkpoint=None,
                          progress: bool = True) -> pd.DataFrame:
    """Run the recipe once per held-out subject; one row per (held-out video, emotion).

    Columns: ``subject, id, emotion (truth), net, p, threshold, k, positive``.
    ``checkpoint``: a folder; each finished fold is written there (``fold_<subject>.csv``)
    and skipped on a re-run with the same settings.
    """
    from xfer_keras.atomic import atomic_write_text
    from xfer_keras.data.splits import leave_one_subject_out as loso

    settings = settings or RecipeSettings()
    folder = Path(checkpoint) if checkpoint is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = folder / "settings.json"
        wanted = json.dumps(settings.to_dict(), sort_keys=True)
        if stamp.is_file() and stamp.read_text() != wanted:  # other settings: start afresh
            for old in folder.glob("fold_*.csv"):
                old.unlink()
        atomic_write_text(stamp, wanted)
    frames = []
    for tr, te in loso(dataset.subjects):
        subject = str(dataset.subjects[te[0]])
        done = folder / f"fold_{subject}.csv" if folder is not None else None
        if done is not None and done.is_file():
            frames.append(pd.read_csv(done, dtype={"subject": str}))
            continue
        t0 = time.perf_counter()
        net_set = train_emo_set(dataset, tr, settings)
        p = net_set.positive_probabilities(dataset.X[te])
        rows = []
        for j, emotion in enumerate(net_set.emotions):
            spec = net_set.specs[emotion]
            for i, idx in enumerate(te):
                rows.append({"subject": subject, "id": str(dataset.ids[idx]),
                             "emotion": str(dataset.emotions[idx]), "net": emotion,
                             "p": float(p[i, j]), "threshold": spec.threshold, "k": spec.k,
                             "positive": int(p[i, j] > spec.threshold)})
        frame = pd.DataFrame(rows)
        if done is not None:
            atomic_write_text(done, frame.to_csv(index=False))
        frames.append(frame)
        if progress:
            print(f"LOSO fold {subject}: {time.perf_counter() - t0:.0f} s, "
                  f"K {[net_set.specs[e].k for e in net_set.emotions]}", flush=True)
        del net_set
        import keras

        keras.backend.clear_session()
    return pd.concat(frames, ignore_index=True)


def loso_summary(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per emotion: balanced accuracy (recipe thresholds), ROC-AUC, accuracy, majority baseline.

    The majority baseline is the accuracy of always answering the training majority ("no"),
    pooled over the folds; ``k_values`` lists the K each fold chose.
    """
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    rows = []
    for emotion in [e for e in EMOTIONS6 if e in set(predictions["net"])]:
        part = predictions[predictions["net"] == emotion]
        y = (part["emotion"] == emotion).astype(int).to_numpy()
        pred = part["positive"].to_numpy()
        majority = []
        for subject, fold in part.groupby("subject"):
            train = predictions[(predictions["net"] == emotion) & (predictions["subject"] != subject)]
            train_pos = (train["emotion"] == emotion).mean()  # the other subjects' videos
            answer = int(train_pos > 0.5)
            majority.extend(((fold["emotion"] == emotion).astype(int) == answer).tolist())
        rows.append({
            "emotion": emotion, "n_positive": int(y.sum()), "n": int(len(y)),
            "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
            "roc_auc": float(roc_auc_score(y, part["p"])) if np.unique(y).size == 2 else float("nan"),
            "accuracy": float(np.mean(pred == y)), "majority_baseline": float(np.mean(majority)),
            "k_values": sorted(set(part.groupby("subject")["k"].first().astype(int))),
        })
    return pd.DataFrame(rows)


def verdicts(predictions: pd.DataFrame) -> pd.DataFrame:
    """The 6-way verdict per held-out video: the highest-probability net above its threshold,
    or ``"no clear emotion"``; columns ``id, emotion, verdict``."""
    out = []
    for vid, part in predictions.groupby("id", sort=False):
        above = part[part["p"] > part["threshold"]]
        verdict = above.loc[above["p"].idxmax(), "net"] if len(above) else "no clear emotion"
        out.append({"id": vid, "emotion": part["emotion"].iloc[0], "verdict": verdict})
    return pd.DataFrame(out)


__all__ = [
    "RecipeSettings", "choose_k", "leave_one_subject_out", "load_recipe_data", "loso_summary", "train_emo_set",
    "typical_baselines", "verdicts", "youden_threshold",
]
