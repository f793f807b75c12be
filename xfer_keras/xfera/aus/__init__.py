"""Action Unit sources behind one interface (:class:`AUSource` -> :class:`AUReading`).

``make_au_source(spec)`` builds one from the CLI spelling:

* ``"blendshapes"`` (default; offline): the learned detector on the MediaPipe mesh geometry
  (:mod:`~xfer_keras.xfera.aus.learned`; also spelled ``"blendshapes:learned"``);
  ``"blendshapes:calibrated"`` (logistic regressions on a few blendshapes) or
  ``"blendshapes:naive"`` (thresholds on blendshapes);
* ``"openface:PATH"`` - OpenFace CSV (one file, or a folder of ``<image stem>.csv``);
* ``"openface"`` - run OpenFace's ``FeatureExtraction`` (must be on PATH or ``$XFER_OPENFACE_BIN``).
"""

from __future__ import annotations

from xfer_keras.errors import AUSourceError, OptionError
from xfer_keras.xfera.aus.base import AUReading, AUSource
from xfer_keras.xfera.aus.blendshapes import BlendshapeAUSource
from xfer_keras.xfera.aus.learned import LearnedAUSource
from xfer_keras.xfera.aus.openface import (
    OPENFACE_THRESHOLD,
    OpenFaceBinarySource,
    OpenFaceCSVSource,
    read_openface_csv,
    reading_from_csv,
    run_feature_extraction,
)

__all__ = [
    "AUReading", "AUSource", "AUSourceError", "BlendshapeAUSource", "LearnedAUSource", "OpenFaceCSVSource",
    "OpenFaceBinarySource", "OPENFACE_THRESHOLD", "read_openface_csv", "reading_from_csv",
    "run_feature_extraction", "make_au_source",
]


def make_au_source(spec: str | AUSource | None = "blendshapes") -> AUSource:
    """AU source from a spec string (see the module doc) or pass an :class:`AUSource` through."""
    if isinstance(spec, AUSource):
        return spec
    spec = (spec or "blendshapes").strip()
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if kind == "blendshapes":
        mapping = (arg or "learned").lower()
        if mapping == "learned":
            return LearnedAUSource(name="blendshapes" if not arg else "blendshapes:learned")
        return BlendshapeAUSource(mapping=mapping)
    if kind == "openface":
        return OpenFaceCSVSource(arg) if arg else OpenFaceBinarySource()
    raise OptionError(f"unknown AU source {spec!r}: use blendshapes[:learned|:calibrated|:naive], "
                      "openface:CSV or openface")
