"""Do the explanations point at the movements a FACS coder saw? Explanations against FACS codes.

The narration describes the *hot AUs*: AUs present on the AU source's scale whose landmarks are
heat-activated (at least ``activation_ratio`` of them hot, :mod:`fusion`). On frames with FACS
codes (the CK+ peaks), the codes say which AUs really moved, so each explanation gets

* ``focus_recall``: the share of the coded AUs (those with a landmark region) that are
  heat-activated - whether Grad-CAM looks at the moving parts, whatever the AU source says;
* ``focus_precision``: the share of heat-activated AUs that are coded (over the AUs with a
  landmark region that FACS codes);
* ``hot_precision``: the share of the hot AUs the narration names that are coded;
* ``typical_named``: the narration names at least one hot AU typical of the recognised emotion
  (otherwise the text says the result is uncertain, or that the focus was elsewhere);
* ``typical_coded_named``: one of those is also coded - the explanation names a real movement
  that supports the answer;
* ``text_typical_coded_named``: the whole text (the hot AUs and the matching AUs, present and
  typical, in focus or not) names a coded AU typical of the answer;
* ``text_named_precision``: the share of the AUs the whole text names that were coded.

:func:`summarise` averages them (NaN, where a share has no denominator, is left out), overall and
over the correctly recognised faces. ``benchmarks/explanation_agreement.py`` prints the table.
"""

from __future__ import annotations

import math

import numpy as np

from xfer_keras.xfera import facs

#: the AUs CK+'s FACS table codes (``ckplus_facs/ckplus_peak_facs_emotion.csv``' columns)
CKPLUS_CODED_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25,
                    26, 27)
FIELDS = ("focus_recall", "focus_precision", "hot_precision", "typical_named",
          "typical_coded_named", "text_typical_coded_named", "text_named_precision")


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def heat_activated_aus(explanation, universe=CKPLUS_CODED_AUS) -> set[int]:
    """AUs of ``universe`` (with a landmark region) whose landmarks are at least
    ``explanation.activation_ratio`` hot - the fusion's rule, for any AU, measured or not."""
    hot = explanation.hot_mask
    out = set()
    for au in universe:
        region = [i for i in facs.au_landmarks(au) if i < len(hot)]
        if region and hot[region].sum() >= len(region) * explanation.activation_ratio - 1e-9:
            out.add(au)
    return out


def agreement(explanation, coded_aus, universe=CKPLUS_CODED_AUS) -> dict:
    """The :data:`FIELDS` of one explanation against the AUs a FACS coder saw (``coded_aus``:
    integers or ``"AU06"`` labels), plus ``correct`` when the caller sets it."""
    with_region = {au for au in universe if facs.au_landmarks(au)}
    coded = {facs.parse_au(a) for a in coded_aus} & with_region
    activated = heat_activated_aus(explanation, with_region)
    hot = {facs.parse_au(a) for a in explanation.hot_aus}
    typical = {facs.parse_au(label) for label, e in explanation.aus.items() if e.get("expected")}
    named = hot | {facs.parse_au(a) for a in explanation.matching_aus}
    coded_any = {facs.parse_au(a) for a in coded_aus}
    return {
        "focus_recall": _share(len(coded & activated), len(coded)),
        "focus_precision": _share(len(coded & activated), len(activated)),
        "hot_precision": _share(len(hot & coded), len(hot)),
        "typical_named": float(bool(hot & typical)),
        "typical_coded_named": float(bool(hot & typical & coded)),
        "text_typical_coded_named": float(bool(named & typical & coded_any)),
        "text_named_precision": _share(len(named & coded_any), len(named)),
    }


def summarise(rows: list[dict]) -> dict:
    """Means of the :data:`FIELDS` over ``rows`` (NaNs left out) and over the rows with a true
    ``correct``; ``n`` and ``n_correct`` count them."""
    def means(subset):
        out = {}
        for name in FIELDS:
            values = np.array([r[name] for r in subset], dtype=float)
            values = values[~np.isnan(values)]
            out[name] = float(values.mean()) if len(values) else math.nan
        return out

    correct = [r for r in rows if r.get("correct")]
    return {"n": len(rows), "n_correct": len(correct), "all": means(rows),
            "correct": means(correct)}
