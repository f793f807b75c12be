"""Fusion of Grad-CAM hot landmarks and Action Units (XFERa, Algorithm 1, lines 5 and 17-29).

For the recognised emotion:

1. the AUs to look at are the emotion's (Table 2 AUs and prototype AUs, :mod:`facs`) plus every AU
   the source measured;
2. an AU is **heat-activated** when at least ``activation_ratio`` (0.7, Algorithm 1 line 20; the
   paper's prose says 50 %) of its landmarks are hot;
3. its ``heatmap_score`` is the mean heatmap value at its hot landmarks (line 25);
4. when the AU is present on its source's scale (``intensity >= threshold``, 0.3 for OpenFace) and
   ``heatmap_score >= threshold`` of the heatmap, it gets a **final score**
   ``weight * intensity_01 + (1 - weight) * heatmap_score`` (line 27; ``intensity_01`` is the
   intensity divided by the source's scale) - these are the *hot AUs* the narration describes;
5. the best prototype variant of the emotion (:func:`facs.match_prototype`) over the present AUs
   gives the **matching** and **missing** AUs (Figure 1);
6. the **confidence level** combines the classifier's probability with the variant's coverage:
   ``c = (p + coverage) / 2``, High when ``c >= 0.75``, Medium when ``c >= 0.5``, else Low. For
   neutral the coverage is ``1 - min(1, n / 3)`` with ``n`` the expressive AUs found present.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from xfer_keras.emotions import canonical_emotion
from xfer_keras.xfera import facs
from xfer_keras.xfera.aus.base import AUReading
from xfer_keras.xfera.hot_landmarks import HotLandmarks

ACTIVATION_RATIO = 0.7
WEIGHT = 0.5
LEVELS = ("High", "Medium", "Low")
HIGH, MEDIUM = 0.75, 0.5
#: AUs whose presence argues against "neutral" (eyes, brows, mouth movements).
EXPRESSIVE_AUS = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 23, 24, 26, 27)


@dataclass
class AUEvidence:
    """Everything known about one AU of one face."""

    au: int
    label: str                    # "AU06"
    name: str                     # FACS name
    description: str              # plain language
    expected: bool                # part of the emotion's Table 2 / prototype AUs
    intensity: float | None       # on the source's scale (None: not measured)
    threshold: float | None       # the source's presence threshold for this AU
    normalized: float             # intensity / scale, in [0, 1]
    present: bool                 # intensity >= threshold
    n_landmarks: int
    n_hot: int
    hot_fraction: float
    heat_activated: bool          # hot_fraction >= activation_ratio
    heatmap_score: float          # mean heatmap value at the AU's hot landmarks
    final_score: float | None     # combined score when present and hot (else None)

    @property
    def hot(self) -> bool:
        return self.final_score is not None

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("intensity", "threshold", "normalized", "hot_fraction", "heatmap_score", "final_score"):
            if out[key] is not None:
                out[key] = round(float(out[key]), 6)
        return out


@dataclass
class FusionResult:
    emotion: str
    probability: float
    confidence_level: str
    confidence_score: float
    evidence: list[AUEvidence]
    variant: tuple[int, ...]
    matching_aus: tuple[int, ...]
    missing_aus: tuple[int, ...]
    activated_aus: tuple[int, ...]      # heat-activated (Algorithm 1, line 21)
    hot_aus: tuple[int, ...]            # present and heat-activated, with a final score
    heat_threshold: float
    activation_ratio: float = ACTIVATION_RATIO
    weight: float = WEIGHT
    au_source: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def scores(self) -> dict[str, float]:
        """``{"AU06": final score}`` for the hot AUs."""
        return {e.label: round(float(e.final_score), 6) for e in self.evidence if e.final_score is not None}

    def by_au(self) -> dict[int, AUEvidence]:
        return {e.au: e for e in self.evidence}

    def hot_descriptions(self) -> list[str]:
        lookup = self.by_au()
        return [lookup[au].description for au in self.hot_aus]


def confidence_level(score: float) -> str:
    return "High" if score >= HIGH else "Medium" if score >= MEDIUM else "Low"


def fuse(
    emotion: str,
    probability: float,
    hot: HotLandmarks,
    reading: AUReading | None,
    activation_ratio: float = ACTIVATION_RATIO,
    weight: float = WEIGHT,
) -> FusionResult:
    """Algorithm 1's fusion for one face (see the module doc)."""
    emotion = canonical_emotion(emotion)
    expected = set(facs.expected_aus(emotion))
    measured = set(reading.intensities) if reading is not None else set()
    hot_mask = np.asarray(hot.hot, dtype=bool)
    values = np.asarray(hot.values, dtype=np.float32)
    evidence: list[AUEvidence] = []
    for au in sorted(expected | measured):
        landmarks = [i for i in facs.au_landmarks(au) if i < len(hot_mask)]
        hot_idx = [i for i in landmarks if hot_mask[i]]
        fraction = len(hot_idx) / len(landmarks) if landmarks else 0.0
        activated = bool(landmarks) and len(hot_idx) >= len(landmarks) * activation_ratio - 1e-9
        heat_score = float(values[hot_idx].mean()) if hot_idx else 0.0
        if reading is not None and au in measured:
            intensity, threshold = reading.intensity(au), reading.threshold(au)
            present, normalized = reading.present(au), reading.normalized(au)
        else:
            intensity, threshold, present, normalized = None, None, False, 0.0
        final = None
        if activated and present and heat_score >= hot.threshold:
            final = weight * normalized + (1.0 - weight) * heat_score
        evidence.append(AUEvidence(
            au=au, label=facs.au_label(au), name=facs.AU_NAMES.get(au, f"AU{au}"),
            description=facs.describe_au(au), expected=au in expected, intensity=intensity,
            threshold=threshold, normalized=normalized, present=present,
            n_landmarks=len(landmarks), n_hot=len(hot_idx), hot_fraction=fraction,
            heat_activated=activated, heatmap_score=heat_score, final_score=final,
        ))
    present_aus = [e.au for e in evidence if e.present]
    match = facs.match_prototype(emotion, present_aus, measured if reading is not None else None)
    if emotion == "neutral":
        n_expressive = len([au for au in present_aus if au in EXPRESSIVE_AUS])
        coverage = 1.0 - min(1.0, n_expressive / 3.0)
    else:
        coverage = match.coverage
    score = 0.5 * float(probability) + 0.5 * coverage
    notes = []
    if reading is None:
        notes.append("no AU source reading: matching/missing AUs are empty or all missing")
    # the hot AUs the narration describes: the emotion's AUs first (variant order), then others
    hot_aus = [e.au for e in evidence if e.final_score is not None]
    hot_aus.sort(key=lambda au: (au not in match.variant, au not in expected, au))
    return FusionResult(
        emotion=emotion, probability=float(probability), confidence_level=confidence_level(score),
        confidence_score=score, evidence=evidence, variant=match.variant,
        matching_aus=match.matching, missing_aus=match.missing,
        activated_aus=tuple(e.au for e in evidence if e.heat_activated),
        hot_aus=tuple(hot_aus), heat_threshold=float(hot.threshold),
        activation_ratio=activation_ratio, weight=weight,
        au_source=reading.source if reading is not None else None, notes=notes,
    )
