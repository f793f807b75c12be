"""Learned Action Units from the MediaPipe face mesh geometry.

The default AU source (``--au-source blendshapes``; also spelled ``blendshapes:learned``).
One logistic regression per AU on the named mesh geometry of
:mod:`xfer_keras.face.geometry` (brow heights, inner-brow gap, lid opening, cheek height, nose
and nasolabial distances, lip-corner lift, mouth width and opening, lip thickness, chin, a few
depths; in inter-ocular units after levelling the eyes), optionally with the 51 blendshape
scores beside them, standardised. The intensity is the predicted probability that the AU is
coded present (0-1 scale), present at the AU's threshold. Fitted by
``scripts/au_agreement.py --write`` on the FACS codes of 367 CK+ peak frames and shipped as the
constant in :mod:`xfer_keras.xfera.aus._learned` (parameters only, never data). Validated
leave-one-subject-out with thresholds tuned inside the training subjects (see
``docs/au_detector.md`` for the figures); an AU whose out-of-fold Cohen's kappa is below
:data:`~xfer_keras.xfera.aus.blendshapes.MIN_KAPPA` is not measured, so the narration never
names it.

**Neutral reference.** When a neutral (expressionless) frame of the same face is known - the
first frame of a posed clip, a calibration frame - ``read(face=..., neutral=...)`` reads the
face's change from its own resting shape: the features become
``x - x_neutral + mean neutral features``, which removes the person's build (a low brow, thin
lips) before the same per-AU models look at it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from xfer_keras.errors import AUSourceError, OptionError
from xfer_keras.face.geometry import FEATURE_NAMES as GEOMETRY_NAMES
from xfer_keras.face.geometry import mesh_features
from xfer_keras.xfera.aus.base import AUReading, AUSource
from xfer_keras.xfera.aus.blendshapes import (
    MIN_KAPPA,
    fit_au_model,
    reliable,
    threshold_and_kappa,
)

#: the 51 blendshape scores (``_neutral`` left out), in this order when they are features
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft",
    "noseSneerRight",
)
FEATURE_SETS = ("geometry", "geometry+blendshapes")
DEFAULT_FEATURE_SET = "geometry"
DEFAULT_C = 0.1


def feature_names(feature_set: str = DEFAULT_FEATURE_SET) -> tuple[str, ...]:
    if feature_set not in FEATURE_SETS:
        raise OptionError(f"feature set must be one of {FEATURE_SETS}, got {feature_set!r}")
    return GEOMETRY_NAMES + (BLENDSHAPE_NAMES if feature_set == "geometry+blendshapes" else ())


def face_features(landmarks, landmarks_z=None, blendshapes: Mapping[str, float] | None = None,
                  feature_set: str = DEFAULT_FEATURE_SET) -> np.ndarray:
    """The detector's input vector (:func:`feature_names` order) of one MediaPipe face."""
    x = mesh_features(landmarks, landmarks_z)
    if feature_set == "geometry+blendshapes":
        blendshapes = blendshapes or {}
        x = np.concatenate([x, [float(blendshapes.get(n, 0.0)) for n in BLENDSHAPE_NAMES]])
    elif feature_set not in FEATURE_SETS:
        raise OptionError(f"feature set must be one of {FEATURE_SETS}, got {feature_set!r}")
    return x


def features_of(face, feature_set: str = DEFAULT_FEATURE_SET) -> np.ndarray:
    """:func:`face_features` of a :class:`xfer_keras.face.Face` (MediaPipe, 478 points)."""
    landmarks = getattr(face, "landmarks", None)
    if landmarks is None or np.asarray(landmarks).shape[0] < 478:
        raise AUSourceError("the learned AU source needs a MediaPipe face (478 points; "
                            "LandmarkDetector(backend='mediapipe'))")
    return face_features(landmarks, getattr(face, "landmarks_z", None),
                         getattr(face, "blendshapes", None), feature_set)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def learned_probabilities(x: np.ndarray, params: Mapping, neutral: np.ndarray | None = None
                          ) -> dict[int, float]:
    """AU -> probability (0-1) of the measured AUs for one feature vector ``x``; with
    ``neutral`` (the same face's resting features) the neutral-referenced reading."""
    x = np.asarray(x, dtype=np.float64)
    if neutral is not None:
        x = x - np.asarray(neutral, dtype=np.float64) + np.asarray(params["neutral_mean"])
    z = (x - np.asarray(params["mean"])) / np.asarray(params["scale"])
    out = {}
    for key, model in params["aus"].items():
        out[int(key)] = float(_sigmoid(float(np.dot(model["coef"], z)) + model["intercept"]))
    return out


_PARAMS: dict | None = None


def load_learned() -> dict:
    """The shipped parameters (a Python constant written by ``scripts/au_agreement.py --write``),
    imported on first use."""
    global _PARAMS
    if _PARAMS is None:
        from xfer_keras.xfera.aus._learned import LEARNED

        _PARAMS = LEARNED
    return _PARAMS


# --------------------------------------------------------------------------------------------
# fitting (used by scripts/au_agreement.py; needs scikit-learn)


def standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of the columns of ``x``; a constant column gets scale 1."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    return mean, np.where(scale > 1e-9, scale, 1.0)


def fit_learned(x: np.ndarray, labels: Mapping[int, np.ndarray], groups, C: float = DEFAULT_C,
                neutral_x: np.ndarray | None = None, feature_set: str = DEFAULT_FEATURE_SET,
                note: str = "") -> dict:
    """Fit the per-AU models on feature rows ``x`` (N, F) -> a params dict.

    Each AU's threshold is tuned for F1 on subject-grouped out-of-fold predictions (``groups``:
    the subject of each row), and an AU whose out-of-fold Cohen's kappa there is below
    :data:`MIN_KAPPA` is left out under ``"unreliable"`` (not measured). ``neutral_x``: feature
    rows of neutral frames, whose mean the neutral-referenced reading adds back (default: the
    mean of ``x``).
    """
    x = np.asarray(x, dtype=np.float64)
    groups = np.asarray(groups)
    mean, scale = standardiser(x)
    xs = (x - mean) / scale
    neutral_mean = (np.asarray(neutral_x, dtype=np.float64).mean(axis=0) if neutral_x is not None
                    and len(neutral_x) else mean)
    params = {
        "version": 1,
        "method": f"logistic regression per AU (class-balanced, L2, C={C}) on standardised "
                  f"{feature_set} features of the MediaPipe mesh; per-AU threshold tuned for F1 on "
                  "subject-grouped out-of-fold predictions; AUs whose out-of-fold Cohen's kappa "
                  f"is below {MIN_KAPPA} are not measured",
        "note": note,
        "feature_set": feature_set,
        "features": list(feature_names(feature_set)),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "neutral_mean": [round(float(v), 6) for v in neutral_mean],
        "aus": {},
        "unreliable": {},
    }
    for au, y in sorted(labels.items()):
        y = np.asarray(y).astype(int)
        if y.min() == y.max():
            continue
        threshold, kappa = threshold_and_kappa(xs, y, groups, C)
        if not reliable(kappa):
            params["unreliable"][str(au)] = {"oof_kappa": round(kappa, 4),
                                             "n_positive": int(y.sum()), "n": int(len(y))}
            continue
        model = fit_au_model(xs, y, C)
        params["aus"][str(au)] = {
            "coef": [round(float(c), 6) for c in model.coef_[0]],
            "intercept": round(float(model.intercept_[0]), 6),
            "threshold": threshold,
            "oof_kappa": round(kappa, 4),
            "n_positive": int(y.sum()),
            "n": int(len(y)),
        }
    return params


def loso_learned(x: np.ndarray, labels: Mapping[int, np.ndarray], groups, C: float = DEFAULT_C,
                 neutral: Sequence[tuple[int, np.ndarray]] | None = None,
                 neutral_groups=None, neutral_x: np.ndarray | None = None, folds: list | None = None,
                 train_rows: int | None = None) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Leave-one-subject-out presence of the learned detector.

    For each subject, standardisation, models and thresholds (tuned on subject-grouped folds of
    the training subjects only) come from every other subject's rows; an AU the training fold
    would not measure is predicted absent. ``neutral``: ``(row index, neutral feature row)``
    pairs for the neutral-referenced reading of those rows, with the mean neutral taken from
    ``neutral_x`` (rows of ``neutral_groups``) of the training subjects. ``train_rows``: only the
    first ``train_rows`` rows are ever trained on (the rest are only predicted). ``folds`` (a
    list) receives ``(subject, training row indices)`` for inspection. Returns (AU -> (N,) bool,
    AU -> (N,) bool neutral-referenced, False where no neutral row).
    """
    x = np.asarray(x, dtype=np.float64)
    groups = np.asarray(groups)
    neutral = list(neutral or [])
    neutral_groups = None if neutral_groups is None else np.asarray(neutral_groups)
    out = {au: np.zeros(len(x), dtype=bool) for au in labels}
    out_neutral = {au: np.zeros(len(x), dtype=bool) for au in labels}
    trainable = np.arange(len(x)) < (len(x) if train_rows is None else train_rows)
    for subject in np.unique(groups):
        train, test = (groups != subject) & trainable, np.flatnonzero(groups == subject)
        if folds is not None:
            folds.append((subject, np.flatnonzero(train)))
        mean, scale = standardiser(x[train])
        xs_train = (x[train] - mean) / scale
        xs_test = (x[test] - mean) / scale
        pairs = [(i, n) for i, n in neutral if groups[i] == subject]
        if pairs:
            if neutral_x is not None and neutral_groups is not None and (neutral_groups != subject).any():
                neutral_mean = np.asarray(neutral_x)[neutral_groups != subject].mean(axis=0)
            else:
                neutral_mean = x[train].mean(axis=0)
            xs_ref = np.array([(x[i] - n + neutral_mean - mean) / scale for i, n in pairs])
        for au, y in labels.items():
            y = np.asarray(y).astype(int)
            if y[train].min() == y[train].max():
                out[au][test] = bool(y[train][0])
                continue
            threshold, kappa = threshold_and_kappa(xs_train, y[train], groups[train], C)
            if not reliable(kappa):
                continue  # not measured: never present
            model = fit_au_model(xs_train, y[train], C)
            out[au][test] = model.predict_proba(xs_test)[:, 1] >= threshold
            if pairs:
                out_neutral[au][[i for i, _ in pairs]] = model.predict_proba(xs_ref)[:, 1] >= threshold
    return out, out_neutral


class LearnedAUSource(AUSource):
    """AUs from the MediaPipe mesh geometry by the learned per-AU models (see the module doc).

    ``neutral``: a neutral :class:`~xfer_keras.face.Face` of the same person (or its feature
    vector) used for every reading unless ``read`` is given one.
    """

    name = "blendshapes"
    needs_blendshapes = True
    scale = (0.0, 1.0)
    threshold = 0.5

    def __init__(self, params: Mapping | None = None, neutral=None, name: str = "blendshapes"):
        self.name = name
        self.params = dict(params) if params is not None else load_learned()
        self.feature_set = self.params.get("feature_set", DEFAULT_FEATURE_SET)
        self.thresholds = {int(k): float(v["threshold"]) for k, v in self.params["aus"].items()}
        self.neutral = None
        if neutral is not None:
            self.set_neutral(neutral)

    def features(self, face) -> np.ndarray:
        if isinstance(face, np.ndarray):
            return face.astype(np.float64)
        return features_of(face, self.feature_set)

    def set_neutral(self, neutral) -> None:
        """Read every later face against this neutral face (None: absolute readings again)."""
        self.neutral = None if neutral is None else self.features(neutral)

    def read(self, image=None, face=None, path=None, neutral=None) -> AUReading:
        if face is None:
            raise AUSourceError("the learned AU source needs a MediaPipe face "
                                "(LandmarkDetector(backend='mediapipe'))")
        reference = self.features(neutral) if neutral is not None else self.neutral
        values = learned_probabilities(self.features(face), self.params, reference)
        name = self.name if reference is None else self.name + " (neutral-referenced)"
        return AUReading(source=name, intensities=values, thresholds=dict(self.thresholds),
                         scale=self.scale, default_threshold=self.threshold)

    def describe(self) -> str:
        measured = ", ".join(f"AU{au}" for au in sorted(self.thresholds))
        return f"{self.name} (scale 0-1, per-AU thresholds; measures {measured})"
