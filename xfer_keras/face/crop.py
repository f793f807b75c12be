"""Square face crops of any size, with landmarks mapped into the crop."""

from __future__ import annotations

import numpy as np

from xfer_keras.face.image import load_image
from xfer_keras.face.types import Crop, Face

__all__ = ["crop_face", "square_box"]


def square_box(box, margin: float = 0.25) -> tuple[int, int, int, int]:
    """Integer square ``(x0, y0, x1, y1)`` centred on ``box``, side ``max(w, h) * (1 + 2*margin)``.

    ``margin`` is the fraction of the face box's longer side added on *each* side. The square may
    extend beyond the image (``crop_face`` pads there).
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin)
    side = max(1, int(round(side)))
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    sx0 = int(round(cx - side / 2.0))
    sy0 = int(round(cy - side / 2.0))
    return sx0, sy0, sx0 + side, sy0 + side


def crop_face(
    image, face: Face, size: int = 224, margin: float = 0.25, pad_value: int | tuple = 0,
    box=None,
) -> Crop:
    """Square ``size x size`` crop around ``face.box`` (see :func:`square_box`), resized.

    ``image`` is anything :func:`~xfer_keras.face.load_image` reads (the image the face was found
    in). Where the square leaves the image the crop is filled with ``pad_value``. The returned
    :class:`~xfer_keras.face.Crop` holds ``face.landmarks`` mapped to crop pixels
    (``x_crop = (x - x0 + 0.5) * scale - 0.5``, exact for the resize used). ``box`` overrides the
    face box (e.g. a box from landmarks).
    """
    import cv2

    if int(size) < 1:
        raise ValueError(f"crop size must be >= 1, got {size}")
    size = int(size)
    rgb = load_image(image)
    height, width = rgb.shape[:2]
    sx0, sy0, sx1, sy1 = square_box(face.box if box is None else box, margin)
    side = sx1 - sx0
    # the part of the square inside the image, pasted into a padded canvas
    canvas = np.empty((side, side, 3), dtype=np.uint8)
    canvas[...] = np.asarray(pad_value, dtype=np.uint8)
    ix0, iy0 = max(sx0, 0), max(sy0, 0)
    ix1, iy1 = min(sx1, width), min(sy1, height)
    if ix1 > ix0 and iy1 > iy0:
        canvas[iy0 - sy0 : iy1 - sy0, ix0 - sx0 : ix1 - sx0] = rgb[iy0:iy1, ix0:ix1]
    if side != size:
        interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        canvas = cv2.resize(canvas, (size, size), interpolation=interpolation)
    scale = size / side
    crop = Crop(image=np.ascontiguousarray(canvas), landmarks=None, box=(sx0, sy0, sx1, sy1), scale=scale)
    crop.landmarks = crop.to_crop(face.landmarks)
    return crop
