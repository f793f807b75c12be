"""``timeline.png``: emotion probabilities and the key Action Units over time, per face.

Per face (at most :data:`MAX_FACES_PLOTTED`, the longest-seen first) two stacked axes share the
time axis: the smoothed probability of each emotion (raw values as faint dots), with the
segments shaded in their emotion's colour, and below it the intensities of the key AUs (the
prototype AUs of the emotions its segments show, at most :data:`MAX_AUS`, the most varying
first). Frames where the face was not seen are hatched. Built from the frame table only.
"""

from __future__ import annotations

import io

import numpy as np

from xfer_keras.xfera import facs

__all__ = ["EMOTION_COLORS", "timeline_figure", "timeline_png", "key_aus"]

MAX_FACES_PLOTTED = 4
MAX_AUS = 6
EMOTION_COLORS = {"anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happiness": "#ff7f0e",
                  "neutral": "#7f7f7f", "sadness": "#1f77b4", "surprise": "#2ca02c", "contempt": "#e377c2"}


def key_aus(frames, emotions) -> list[str]:
    """AU column labels (``"AU12"``) worth plotting: prototype AUs of ``emotions`` present in the
    table, most varying first; when none is measured, the most varying AUs of the table."""
    measured = [c[: -len("_intensity")] for c in frames.columns if c.endswith("_intensity")]
    wanted = []
    for emotion in emotions:
        try:
            wanted += [facs.au_label(a) for a in facs.expected_aus(emotion)]
        except (KeyError, ValueError):
            continue
    chosen = [a for a in dict.fromkeys(wanted) if a in measured] or measured

    def spread(label):
        values = frames[f"{label}_intensity"].to_numpy(dtype=np.float64)
        return float(np.nanstd(values)) if np.isfinite(values).any() else -1.0

    return sorted(chosen, key=spread, reverse=True)[:MAX_AUS]


def timeline_figure(frames, segments, classes: list[str], title: str = "", dpi: int = 100):
    """A matplotlib Figure (Agg; never shown) of the frame table and its segments."""
    from matplotlib.figure import Figure

    ok = frames[frames["status"] == "ok"]
    counts = ok["face_id"].value_counts()
    face_ids = [int(f) for f in counts.index[:MAX_FACES_PLOTTED]] or [None]
    fig = Figure(figsize=(11, 3.6 * len(face_ids) + 0.4), dpi=dpi)
    grid = fig.add_gridspec(2 * len(face_ids), 1, height_ratios=[1.6, 1.0] * len(face_ids), hspace=0.7)
    t_max = float(frames["time"].max()) if len(frames) else 1.0
    step = float(np.median(np.diff(np.unique(frames["time"])))) if frames["time"].nunique() > 1 else 0.1
    for row, face_id in enumerate(face_ids):
        ax_p = fig.add_subplot(grid[2 * row])
        ax_a = fig.add_subplot(grid[2 * row + 1], sharex=ax_p)
        mine = ok[ok["face_id"] == face_id] if face_id is not None else ok.iloc[0:0]
        seen = set(mine["sample"])
        # every sampled frame, NaN where this face was not seen, so lines break at the gaps
        line = frames.drop_duplicates("sample")[["sample", "time"]].merge(
            mine.drop(columns=["time"]), on="sample", how="left")
        for t in frames.loc[~frames["sample"].isin(seen), "time"].unique():
            for ax in (ax_p, ax_a):
                ax.axvspan(t - step / 2, t + step / 2, facecolor="white", edgecolor="#999999",
                           hatch="///", lw=0)
        for seg in segments:
            if seg.face_id == face_id:
                ax_p.axvspan(seg.start - step / 2, seg.end + step / 2,
                             color=EMOTION_COLORS.get(seg.emotion, "#cccccc"), alpha=0.12, lw=0)
        for c in classes:
            color = EMOTION_COLORS.get(c)
            ax_p.plot(line["time"], line[f"s_{c}"].astype(float), color=color, lw=1.6, label=c)
            ax_p.plot(mine["time"], mine[f"p_{c}"], ".", color=color, ms=2.5, alpha=0.35)
        ax_p.set_ylim(0, 1.02)
        ax_p.set_xlim(-step / 2, t_max + step / 2)
        ax_p.set_ylabel("probability")
        who = "" if face_id is None else f"face {face_id}: "
        ax_p.set_title(f"{who}emotion probabilities (lines smoothed, dots per frame; shading: "
                       "segments; hatched: face not seen)", fontsize=9)
        ax_p.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        emotions = [s.emotion for s in segments if s.face_id == face_id]
        aus = key_aus(mine, emotions) if len(mine) else []
        for label in aus:
            ax_a.plot(line["time"], line[f"{label}_intensity"].astype(float), lw=1.2,
                      label=f"{label} {facs.describe_au(facs.parse_au(label))}")
        ax_a.set_ylabel("AU intensity")
        ax_a.set_xlabel("time (s)")
        ax_a.set_title("key Action Units", fontsize=9)
        if aus:
            ax_a.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def timeline_png(frames, segments, classes, title: str = "", dpi: int = 100) -> bytes:
    fig = timeline_figure(frames, segments, classes, title=title, dpi=dpi)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()
