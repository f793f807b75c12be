"""Image input: one function turns every accepted kind of image into uint8 RGB ``(H, W, 3)``.

Accepted inputs (``load_image``):

* a path (``str`` or ``os.PathLike``) to any file Pillow decodes (PNG, JPEG, TIFF, BMP, ...);
  the EXIF orientation is applied, 16-bit files are scaled to 8 bits, alpha is dropped;
* a numpy array:

  - gray ``(H, W)`` or ``(H, W, 1)`` -> repeated to 3 channels;
  - RGB ``(H, W, 3)``; RGBA ``(H, W, 4)`` -> alpha dropped (not composited);
  - dtype ``uint8`` (used as is), ``uint16`` (scaled by 255/65535), ``bool`` (0/255),
    other integer types holding values in [0, 255], or float in [0, 1] (scaled by 255 and
    rounded; a float array with values above 1 is refused: divide it by 255 first);
  - channel order is taken to be RGB (an OpenCV BGR array must be converted by the caller);

* a ``PIL.Image.Image`` in any mode.

Errors: a missing/unreadable/undecodable file raises :class:`~xfer_keras.errors.ImageReadError`
whose message starts with the file name; an array of the wrong shape or dtype raises
:class:`~xfer_keras.errors.InputShapeError`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xfer_keras.errors import ImageReadError, InputShapeError

__all__ = ["load_image", "describe_source", "to_gray"]


def describe_source(src, source: str | None = None) -> str:
    """A short name for error messages: the file path, or the array's shape."""
    if source is not None:
        return str(source)
    if isinstance(src, (str, os.PathLike)):
        return str(src)
    if isinstance(src, np.ndarray):
        return f"<array {'x'.join(map(str, src.shape))} {src.dtype}>"
    filename = getattr(src, "filename", None)  # PIL images opened from a file keep it
    if filename:
        return str(filename)
    return f"<{type(src).__name__}>"


def load_image(src, source: str | None = None) -> np.ndarray:
    """Read ``src`` (path, numpy array or PIL image) as a C-contiguous uint8 RGB ``(H, W, 3)``.

    ``source`` overrides the name used in error messages (default: the path or array shape).
    """
    name = describe_source(src, source)
    if isinstance(src, (str, os.PathLike)):
        return _read_file(Path(src), name)
    if isinstance(src, np.ndarray):
        return _from_array(src, name)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a hard requirement
        Image = None
    if Image is not None and isinstance(src, Image.Image):
        return _from_pil(src, name)
    raise InputShapeError(
        f"{name}: cannot read an image from {type(src).__name__}; "
        "pass a file path, a numpy array or a PIL image"
    )


def _read_file(path: Path, name: str) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not path.exists():
        raise ImageReadError(f"{name}: file not found")
    if path.is_dir():
        raise ImageReadError(f"{name}: is a folder, not an image file")
    try:
        with Image.open(path) as pil:
            pil.load()
            try:
                pil = ImageOps.exif_transpose(pil)
            except Exception:  # a broken EXIF block must not make a readable image unreadable
                pass
            return _from_pil(pil, name)
    except UnidentifiedImageError:
        raise ImageReadError(f"{name}: not an image Pillow can decode") from None
    except Image.DecompressionBombError as error:
        raise ImageReadError(f"{name}: too many pixels to decode safely ({error})") from None
    except (OSError, SyntaxError, ValueError) as error:
        if isinstance(error, ImageReadError):
            raise
        raise ImageReadError(f"{name}: unreadable image ({error})") from error


def _from_pil(pil, name: str) -> np.ndarray:
    mode = pil.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return _from_array(np.asarray(pil).astype(np.uint16), name)
    if mode == "I":  # 32-bit integer; in practice 16-bit PNGs decoded by older Pillows
        array = np.asarray(pil)
        if array.size and array.max() > 255:
            return _from_array(np.clip(array, 0, 65535).astype(np.uint16), name)
        return _from_array(np.clip(array, 0, 255).astype(np.uint8), name)
    if mode == "F":
        array = np.asarray(pil, dtype=np.float32)
        if array.size and array.max() > 1.0:
            array = array / 255.0
        return _from_array(array, name)
    if mode == "1":
        return _from_array(np.asarray(pil, dtype=bool), name)
    if mode != "RGB":
        pil = pil.convert("RGB")  # L, LA, P, RGBA, CMYK, YCbCr, ... (alpha dropped)
    return np.ascontiguousarray(np.asarray(pil, dtype=np.uint8))


def _from_array(array: np.ndarray, name: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        channels = None
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        channels = array.shape[2]
    else:
        raise InputShapeError(
            f"{name}: expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
            f"got {array.shape}"
        )
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise InputShapeError(f"{name}: empty image of shape {array.shape}")
    array = _to_uint8(array, name)
    if channels == 4:
        array = array[:, :, :3]
    if channels is None:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    dtype = array.dtype
    if dtype == np.uint8:
        return array
    if dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if dtype == np.uint16:
        return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise InputShapeError(f"{name}: float image contains NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise InputShapeError(
                f"{name}: float images must hold values in [0, 1], got [{low:g}, {high:g}]"
                " (divide 0-255 data by 255)"
            )
        return np.rint(array * 255.0).astype(np.uint8)
    if np.issubdtype(dtype, np.integer):
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise InputShapeError(
                f"{name}: {dtype} image values must lie in [0, 255], got [{low}, {high}]"
            )
        return array.astype(np.uint8)
    raise InputShapeError(f"{name}: unsupported image dtype {dtype}")


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 ``(H, W)`` luma (ITU-R 601, as OpenCV and Pillow) of a uint8 RGB image."""
    try:
        import cv2

        return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    except ImportError:  # pragma: no cover - opencv is pinned
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.rint(rgb.astype(np.float32) @ weights).astype(np.uint8)
