"""The landmark-sequence method end to end: a clip of a face -> emotion -> why (IG).

    from xfer_keras.emo_pipeline import EmoPipeline
    with EmoPipeline() as pipe:                   # the shipped nets in saved_models/emo/
        result = pipe.explain("clip.mp4")         # or a frame folder, or an array (T, H, W, 3)
    print(result.verdict, result.why)
    result.to_json("clip.json"); result.save_png("clip.png"); result.to_dataframe()

Stages (seconds in ``EmoResult.timings``): ``landmarks`` (per frame, the nets' backend, the
landmark cache for frame files), ``segment`` (the neutral -> peak rule of
:mod:`xfer_keras.emo_clip`, or ``start``/``end``), ``classify`` (the six nets on the motion
tensor; verdict = the most probable emotion among those above their threshold, else
``"no clear emotion"``), ``explain`` (Integrated Gradients of the explained net - the verdict's,
or the most probable one's when there is no clear emotion - against the typical baselines of
the five other emotions, as in the paper; per landmark ``sum |IG|`` over frames and
coordinates, then facial regions in words).
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from xfer_keras.errors import XferError

NO_CLEAR_EMOTION = "no clear emotion"


@dataclass
class EmoResult:
    """Everything one clip's explanation computed; the JSON, table and PNG read it."""

    clip: str
    verdict: str  #: an emotion, or "no clear emotion"
    probabilities: dict[str, float]  #: P(emotion) of each net
    thresholds: dict[str, float]
    explained_emotion: str  #: whose net IG explains (the verdict, else the most probable)
    segment: dict  #: start, end, neutral, peak, frames, rule, displacement
    attribution: np.ndarray  #: (L,) sum |IG| per landmark (0 outside the net's landmarks)
    net_landmarks: list[int]  #: the landmarks the explained net reads
    top_regions: list[dict]  #: [{region, share, parts}]
    why: str  #: the top regions in words
    backend: str
    ig: dict = field(default_factory=dict)  #: method, n_steps, baselines, convergence deltas
    timings: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    peak_frame: np.ndarray | None = field(default=None, repr=False)  #: RGB (H, W, 3)
    peak_landmarks: np.ndarray | None = field(default=None, repr=False)  #: (L, 2) pixels

    @property
    def probability(self) -> float:
        return float(self.probabilities[self.explained_emotion])

    def to_dict(self) -> dict:
        from xfer_keras.explain.landmark_regions import region_of

        regions = region_of(range(len(self.attribution)))
        return {
            "clip": self.clip, "verdict": self.verdict,
            "probabilities": self.probabilities, "thresholds": self.thresholds,
            "explained_emotion": self.explained_emotion, "why": self.why,
            "top_regions": self.top_regions, "segment": self.segment, "backend": self.backend,
            "attribution": [{"landmark": i, "region": regions[i], "value": round(float(v), 6),
                             "in_net": i in set(self.net_landmarks)}
                            for i, v in enumerate(self.attribution)],
            "ig": self.ig, "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "notes": self.notes,
            "peak_landmarks": None if self.peak_landmarks is None
            else np.round(self.peak_landmarks, 2).tolist(),
        }

    def to_json(self, path: str | os.PathLike | None = None, indent: int = 2) -> str:
        from xfer_keras.atomic import atomic_write_text

        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    def to_dataframe(self):
        """One row per landmark: landmark, region, part, attribution, share, in_net."""
        import pandas as pd

        from xfer_keras.explain.landmark_regions import DLIB68_PARTS

        part = {i: (r, p) for r, parts in DLIB68_PARTS.items() for p, ids in parts.items() for i in ids}
        total = float(np.sum(self.attribution)) or 1.0
        net = set(self.net_landmarks)
        return pd.DataFrame([{
            "clip": self.clip, "landmark": i, "region": part[i][0], "part": part[i][1],
            "attribution": float(v), "share": float(v) / total, "in_net": i in net,
        } for i, v in enumerate(self.attribution)])

    def to_row(self) -> dict:
        """One flat row (summary CSV)."""
        return {"clip": self.clip, "verdict": self.verdict,
                "explained_emotion": self.explained_emotion,
                **{f"p_{k}": round(v, 4) for k, v in self.probabilities.items()},
                "start": self.segment["start"], "end": self.segment["end"],
                "peak": self.segment["peak"],
                "top_regions": ";".join(r["region"] for r in self.top_regions), "why": self.why}

    def png(self) -> bytes:
        """The peak frame with every landmark coloured and sized by its attribution, and the
        six probabilities against their thresholds."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        fig, (ax, bars) = plt.subplots(1, 2, figsize=(10, 4.6), gridspec_kw={"width_ratios": [1.3, 1]})
        if self.peak_frame is not None:
            ax.imshow(self.peak_frame)
        if self.peak_landmarks is not None:
            a = np.asarray(self.attribution, dtype=float)
            scaled = a / a.max() if a.max() > 0 else a
            pts = np.asarray(self.peak_landmarks)
            ax.scatter(pts[:, 0], pts[:, 1], s=6, c="white", alpha=0.6)
            sc = ax.scatter(pts[:, 0], pts[:, 1], s=10 + 220 * scaled, c=scaled, cmap="inferno",
                            vmin=0, vmax=1, edgecolors="black", linewidths=0.3)
            fig.colorbar(sc, ax=ax, fraction=0.04, label="|IG| (share of the max)")
            pad = 0.25 * (pts[:, 0].max() - pts[:, 0].min())
            ax.set_xlim(pts[:, 0].min() - pad, pts[:, 0].max() + pad)
            ax.set_ylim(pts[:, 1].max() + pad, pts[:, 1].min() - 1.3 * pad)
        ax.set_axis_off()
        ax.set_title(f"peak frame {self.segment['peak']}: why {self.explained_emotion}", fontsize=10)
        names = list(self.probabilities)
        values = [self.probabilities[n] for n in names]
        colors = ["tab:red" if n == self.verdict else "tab:gray" for n in names]
        bars.barh(names, values, color=colors)
        for i, n in enumerate(names):
            bars.plot([self.thresholds[n]] * 2, [i - 0.4, i + 0.4], color="black", lw=1.5)
        bars.set_xlim(0, 1)
        bars.invert_yaxis()
        bars.set_xlabel("P(emotion); black mark: threshold")
        bars.set_title(f"verdict: {self.verdict}", fontsize=10)
        fig.suptitle(self.why, fontsize=9, wrap=True)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        return buffer.getvalue()

    def save_png(self, path) -> Path:
        from xfer_keras.atomic import atomic_write_bytes

        return atomic_write_bytes(path, self.png())


class EmoPipeline:
    """Six shipped EMO nets + segmenter + IG, for one or many clips.

    ``models``: an :class:`~xfer_keras.emo_models.EmoNetSet`, a folder, or None (the shipped
    set; ModelFileError when absent). ``n_steps`` / ``method``: IG quadrature. ``detector``: a
    :class:`~xfer_keras.face.LandmarkDetector` of the nets' backend (else one is opened and
    closed with the pipeline). ``cache``: the landmark cache for frame files.
    """

    def __init__(self, models=None, n_steps: int = 64, method: str = "gausslegendre",
                 detector=None, cache=True):
        from xfer_keras.emo_models import EmoNetSet

        self.nets = models if isinstance(models, EmoNetSet) else EmoNetSet.load(models)
        self.n_steps, self.method, self.cache = int(n_steps), method, cache
        self._own = detector is None
        self._detector = detector

    @property
    def detector(self):
        if self._detector is None:
            from xfer_keras.face import LandmarkDetector

            self._detector = LandmarkDetector(self.nets.backend)
        return self._detector

    def close(self) -> None:
        if self._own and self._detector is not None:
            self._detector.close()
            self._detector = None

    def __enter__(self) -> "EmoPipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ stages
    def classify(self, X) -> dict[str, float]:
        """P(emotion) of each net for one motion tensor ``(1, P, 2, L, 1)``."""
        p = self.nets.positive_probabilities(X)[0]
        return {e: round(float(v), 6) for e, v in zip(self.nets.emotions, p)}

    def verdict(self, probabilities: dict[str, float]) -> str:
        """The most probable emotion among those above their threshold, else "no clear emotion"."""
        thresholds = self.nets.thresholds()
        above = {e: p for e, p in probabilities.items() if p > thresholds[e]}
        return max(above, key=above.get) if above else NO_CLEAR_EMOTION

    def attribute(self, X, emotion: str):
        """Per-landmark ``sum |IG|`` ``(L,)`` of ``emotion``'s net on ``X`` against the typical
        baselines (mean motion sequences) of the other emotions, and the IG details."""
        from xfer_keras.explain.integrated_gradients import IntegratedGradients

        columns = self.nets.columns(emotion)
        from xfer_keras.emotions import EMOTIONS6

        others = [e for e in EMOTIONS6 if e != emotion and e in self.nets.baselines]
        baselines = [self.nets.baselines[e][:, :, columns, None] for e in others]
        res = IntegratedGradients(self.nets.specs[emotion].model, n_steps=self.n_steps,
                                  method=self.method).explain(X[:, :, :, columns, :], targets=1,
                                                              baselines=baselines)
        attribution = np.zeros(self.nets.n_landmarks, dtype=np.float64)
        attribution[columns] = res.landmark_mask()[0]
        rel = res.relative_delta[:, 0]
        details = {"method": self.method, "n_steps": self.n_steps, "target": emotion,
                   "baselines": [f"mean {e} sequence" for e in others],
                   "score_input": round(float(res.score_inputs[0]), 6),
                   "score_baselines": [round(float(v), 6) for v in res.score_baselines[:, 0]],
                   "relative_convergence_delta": [round(float(v), 6) if np.isfinite(v) else None
                                                  for v in rel]}
        return attribution, details

    def explain(self, clip, name: str | None = None, start: int | None = None,
                end: int | None = None) -> EmoResult:
        """Explain one clip (video path, frame folder or ``(T, H, W, 3)`` array); raises
        XferError subclasses (unreadable clip, no face, too short for P frames)."""
        from xfer_keras.emo_clip import (clip_landmarks, find_segment, motion_tensor,
                                         normalized_shapes, open_clip)
        from xfer_keras.explain.landmark_regions import describe_regions, top_regions

        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        source = open_clip(clip, name)
        marks = clip_landmarks(source, self.nets.backend, detector=self.detector, cache=self.cache)
        timings["landmarks"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        shapes = normalized_shapes(marks, self.nets.meta.get("normalize", "face"))
        segment = find_segment(shapes, self.nets.n_frames, self.nets.neutral_shape, marks.found,
                               start=start, end=end, name=source.name)
        X = motion_tensor(shapes, segment.frames)
        timings["segment"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        probabilities = self.classify(X)
        verdict = self.verdict(probabilities)
        timings["classify"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        explained = verdict if verdict != NO_CLEAR_EMOTION else max(probabilities, key=probabilities.get)
        attribution, details = self.attribute(X, explained)
        regions = top_regions(attribution, self.nets.meta["topology"])
        timings["explain"] = time.perf_counter() - t0
        notes = []
        missing = int((~marks.found).sum())
        if missing:
            notes.append(f"{missing} of {marks.n_frames} frames without a face took the nearest frame's landmarks")
        if verdict == NO_CLEAR_EMOTION:
            notes.append(f"no net passed its threshold; IG explains the most probable, {explained}")
        why = describe_regions(regions)
        return EmoResult(
            clip=source.name, verdict=verdict, probabilities=probabilities,
            thresholds={e: round(v, 6) for e, v in self.nets.thresholds().items()},
            explained_emotion=explained, segment={**segment.to_dict(), "n_clip_frames": marks.n_frames},
            attribution=attribution, net_landmarks=self.nets.specs[explained].landmarks,
            top_regions=regions, why=why, backend=self.nets.backend, ig=details,
            timings=timings, notes=notes, peak_frame=source.frame(segment.peak),
            peak_landmarks=marks.points[segment.peak],
        )

    def explain_many(self, clips: Iterable, names: Iterable[str] | None = None,
                     start: int | None = None, end: int | None = None) -> list[EmoResult | XferError]:
        """One item per clip: an :class:`EmoResult`, or the XferError that stopped that clip."""
        clips = list(clips)
        names = list(names) if names is not None else [None] * len(clips)
        out: list = []
        for clip, name in zip(clips, names):
            try:
                out.append(self.explain(clip, name, start=start, end=end))
            except XferError as error:
                out.append(error)
        return out


__all__ = ["NO_CLEAR_EMOTION", "EmoPipeline", "EmoResult"]
