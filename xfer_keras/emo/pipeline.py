"""The landmark-sequence method end to end: a clip of a face -> emotion -> why (IG).

    from xfer_keras.emo.pipeline import EmoPipeline
    with EmoPipeline() as pipe:                   # the shipped nets in saved_models/emo/
        result = pipe.explain("clip.mp4")         # or a frame folder, or an array (T, H, W, 3)
    print(result.verdict, result.why)
    result.to_json("clip.json"); result.save_png("clip.png"); result.to_dataframe()

Stages (seconds in ``EmoResult.timings``): ``landmarks`` (per frame, the nets' backend, the
landmark cache for frame files), ``segment`` (the neutral -> peak rule of
:mod:`xfer_keras.emo.clip`, or ``start``/``end``), ``classify`` (the six nets on the motion
tensor; verdict = the most probable emotion among those above their threshold, else
``"no clear emotion"``), ``explain`` (Integrated Gradients of the explained net - the verdict's,
or the most probable one's when there is no clear emotion - against the typical baselines of
the five other emotions, as in the paper; per landmark ``sum |IG|`` over frames and
coordinates, then facial regions in words).
"""

from __future__ import annotations

import time
from typing import Iterable

import numpy as np

from xfer_keras.emo.result import EmoResult, NO_CLEAR_EMOTION
from xfer_keras.errors import XferError

__all__ = ["EmoPipeline", "EmoResult", "NO_CLEAR_EMOTION"]


class EmoPipeline:
    """Six shipped EMO nets + segmenter + IG, for one or many clips.

    ``models``: an :class:`~xfer_keras.models.emo_set.EmoNetSet`, a folder, or None (the shipped
    set; ModelFileError when absent). ``n_steps`` / ``method``: IG quadrature. ``detector``: a
    :class:`~xfer_keras.face.LandmarkDetector` of the nets' backend (else one is opened and
    closed with the pipeline). ``cache``: the landmark cache for frame files.
    """

    def __init__(self, models=None, n_steps: int = 64, method: str = "gausslegendre",
                 detector=None, cache=True):
        from xfer_keras.models.emo_set import EmoNetSet

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
        from xfer_keras.emo.clip import (clip_landmarks, find_segment, motion_tensor,
                                         normalized_shapes, open_clip)
        from xfer_keras.emo.regions import describe_regions, top_regions

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
