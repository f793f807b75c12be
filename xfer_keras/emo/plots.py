"""Plots of the landmark method: Figure 2 (P along alpha), Figure 3 (top-K landmarks on the mean
face), importance maps, deletion curves and accuracy-vs-K curves.

Every function draws from a result object or a DataFrame (never recomputes) and returns the
matplotlib ``Figure``. Faces are ``(L, 2)`` x, y arrays in image orientation (y down), e.g.
:func:`xfer_keras.data.mean_face` of the *full-landmark* dataset; rankings carry topology ids
(``GlobalIGResult.landmark_indices``), so a ranking of a pruned dataset still lands on the right
points.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

SELECTED = "#1f5fbf"  #: the paper's blue circles
OTHER = "#b0b0b0"


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _face_axes(ax, face: np.ndarray, title: str | None = None):
    ax.set_aspect("equal")
    ax.invert_yaxis()  # image orientation: y grows downwards
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    pad = 0.05 * float(np.ptp(face[:, 0]) or 1.0)
    ax.set_xlim(face[:, 0].min() - pad, face[:, 0].max() + pad)
    ax.set_ylim(face[:, 1].max() + pad, face[:, 1].min() - pad)


def plot_alpha_curve(curve: pd.DataFrame, ax=None, title: str | None = None, threshold: float | None = 0.5):
    """Figure 2: the target probability along alpha (``global_ig.alpha_curve`` output)."""
    plt = _plt()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    ycol = "probability" if "probability" in curve else "score"
    ax.plot(curve["alpha"], curve[ycol], marker="o", ms=3, lw=1.5)
    if threshold is not None:
        ax.axhline(threshold, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("alpha (0 = baseline, 1 = input)")
    ax.set_ylabel("target class probability")
    ax.set_ylim(-0.02, 1.02)
    if title is None and "sample" in curve:
        title = f"input {curve['sample'].iloc[0]}\nbaseline {curve['baseline'].iloc[0]}"
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return fig or ax.figure


def plot_landmark_selection(face: np.ndarray, selected_ids, ax=None, title: str | None = None,
                            size: float = 4.0):
    """All landmarks as grey dots, ``selected_ids`` (topology ids) as blue circles."""
    plt = _plt()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(3, 3.4))
    face = np.asarray(face)
    ax.scatter(face[:, 0], face[:, 1], s=size * 0.6, c=OTHER, linewidths=0)
    if selected_ids is not None:
        sel = face[np.asarray(selected_ids, dtype=int)]
        ax.scatter(sel[:, 0], sel[:, 1], s=size * 5, facecolors="none", edgecolors=SELECTED, linewidths=0.9)
    _face_axes(ax, face, title)
    return fig or ax.figure


def plot_figure3(face: np.ndarray, result, emotion: str, ks: Sequence[int] = (234, 128, 64, 32, 16),
                 ncols: int = 3, panel_size: float = 2.6):
    """Figure 3 for one emotion: all landmarks, then the top-K highlighted for each K."""
    plt = _plt()
    ks = [k for k in ks if k <= result.n_landmarks]
    n = 1 + len(ks)
    ncols = max(1, min(ncols, n))  # no blank panels
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * 1.15 * nrows))
    axes = np.atleast_1d(axes).ravel()
    plot_landmark_selection(face, result.landmark_indices, axes[0],
                            f"{emotion}: all {result.n_landmarks} landmarks")
    for ax, k in zip(axes[1:], ks):
        plot_landmark_selection(face, result.top_k(emotion, k, ids=True), ax, f"top {k}")
    for ax in axes[n:]:
        ax.remove()
    fig.tight_layout()
    return fig


def plot_figure3_grid(face: np.ndarray, result, emotions: Sequence[str] | None = None,
                      ks: Sequence[int] = (234, 128, 64, 32, 16), panel_size: float = 1.9):
    """Figure 3 for every emotion: one row per emotion, columns all / top-K ..."""
    plt = _plt()
    emotions = list(emotions or result.emotions)
    ks = [k for k in ks if k <= result.n_landmarks]
    fig, axes = plt.subplots(len(emotions), 1 + len(ks),
                             figsize=(panel_size * (1 + len(ks)), panel_size * 1.1 * len(emotions)),
                             squeeze=False)
    for r, emotion in enumerate(emotions):
        plot_landmark_selection(face, result.landmark_indices, axes[r, 0],
                                f"{emotion}: all {result.n_landmarks}", size=2.5)
        for c, k in enumerate(ks, start=1):
            plot_landmark_selection(face, result.top_k(emotion, k, ids=True), axes[r, c],
                                    f"{emotion}: top {k}", size=2.5)
    fig.tight_layout()
    return fig


def plot_importance_map(face: np.ndarray, result, emotion: str, ax=None, cmap: str = "viridis",
                        vmin: float | None = None, vmax: float | None = None, colorbar: bool = True):
    """Landmarks coloured by their global IG score (beyond the paper's binary top-K view).

    Pass the same ``vmin``/``vmax`` to every panel that is compared (:func:`importance_limits`);
    ``colorbar=False`` leaves the colour bar to the caller (one bar for a whole figure).
    """
    plt = _plt()
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(3.4, 3.6))
    face = np.asarray(face)
    ax.scatter(face[:, 0], face[:, 1], s=2, c=OTHER, linewidths=0)
    pts = face[result.landmark_indices]
    score = np.asarray(result.scores[emotion], dtype=float)
    order = np.argsort(score)  # most important drawn last (on top)
    sc = ax.scatter(pts[order, 0], pts[order, 1], c=score[order], s=10, cmap=cmap, linewidths=0,
                    vmin=vmin, vmax=vmax)
    if colorbar:
        ax.figure.colorbar(sc, ax=ax, fraction=0.046, pad=0.04, label=IG_UNIT)
    _face_axes(ax, face, f"{emotion}: global IG importance")
    return fig or ax.figure


#: What a landmark's global IG score measures (IG sums to a change of probability).
IG_UNIT = "mean sum |IG| (probability units)"


def importance_limits(result, emotions: Sequence[str] | None = None) -> tuple[float, float]:
    """One colour scale ``(0, max score)`` for importance maps that are compared side by side."""
    emotions = list(emotions or result.emotions)
    return 0.0, float(max(np.max(result.scores[e]) for e in emotions))


def plot_importance_maps(face: np.ndarray, result, emotions: Sequence[str] | None = None,
                         ncols: int = 3, shared_scale: bool = True, cmap: str = "viridis"):
    """Every emotion's importance map on one shared colour scale, with one colour bar."""
    plt = _plt()
    emotions = list(emotions or result.emotions)
    ncols = max(1, min(ncols, len(emotions)))
    nrows = int(np.ceil(len(emotions) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols + 0.8, 3.6 * nrows), squeeze=False)
    vmin, vmax = importance_limits(result, emotions) if shared_scale else (None, None)
    for ax, emotion in zip(axes.ravel(), emotions):
        plot_importance_map(face, result, emotion, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax,
                            colorbar=not shared_scale)
    for ax in axes.ravel()[len(emotions):]:
        ax.remove()
    if shared_scale:
        mappable = plt.cm.ScalarMappable(norm=plt.Normalize(vmin, vmax), cmap=cmap)
        fig.colorbar(mappable, ax=axes.ravel().tolist(), fraction=0.025, pad=0.02, label=IG_UNIT)
    return fig


def _panel_grid(plt, n: int, ncols: int):
    """A figure of ``n`` small panels, ``ncols`` to a row: ``(fig, flat axes)``."""
    ncols = max(1, min(ncols, n))  # no empty columns when there are few panels
    nrows = int(np.ceil(n / ncols)) or 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.6 * nrows), squeeze=False)
    return fig, axes.ravel()


def _finish_panels(fig, axes, n: int):
    """Hide the unused panels, put the legend on the first, tighten the layout."""
    for ax in axes[n:]:
        ax.remove()  # no blank panels
    if n:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_deletion_curves(deletion: pd.DataFrame, variant: str | None = None,
                         data: str = "test", emotions: Sequence[str] | None = None, ncols: int = 3):
    """Mean P(emotion) on positives as landmarks are reset: IG ranking vs random (mean ± std)."""
    plt = _plt()
    d = deletion
    if variant is not None:
        d = d[d["variant"] == variant]
    d = d[d["data"] == data] if "data" in d else d
    emotions = list(emotions or dict.fromkeys(d["emotion"]))
    fig, axes = _panel_grid(plt, len(emotions), ncols)
    for ax, emotion in zip(axes, emotions):
        e = d[d["emotion"] == emotion]
        # average over runs first, then spread over the random repeats
        per = e.groupby(["order", "repeat", "fraction_removed"])["score"].mean().reset_index()
        ranked = per[per["order"] == "ranking"].groupby("fraction_removed")["score"].mean()
        rand = per[per["order"] == "random"].groupby("fraction_removed")["score"].agg(["mean", "std"])
        ax.plot(ranked.index, ranked.values, color=SELECTED, lw=1.8, label="IG ranking")
        ax.plot(rand.index, rand["mean"], color="black", lw=1.2, ls="--", label="random order")
        ax.fill_between(rand.index, rand["mean"] - rand["std"].fillna(0), rand["mean"] + rand["std"].fillna(0),
                        color="grey", alpha=0.25)
        ax.set_title(f"{emotion} ({data})", fontsize=9)
        ax.set_xlabel("fraction of landmarks reset")
        ax.set_ylabel("mean P(emotion) on positives")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    return _finish_panels(fig, axes, len(emotions))


#: Metrics on which a constant answer scores 0.5 (the baseline drawn instead of the majority).
CHANCE_AT_HALF = ("balanced_accuracy", "roc_auc")


def plot_pruning_curves(pruning, variant: str = "t-emo", metric: str = "accuracy", ncols: int = 3):
    """Test ``metric`` vs K per emotion: IG top-K vs random K (mean ± std over runs)."""
    plt = _plt()
    runs = pruning.runs[pruning.runs["variant"] == variant]
    emotions = list(dict.fromkeys(runs["emotion"]))
    fig, axes = _panel_grid(plt, len(emotions), ncols)
    full_k = runs["n_landmarks"].max()
    for ax, emotion in zip(axes, emotions):
        e = runs[runs["emotion"] == emotion]
        for selection, style in (("ig", dict(color=SELECTED, marker="o")),
                                 ("random", dict(color="black", marker="s", ls="--"))):
            s = e[e["selection"].isin([selection, "all"])]
            if not (s["selection"] == selection).any():
                continue
            stats = s.groupby("n_landmarks")[metric].agg(["mean", "std"]).sort_index()
            ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), capsize=2,
                        label=selection, lw=1.3, ms=3, **style)
        if metric in CHANCE_AT_HALF:  # "always no" scores 0.5 on these, whatever the balance
            ax.axhline(0.5, color="grey", lw=0.8, ls=":", label="chance (always 'no')")
        elif metric == "accuracy":
            maj = e["majority_baseline"].mean()
            ax.axhline(maj, color="grey", lw=0.8, ls=":", label="majority (always 'no')")
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(e["n_landmarks"].unique()))
        ax.set_xticklabels([str(k) for k in sorted(e["n_landmarks"].unique())], fontsize=7)
        ax.set_title(f"{emotion} ({variant.upper()}, K={full_k} = all)", fontsize=9)
        ax.set_ylim(-0.02, 1.02)  # every metric here lies in [0, 1]
        ax.set_xlabel("K landmarks kept (log scale)")
        ax.set_ylabel(f"test {metric.replace('_', ' ')}")
        ax.grid(alpha=0.3)
    return _finish_panels(fig, axes, len(emotions))


__all__ = [
    "plot_alpha_curve", "plot_deletion_curves", "plot_figure3", "plot_figure3_grid",
    "plot_importance_map", "plot_importance_maps", "importance_limits", "plot_landmark_selection",
    "plot_pruning_curves", "IG_UNIT", "CHANCE_AT_HALF",
]
