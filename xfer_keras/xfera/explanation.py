"""The one result object of the XFERa pipeline: :class:`Explanation`.

Everything the JSON, the summary CSV, the PNG panel and the HTML report show comes from here; they
never recompute. Arrays (the face crop, the Grad-CAM heatmap) ride along for the figures but are
not part of :meth:`Explanation.to_dict`. No secret (API key) is ever stored in it.

Landmark indices are **0-based** (iBUG/dlib 68 order); ``landmarks`` are pixel ``x, y`` in the
crop's coordinates. AU labels are spelled as in the paper's Figure 1 (``"AU06"``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xfer_keras.atomic import atomic_write_text

JSON_KEYS = ("image", "emotion", "probabilities", "confidence_level", "hot_landmarks", "aus",
             "matching_aus", "missing_aus", "explanation")


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if np.isfinite(value) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclass
class Explanation:
    """One explained face."""

    image: str | None                       # source file (or a name) of the image
    emotion: str                            # predicted class (canonical name)
    probabilities: dict[str, float]         # class -> probability (classifier order)
    confidence_level: str                   # High | Medium | Low
    confidence_score: float                 # (p + prototype coverage) / 2
    hot_landmarks: list[int]                # 0-based indices of the hot landmarks
    heat_threshold: float                   # mean + k * std of the heatmap over the face
    aus: dict[str, dict]                    # "AU06" -> evidence (intensity, present, hot, score...)
    matching_aus: list[str]                 # prototype AUs found present
    missing_aus: list[str]                  # prototype AUs not found
    hot_aus: list[str]                      # present AUs in the network's focus areas
    scores: dict[str, float]                # "AU06" -> combined (intensity, heatmap) score
    explanation: str                        # plain-language text
    narrator: str = "template"              # "template" | "openai:<model>"
    narrator_fallback: str | None = None    # why the LLM was not used, when it was asked for
    au_source: str | None = None            # e.g. "blendshapes", "openface"
    au_scale: list[float] | None = None     # the source's intensity scale
    model: str | None = None                # classifier name
    face_box: list[int] | None = None       # x0, y0, x1, y1 of the crop in the image
    face_index: int = 0                     # 0: the largest face of the image, 1: the next...
    detected_box: list[int] | None = None   # x0, y0, x1, y1 of the detector's face box
    detector: str | None = None             # who found it: dlib-hog | mediapipe-face-detector
    detection_score: float | None = None    # the detector's own score (dlib margin, BlazeFace p)
    face_verified: bool | None = None       # the face mesh confirms the face (None: not checked)
    landmarks: np.ndarray | None = None     # (68, 2) crop pixel coordinates
    variant: list[str] = field(default_factory=list)  # the prototype variant matched
    k: float = 1.0
    activation_ratio: float = 0.7
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    notes: list[str] = field(default_factory=list)
    crop: np.ndarray | None = field(default=None, repr=False)     # (S, S, 3) uint8
    heatmap: np.ndarray | None = field(default=None, repr=False)  # (S, S) float in [0, 1]

    # ------------------------------------------------------------------ views
    @property
    def name(self) -> str:
        return Path(self.image).stem if self.image else "image"

    @property
    def hot_mask(self) -> np.ndarray:
        n = len(self.landmarks) if self.landmarks is not None else 68
        mask = np.zeros(n, dtype=bool)
        mask[[i for i in self.hot_landmarks if i < n]] = True
        return mask

    @property
    def probability(self) -> float:
        return float(self.probabilities.get(self.emotion, float("nan")))

    def to_dict(self) -> dict:
        """JSON-ready dict (no arrays but the 68 landmarks; no secrets)."""
        out = {
            "image": self.image,
            "emotion": self.emotion,
            "probabilities": self.probabilities,
            "confidence_level": self.confidence_level,
            "confidence_score": self.confidence_score,
            "hot_landmarks": list(self.hot_landmarks),
            "aus": self.aus,
            "matching_aus": list(self.matching_aus),
            "missing_aus": list(self.missing_aus),
            "explanation": self.explanation,
            "hot_aus": list(self.hot_aus),
            "scores": self.scores,
            "variant": list(self.variant),
            "narrator": self.narrator,
            "narrator_fallback": self.narrator_fallback,
            "au_source": self.au_source,
            "au_scale": self.au_scale,
            "model": self.model,
            "face_box": self.face_box,
            "face_index": self.face_index,
            "detected_box": self.detected_box,
            "detector": self.detector,
            "detection_score": self.detection_score,
            "face_verified": self.face_verified,
            "landmarks": None if self.landmarks is None else np.round(self.landmarks, 2),
            "heat_threshold": self.heat_threshold,
            "k": self.k,
            "activation_ratio": self.activation_ratio,
            "landmark_indexing": "0-based, iBUG/dlib 68 order, crop pixel x, y",
            "timings": {k: round(float(v), 6) for k, v in self.timings.items()},
            "notes": list(self.notes),
        }
        return jsonable(out)

    def to_json(self, path: str | os.PathLike | None = None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
        if path is not None:
            atomic_write_text(path, text + "\n")
        return text

    def to_row(self) -> dict:
        """One flat row (summary CSV / pandas)."""
        row = {
            "image": self.image,
            "emotion": self.emotion,
            "probability": self.probability,
            "confidence_level": self.confidence_level,
            "confidence_score": round(float(self.confidence_score), 6),
            "matching_aus": ";".join(self.matching_aus),
            "missing_aus": ";".join(self.missing_aus),
            "hot_aus": ";".join(self.hot_aus),
            "n_hot_landmarks": len(self.hot_landmarks),
            "explanation": self.explanation,
            "narrator": self.narrator,
            "au_source": self.au_source,
            "face_index": self.face_index,
            "detector": self.detector,
            "detection_score": self.detection_score,
            "face_verified": self.face_verified,
        }
        if self.detected_box is not None:
            row.update(zip(("box_x0", "box_y0", "box_x1", "box_y1"), (int(v) for v in self.detected_box)))
        row.update({f"p_{k}": round(float(v), 6) for k, v in self.probabilities.items()})
        for label, info in sorted(self.aus.items()):
            if info.get("intensity") is not None:
                row[f"{label}_intensity"] = info["intensity"]
        return row

    def to_dataframe(self):
        """``pandas.DataFrame`` of one row (:meth:`to_row`)."""
        return to_frame([self])

    def to_html(self, path: str | os.PathLike | None = None) -> str:
        """The self-contained HTML report (crop, Grad-CAM, landmarks, panel, tables); written
        atomically to ``path`` when given."""
        from xfer_keras.xfera.report.html import report_html

        text = report_html(self, title=f"XFERa: {self.name}")
        if path is not None:
            atomic_write_text(path, text)
        return text

    @classmethod
    def from_dict(cls, data: dict) -> "Explanation":
        """Rebuild from :meth:`to_dict` output (arrays other than the landmarks are absent)."""
        known = {f for f in cls.__dataclass_fields__ if f not in ("crop", "heatmap")}
        kwargs = {k: v for k, v in data.items() if k in known}
        if kwargs.get("landmarks") is not None:
            kwargs["landmarks"] = np.asarray(kwargs["landmarks"], dtype=np.float32)
        return cls(**kwargs)

    @classmethod
    def from_json(cls, path_or_text: str | os.PathLike) -> "Explanation":
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            text = Path(path_or_text).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))


def to_frame(explanations: list[Explanation]):
    """``pandas.DataFrame`` with one :meth:`Explanation.to_row` per explanation."""
    import pandas as pd

    return pd.DataFrame([e.to_row() for e in explanations])


def output_differences(a: Explanation, b: Explanation, prob_atol: float = 1e-5,
                       heat_atol: float = 1e-4) -> list[str]:
    """How two explanations of the same image differ in what a user reads (empty: the same).

    Compared: emotion, probabilities (within ``prob_atol``), hot landmarks, AUs (every field;
    the heatmap-derived numbers within ``heat_atol``), matching / missing AUs and the text. Used
    to check that a faster engine gives the output of the reference one.
    """
    diffs = []
    for key in ("emotion", "hot_landmarks", "matching_aus", "missing_aus", "explanation"):
        if getattr(a, key) != getattr(b, key):
            diffs.append(f"{key}: {getattr(a, key)!r} != {getattr(b, key)!r}")
    if set(a.probabilities) != set(b.probabilities):
        diffs.append("probabilities: different classes")
    else:
        worst = max(abs(a.probabilities[k] - b.probabilities[k]) for k in a.probabilities)
        if worst > prob_atol:
            diffs.append(f"probabilities differ by {worst:.2e} > {prob_atol:g}")
    if set(a.aus) != set(b.aus):
        diffs.append(f"aus: {sorted(a.aus)} != {sorted(b.aus)}")
        return diffs
    for label in sorted(a.aus):
        for field_name in sorted(set(a.aus[label]) | set(b.aus[label])):
            u, v = a.aus[label].get(field_name), b.aus[label].get(field_name)
            numbers = isinstance(u, (int, float)) and isinstance(v, (int, float)) \
                and not isinstance(u, bool) and not isinstance(v, bool)
            if (abs(u - v) > heat_atol) if numbers else (u != v):
                diffs.append(f"aus.{label}.{field_name}: {u!r} != {v!r}")
    return diffs
