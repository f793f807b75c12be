"""From per-frame probabilities to a timeline: temporal smoothing, then segments of one emotion.

**Smoothing** (:func:`smooth_probabilities`): a centred moving average of each class's
probability over ``window_s`` seconds of *sampled* frames (default :data:`DEFAULT_SMOOTH_S` =
0.5 s, i.e. the frame and about 0.25 s either side; an odd number of frames, at least 1),
computed per face and per run of consecutive ``ok`` frames, so it never averages across a stretch
where the face was not seen nor across two people. Facial expressions last about 0.5 to 4 s, so
half a second removes the classifier's frame-to-frame flicker without blurring an onset away.
``window_s=0`` turns it off. The smoothed argmax is the frame's ``emotion_smoothed``.

**Segments** (:func:`find_segments`): maximal runs of one smoothed emotion per face, broken by
frames without that face. Runs shorter than ``min_frames`` sampled frames (default 2) are
absorbed into the segment before them (the first into the one after), so one flickering frame
does not make a segment. Each segment has its start/end time, the mean smoothed probability of
its emotion, and its **key frame**: the most confident frame (highest raw probability of the
segment's emotion among frames whose own prediction is that emotion, else among all its frames).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["DEFAULT_SMOOTH_S", "DEFAULT_MIN_SEGMENT_FRAMES", "Segment", "window_frames",
           "face_runs", "smooth_probabilities", "find_segments"]

DEFAULT_SMOOTH_S = 0.5
DEFAULT_MIN_SEGMENT_FRAMES = 2


def window_frames(window_s: float, sample_fps: float) -> int:
    """Odd number of sampled frames covering ``window_s`` seconds (at least 1)."""
    n = int(round(max(0.0, float(window_s)) * float(sample_fps)))
    n = max(1, n)
    return n if n % 2 == 1 else n + 1


def face_runs(frames):
    """``(face_id, row positions)`` for each run of consecutive sampled frames (column
    ``sample``) in which that face was seen (``status == "ok"``), by face then time."""
    ok = (frames["status"] == "ok").to_numpy()
    face_ids = frames["face_id"].to_numpy()
    samples = frames["sample"].to_numpy()
    for face_id in sorted({int(f) for f, good in zip(face_ids, ok) if good}):
        rows = np.flatnonzero(ok & (face_ids == face_id))
        rows = rows[np.argsort(samples[rows], kind="stable")]
        breaks = np.flatnonzero(np.diff(samples[rows]) > 1) + 1
        for run in np.split(rows, breaks):
            yield face_id, run


def smooth_probabilities(frames, classes: list[str], window: int):
    """Columns ``s_<class>`` (smoothed) and ``emotion_smoothed`` added to a copy of ``frames``.

    ``frames``: one row per (sampled frame, face) with ``sample`` (sampled-frame counter),
    ``face_id``, ``status`` and ``p_<class>``. Rows that are not ``ok`` get NaN.
    """
    out = frames.copy()
    raw = [f"p_{c}" for c in classes]
    smooth = np.full((len(out), len(classes)), np.nan)
    ok = (out["status"] == "ok").to_numpy()
    values = out[raw].to_numpy(dtype=np.float64) if len(out) else np.zeros((0, len(classes)))
    for _, rows in face_runs(out):
        smooth[rows] = _centred_mean(values[rows], window)
    for j, c in enumerate(classes):
        out[f"s_{c}"] = np.round(smooth[:, j], 6)
    labels = np.array(classes, dtype=object)
    best = np.argmax(np.where(np.isnan(smooth), -1.0, smooth), axis=1) if len(out) else np.zeros(0, int)
    out["emotion_smoothed"] = np.where(ok, labels[best], None)
    return out


def _centred_mean(block: np.ndarray, window: int) -> np.ndarray:
    """Centred moving mean along axis 0, the window shrinking at the ends (no padding)."""
    if window <= 1 or len(block) == 1:
        return block.copy()
    half = window // 2
    cumsum = np.vstack([np.zeros((1, block.shape[1])), np.cumsum(block, axis=0)])
    idx = np.arange(len(block))
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, len(block))
    return (cumsum[hi] - cumsum[lo]) / (hi - lo)[:, None]


@dataclass
class Segment:
    """A stretch of one dominant emotion of one face."""

    face_id: int
    emotion: str
    start: float              # s, time of the first frame
    end: float                # s, time of the last frame
    n_frames: int
    mean_probability: float   # mean smoothed probability of ``emotion`` over the segment
    key_frame: int            # native frame index of the most confident frame
    key_time: float
    key_probability: float    # its raw probability of ``emotion``
    narration: str | None = None
    confidence_level: str | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("start", "end", "key_time"):
            out[key] = round(float(out[key]), 4)
        for key in ("mean_probability", "key_probability"):
            out[key] = round(float(out[key]), 6)
        return out


def find_segments(frames, min_frames: int = DEFAULT_MIN_SEGMENT_FRAMES) -> list[Segment]:
    """Segments (see the module doc) of a frame table that went through
    :func:`smooth_probabilities`; ordered by face, then time."""
    segments: list[Segment] = []
    for face_id, rows in face_runs(frames):
        block = frames.iloc[rows]
        labels = block["emotion_smoothed"].to_numpy()
        cuts = [0] + [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]] + [len(labels)]
        pieces = [[a, b, labels[a]] for a, b in zip(cuts[:-1], cuts[1:])]
        for a, b, label in _absorb_short(pieces, min_frames):
            segments.append(_segment(int(face_id), block.iloc[a:b], str(label)))
    return segments


def _absorb_short(pieces: list[list], min_frames: int) -> list[list]:
    """Merge ``[start, stop, label]`` runs shorter than ``min_frames`` into the previous run;
    a short first run joins the next one and takes its label; neighbours left with the same
    label become one."""
    merged: list[list] = []
    for a, b, label in pieces:
        if merged and (b - a < min_frames or label == merged[-1][2]):
            merged[-1][1] = b
        elif len(merged) == 1 and merged[0][1] - merged[0][0] < min_frames:
            merged[0] = [merged[0][0], b, label]
        else:
            merged.append([a, b, label])
    return merged


def _segment(face_id: int, block, emotion: str) -> Segment:
    probs = block[f"p_{emotion}"].to_numpy(dtype=np.float64)
    own = (block["emotion"] == emotion).to_numpy()
    candidates = np.flatnonzero(own) if own.any() else np.arange(len(block))
    key = candidates[int(np.argmax(probs[candidates]))]
    row = block.iloc[key]
    return Segment(
        face_id=face_id, emotion=emotion,
        start=float(block["time"].iloc[0]), end=float(block["time"].iloc[-1]),
        n_frames=int(len(block)),
        mean_probability=float(np.mean(block[f"s_{emotion}"].to_numpy(dtype=np.float64))),
        key_frame=int(row["frame"]), key_time=float(row["time"]),
        key_probability=float(probs[key]),
        narration=row.get("explanation"), confidence_level=row.get("confidence_level"),
    )
