"""Landmark pruning with global IG (Di Luzio et al., §4, Tables 6-7), with honest controls.

:func:`pruning_experiment` repeats, for every run of the EMO protocol:

1. the run's subject-grouped train/test partition - exactly the one
   :func:`~xfer_keras.training.emo.run_protocol` uses for the same ``seed`` (same splitter, seed,
   stratification), so the full-landmark column equals a ``run_protocol`` run;
2. per variant and emotion, the binary net on **all** L landmarks, trained on the training part
   with ``run_protocol``'s recipe and seeds; its test predictions give the K = L column;
3. :func:`~xfer_keras.explain.global_ig.global_ig` of those nets on the **training part only**
   (explained samples *and* baselines): the per-emotion ranking. Every run re-ranks, and the
   ids the ranking saw are checked against the run's test ids (``leakage`` table; a non-empty
   overlap raises);
4. per K and selection (``"ig"``: the ranking's top K; ``"random"``: K landmarks drawn at random,
   the control), the net retrained on those K landmarks (same seed as step 2) and tested.

Results come back as a :class:`~xfer_keras.training.emo.ProtocolResult` with tag columns
``n_landmarks`` and ``selection`` (``"all"`` for K = L), so ``table()`` prints the paper's
Tables 6 (T-EMO) and 7 (R-EMO) layout, per selection. Beyond the paper, :func:`deletion_curve`
resets the top-ranked landmarks to a baseline and records the model's score, against random
orders: a ranking that beats chance makes the score fall faster (smaller area).

Differences from the paper (documented, deliberate): the hyperparameters are not re-tuned per
K (the paper grid-searched F, Q, R per K on T-EMO; pass ``hyperparams`` to set them), and the
ranking is recomputed inside each run's training partition (the paper ranks once).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from xfer_keras import config
from xfer_keras.emotions import EMOTIONS6, canonical_emotion
from xfer_keras.errors import InputShapeError

SELECTIONS = ("ig", "random")
#: The paper's K values for the 468-point mesh, and a matching list for the 68-point topology.
PAPER_KS = {468: (468, 234, 128, 64, 32, 16), 68: (68, 48, 32, 24, 16, 8)}
QUICK_KS = {468: (468, 64, 16), 68: (68, 24, 8)}


def default_ks(n_landmarks: int, quick: bool | None = None) -> tuple[int, ...]:
    """K values for ``n_landmarks`` (the paper's for 468; halvings otherwise), fewer when quick."""
    quick = config.is_quick() if quick is None else quick
    table = QUICK_KS if quick else PAPER_KS
    if n_landmarks in table:
        return table[n_landmarks]
    ks, k = [n_landmarks], n_landmarks
    while k // 2 >= 4:
        k //= 2
        ks.append(k)
    return tuple(ks[:: 2] if quick else ks)


def select_columns(ranking, k: int, selection: str = "ig", seed=0) -> np.ndarray:
    """Sorted landmark columns: the ranking's top ``k`` (``"ig"``) or ``k`` at random."""
    ranking = np.asarray(ranking, dtype=int)
    if not 1 <= k <= ranking.size:
        raise ValueError(f"k must lie in [1, {ranking.size}], got {k}")
    if selection == "ig":
        return np.sort(ranking[:k])
    if selection == "random":
        return np.sort(np.random.default_rng(seed).choice(ranking.size, size=k, replace=False))
    raise ValueError(f"selection must be one of {SELECTIONS}, got {selection!r}")


# ------------------------------------------------------------------------------ deletion curve
def _baseline_values(baseline, reference: np.ndarray) -> np.ndarray:
    sample_shape = reference.shape[1:]
    if isinstance(baseline, str):
        if baseline == "mean":
            return reference.mean(axis=0)
        if baseline == "zeros":
            return np.zeros(sample_shape, np.float32)
        raise ValueError(f"baseline must be 'mean', 'zeros' or an array, got {baseline!r}")
    return np.broadcast_to(np.asarray(baseline, np.float32), sample_shape)


def deletion_curve(model, X, ranking, y=None, target: int = 1, baseline="mean", reference=None,
                   steps=None, n_random: int = 10, seed: int = 0, batch_size: int = 256) -> pd.DataFrame:
    """Model score as landmarks are reset to a baseline, in ``ranking`` order vs random orders.

    Args:
        model: binary model on ``X`` ``(N, P, C, L, 1)``.
        ranking: landmark columns, most important first (e.g. ``GlobalIGResult.ranking(e)``).
        y: binary labels; the score is then the mean P(``target``) over the positives, and
            ``accuracy`` is reported too. Without ``y``: mean P(``target``) over all samples.
        baseline: ``"mean"`` (the mean trajectory of ``reference`` - a removed landmark follows
            the average motion), ``"zeros"`` or an array broadcastable to one sample.
        reference: data for the ``"mean"`` baseline (use the *training* data; default ``X``).
        steps: numbers of removed landmarks (default 21 values from 0 to L).
        n_random: random orders for the chance control.

    Returns a long DataFrame: ``order`` ("ranking" | "random"), ``repeat``, ``n_removed``,
    ``fraction_removed``, ``score`` (and ``accuracy`` with ``y``).
    """
    X = np.asarray(X, np.float32)
    if X.ndim != 5:
        raise InputShapeError(f"X must be (N, P, C, L, 1), got shape {X.shape}")
    n_landmarks = X.shape[3]
    ranking = np.asarray(ranking, dtype=int)
    if sorted(ranking.tolist()) != list(range(n_landmarks)):
        raise ValueError("ranking must be a permutation of the L landmark columns")
    base = _baseline_values(baseline, np.asarray(reference if reference is not None else X, np.float32))
    steps = np.unique(np.round(np.linspace(0, n_landmarks, 21)).astype(int)) if steps is None \
        else np.unique(np.clip(np.asarray(steps, dtype=int), 0, n_landmarks))
    y = None if y is None else np.asarray(y).astype(int)
    keep = np.ones(len(X), bool) if y is None else (y == 1)
    rng = np.random.default_rng(seed)
    orders = [("ranking", 0, ranking)] + [("random", r, rng.permutation(n_landmarks)) for r in range(n_random)]

    rows = []
    for name, repeat, order in orders:
        batch = np.repeat(X[None], len(steps), axis=0)  # (S, N, P, C, L, 1)
        for s, k in enumerate(steps):
            cols = order[:k]
            batch[s][:, :, :, cols, :] = base[None, :, :, cols, :]
        p = np.asarray(model.predict(batch.reshape(-1, *X.shape[1:]), batch_size=batch_size,
                                     verbose=0))[:, target].reshape(len(steps), len(X))
        for s, k in enumerate(steps):
            row = {"order": name, "repeat": repeat, "n_removed": int(k),
                   "fraction_removed": k / n_landmarks,
                   "score": float(p[s, keep].mean()) if keep.any() else float("nan")}
            if y is not None:
                row["accuracy"] = float(np.mean((p[s] > 0.5).astype(int) == y))
            rows.append(row)
    return pd.DataFrame(rows)


def deletion_area(curve: pd.DataFrame, value: str = "score") -> pd.DataFrame:
    """Area under the deletion curve (x = fraction removed) per order and repeat, summarised.

    Smaller is better: the score collapses sooner when the most important landmarks go first.
    Returns one row per order with ``area_mean``, ``area_std`` and ``n``.
    """
    def area(g):
        g = g.sort_values("fraction_removed")
        yv, xv = g[value].to_numpy(float), g["fraction_removed"].to_numpy(float)
        return float(np.sum(np.diff(xv) * (yv[1:] + yv[:-1]) / 2.0))

    keys = [c for c in curve.columns if c not in
            ("repeat", "n_removed", "fraction_removed", "score", "accuracy")]
    per = curve.groupby([*keys, "repeat"], sort=False).apply(area, include_groups=False).rename("area")
    per = per.reset_index()
    out = per.groupby(keys, sort=False)["area"].agg(area_mean="mean", area_std="std", n="size")
    return out.reset_index()


# ------------------------------------------------------------------------------ experiment
@dataclass
class PruningResult:
    """Everything the pruning experiment produced; tables and plots read it."""

    protocol: object  #: ProtocolResult, tag columns ("n_landmarks", "selection")
    rankings: dict = field(default_factory=dict)  #: (run, fold, variant) -> GlobalIGResult
    selections: pd.DataFrame = field(default_factory=pd.DataFrame)  #: landmark ids per (run, variant, emotion, K, selection)
    leakage: pd.DataFrame = field(default_factory=pd.DataFrame)  #: ids seen by each ranking vs the test ids
    deletion: pd.DataFrame = field(default_factory=pd.DataFrame)  #: deletion curves (run, fold, variant, emotion, data, ...)
    meta: dict = field(default_factory=dict)

    @property
    def runs(self) -> pd.DataFrame:
        return self.protocol.runs

    def _subset(self, selection: str):
        from xfer_keras.training.emo import ProtocolResult

        runs = self.runs[self.runs["selection"].isin([selection, "all"])]
        return ProtocolResult(runs=runs.drop(columns=["selection"]), tag_columns=("n_landmarks",))

    def table(self, variant: str = "t-emo", selection: str = "ig", metric: str = "accuracy",
              digits: int = 3) -> pd.DataFrame:
        """The paper's Table 6 (``variant="t-emo"``) / 7 (``"r-emo"``): emotions x K, mean ± std."""
        return self._subset(selection).paper_table(metric, variant, digits=digits)

    def difference(self, variant: str = "t-emo", metric: str = "accuracy") -> pd.DataFrame:
        """Mean over runs of (IG selection - random selection) per emotion and K (< L)."""
        runs = self.runs[self.runs["variant"] == variant]
        piv = runs.pivot_table(index=["emotion", "n_landmarks", "run"], columns="selection",
                               values=metric, aggfunc="mean")
        if not {"ig", "random"} <= set(piv.columns):
            return pd.DataFrame()
        diff = (piv["ig"] - piv["random"]).dropna().groupby(["emotion", "n_landmarks"]).mean().unstack()
        diff = diff.reindex([e for e in EMOTIONS6 if e in diff.index])
        return diff[sorted(diff.columns, reverse=True)].round(3)

    def deletion_summary(self) -> pd.DataFrame:
        """Deletion-curve areas: ranking vs random per (variant, emotion, data)."""
        if self.deletion.empty:
            return pd.DataFrame()
        curve = self.deletion.drop(columns=[c for c in ("run", "fold") if c in self.deletion])
        # average the runs' curves first, keeping the repeat structure of the random orders
        keys = ["variant", "emotion", "data", "order", "repeat", "n_removed", "fraction_removed"]
        mean_curve = curve.groupby(keys, sort=False)["score"].mean().reset_index()
        areas = deletion_area(mean_curve)
        wide = areas.pivot_table(index=["variant", "emotion", "data"], columns="order",
                                 values=["area_mean", "area_std"])
        wide.columns = [f"{o}_{m.replace('area_', '')}" for m, o in wide.columns]
        order = [c for c in ("ranking_mean", "random_mean", "random_std") if c in wide.columns]
        wide = wide[order].reset_index()
        if {"ranking_mean", "random_mean", "random_std"} <= set(wide.columns):
            # how many random-order standard deviations the ranking's area lies below chance
            wide["z_below_chance"] = (wide["random_mean"] - wide["ranking_mean"]) / wide["random_std"]
        return wide

    def report(self, metric: str = "accuracy", digits: int = 3) -> str:
        lines = []
        variants = [v for v in ("t-emo", "r-emo") if v in set(self.runs["variant"])]
        selections = [s for s in SELECTIONS if s in set(self.runs["selection"])]
        n_runs = self.runs["run"].nunique()
        for v in variants:
            number = {"t-emo": "Table 6", "r-emo": "Table 7"}[v]
            for s in selections:
                lines.append(f"== {number} ({v.upper()}), selection={s}: test {metric}, "
                             f"mean ± std over {n_runs} run(s)")
                lines.append(self.table(v, s, metric, digits).to_string())
                lines.append("")
            if {"ig", "random"} <= set(selections):
                lines.append(f"-- {v.upper()}: {metric}(IG top-K) - {metric}(random K), mean over runs")
                lines.append(self.difference(v, metric).to_string())
                lines.append("")
        maj = self.runs.groupby("emotion")["majority_baseline"].mean()
        lines.append("-- majority-class baseline accuracy (always 'no'): " + ", ".join(
            f"{e} {maj[e]:.3f}" for e in EMOTIONS6 if e in maj))
        if not self.leakage.empty:
            lines.append(f"-- leakage check: {int(self.leakage['overlap'].sum())} test ids seen by "
                         f"the {len(self.leakage)} rankings (must be 0)")
        dele = self.deletion_summary()
        if not dele.empty:
            lines.append("\n== Deletion curves (area under mean P(emotion) on positives vs fraction of "
                         "landmarks reset to the training mean; smaller = ranking beats chance)")
            lines.append(dele.round(3).to_string(index=False))
        return "\n".join(lines)

    def to_csv(self, folder) -> list[str]:
        from pathlib import Path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = self.protocol.to_csv(folder / "pruning_runs.csv")
        for name in ("selections", "leakage", "deletion"):
            frame = getattr(self, name)
            if not frame.empty:
                frame.to_csv(folder / f"pruning_{name}.csv", index=False)
                written.append(str(folder / f"pruning_{name}.csv"))
        return written


def pruning_experiment(
    dataset,
    ks: Sequence[int] | None = None,
    emotions: Sequence[str] = EMOTIONS6,
    variants: Sequence[str] = ("t-emo", "r-emo"),
    selections: Sequence[str] = SELECTIONS,
    n_runs: int | None = None,
    split: str = "grouped",
    epochs: int | None = None,
    patience: int | None = None,
    hyperparams: Mapping | None = None,
    seed: int = 0,
    test_size: float = 0.2,
    ig_n_steps: int | None = None,
    ig_method: str = "riemann_right",
    baseline_rule: str = "confidence",
    ranking_variant: str = "same",
    max_ig_samples: int | None = None,
    deletion: bool = True,
    deletion_random: int | None = None,
    progress: bool = True,
) -> PruningResult:
    """Retrain the EMO nets on the top-K (and random-K) landmarks per emotion; see module doc.

    Args:
        dataset: the full-landmark :class:`~xfer_keras.data.SequenceDataset`.
        ks: K values (default :func:`default_ks`: the paper's 468..16, fewer when quick). The
            dataset's own L is always included (the "all landmarks" column).
        variants: ``"t-emo"`` and/or ``"r-emo"``.
        selections: ``"ig"`` and/or ``"random"`` (the chance control).
        n_runs: runs (partitions x seeds); default 1 quick / 10 full.
        split: ``"grouped"`` (one partition per run, as the paper), ``"kfold"`` or ``"loso"``:
            each fold is ranked on its own training part.
        ranking_variant: ``"same"`` (each variant's full nets rank for that variant) or
            ``"t-emo"`` (the T-EMO ranking is used for every variant; T-EMO must be run).
        max_ig_samples: cap on explained samples per emotion (IG cost).
        deletion: compute deletion curves (ranking vs ``deletion_random`` random orders) of
            the full nets on their training and test parts.
    """
    import keras
    from tqdm.auto import tqdm

    from xfer_keras.explain.global_ig import global_ig
    from xfer_keras.models.emo_net import canonical_variant
    from xfer_keras.training.emo import ProtocolResult, subject_splits, train_one_vs_rest
    from xfer_keras.training.metrics import binary_metrics, majority_baseline

    emotions = [canonical_emotion(e) for e in emotions]
    variants = [canonical_variant(v) for v in variants]
    for s in selections:
        if s not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {s!r}")
    if ranking_variant not in ("same", "t-emo"):
        raise ValueError("ranking_variant must be 'same' or 't-emo'")
    if ranking_variant == "t-emo" and "t-emo" not in variants:
        raise ValueError("ranking_variant='t-emo' needs 't-emo' among the variants")
    if ranking_variant == "t-emo":  # T-EMO first: its ranking serves the other variants
        variants = ["t-emo"] + [v for v in variants if v != "t-emo"]
    L = dataset.n_landmarks
    ks = sorted({int(k) for k in (ks or default_ks(L))} | {L}, reverse=True)
    if ks[-1] < 1 or ks[0] > L:
        raise ValueError(f"K values must lie in [1, {L}], got {ks}")
    n_runs = config.pick(quick=1, full=10) if n_runs is None else int(n_runs)
    n_random = config.pick(quick=3, full=10) if deletion_random is None else int(deletion_random)
    labels6 = np.array([e if e in EMOTIONS6 else "other" for e in dataset.emotions])
    reduced = [k for k in ks if k < L]

    rows, sel_rows, leak_rows, del_frames, rankings = [], [], [], [], {}
    per_run = len(variants) * len(emotions) * (1 + len(reduced) * len(selections))
    bar = tqdm(total=n_runs * per_run, desc="pruning", unit="net", disable=not progress)
    started = time.perf_counter()
    for run in range(n_runs):
        run_seed = int(seed) + run
        folds = subject_splits(dataset.subjects, split, run_seed, labels=labels6, test_size=test_size)
        test_all = np.concatenate([te for _, te in folds])
        # proba[(variant, emotion, K, selection)] -> (N,) test probabilities pooled over folds
        proba: dict[tuple, np.ndarray] = {}
        fit_info: dict[tuple, list] = {}
        for f, (tr, te) in enumerate(folds):
            train_part = dataset.subset(tr)
            test_ids = set(dataset.ids[te])
            ranking_of: dict[str, object] = {}
            for variant in variants:
                models = {}
                for emotion in emotions:
                    bar.set_postfix_str(f"run {run + 1} {variant} {emotion} L={L}")
                    fit_seed = run_seed * 1000 + 10 * EMOTIONS6.index(emotion) + f  # = run_protocol
                    res = train_one_vs_rest(dataset, emotion, variant, tr, hyperparams, seed=fit_seed,
                                            epochs=epochs, patience=patience)
                    key = (variant, emotion, L, "all")
                    proba.setdefault(key, np.full(len(dataset), np.nan))[te] = \
                        res.model.predict(dataset.X[te], batch_size=64, verbose=0)[:, 1]
                    fit_info.setdefault(key, []).append((res.fit_seconds, res.epochs_run))
                    models[emotion] = res.model
                    bar.update(1)
                # ---- ranking on the training part only
                if ranking_variant == "same" or variant == "t-emo":
                    ranking_of[variant] = global_ig(
                        models, train_part, emotions=emotions, baseline_rule=baseline_rule,
                        n_steps=ig_n_steps, method=ig_method, max_samples=max_ig_samples,
                        seed=run_seed)
                ranking = ranking_of[variant if ranking_variant == "same" else "t-emo"]
                rankings[(run, f, variant)] = ranking
                overlap = ranking.seen_ids & test_ids
                leak_rows.append({"run": run, "fold": f, "variant": variant,
                                  "n_seen": len(ranking.seen_ids), "n_test": len(test_ids),
                                  "overlap": len(overlap)})
                if overlap:  # never silently: a leak invalidates the experiment
                    raise RuntimeError(f"ranking saw test samples {sorted(overlap)[:5]}")
                # ---- deletion curves of the full nets (beyond the paper)
                if deletion:
                    for emotion in emotions:
                        y = dataset.binary_labels(emotion)
                        for part, idx in (("train", tr), ("test", te)):
                            if not y[idx].any():
                                continue
                            curve = deletion_curve(models[emotion], dataset.X[idx], ranking.ranking(emotion),
                                                   y=y[idx], reference=dataset.X[tr], n_random=n_random,
                                                   seed=run_seed)
                            meta_cols = {"run": run, "fold": f, "variant": variant,
                                         "emotion": emotion, "data": part}
                            del_frames.append(pd.concat(
                                [pd.DataFrame(meta_cols, index=curve.index), curve], axis=1))
                del models, res
                # ---- retrain on K landmarks
                for emotion in emotions:
                    fit_seed = run_seed * 1000 + 10 * EMOTIONS6.index(emotion) + f
                    e_index = EMOTIONS6.index(emotion)
                    for k in reduced:
                        for selection in selections:
                            bar.set_postfix_str(f"run {run + 1} {variant} {emotion} K={k} {selection}")
                            columns = select_columns(ranking.ranking(emotion), k, selection,
                                                     seed=[run_seed, f, e_index, k])
                            pruned = dataset.select_landmarks(columns)
                            res = train_one_vs_rest(pruned, emotion, variant, tr, hyperparams,
                                                    seed=fit_seed, epochs=epochs, patience=patience)
                            key = (variant, emotion, k, selection)
                            proba.setdefault(key, np.full(len(dataset), np.nan))[te] = \
                                res.model.predict(pruned.X[te], batch_size=64, verbose=0)[:, 1]
                            fit_info.setdefault(key, []).append((res.fit_seconds, res.epochs_run))
                            sel_rows.append({"run": run, "fold": f, "variant": variant,
                                             "emotion": emotion, "n_landmarks": k,
                                             "selection": selection,
                                             "landmarks": pruned.landmark_indices.tolist()})
                            del res, pruned
                            bar.update(1)
                keras.backend.clear_session()
        for (variant, emotion, k, selection), p in proba.items():
            y = dataset.binary_labels(emotion)
            infos = fit_info[(variant, emotion, k, selection)]
            m = binary_metrics(y[test_all], p[test_all])
            maj = sum(majority_baseline(y[tr], y[te]) * len(te) for tr, te in folds) / len(test_all)
            rows.append({
                "n_landmarks": k, "selection": selection, "emotion": emotion, "variant": variant,
                "run": run, "seed": run_seed, **m, "majority_baseline": maj,
                "n_train": int(np.mean([len(tr) for tr, _ in folds])), "n_test": len(test_all),
                "n_pos_test": int(y[test_all].sum()), "n_folds": len(folds),
                "fit_seconds": float(sum(i[0] for i in infos)),
                "epochs": float(np.mean([i[1] for i in infos])),
            })
        del proba, fit_info
    bar.close()
    protocol = ProtocolResult(runs=pd.DataFrame(rows), tag_columns=("n_landmarks", "selection"))
    return PruningResult(
        protocol=protocol, rankings=rankings, selections=pd.DataFrame(sel_rows),
        leakage=pd.DataFrame(leak_rows),
        deletion=pd.concat(del_frames, ignore_index=True) if del_frames else pd.DataFrame(),
        meta={"ks": ks, "emotions": emotions, "variants": variants, "selections": list(selections),
              "n_runs": n_runs, "split": split, "epochs": epochs, "seed": seed,
              "ig_n_steps": ig_n_steps, "ig_method": ig_method, "baseline_rule": baseline_rule,
              "ranking_variant": ranking_variant, "seconds": time.perf_counter() - started},
    )


__all__ = [
    "PAPER_KS", "QUICK_KS", "SELECTIONS", "PruningResult", "default_ks", "deletion_area",
    "deletion_curve", "pruning_experiment", "select_columns",
]
