"""Overlays: landmarks (and box) drawn on an image, returned as RGB uint8 and saved as PNG."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from xfer_keras.atomic import atomic_path
from xfer_keras.face.image import load_image
from xfer_keras.face.types import Face

__all__ = ["draw_landmarks", "save_png", "save_overlay"]


def draw_landmarks(
    image,
    faces=None,
    landmarks=None,
    box=None,
    color=(0, 255, 0),
    box_color=(255, 64, 64),
    radius: float | None = None,
    numbers: bool = False,
    highlight=None,
    highlight_color=(255, 0, 0),
) -> np.ndarray:
    """A copy of ``image`` (uint8 RGB) with landmarks, boxes and optional indices drawn.

    ``faces``: a :class:`Face` or a list of them (their landmarks and boxes are drawn); or pass
    ``landmarks`` ``(L, 2)`` and/or ``box`` ``(x0, y0, x1, y1)`` directly. ``radius`` defaults to
    about 0.4 % of the image's longer side. ``numbers`` writes each point's 0-based index (useful
    for the 68-point layout). ``highlight``: indices drawn larger in ``highlight_color``.
    """
    from PIL import Image, ImageDraw

    rgb = load_image(image)
    pil = Image.fromarray(rgb.copy())
    draw = ImageDraw.Draw(pil)
    height, width = rgb.shape[:2]
    if radius is None:
        radius = max(1.0, 0.004 * max(height, width))
    items = []
    if faces is not None:
        for face in [faces] if isinstance(faces, Face) else list(faces):
            items.append((face.landmarks, face.box))
    if landmarks is not None or box is not None:
        items.append((landmarks, box))
    highlight = set(int(i) for i in (highlight if highlight is not None else ()))
    line = max(1, int(round(radius / 1.5)))
    for points, face_box in items:
        if face_box is not None:
            x0, y0, x1, y1 = (int(v) for v in face_box)
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=tuple(box_color), width=line)
        if points is None:
            continue
        points = np.asarray(points, dtype=np.float64)
        for index, (x, y) in enumerate(points[:, :2]):
            r, fill = (radius * 2, tuple(highlight_color)) if index in highlight else (radius, tuple(color))
            draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
            if numbers:
                draw.text((x + r + 1, y - r - 1), str(index), fill=tuple(color))
    return np.asarray(pil, dtype=np.uint8)


def save_overlay(image, faces, path: str | os.PathLike, **kwargs) -> Path:
    """``draw_landmarks(image, faces, **kwargs)`` saved as a PNG at ``path`` (atomic)."""
    return save_png(draw_landmarks(image, faces, **kwargs), path)


def save_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a uint8 RGB array as PNG atomically (see :mod:`xfer_keras.atomic`)."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(load_image(image)).save(tmp, format="PNG")
    return Path(path)
