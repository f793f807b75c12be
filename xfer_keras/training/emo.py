"""Training and evaluation protocol of the EMO nets (one-vs-rest, T-EMO and R-EMO).

* :func:`~xfer_keras.training.emo_fit.fit_emo_net` - the paper's recipe (Adam, lr 1e-4,
  batch 16, early stopping on a held-out tenth), in :mod:`xfer_keras.training.emo_fit`.
* :func:`train_one_vs_rest` - one binary net for one emotion on chosen training samples.
* :func:`run_protocol` - N runs, each with its own seed *and* its own subject-grouped partition
  (``split="grouped"``: one train/test partition per run, as in the paper; ``"kfold"``: grouped
  5-fold per run, out-of-fold predictions pooled so every sequence is tested once per run;
  ``"loso"``: leave one subject out). For each run it reports accuracy (the paper's metric),
  balanced accuracy, F1, ROC-AUC and the majority-class baseline per emotion and variant, and
  the 6-class accuracy of the :class:`~xfer_keras.models.emo_net.EmoNetEnsemble` made of the
  six nets of that run (beyond the paper).

A subject never appears on both sides of a train/test split: CK+ has several sequences (and,
with ``flip=True``, mirrored copies) per subject, and a split by sequence would test on faces
the net has seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

import xfer_keras  # noqa: F401  (environment before TensorFlow)
from xfer_keras import config
from xfer_keras.data.dataset import SequenceDataset
from xfer_keras.data.splits import (
    check_disjoint,
    grouped_kfold,
    grouped_train_test_split,
    leave_one_subject_out,
)
from xfer_keras.emotions import EMOTIONS6, canonical_emotion
from xfer_keras.models.emo_net import VARIANTS, build_emo_net, canonical_variant
from xfer_keras.training.emo_fit import (
    BATCH_SIZE,
    LEARNING_RATE,
    VALIDATION_FRACTION,
    FitResult,
    NetPool,
    compile_emo_net,
    fit_emo_net,
    validation_indices,
)
from xfer_keras.training.metrics import (
    binary_metrics,
    format_mean_std,
    majority_baseline,
    multiclass_metrics,
)

#: Default (F, Q, R) when no tuned values are given (inside the paper's tuned ranges).
DEFAULT_HYPERPARAMS = {"filters": 32, "lstm_units": 64, "fc1_units": 64}
HYPERPARAM_NAMES = tuple(DEFAULT_HYPERPARAMS)
METRICS = ("accuracy", "balanced_accuracy", "f1", "roc_auc", "majority_baseline")
SPLITS = ("grouped", "kfold", "loso")


# --------------------------------------------------------------------------------------------
# splits (subject-grouped, from xfer_keras.data)
# --------------------------------------------------------------------------------------------
def subject_splits(subjects, split: str = "grouped", seed: int = 0, labels=None,
                   test_size: float = 0.2, n_splits: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs with no subject on both sides.

    ``"grouped"``: one random partition (about ``test_size`` of the subjects in test);
    ``"kfold"``: ``n_splits`` grouped folds; ``"loso"``: one fold per subject. ``labels`` (e.g.
    the 6-class labels) stratify where the splitter can.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    subjects = np.asarray(subjects)
    if split == "loso":
        folds = leave_one_subject_out(subjects)
    elif split == "kfold":
        folds = grouped_kfold(subjects, n_splits=n_splits, seed=seed, labels=labels)
    else:
        folds = [grouped_train_test_split(subjects, test_size=test_size, seed=seed, labels=labels)]
    out = [(np.asarray(tr, dtype=int), np.asarray(te, dtype=int)) for tr, te in folds]
    for tr, te in out:
        check_disjoint(subjects, tr, te)
    return out


def _hyperparams_for(hyperparams, emotion: str) -> dict:
    """Resolve ``hyperparams`` (None, one dict for all, or emotion -> dict) for one emotion."""
    hp = dict(DEFAULT_HYPERPARAMS)
    if not hyperparams:
        return hp
    if set(hyperparams) <= set(HYPERPARAM_NAMES) | {"kernel_size", "dropout"}:
        hp.update(hyperparams)
    else:
        chosen = {canonical_emotion(k): v for k, v in hyperparams.items()}.get(emotion)
        if chosen:
            hp.update(chosen)
    return hp


def train_one_vs_rest(dataset: SequenceDataset, emotion: str, variant: str = "t-emo",
                      train_idx=None, hyperparams: Mapping | None = None, seed: int = 0,
                      epochs: int | None = None, patience: int | None = None,
                      verbose: int = 0, pool: "NetPool | None" = None) -> FitResult:
    """Build and train the binary net "``emotion`` vs the rest" on ``dataset[train_idx]``.

    ``pool`` (internal) reuses a compiled net of the same shape instead of building one.
    """
    emotion = canonical_emotion(emotion)
    train_idx = np.arange(len(dataset)) if train_idx is None else np.asarray(train_idx)
    hp = _hyperparams_for(hyperparams, emotion)
    name = f"{canonical_variant(variant).replace('-', '_')}_{emotion}"
    if pool is None:
        model, compiled = build_emo_net(dataset.input_shape, variant, seed=seed, name=name, **hp), False
    else:
        model, compiled = pool.get(dataset.input_shape, variant, hp, seed), True
    return fit_emo_net(model, dataset.X[train_idx], dataset.binary_labels(emotion)[train_idx],
                       epochs=epochs, patience=patience, seed=seed, verbose=verbose,
                       compile=not compiled)


def train_ensemble(dataset: SequenceDataset, variant: str = "t-emo", train_idx=None,
                   emotions: Sequence[str] = EMOTIONS6, hyperparams=None, seed: int = 0,
                   epochs: int | None = None, patience: int | None = None, progress: bool = False):
    """Train the six one-vs-rest nets and return them as an ``EmoNetEnsemble``."""
    from tqdm.auto import tqdm

    from xfer_keras.models.emo_net import EmoNetEnsemble

    models = {}
    for k, emotion in enumerate(tqdm(emotions, desc=f"{variant} nets", disable=not progress)):
        models[emotion] = train_one_vs_rest(dataset, emotion, variant, train_idx, hyperparams,
                                            seed=seed * 100 + k, epochs=epochs,
                                            patience=patience).model
    return EmoNetEnsemble(models)


# --------------------------------------------------------------------------------------------
# protocol
# --------------------------------------------------------------------------------------------
@dataclass
class ProtocolResult:
    """Results of :func:`run_protocol`; combine several with :meth:`concat`.

    ``runs``: one row per (tag..., emotion, variant, run) with the metrics of :data:`METRICS`;
    ``ensemble``: one row per (tag..., variant, run) with the 6-class metrics of the six nets;
    ``predictions``: pooled test probabilities, one row per (tag..., variant, run, sample).
    """

    runs: pd.DataFrame
    ensemble: pd.DataFrame = field(default_factory=pd.DataFrame)
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    tag_columns: tuple[str, ...] = ("n_landmarks",)

    @classmethod
    def concat(cls, results: Iterable["ProtocolResult"]) -> "ProtocolResult":
        results = list(results)
        tags: list[str] = []
        for r in results:
            tags += [t for t in r.tag_columns if t not in tags]
        return cls(
            runs=pd.concat([r.runs for r in results], ignore_index=True),
            ensemble=pd.concat([r.ensemble for r in results], ignore_index=True),
            predictions=pd.concat([r.predictions for r in results], ignore_index=True),
            tag_columns=tuple(tags),
        )

    @classmethod
    def read_csv(cls, path) -> "ProtocolResult":
        """Read what :meth:`to_csv` (or a ``checkpoint``) wrote."""
        from pathlib import Path

        path = Path(path)
        runs = pd.read_csv(path)
        parts = {}
        for part in ("ensemble", "predictions"):
            extra = path.with_name(f"{path.stem}_{part}{path.suffix}")
            parts[part] = pd.read_csv(extra) if extra.is_file() else pd.DataFrame()
        tags = tuple(runs.columns[:list(runs.columns).index("emotion")])
        return cls(runs=runs, tag_columns=tags, **parts)

    def summary(self, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
        """Mean and std of each metric per (tag..., emotion, variant), NaNs ignored."""
        keys = [*self.tag_columns, "emotion", "variant"]
        grouped = self.runs.groupby(keys, sort=False)[list(metrics)]
        out = grouped.agg(["mean", "std"])
        out.columns = [f"{m}_{s}" for m, s in out.columns]
        out["n_runs"] = grouped.size()
        return out.reset_index()

    def ensemble_summary(self) -> pd.DataFrame:
        """Mean and std of the 6-class metrics per (tag..., variant)."""
        if self.ensemble.empty:
            return pd.DataFrame()
        keys = [*self.tag_columns, "variant"]
        metrics = ["accuracy", "balanced_accuracy", "macro_f1", "majority_baseline"]
        grouped = self.ensemble.groupby(keys, sort=False)[metrics]
        out = grouped.agg(["mean", "std"])
        out.columns = [f"{m}_{s}" for m, s in out.columns]
        out["n_runs"] = grouped.size()
        return out.reset_index()

    def paper_table(self, metric: str = "accuracy", variant: str = "t-emo",
                    columns: str = "n_landmarks", digits: int = 3, **where) -> pd.DataFrame:
        """Rows emotions, one column per value of ``columns``, cells ``"mean ± std"``
        (Tables 6/7 of the paper when ``metric="accuracy"``). ``where`` keeps rows whose tag
        columns have the given values, e.g. ``selection="ig"``."""
        variant = canonical_variant(variant)
        runs = self.runs[self.runs["variant"] == variant]
        for key, value in where.items():
            runs = runs[runs[key] == value]
        if columns not in runs.columns:
            raise KeyError(f"no column {columns!r}; tag columns: {self.tag_columns}")
        stats = runs.groupby(["emotion", columns], sort=False)[metric].agg(["mean", "std"])
        table = stats.apply(lambda r: format_mean_std(r["mean"], r["std"], digits), axis=1).unstack(columns)
        order = [e for e in EMOTIONS6 if e in table.index]
        cols = sorted(table.columns, key=lambda c: (-c, c) if isinstance(c, (int, np.integer)) else (0, c))
        table = table.loc[order, cols].fillna("n/a")  # n/a: that combination was not run
        table.index = [e.capitalize() for e in table.index]
        table.index.name, table.columns.name = None, None
        return table

    def metrics_table(self, variant: str = "t-emo", digits: int = 3, **where) -> pd.DataFrame:
        """Rows emotions, columns the metrics beside the majority baseline (one tag value,
        chosen by ``where``, e.g. ``n_landmarks=468``)."""
        variant = canonical_variant(variant)
        runs = self.runs[self.runs["variant"] == variant]
        for key, value in where.items():
            runs = runs[runs[key] == value]
        stats = runs.groupby("emotion", sort=False)[list(METRICS)].agg(["mean", "std"])
        table = pd.DataFrame({m: [format_mean_std(stats.loc[e, (m, "mean")], stats.loc[e, (m, "std")], digits)
                                  for e in stats.index] for m in METRICS}, index=stats.index)
        order = [e for e in EMOTIONS6 if e in table.index]
        table = table.loc[order]
        table.index = [e.capitalize() for e in table.index]
        table["n_runs"] = runs.groupby("emotion").size().reindex(order).to_numpy()
        return table

    def report(self, digits: int = 3) -> str:
        """Printable text: per variant the paper-style accuracy table, the full metric tables
        beside the majority baseline, and the 6-class ensemble."""
        lines = []
        tag_values = self.runs[list(self.tag_columns)].drop_duplicates().to_dict("records")
        for variant in [v for v in VARIANTS if v in set(self.runs["variant"])]:
            lines.append(f"== {variant.upper()}: accuracy (paper's metric), mean ± std over runs")
            if "n_landmarks" in self.runs.columns:
                lines.append(self.paper_table("accuracy", variant, digits=digits).to_string())
            for values in tag_values:
                label = ", ".join(f"{k}={v}" for k, v in values.items())
                lines.append(f"\n-- {variant.upper()} [{label}]: all metrics; majority_baseline = "
                             "accuracy of always answering the training majority ('no')")
                lines.append(self.metrics_table(variant, digits, **values).to_string())
            lines.append("")
        ens = self.ensemble_summary()
        if not ens.empty:
            lines.append("== 6-class ensemble (argmax of the six nets' normalised positive probabilities)")
            rows = {}
            for _, r in ens.iterrows():
                key = " ".join([r["variant"].upper()] + [f"{t}={r[t]}" for t in self.tag_columns])
                rows[key] = {m: format_mean_std(r[f"{m}_mean"], r[f"{m}_std"], digits)
                             for m in ("accuracy", "balanced_accuracy", "macro_f1", "majority_baseline")}
                rows[key]["n_runs"] = int(r["n_runs"])
            lines.append(pd.DataFrame(rows).T.to_string())
        return "\n".join(lines)

    def to_csv(self, path) -> list[str]:
        """Write ``<path>`` (runs), ``<stem>_ensemble.csv`` and ``<stem>_predictions.csv``."""
        from pathlib import Path

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        written = [path]
        self.runs.to_csv(path, index=False)
        for part in ("ensemble", "predictions"):
            frame = getattr(self, part)
            if not frame.empty:
                extra = path.with_name(f"{path.stem}_{part}{path.suffix}")
                frame.to_csv(extra, index=False)
                written.append(extra)
        return [str(p) for p in written]


def run_protocol(dataset: SequenceDataset, emotions: Sequence[str] = EMOTIONS6,
                 variants: Sequence[str] = VARIANTS, n_runs: int | None = None,
                 split: str = "grouped", hyperparams=None, epochs: int | None = None,
                 tag: Mapping | None = None, seed: int = 0, progress: bool = True,
                 patience: int | None = None, test_size: float = 0.2, n_splits: int = 5,
                 tune_kwargs: Mapping | None = None, checkpoint=None) -> ProtocolResult:
    """Train and test the one-vs-rest nets ``n_runs`` times; see the module docstring.

    Run ``r`` uses seed ``seed + r`` for its partition and for every net's initial weights
    (T-EMO and R-EMO of a run start from the same weights, so R-EMO's frozen kernels are
    exactly T-EMO's initial ones). All emotions of a run share its partition, which is
    stratified by the 6-class label. ``hyperparams``: None (defaults), one dict for all
    emotions, ``{emotion: {filters, lstm_units, fc1_units}}``, or ``"tune"`` to grid-search
    (F, Q, R) with KerasTuner on each training part (nested, no test leakage; slow - see
    :mod:`xfer_keras.training.tuning`). ``tag``: extra constant columns (``n_landmarks`` is
    always added from the dataset unless the tag sets it). ``checkpoint``: a CSV path rewritten
    (:meth:`ProtocolResult.to_csv`) after every run, so a long protocol keeps what it finished.
    """
    from tqdm.auto import tqdm

    emotions = [canonical_emotion(e) for e in emotions]
    variants = [canonical_variant(v) for v in variants]
    pool = NetPool()
    n_runs = config.pick(quick=2, full=10) if n_runs is None else int(n_runs)
    tag = {"n_landmarks": dataset.n_landmarks, **dict(tag or {})}
    labels6 = np.array([e if e in EMOTIONS6 else "other" for e in dataset.emotions])
    rows, ens_rows, pred_frames = [], [], []
    total = n_runs * len(variants) * len(emotions)
    bar = tqdm(total=total, desc=f"EMO protocol L={dataset.n_landmarks}", unit="net",
               disable=not progress)
    for run in range(n_runs):
        run_seed = int(seed) + run
        folds = subject_splits(dataset.subjects, split, run_seed, labels=labels6,
                               test_size=test_size, n_splits=n_splits)
        test_all = np.concatenate([te for _, te in folds])
        for variant in variants:
            proba = np.full((len(dataset), len(emotions)), np.nan)
            meta = {e: {"fit_seconds": 0.0, "epochs": [], "hp": [], "majority": []} for e in emotions}
            for k, emotion in enumerate(emotions):
                bar.set_postfix_str(f"run {run + 1}/{n_runs} {variant} {emotion}")
                y = dataset.binary_labels(emotion)
                for f, (tr, te) in enumerate(folds):
                    fit_seed = run_seed * 1000 + 10 * EMOTIONS6.index(emotion) + f
                    hp = hyperparams
                    if isinstance(hyperparams, str) and hyperparams == "tune":
                        from xfer_keras.training.tuning import tune_emo_net

                        hp = tune_emo_net(dataset, emotion, train_idx=tr, variant="t-emo",
                                          seed=fit_seed, **dict(tune_kwargs or {}))
                    result = train_one_vs_rest(dataset, emotion, variant, tr, hp, seed=fit_seed,
                                               epochs=epochs, patience=patience, pool=pool)
                    proba[te, k] = _predict_positive(result.model, dataset.X[te])
                    meta[emotion]["fit_seconds"] += result.fit_seconds
                    meta[emotion]["epochs"].append(result.epochs_run)
                    meta[emotion]["hp"].append(_hyperparams_for(hp, emotion))
                    meta[emotion]["majority"].append(majority_baseline(y[tr], y[te]) * len(te))
                    del result
                y_test = y[test_all]
                m = binary_metrics(y_test, proba[test_all, k])
                hp_used = meta[emotion]["hp"][0] if len(folds) == 1 else {}
                rows.append({
                    **tag, "emotion": emotion, "variant": variant, "run": run, "seed": run_seed,
                    **m, "majority_baseline": sum(meta[emotion]["majority"]) / len(test_all),
                    "n_train": int(np.mean([len(tr) for tr, _ in folds])), "n_test": len(test_all),
                    "n_pos_test": int(y_test.sum()), "n_folds": len(folds),
                    "fit_seconds": meta[emotion]["fit_seconds"],
                    "epochs": float(np.mean(meta[emotion]["epochs"])),
                    **{k2: hp_used.get(k2) for k2 in HYPERPARAM_NAMES},
                })
                bar.update(1)
            if len(emotions) >= 2:
                p = proba[test_all]
                pred = np.asarray(emotions)[np.argmax(p, axis=1)]
                truth = dataset.emotions[test_all]
                majority = sum(np.mean(truth[_in(te, test_all)] == _mode(dataset.emotions[tr])) * len(te)
                               for tr, te in folds) / len(test_all)
                ens_rows.append({**tag, "variant": variant, "run": run, "seed": run_seed,
                                 **multiclass_metrics(truth, pred), "majority_baseline": majority,
                                 "n_test": len(test_all)})
            frame = pd.DataFrame(proba[test_all], columns=[f"p_{e}" for e in emotions])
            frame.insert(0, "emotion", dataset.emotions[test_all])
            frame.insert(0, "id", dataset.ids[test_all])
            for i, (key, value) in enumerate({**tag, "variant": variant, "run": run}.items()):
                frame.insert(i, key, value)
            pred_frames.append(frame)
        if checkpoint is not None:
            _result(rows, ens_rows, pred_frames, tag).to_csv(checkpoint)
    bar.close()
    return _result(rows, ens_rows, pred_frames, tag)


def _result(rows, ens_rows, pred_frames, tag) -> ProtocolResult:
    return ProtocolResult(runs=pd.DataFrame(rows), ensemble=pd.DataFrame(ens_rows),
                          predictions=pd.concat(pred_frames, ignore_index=True),
                          tag_columns=tuple(tag))


def _predict_positive(model, X, batch_size: int = 64) -> np.ndarray:
    """P(emotion) per sample; direct calls (no ``predict`` machinery) on small arrays."""
    out = [np.asarray(model(X[i:i + batch_size], training=False))[:, 1]
           for i in range(0, len(X), batch_size)]
    return np.concatenate(out) if out else np.zeros(0)


def _mode(values) -> str:
    names, counts = np.unique(np.asarray(values), return_counts=True)
    return names[np.argmax(counts)]


def _in(subset, full) -> np.ndarray:
    """Positions in ``full`` (an index array) of the indices in ``subset``."""
    return np.flatnonzero(np.isin(full, subset))


__all__ = [
    "BATCH_SIZE", "DEFAULT_HYPERPARAMS", "LEARNING_RATE", "METRICS", "SPLITS",
    "VALIDATION_FRACTION", "FitResult", "ProtocolResult", "compile_emo_net", "fit_emo_net",
    "run_protocol", "subject_splits", "train_ensemble", "train_one_vs_rest", "validation_indices",
]
