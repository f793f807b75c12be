"""Figure-1-style panel of one :class:`~xfer_keras.explanation.Explanation` (PNG).

Top row: the face crop, the Grad-CAM overlay, hot (red) / cold (blue) landmarks. Bottom row: AU
bars (intensity / source scale; red = hot AU, dark = present, light = absent; tick = threshold)
and the text box (emotion, confidence level, matching and missing AUs, explanation).
Built only from the Explanation: nothing is recomputed.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np

from xfer_keras.explain.hot_landmarks import heatmap_overlay, landmark_overlay
from xfer_keras.atomic import atomic_write_bytes
from xfer_keras.explanation import Explanation


def overlays(exp: Explanation) -> dict[str, np.ndarray]:
    """The three images of the panel's top row (uint8 RGB), from the Explanation's arrays."""
    crop = exp.crop if exp.crop is not None else np.zeros((224, 224, 3), np.uint8)
    heat = exp.heatmap if exp.heatmap is not None else np.zeros(crop.shape[:2], np.float32)
    images = {"crop": crop, "gradcam": heatmap_overlay(crop, heat)}
    if exp.landmarks is not None:
        images["landmarks"] = landmark_overlay(crop, exp.landmarks, exp.hot_mask, heatmap=heat, alpha=0.3)
    else:
        images["landmarks"] = images["gradcam"]
    return images


def panel_figure(exp: Explanation, dpi: int = 100):
    """A matplotlib Figure (Agg; never shown)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 8), dpi=dpi)
    grid = fig.add_gridspec(2, 3, height_ratios=(1.0, 0.9), hspace=0.25, wspace=0.15)
    images = overlays(exp)
    titles = {"crop": "Face crop", "gradcam": "Grad-CAM", "landmarks":
              f"Hot (red) / cold (blue) landmarks: {len(exp.hot_landmarks)} hot"}
    for col, key in enumerate(("crop", "gradcam", "landmarks")):
        ax = fig.add_subplot(grid[0, col])
        ax.imshow(images[key])
        ax.set_title(titles[key], fontsize=10)
        ax.axis("off")

    ax = fig.add_subplot(grid[1, 0:2])
    labels = sorted(exp.aus)
    values, colors, ticks = [], [], []
    scale = exp.au_scale or [0.0, 1.0]
    span = (scale[1] - scale[0]) or 1.0
    for label in labels:
        info = exp.aus[label]
        value = info.get("normalized") or 0.0
        values.append(value)
        if label in exp.hot_aus:
            colors.append("#d62728")
        elif info.get("present"):
            colors.append("#1f4e79")
        else:
            colors.append("#9ecae1")
        threshold = info.get("threshold")
        ticks.append(None if threshold is None else (threshold - scale[0]) / span)
    x = np.arange(len(labels))
    ax.bar(x, values, color=colors)
    for xi, tick in zip(x, ticks):
        if tick is not None:
            ax.plot([xi - 0.4, xi + 0.4], [tick, tick], color="black", lw=1)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=60, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"intensity / scale ({exp.au_source}, {scale[0]:g}-{scale[1]:g})", fontsize=8)
    ax.set_title("Action Units (red: hot and present; dark: present; tick: threshold)", fontsize=10)

    ax = fig.add_subplot(grid[1, 2])
    ax.axis("off")
    lines = [
        "Expected emotion:", f"  {exp.emotion.capitalize()} (p = {exp.probability:.2f})",
        f"Confidence level: {exp.confidence_level}",
        f"Matching AUs: {', '.join(exp.matching_aus) or '-'}",
        f"Missing AUs: {', '.join(exp.missing_aus) or '-'}",
        "",
    ] + textwrap.wrap(exp.explanation, 42)
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=9, family="DejaVu Sans",
            transform=ax.transAxes)
    fig.suptitle(exp.image or "", fontsize=9)
    return fig


def panel_png(exp: Explanation, dpi: int = 100) -> bytes:
    fig = panel_figure(exp, dpi=dpi)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def save_panel(exp: Explanation, path, dpi: int = 100):
    """Write the panel PNG atomically; returns the path."""
    return atomic_write_bytes(path, panel_png(exp, dpi=dpi))
