"""FACS knowledge in one place: Action Unit names, plain-language descriptions, the XFERa paper's
Table 2 (AU -> 68-landmark indices) and emotion -> AU prototypes (with their variants).

Indices: the paper counts the 68 iBUG/dlib landmarks from **1**; the code counts from **0**.
:data:`TABLE2_1BASED` is the paper's table verbatim; :data:`AU_LANDMARKS` is the same table
converted once (``index - 1``) and is what every other module uses.

AU identifiers are ints (``6``); :func:`au_label` formats them as in the paper's Figure 1
(``"AU06"``) and :func:`parse_au` reads ``"AU06"``, ``"AU6"``, ``"6"``, ``" AU06_r"`` back.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from xfer_keras.emotions import canonical_emotion

#: FACS names of the Action Units used by the sources and prototypes.
AU_NAMES: dict[int, str] = {
    1: "Inner brow raiser", 2: "Outer brow raiser", 4: "Brow lowerer", 5: "Upper lid raiser",
    6: "Cheek raiser", 7: "Lid tightener", 9: "Nose wrinkler", 10: "Upper lip raiser",
    11: "Nasolabial deepener", 12: "Lip corner puller", 14: "Dimpler",
    15: "Lip corner depressor", 16: "Lower lip depressor", 17: "Chin raiser",
    18: "Lip pucker", 20: "Lip stretcher", 22: "Lip funneler", 23: "Lip tightener",
    24: "Lip pressor", 25: "Lips part", 26: "Jaw drop", 27: "Mouth stretch",
    28: "Lip suck", 43: "Eyes closed", 45: "Blink",
}

#: Plain-language descriptions (noun phrases) for non-expert readers; Figure 1 of the paper uses
#: "the lifting of the cheek" (AU6) and "the pulling of the lip corner" (AU12).
AU_DESCRIPTIONS: dict[int, str] = {
    1: "the raising of the inner eyebrows",
    2: "the raising of the outer eyebrows",
    4: "the lowering and drawing together of the eyebrows",
    5: "the widening of the upper eyelids",
    6: "the lifting of the cheek",
    7: "the tightening of the eyelids",
    9: "the wrinkling of the nose",
    10: "the raising of the upper lip",
    11: "the deepening of the lines beside the nose",
    12: "the pulling of the lip corner",
    14: "the dimpling of the cheeks beside the mouth",
    15: "the pulling down of the lip corners",
    16: "the lowering of the lower lip",
    17: "the raising of the chin",
    18: "the puckering of the lips",
    20: "the stretching of the lips sideways",
    22: "the funnelling of the lips",
    23: "the tightening of the lips",
    24: "the pressing together of the lips",
    25: "the parting of the lips",
    26: "the dropping of the jaw",
    27: "the wide stretching of the mouth",
    28: "the sucking in of the lips",
    43: "the closing of the eyes",
    45: "the blinking of the eyes",
}

_BROWS = (18, 19, 20, 21, 22, 23, 24, 25, 26, 27)
_EYES_UPPER = (37, 38, 39, 40, 43, 44, 45, 46)
_MOUTH_ALL = tuple(range(49, 69))
_MOUTH_OPEN = (49, 50, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68)
_LIP_CORNERS = (49, 50, 54, 55, 56, 61, 60, 65)

#: The paper's Table 2, verbatim: emotion -> AU -> landmark indices **counted from 1**.
TABLE2_1BASED: dict[str, dict[int, tuple[int, ...]]] = {
    "anger": {
        4: _BROWS + (28, 29),
        5: _EYES_UPPER,
        7: _BROWS + tuple(range(37, 49)),
        23: _MOUTH_ALL,
    },
    "disgust": {
        9: (28, 29, 30, 31, 32, 33, 34, 35, 36),
        15: _LIP_CORNERS,
        17: (8, 9, 10, 56, 57, 58, 59, 60),
    },
    "fear": {
        1: _BROWS,
        2: _BROWS,
        4: _BROWS + (28, 29),
        5: _EYES_UPPER,
        7: _BROWS + tuple(range(37, 49)),
        20: (7, 8, 9, 10, 11, 49, 55, 56, 57, 58, 59, 60),
        26: _MOUTH_OPEN,
    },
    "happiness": {
        6: (37, 40, 41, 42, 43, 46, 47, 48),
        12: _MOUTH_ALL,
    },
    "sadness": {
        1: _BROWS,
        4: _BROWS + (28, 29),
        15: _LIP_CORNERS,
    },
    "surprise": {
        1: _BROWS,
        2: _BROWS,
        5: _EYES_UPPER,
        26: _MOUTH_OPEN,
    },
}


def _to_zero_based(table: dict[str, dict[int, tuple[int, ...]]]) -> dict[int, tuple[int, ...]]:
    out: dict[int, tuple[int, ...]] = {}
    for per_emotion in table.values():
        for au, indices in per_emotion.items():
            zero = tuple(sorted(i - 1 for i in indices))
            if au in out and out[au] != zero:  # the paper lists each AU with one landmark set
                raise AssertionError(f"AU{au} has two landmark sets in Table 2")
            out[au] = zero
    return out


#: Table 2 converted once to **0-based** landmark indices: AU -> sorted tuple.
AU_LANDMARKS_TABLE2: dict[int, tuple[int, ...]] = _to_zero_based(TABLE2_1BASED)

#: Landmark sets (0-based) for AUs the emotion prototypes use but Table 2 does not list. These
#: are **ours**, not the paper's: the iBUG-68 regions of the moving features.
AU_LANDMARKS_EXTRA: dict[int, tuple[int, ...]] = {
    10: tuple(i - 1 for i in (32, 33, 34, 35, 36, 49, 50, 51, 52, 53, 54, 55, 62, 63, 64)),
    11: tuple(i - 1 for i in (32, 36, 49, 55)),
    14: tuple(i - 1 for i in (49, 55, 61, 65)),
    16: tuple(i - 1 for i in (55, 56, 57, 58, 59, 60, 49, 66, 67, 68)),
    18: tuple(i - 1 for i in _MOUTH_ALL),
    22: tuple(i - 1 for i in _MOUTH_ALL),
    24: tuple(i - 1 for i in _MOUTH_ALL),
    25: tuple(i - 1 for i in (61, 62, 63, 64, 65, 66, 67, 68)),
    27: tuple(i - 1 for i in (7, 8, 9, 10, 11) + _MOUTH_OPEN),
}

#: AU -> 0-based landmark indices used by fusion: Table 2 first, then our extension.
AU_LANDMARKS: dict[int, tuple[int, ...]] = {
    **{au: tuple(sorted(v)) for au, v in AU_LANDMARKS_EXTRA.items()},
    **AU_LANDMARKS_TABLE2,
}

#: The AUs Table 2 associates with each emotion (Algorithm 1, line 5). Neutral has none.
TABLE2_AUS: dict[str, tuple[int, ...]] = {
    emotion: tuple(sorted(aus)) for emotion, aus in TABLE2_1BASED.items()
} | {"neutral": ()}


def _expand(*groups: int | tuple[int, ...]) -> list[frozenset[int]]:
    """``_expand(4, 5, (25, 26))`` -> [{4,5,25}, {4,5,26}] (a tuple is "one of")."""
    choices = [g if isinstance(g, tuple) else (g,) for g in groups]
    return [frozenset(c) for c in itertools.product(*choices)]


#: Emotion -> prototype AU combinations (EMFACS-style), each variant a frozenset. Anger has six
#: groups, as the paper describes, from the full expression (AU4+5+7+10+22+23+25/26) down to
#: restrained anger (AU17+AU24). "X/Y" alternatives are expanded into separate variants.
EMOTION_PROTOTYPES: dict[str, list[frozenset[int]]] = {
    "anger": (
        _expand(4, 5, 7, 10, 22, 23, (25, 26))
        + _expand(4, 5, 7, 10, 23, (25, 26))
        + _expand(4, 5, 7, 17, (23, 24))
        + _expand(4, 5, 7, (23, 24))
        + _expand(4, (5, 7))
        + _expand(17, 24)
    ),
    "disgust": (
        _expand(9) + _expand(9, 16, 15, 26) + _expand(9, 17) + _expand(10)
        + _expand(10, 16, (25, 26)) + _expand(10, 17) + _expand(9, 10, 17)
    ),
    "fear": (
        _expand(1, 2, 4) + _expand(1, 2, 4, 5, 20, (25, 26, 27)) + _expand(1, 2, 4, 5, (25, 26, 27))
        + _expand(1, 2, 4, 5) + _expand(1, 2, 5, (25, 26, 27)) + _expand(5, 20, (25, 26, 27))
        + _expand(5, 20) + _expand(20)
    ),
    "happiness": _expand(12) + _expand(6, 12),
    "sadness": (
        _expand(1, 4) + _expand(1, 4, (11, 15)) + _expand(1, 4, 15, 17) + _expand(6, 15)
        + _expand(11, 17) + _expand(1)
    ),
    "surprise": (
        _expand(1, 2, 5, (26, 27)) + _expand(1, 2, 5) + _expand(1, 2, (26, 27)) + _expand(5, (26, 27))
    ),
    "neutral": [frozenset()],
}


def au_label(au: int) -> str:
    """``6 -> "AU06"`` (the paper's Figure 1 spelling)."""
    return f"AU{int(au):02d}"


_AU_RE = re.compile(r"^\s*(?:AU)?\s*0*(\d+)(?:_[rc])?\s*$", re.IGNORECASE)


def parse_au(value: int | str) -> int:
    """``"AU06"``, ``"AU6"``, ``" AU06_r"``, ``"6"`` or ``6`` -> ``6``."""
    if isinstance(value, int):
        return value
    match = _AU_RE.match(str(value))
    if not match:
        raise ValueError(f"not an Action Unit: {value!r}")
    return int(match.group(1))


def describe_au(au: int) -> str:
    """Plain-language description of one AU (falls back to its FACS name)."""
    au = parse_au(au)
    if au in AU_DESCRIPTIONS:
        return AU_DESCRIPTIONS[au]
    return AU_NAMES.get(au, f"action unit {au}").lower()


def au_landmarks(au: int) -> tuple[int, ...]:
    """0-based landmark indices of one AU (``()`` when no region is known)."""
    return AU_LANDMARKS.get(parse_au(au), ())


def expected_aus(emotion: str) -> tuple[int, ...]:
    """All AUs any prototype of ``emotion`` uses, plus its Table 2 AUs (sorted)."""
    emotion = canonical_emotion(emotion)
    aus = set(TABLE2_AUS.get(emotion, ()))
    for variant in EMOTION_PROTOTYPES.get(emotion, []):
        aus |= variant
    return tuple(sorted(aus))


@dataclass(frozen=True)
class PrototypeMatch:
    """The prototype variant that best explains a set of present AUs."""

    emotion: str
    variant: tuple[int, ...]     # the chosen prototype's AUs (sorted)
    matching: tuple[int, ...]    # variant AUs that are present
    missing: tuple[int, ...]     # variant AUs that are absent
    coverage: float              # |matching| / |variant| (1.0 for neutral with no AUs)


def match_prototype(emotion: str, present_aus, measured_aus=None) -> PrototypeMatch:
    """Best prototype variant of ``emotion`` given the AUs found present.

    Ranking: most matching AUs, then highest coverage, then the smaller variant (fewest missing).
    For neutral the "variant" is empty, matching/missing are empty and coverage is 1.
    ``measured_aus`` (the AUs the source can measure; None: all): each variant keeps only
    those, so an AU the source cannot measure is never called missing nor typical; an emotion
    none of whose AUs are measured gets an empty variant and coverage 0.
    """
    emotion = canonical_emotion(emotion)
    present = {parse_au(a) for a in present_aus}
    variants = EMOTION_PROTOTYPES.get(emotion) or [frozenset(TABLE2_AUS.get(emotion, ()))]
    unmeasurable = False
    if measured_aus is not None:
        measured = {parse_au(a) for a in measured_aus}
        kept = list(dict.fromkeys(frozenset(v & measured) for v in variants if v & measured))
        unmeasurable = not kept and any(variants)
        variants = kept or [frozenset()]

    def key(variant: frozenset[int]):
        hit = len(variant & present)
        cover = hit / len(variant) if variant else 1.0
        return (hit, cover, -len(variant), tuple(sorted(variant)))

    best = max(variants, key=key)
    matching = tuple(sorted(best & present))
    missing = tuple(sorted(best - present))
    coverage = len(matching) / len(best) if best else (0.0 if unmeasurable else 1.0)
    return PrototypeMatch(emotion, tuple(sorted(best)), matching, missing, coverage)
