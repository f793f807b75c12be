"""Uploaded files, checked before anything reads them: size, kind (by content, never by the
client's name) and a safe place on disk.

The client's file name is only ever shown back to the user (:func:`display_name`); the bytes go
to a name this module makes up, inside a temporary folder that is deleted after the request
(:func:`upload_folder`).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from xfer_keras.errors import UploadError

#: image formats by their first bytes -> the suffix the decoder expects
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"GIF87a", ".gif"),
    (b"GIF89a", ".gif"),
    (b"BM", ".bmp"),
    (b"II*\x00", ".tif"),
    (b"MM\x00*", ".tif"),
)
#: the image formats a user is told we read
IMAGE_KINDS = "PNG, JPEG, WebP, GIF, BMP or TIFF"
VIDEO_KINDS = "MP4, MOV, AVI, WebM or MKV"


@dataclass(frozen=True)
class Limits:
    """What one request may upload. The defaults: 20 MB per photo, 200 MB and 120 s per clip."""

    photo_mb: float = 20.0
    clip_mb: float = 200.0
    clip_seconds: float = 120.0
    max_files: int = 16

    @property
    def request_bytes(self) -> int:
        """The largest body a request may send (one clip, or photos up to the same total)."""
        return int(max(self.clip_mb, self.photo_mb) * 1e6) + 64 * 1024  # + multipart framing


def sniff_kind(data: bytes) -> tuple[str, str] | None:
    """``("image" | "video", suffix)`` from the first bytes of a file, or None."""
    for signature, suffix in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return "image", suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image", ".webp"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "video", ".avi"
    if data[4:8] == b"ftyp":
        return "video", ".mov" if data[8:10] == b"qt" else ".mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska and WebM
        return "video", ".webm" if b"webm" in data[:64] else ".mkv"
    return None


def display_name(client_name: str | None, index: int) -> str:
    """The client's file name reduced to a harmless label (its last part, plain characters)."""
    base = re.split(r"[\\/]", client_name or "")[-1]
    label = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")[:80]
    return label or f"upload{index + 1}"


def check_upload(data: bytes, name: str, limits: Limits) -> tuple[str, str]:
    """``(kind, suffix)`` of one uploaded file, or UploadError with a one-line reason."""
    if not data:
        raise UploadError(f"{name}: the file is empty", status=400)
    found = sniff_kind(data[:64])
    if found is None:
        raise UploadError(f"{name}: not an image ({IMAGE_KINDS}) or a video ({VIDEO_KINDS})",
                          status=415)
    kind, suffix = found
    limit = limits.photo_mb if kind == "image" else limits.clip_mb
    if len(data) > limit * 1e6:
        raise UploadError(f"{name}: {len(data) / 1e6:.1f} MB is more than the {limit:g} MB "
                          f"allowed per {'photo' if kind == 'image' else 'clip'}", status=413)
    return kind, suffix


@contextlib.contextmanager
def upload_folder():
    """A private temporary folder for one request's files, deleted afterwards whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix="xfer-serve-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def save_upload(folder: Path, index: int, data: bytes, suffix: str) -> Path:
    """Write ``data`` to a name made here (``upload<k><suffix>``), never the client's."""
    path = folder / f"upload{index}{suffix}"
    path.write_bytes(data)
    return path
