"""Confusion-matrix figure (counts + row-normalised recall colours)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def plot_confusion(confusion: np.ndarray, class_names: Sequence[str], path=None,
                   title: str | None = None, normalize: bool = True, ax=None):
    """Draw a confusion matrix (rows true, columns predicted); save to ``path`` when given.

    Cells are coloured by the row-normalised rate (recall per class) and show the rate and the
    count. Returns the matplotlib Figure.
    """
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cm = np.asarray(confusion, dtype=float)
    k = len(class_names)
    if cm.shape != (k, k):
        raise ValueError(f"confusion is {cm.shape}, expected ({k}, {k})")
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    if ax is None:
        fig, ax = plt.subplots(figsize=(1.0 * k + 2, 1.0 * k + 1.5))
    else:
        fig = ax.figure
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(k), labels=class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            color = "white" if rates[i, j] > 0.5 * rates.max() else "black"
            text = f"{rates[i, j]:.2f}\n{int(cm[i, j])}" if normalize else f"{int(cm[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
