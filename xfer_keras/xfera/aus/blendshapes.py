"""Offline Action Units from MediaPipe's 52 face blendshapes (no C++ build, no download).

Two documented mappings, both on a **0-1** scale (the default ``blendshapes`` source is the
learned mesh detector of :mod:`xfer_keras.xfera.aus.learned`, which reads them better):

* ``naive`` - each AU is the max over its blendshapes (and left/right) in :data:`NAIVE_MAPPING`,
  present at >= 0.2. Measured on CK+ peaks: mean F1 ~0.43-0.49; AU6 and AU9 never fire.
* ``calibrated`` (``blendshapes:calibrated``) - one logistic regression per AU on a few related blendshapes
  (:data:`CALIBRATION_FEATURES`), left/right merged by max; the intensity is the predicted
  probability that the AU is coded present, present at the AU's threshold (0.5). Fitted by
  ``scripts/au_agreement.py`` on the FACS codes of CK+ peak frames, validated leave-one-subject-out,
  and shipped as the constant in :mod:`xfer_keras.xfera.aus._calibration` (parameters only,
  never data).
  AUs the blendshapes cannot tell apart from chance (out-of-fold Cohen's kappa < 0.2: AU10 and
  AU26 on CK+) are not measured, so the narration never describes them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from xfer_keras.errors import AUSourceError, OptionError
from xfer_keras.xfera.aus.base import AUReading, AUSource

NAIVE_THRESHOLD = 0.2

#: AU -> blendshape base names (``Left``/``Right`` merged by max). The naive mapping.
NAIVE_MAPPING: dict[int, tuple[str, ...]] = {
    1: ("browInnerUp",), 2: ("browOuterUp",), 4: ("browDown",), 5: ("eyeWide",),
    6: ("cheekSquint",), 7: ("eyeSquint",), 9: ("noseSneer",), 10: ("mouthUpperUp",),
    12: ("mouthSmile",), 14: ("mouthDimple",), 15: ("mouthFrown",), 17: ("mouthShrugLower",),
    20: ("mouthStretch",), 23: ("mouthPress",), 24: ("mouthPress",), 25: ("jawOpen",),
    26: ("jawOpen",), 27: ("jawOpen",),
}

#: AU -> the few blendshapes its logistic regression sees (the first is the naive one).
CALIBRATION_FEATURES: dict[int, tuple[str, ...]] = {
    1: ("browInnerUp", "browOuterUp", "browDown"),
    2: ("browOuterUp", "browInnerUp"),
    4: ("browDown", "browInnerUp", "eyeSquint"),
    5: ("eyeWide", "eyeBlink", "browOuterUp"),
    6: ("cheekSquint", "eyeSquint", "mouthSmile", "eyeBlink"),
    7: ("eyeSquint", "eyeBlink", "browDown"),
    9: ("noseSneer", "mouthUpperUp", "browDown", "eyeSquint"),
    10: ("mouthUpperUp", "noseSneer"),
    12: ("mouthSmile", "cheekSquint"),
    14: ("mouthDimple", "mouthSmile", "mouthPress"),
    15: ("mouthFrown", "mouthShrugLower", "mouthStretch"),
    17: ("mouthShrugLower", "mouthShrugUpper", "mouthRollLower", "mouthPress", "jawOpen"),
    20: ("mouthStretch", "mouthLowerDown", "jawOpen"),
    23: ("mouthPress", "mouthRollLower", "mouthRollUpper", "mouthPucker", "jawOpen"),
    24: ("mouthPress", "mouthRollLower", "mouthShrugLower", "jawOpen"),
    25: ("jawOpen", "mouthLowerDown", "mouthUpperUp", "mouthClose"),
    26: ("jawOpen", "mouthLowerDown"),
    27: ("jawOpen", "eyeWide"),
}
MAPPINGS = ("calibrated", "naive")


def symmetric_features(blendshapes: Mapping[str, float]) -> dict[str, float]:
    """Merge ``xxxLeft``/``xxxRight`` into ``xxx`` (max); other names are kept as they are."""
    out: dict[str, float] = {}
    for name, value in blendshapes.items():
        value = float(value)
        base = name[:-4] if name.endswith("Left") else name[:-5] if name.endswith("Right") else name
        out[base] = max(out.get(base, -math.inf), value)
    return out


def naive_intensities(blendshapes: Mapping[str, float]) -> dict[int, float]:
    features = symmetric_features(blendshapes)
    return {au: max(features.get(n, 0.0) for n in names) for au, names in NAIVE_MAPPING.items()}


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def calibrated_intensities(blendshapes: Mapping[str, float], params: Mapping) -> dict[int, float]:
    """AU -> probability (0-1) from the fitted per-AU logistic regressions in ``params``."""
    features = symmetric_features(blendshapes)
    out = {}
    for key, model in params["aus"].items():
        x = np.array([features.get(n, 0.0) for n in model["features"]], dtype=np.float64)
        out[int(key)] = _sigmoid(float(np.dot(model["coef"], x) + model["intercept"]))
    return out


def load_calibration() -> dict:
    """The shipped calibration (a Python constant written by ``scripts/au_agreement.py``)."""
    from xfer_keras.xfera.aus._calibration import CALIBRATION

    return CALIBRATION


# --------------------------------------------------------------------------------------------
# fitting (used by scripts/au_agreement.py; needs scikit-learn)


def feature_matrix(rows: list[Mapping[str, float]], names: tuple[str, ...]) -> np.ndarray:
    symmetric = [symmetric_features(r) for r in rows]
    return np.array([[s.get(n, 0.0) for n in names] for s in symmetric], dtype=np.float64)


def fit_au_model(x: np.ndarray, y: np.ndarray, C: float = 1.0):
    from sklearn.linear_model import LogisticRegression

    # liblinear: single-threaded and ~40x faster than lbfgs on these tiny problems
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=2000).fit(x, y)


THRESHOLD_GRID = tuple(round(t, 2) for t in np.arange(0.2, 0.91, 0.05))
#: an AU is measured only if its out-of-fold predictions agree with the FACS codes better than
#: chance: Cohen's kappa at least 0.2 ("fair" agreement, Landis & Koch). Otherwise a rare AU's
#: F1-tuned threshold says "present" for most faces (AU10 on CK+: kappa 0.00, precision 0.04)
#: and the narration would describe a movement that is not there
MIN_KAPPA = 0.2


def cohen_kappa(y, pred) -> float:
    """Cohen's kappa of two 0/1 vectors (0 when chance agreement is total)."""
    y, pred = np.asarray(y) == 1, np.asarray(pred, bool)
    observed = float((y == pred).mean())
    chance = float(y.mean() * pred.mean() + (1 - y.mean()) * (1 - pred.mean()))
    return (observed - chance) / (1 - chance) if chance < 1 else 0.0


def threshold_and_kappa(x: np.ndarray, y: np.ndarray, groups, C: float = 1.0,
                        n_splits: int = 5) -> tuple[float, float]:
    """(probability threshold maximising F1 on out-of-fold predictions, Cohen's kappa of those
    predictions at it), with subject-grouped folds. Ties go to the threshold closest to 0.5;
    (0.5, nan) when there are too few subjects or positives to tell."""
    from sklearn.model_selection import GroupKFold

    groups = np.asarray(groups)
    n_splits = min(n_splits, len(np.unique(groups)))
    if n_splits < 2 or y.sum() < 2:
        return 0.5, math.nan
    oof = np.full(len(y), np.nan)
    for train, test in GroupKFold(n_splits=n_splits).split(x, y, groups):
        if y[train].min() == y[train].max():
            continue
        oof[test] = fit_au_model(x[train], y[train], C).predict_proba(x[test])[:, 1]
    ok = np.isfinite(oof)
    best, best_key = 0.5, None
    for t in THRESHOLD_GRID:
        pred = oof[ok] >= t
        tp = float((pred & (y[ok] == 1)).sum())
        f1 = 2 * tp / (pred.sum() + (y[ok] == 1).sum()) if tp else 0.0
        key = (round(f1, 6), -abs(t - 0.5))
        if best_key is None or key > best_key:
            best, best_key = float(t), key
    return best, cohen_kappa(y[ok], oof[ok] >= best)


def tune_threshold(x: np.ndarray, y: np.ndarray, groups, C: float = 1.0, n_splits: int = 5) -> float:
    """The threshold of :func:`threshold_and_kappa`."""
    return threshold_and_kappa(x, y, groups, C, n_splits)[0]


def reliable(kappa: float) -> bool:
    """Whether an AU whose out-of-fold kappa is ``kappa`` is worth measuring (:data:`MIN_KAPPA`);
    an AU too rare to tell (nan) is kept."""
    return math.isnan(kappa) or kappa >= MIN_KAPPA


def fit_calibration(rows: list[Mapping[str, float]], labels: Mapping[int, np.ndarray],
                    C: float = 1.0, threshold: float | None = None, groups=None,
                    note: str = "") -> dict:
    """Fit one logistic regression per AU (``labels``: AU -> (N,) 0/1) -> a params dict.

    ``threshold=None`` tunes each AU's threshold on subject-grouped out-of-fold predictions
    (needs ``groups``) and leaves out, under ``"unreliable"``, the AUs whose out-of-fold
    predictions agree with the codes little better than chance (kappa below :data:`MIN_KAPPA`;
    the source then does not measure them); a number fixes the threshold for every AU and keeps
    them all.
    """
    params = {"version": 1, "method": "logistic regression per AU (class-balanced, L2, "
              f"C={C}) on max(left, right) blendshapes; per-AU threshold tuned for F1 on "
              "subject-grouped out-of-fold predictions; AUs whose out-of-fold Cohen's kappa is "
              f"below {MIN_KAPPA} are not measured", "note": note, "aus": {},
              "unreliable": {}}
    for au, y in sorted(labels.items()):
        y = np.asarray(y).astype(int)
        if y.min() == y.max():
            continue
        names = CALIBRATION_FEATURES[au]
        x = feature_matrix(rows, names)
        if threshold is None and groups is not None:
            au_threshold, kappa = threshold_and_kappa(x, y, groups, C)
            if not reliable(kappa):
                params["unreliable"][str(au)] = {"oof_kappa": round(kappa, 4),
                                                 "n_positive": int(y.sum()), "n": int(len(y))}
                continue
        else:
            au_threshold = 0.5 if threshold is None else float(threshold)
        model = fit_au_model(x, y, C)
        params["aus"][str(au)] = {
            "features": list(names),
            "coef": [round(float(c), 6) for c in model.coef_[0]],
            "intercept": round(float(model.intercept_[0]), 6),
            "threshold": au_threshold,
            "n_positive": int(y.sum()),
            "n": int(len(y)),
        }
    return params


def loso_presence(rows, labels: Mapping[int, np.ndarray], groups, test_rows=None, test_groups=None,
                  C: float = 1.0, threshold: float | None = None) -> dict[int, np.ndarray]:
    """Leave-one-subject-out presence predictions of the calibrated mapping.

    Fits on ``rows`` of every subject but one and predicts that subject's ``test_rows`` (default:
    the same rows). ``threshold=None`` tunes it inside each training fold (nested, never on the
    held-out subject), and an AU :func:`fit_calibration` would leave out on the training fold
    is predicted absent there. Returns AU -> (N_test,) bool.
    """
    groups = np.asarray(groups)
    test_rows = rows if test_rows is None else test_rows
    test_groups = groups if test_groups is None else np.asarray(test_groups)
    out = {}
    for au, y in labels.items():
        y = np.asarray(y).astype(int)
        names = CALIBRATION_FEATURES[au]
        x, x_test = feature_matrix(rows, names), feature_matrix(test_rows, names)
        pred = np.zeros(len(test_rows), dtype=bool)
        for subject in np.unique(test_groups):
            train, test = groups != subject, test_groups == subject
            if y[train].min() == y[train].max():
                pred[test] = bool(y[train][0])
                continue
            if threshold is None:
                t, kappa = threshold_and_kappa(x[train], y[train], groups[train], C)
                if not reliable(kappa):
                    continue  # not measured: never present
            else:
                t = threshold
            model = fit_au_model(x[train], y[train], C)
            pred[test] = model.predict_proba(x_test[test])[:, 1] >= t
        out[au] = pred
    return out


class BlendshapeAUSource(AUSource):
    """AUs from ``Face.blendshapes`` (MediaPipe). ``mapping``: ``"calibrated"`` or ``"naive"``."""

    needs_blendshapes = True
    scale = (0.0, 1.0)

    def __init__(self, mapping: str = "calibrated", params: Mapping | None = None):
        if mapping not in MAPPINGS:
            raise OptionError(f"mapping must be one of {MAPPINGS}, got {mapping!r}")
        self.mapping = mapping
        self.name = f"blendshapes:{mapping}"
        if mapping == "calibrated":
            self.params = dict(params) if params is not None else load_calibration()
            self.thresholds = {int(k): float(v["threshold"]) for k, v in self.params["aus"].items()}
            self.threshold = 0.5
        else:
            self.params = None
            self.thresholds = {au: NAIVE_THRESHOLD for au in NAIVE_MAPPING}
            self.threshold = NAIVE_THRESHOLD

    def intensities(self, blendshapes: Mapping[str, float]) -> dict[int, float]:
        if self.mapping == "calibrated":
            return calibrated_intensities(blendshapes, self.params)
        return naive_intensities(blendshapes)

    def read(self, image=None, face=None, path=None, blendshapes=None) -> AUReading:
        if blendshapes is None:
            blendshapes = getattr(face, "blendshapes", None)
        if not blendshapes:
            raise AUSourceError(
                "the blendshape AU source needs a MediaPipe face with blendshapes "
                "(LandmarkDetector(backend='mediapipe'))"
            )
        values = self.intensities(blendshapes)
        return AUReading(source=self.name, intensities=values, thresholds=dict(self.thresholds),
                         scale=self.scale, default_threshold=self.threshold)
