"""The dev-set rule that picks the default model and its inference settings.

Every candidate is scored on the same posed dev sets (``scripts/choose_image_settings.py``): the
CK+ full-resolution frames through the whole pipeline (10 subjects, 160 photos, balanced
accuracy) and CK+48 crops of subjects no candidate trained on (48 subjects, model only, no
neutral class). Three steps:

1. **Settings, per model** (:func:`best_settings`): the framing and prior-correction power with
   the best CK+ full-res balanced accuracy; exact ties go to the smaller power (the least
   departure from what the model learned: more correction bought nothing on the one dev set
   with neutral faces), then to CK+48. CK+48 does not break the power ties: it has no neutral
   faces, so it would always reward the stronger correction, which costs on faces with the
   training mix.
2. **Model** (:func:`choose_model`, the incumbent first): CK+ full-res first, but a difference
   no larger than one photo can make (:func:`one_photo_margin`, the weight of one photo of the
   smallest class) is a tie. Ties go to CK+48, which has almost five times the subjects, but a
   challenger tied with the incumbent replaces it only when its CK+48 gain holds when the
   subjects are resampled (:func:`subject_bootstrap_gain`: the 95 % interval lies above 0). On
   10 and 48 subjects a photo or a few crops either way are noise, and a rule that picks by
   them swaps models for nothing.
3. **A tie on both posed sets** (:func:`break_posed_tie`; the CK+48 interval holds 0): the
   posed sets cannot tell the two apart, so evidence they do not hold decides. The challenger
   replaces the incumbent only if it is better beyond noise on the in-domain validation split
   on every head both models have that answers differently (:func:`paired_bootstrap_gain` over
   the images: the 95 % interval lies above 0; the heads' own probabilities, no prior
   correction; a head right on exactly the same images, e.g. one left as it was while another
   was refitted, has nothing to gain; at least one head must change), keeps the
   incumbent's mean balanced accuracy over the capture changes of the CK+ dev photos
   (:mod:`xfer_keras.evaluation.capture_shifts`) to within one photo (the margin of step 2: the
   changed photos are the same photos), and its Grad-CAM still meets the localisation goals.
"""

from __future__ import annotations

import numpy as np


def _full(row: dict) -> float:
    return row["ckplus_fullres"]["balanced_accuracy"]


def _ck48(row: dict) -> float:
    return row["ckplus48"]["balanced_accuracy"]


def one_photo_margin(labels) -> float:
    """The most balanced accuracy one photo can change: ``1 / (K * n)`` for the smallest class
    (``n`` photos; ``K`` classes present)."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    if len(counts) == 0:
        raise ValueError("no labels")
    return float(1.0 / (len(counts) * counts.min()))


def _tied_on_full_res(candidates: list[dict], margin: float) -> list[dict]:
    """The candidates within ``margin`` of the best CK+ full-res balanced accuracy."""
    top = max(_full(r) for r in candidates)
    return [r for r in candidates if _full(r) >= top - margin - 1e-12]


def best_settings(rows: list[dict]) -> dict:
    """One model's best row: CK+ full-res balanced accuracy; exact ties to the smaller prior
    power (``"power"``), then to CK+48, then to the earlier row."""
    if not rows:
        raise ValueError("no rows")
    return max(rows, key=lambda r: (_full(r), -r["power"], _ck48(r)))


def subject_bootstrap_gain(labels, pred_new, pred_old, subjects, n: int = 2000,
                           seed: int = 0) -> tuple[float, float]:
    """95 % interval of ``balanced_accuracy(pred_new) - balanced_accuracy(pred_old)`` when the
    subjects (not the crops: a subject's crops are not independent) are drawn with
    replacement ``n`` times."""
    from xfer_keras.evaluation.dev_sets import balanced_accuracy

    labels, subjects = np.asarray(labels), np.asarray(subjects)
    pred_new, pred_old = np.asarray(pred_new), np.asarray(pred_old)
    if not len(labels) == len(pred_new) == len(pred_old) == len(subjects) > 0:
        raise ValueError("labels, predictions and subjects must have the same non-zero length")
    names = np.unique(subjects)
    rows = [np.flatnonzero(subjects == name) for name in names]
    rng = np.random.default_rng(seed)
    gains = []
    for _ in range(n):
        pick = np.concatenate([rows[i] for i in rng.integers(0, len(names), len(names))])
        gains.append(balanced_accuracy(labels[pick], pred_new[pick])
                     - balanced_accuracy(labels[pick], pred_old[pick]))
    low, high = np.percentile(gains, [2.5, 97.5])
    return float(low), float(high)


def choose_model(candidates: list[dict], margin: float, ck48_labels=None,
                 ck48_subjects=None) -> dict:
    """The chosen row among each model's best row (``candidates``, the incumbent first): those
    within ``margin`` of the best CK+ full-res balanced accuracy tie, and the best CK+48 balanced
    accuracy among them wins (then CK+ full-res; then the earlier model). When the incumbent is
    among the tied, a challenger must also beat it on CK+48 beyond subject noise
    (:func:`subject_bootstrap_gain` on the rows' ``"ckplus48_pred"``, given ``ck48_labels`` and
    ``ck48_subjects``); the returned row records the interval as ``"ckplus48_gain_interval"``."""
    if not candidates:
        raise ValueError("no candidates")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    tied = _tied_on_full_res(candidates, margin)
    best = max(tied, key=lambda r: (_ck48(r), _full(r)))
    incumbent = candidates[0]
    if best is incumbent or not any(r is incumbent for r in tied) or ck48_labels is None:
        return best
    low, high = subject_bootstrap_gain(ck48_labels, best["ckplus48_pred"],
                                       incumbent["ckplus48_pred"], ck48_subjects)
    chosen = best if low > 0 else incumbent
    return dict(chosen, ckplus48_gain_interval=[low, high], challenger=best["model"])


def posed_tie_challengers(candidates: list[dict], margin: float, ck48_labels,
                          ck48_subjects) -> list[tuple[dict, list]]:
    """The challengers (``candidates[1:]``) tied with the incumbent (``candidates[0]``) on both
    posed sets, each with its CK+48 gain interval: CK+ full-res within ``margin`` of the best of
    all (the incumbent among those too) and a CK+48 balanced accuracy difference whose 95 %
    interval over resampled subjects (:func:`subject_bootstrap_gain`) holds 0. Empty when the
    incumbent is not tied for the best CK+ full-res."""
    if not candidates:
        raise ValueError("no candidates")
    incumbent, tied = candidates[0], _tied_on_full_res(candidates, margin)
    if not any(r is incumbent for r in tied):
        return []
    ties = []
    for row in tied:
        if row is incumbent:
            continue
        low, high = subject_bootstrap_gain(ck48_labels, row["ckplus48_pred"],
                                           incumbent["ckplus48_pred"], ck48_subjects)
        if low <= 0 <= high:
            ties.append((row, [low, high]))
    return ties


def paired_bootstrap_gain(correct_new, correct_old, n: int = 2000,
                          seed: int = 0) -> tuple[float, float]:
    """95 % interval of ``mean(correct_new) - mean(correct_old)`` when the items (the same for
    both models, so the draws are paired) are drawn with replacement ``n`` times."""
    new = np.asarray(correct_new, np.float64)
    old = np.asarray(correct_old, np.float64)
    if not new.shape == old.shape or new.ndim != 1 or len(new) == 0:
        raise ValueError("correct_new and correct_old must be 1-D, of the same non-zero length")
    diff = new - old
    rng = np.random.default_rng(seed)
    gains = diff[rng.integers(0, len(diff), (n, len(diff)))].mean(axis=1)
    low, high = np.percentile(gains, [2.5, 97.5])
    return float(low), float(high)


def break_posed_tie(incumbent: dict, challenger: dict, capture_margin: float = 0.0) -> dict:
    """Step 3 of the rule for two models tied on both posed dev sets. Each side is a dict of
    evidence: ``"validation"`` (head name -> per-image correctness on the validation split,
    uncorrected), ``"capture_balanced"`` (mean balanced accuracy over the capture changes) and
    ``"gradcam_meets_goals"`` (bool). A capture loss up to ``capture_margin`` (the chooser's:
    :func:`one_photo_margin`) is a tie. Returns ``{"replace": bool,
    "validation_gain_intervals": {head: [low, high]}, "capture_balanced": [challenger,
    incumbent], "capture_margin": float, "reasons": [...]}``, the reasons naming every
    condition the challenger fails (empty when it replaces).

    Every head that answers differently must gain beyond noise; a head right and wrong on exactly
    the same images in both (e.g. the same weights, when only an extra head was refitted:
    ``train_default_model.py --fit-head``) has nothing to gain and is listed in ``"unchanged"``;
    at least one head must change."""
    import numpy as np

    heads = [h for h in challenger["validation"] if h in incumbent["validation"]]
    if not heads:
        raise ValueError("the two models share no validated head")
    intervals = {h: list(paired_bootstrap_gain(challenger["validation"][h],
                                               incumbent["validation"][h])) for h in heads}
    unchanged = [h for h in heads if np.array_equal(np.asarray(challenger["validation"][h]),
                                                    np.asarray(incumbent["validation"][h]))]
    reasons = [f"validation gain of head {h!r} not beyond noise ({low:+.4f}, {high:+.4f})"
               for h, (low, high) in intervals.items() if low <= 0 and h not in unchanged]
    if len(unchanged) == len(heads):
        reasons.append("every head is right on the same validation images: nothing gained")
    capture = [float(challenger["capture_balanced"]), float(incumbent["capture_balanced"])]
    if capture_margin < 0:
        raise ValueError(f"capture_margin must be >= 0, got {capture_margin}")
    if capture[0] < capture[1] - capture_margin - 1e-12:
        reasons.append(f"less robust to capture changes ({capture[0]:.4f} < {capture[1]:.4f}, "
                       f"beyond {capture_margin:.4f})")
    if not challenger["gradcam_meets_goals"]:
        reasons.append("its Grad-CAM misses the localisation goals")
    return {"replace": not reasons, "validation_gain_intervals": intervals, "unchanged": unchanged,
            "capture_balanced": capture, "capture_margin": float(capture_margin),
            "reasons": reasons}
