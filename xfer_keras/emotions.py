"""One emotion vocabulary for every dataset and model.

Canonical names are the nouns the papers use (``happiness``, not ``happy``). Every reader maps
its labels through :func:`canonical_emotion`, so "angry", "AN", "Anger" and CK+ code 1 all become
``"anger"``.
"""

from __future__ import annotations

from xfer_keras.errors import UnknownEmotionError

#: The six basic emotions of the landmark-sequence method (contempt dropped, as in the paper).
EMOTIONS6: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
#: The seven classes of the image model (XFERa): the six plus neutral, alphabetical.
EMOTIONS7: tuple[str, ...] = (
    "anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise",
)
ALL_EMOTIONS: tuple[str, ...] = EMOTIONS7 + ("contempt",)

_ALIASES: dict[str, str] = {
    "anger": "anger", "angry": "anger", "an": "anger",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "af": "fear", "scared": "fear",
    "happiness": "happiness", "happy": "happiness", "joy": "happiness", "ha": "happiness",
    "sadness": "sadness", "sad": "sadness", "sa": "sadness",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise",
    "neutral": "neutral", "neutrality": "neutral", "ne": "neutral",
    "contempt": "contempt",
}

#: Integer label tables of the public datasets.
CKPLUS_CODES = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear",
                5: "happiness", 6: "sadness", 7: "surprise"}
FER2013_CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness",
                 5: "surprise", 6: "neutral"}
RAFDB_CODES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happiness", 5: "sadness",
               6: "anger", 7: "neutral"}


def canonical_emotion(label: str) -> str:
    """Canonical emotion name of a dataset label (case and spacing ignored)."""
    key = str(label).strip().lower()
    if key not in _ALIASES:
        raise UnknownEmotionError(f"unknown emotion label {label!r}; known: {sorted(_ALIASES)}")
    return _ALIASES[key]
