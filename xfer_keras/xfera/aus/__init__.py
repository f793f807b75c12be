"""Action Unit sources behind one interface (:class:`AUSource` -> :class:`AUReading`).

``make_au_source(spec)`` builds one from the CLI spelling:

* ``"blendshapes"`` (default; offline, calibrated) or ``"blendshapes:naive"``;
* ``"openface:PATH"`` - OpenFace CSV (one file, or a folder of ``<image stem>.csv``);
* ``"openface"`` - run OpenFace's ``FeatureExtraction`` (must be on PATH or ``$XFER_OPENFACE_BIN``).
"""

from __future__ import annotations

from xfer_keras.errors import AUSourceError, OptionError
from xfer_keras.xfera.aus.base import AUReading, AUSource
from xfer_keras.xfera.aus.blendshapes import BlendshapeAUSource
from xfer_keras.xfera.aus.openface import (
    OPENFACE_THRESHOLD,
    OpenFaceBinarySource,
    OpenFaceCSVSource,
    read_openface_csv,
    reading_from_csv,
    run_feature_extraction,
)

__all__ = [
    "AUReading", "AUSource", "AUSourceError", "BlendshapeAUSource", "OpenFaceCSVSource",
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
        return BlendshapeAUSource(mapping=arg or "calibrated")
    if kind == "openface":
        return OpenFaceCSVSource(arg) if arg else OpenFaceBinarySource()
    raise OptionError(f"unknown AU source {spec!r}: use blendshapes[:naive], openface:CSV or openface")
