"""Typed errors: bad input fails here with a clear message, never deep inside TensorFlow.

Every error names the offending file (or array) so a batch job can report one line per item.
"""

from __future__ import annotations


class XferError(Exception):
    """Base class of every error xfer-keras raises on purpose."""


class ImageReadError(XferError, OSError):
    """A file is missing, unreadable, or not an image we can decode."""


class NoFaceError(XferError):
    """No face was found in an image."""


class MultipleFacesError(XferError):
    """Several faces were found and the policy asks for exactly one."""


class ModelFileError(XferError, OSError):
    """A model file is missing, corrupt (checksum mismatch) or cannot be downloaded."""


class DataNotFoundError(XferError, FileNotFoundError):
    """A dataset is not where ``XFER_DATA_DIR`` (or the given root) says it is."""


class InputShapeError(XferError, ValueError):
    """An array has the wrong rank, shape or dtype for the call."""


class MissingColumnsError(XferError, ValueError):
    """A table (CSV) lacks columns the reader needs."""


class VideoReadError(XferError, OSError):
    """A video (or a folder of frames) is missing, corrupt, truncated, or has no frame to read."""


class ClipTooShortError(XferError, ValueError):
    """A clip (or the chosen stretch) has fewer frames with a face than the nets need."""


class UnknownEmotionError(XferError, ValueError):
    """A label that no dataset convention we know maps to an emotion."""


class AUSourceError(XferError):
    """An AU source cannot produce a reading (no OpenFace binary, no blendshapes, bad CSV...)."""


class CKPlusFormatError(XferError, ValueError):
    """A CK+ file exists but its content is not what the format says."""


class OptionError(XferError, ValueError):
    """An option names something we do not know (an AU source, a narrator, a face policy...)."""


class UploadError(XferError, ValueError):
    """The web app refuses an upload before reading it; ``status`` is the HTTP answer (400 empty
    or missing, 413 too large, 415 not a kind we read)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
