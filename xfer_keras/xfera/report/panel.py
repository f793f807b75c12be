"""Figure-1-style panel of one :class:`~xfer_keras.xfera.explanation.Explanation` (PNG).

Top row: the face crop, the Grad-CAM overlay, hot (red) / cold (blue) landmarks. Bottom row: AU
bars (intensity / source scale; red = hot AU, dark = present, light = absent; tick = threshold)
and the text box (emotion, confidence level, matching and missing AUs, explanation).
Built only from the Explanation: nothing is recomputed.

Drawn with Pillow on a 1000x640 canvas, the images at the crop's own 224 px (DejaVu Sans, the
font matplotlib ships): tens of milliseconds per panel, PNG included, where a matplotlib figure
cost ~1 s on a 2-core CPU, so a folder of photos can have its panels. :func:`panel_image` gives the RGB array (for ``imshow`` or
``PIL.Image.fromarray``), :func:`panel_png` the PNG bytes.
"""

from __future__ import annotations

import functools
import io
import textwrap

import numpy as np

from xfer_keras.atomic import atomic_write_bytes
from xfer_keras.xfera.hot_landmarks import heatmap_overlay, landmark_overlay

WIDTH, HEIGHT, TILE = 1000, 640, 224
HOT_AU, PRESENT_AU, ABSENT_AU = (214, 39, 40), (31, 78, 121), (158, 202, 225)
_INK, _GRID, _NOT_MEASURED = (34, 34, 34), (200, 200, 200), (120, 120, 120)


def overlays(exp) -> dict[str, np.ndarray]:
    """The three images of the panel's top row (uint8 RGB), from the Explanation's arrays."""
    crop = exp.crop if exp.crop is not None else np.zeros((224, 224, 3), np.uint8)
    heat = exp.heatmap if exp.heatmap is not None else np.zeros(crop.shape[:2], np.float32)
    images = {"crop": crop, "gradcam": heatmap_overlay(crop, heat)}
    if exp.landmarks is not None:
        images["landmarks"] = landmark_overlay(crop, exp.landmarks, exp.hot_mask, heatmap=heat, alpha=0.3)
    else:
        images["landmarks"] = images["gradcam"]
    return images


@functools.lru_cache(maxsize=16)
def _font(size: int, bold: bool = False):
    """DejaVu Sans from matplotlib's font folder (found without importing matplotlib), else
    Pillow's own scalable default font."""
    import importlib.util
    from pathlib import Path

    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        path = Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf" / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _centered(draw, x_mid: float, y: float, text: str, font) -> None:
    width = draw.textlength(text, font=font)
    draw.text((x_mid - width / 2, y), text, fill=_INK, font=font)


@functools.lru_cache(maxsize=256)
def _text_patch(text: str, size: int, angle: int):
    """``text`` drawn on white and rotated by ``angle`` degrees (cached: AU labels repeat)."""
    from PIL import Image, ImageDraw

    font = _font(size)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    patch = Image.new("RGB", (int(probe.textlength(text, font=font)) + 4, size + 5), "white")
    ImageDraw.Draw(patch).text((2, 1), text, fill=_INK, font=font)
    return patch.rotate(angle, expand=True, fillcolor="white")


def _au_bars(canvas, draw, exp, box) -> None:
    """AU bar chart inside ``box`` (x0, y0, x1, y1): bars, threshold ticks, labels, title."""
    x0, y0, x1, y1 = box
    tiny = _font(11)
    _centered(draw, (x0 + x1) / 2, y0, "Action Units (red: hot and present; dark: present; "
              "tick: threshold; n/a: not measured)", _font(13))
    top, bottom, left, right = y0 + 26, y1 - 50, x0 + 56, x1 - 10
    scale = exp.au_scale or [0.0, 1.0]
    span = (scale[1] - scale[0]) or 1.0
    for value in (0.0, 0.25, 0.5, 0.75, 1.0):  # y grid and ticks (values / scale, 0..1.05)
        y = bottom - (bottom - top) * value / 1.05
        draw.line([(left, y), (right, y)], fill=_GRID if value else _INK, width=1)
        label = f"{value:g}"
        draw.text((left - 8 - draw.textlength(label, font=tiny), y - 7), label, fill=_INK, font=tiny)
    draw.line([(left, top), (left, bottom)], fill=_INK, width=1)
    patch = _text_patch(f"intensity / scale ({exp.au_source}, {scale[0]:g}-{scale[1]:g})", 11, 90)
    canvas.paste(patch, (x0, int((top + bottom) / 2 - patch.height / 2)))
    labels = sorted(exp.aus)
    if not labels:
        return
    step = (right - left) / len(labels)
    for k, label in enumerate(labels):
        info = exp.aus[label]
        cx = left + step * (k + 0.5)
        half = step * 0.4
        patch = _text_patch(label, 12, 60)
        canvas.paste(patch, (int(cx - patch.width + 6), int(bottom + 4)))
        if info.get("intensity") is None:  # the AU source cannot measure it: no bar, "n/a"
            draw.text((cx - draw.textlength("n/a", font=tiny) / 2, bottom - 16), "n/a",
                      fill=_NOT_MEASURED, font=tiny)
            continue
        value = min(max(float(info.get("normalized") or 0.0), 0.0), 1.05)
        color = HOT_AU if label in exp.hot_aus else PRESENT_AU if info.get("present") else ABSENT_AU
        y = bottom - (bottom - top) * value / 1.05
        if value > 0:
            draw.rectangle([cx - half, y, cx + half, bottom], fill=color)
        threshold = info.get("threshold")
        if threshold is not None:
            ty = bottom - (bottom - top) * ((threshold - scale[0]) / span) / 1.05
            draw.line([(cx - half, ty), (cx + half, ty)], fill=(0, 0, 0), width=2)


def panel_image(exp, images: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """The panel as a ``(640, 1000, 3)`` uint8 RGB array. ``images``: :func:`overlays` of
    ``exp`` when the caller already has them (the HTML report does)."""
    from PIL import Image, ImageDraw

    images = images or overlays(exp)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(canvas)
    _centered(draw, WIDTH / 2, 6, str(exp.image or ""), _font(11))
    titles = {"crop": "Face crop", "gradcam": "Grad-CAM",
              "landmarks": f"Hot (red) / cold (blue) landmarks: {len(exp.hot_landmarks)} hot"}
    gap = 60
    left = (WIDTH - 3 * TILE - 2 * gap) // 2
    for col, key in enumerate(("crop", "gradcam", "landmarks")):
        x = left + col * (TILE + gap)
        _centered(draw, x + TILE / 2, 26, titles[key], _font(14))
        tile = Image.fromarray(np.ascontiguousarray(images[key], dtype=np.uint8))
        if tile.size != (TILE, TILE):
            tile = tile.resize((TILE, TILE), Image.BILINEAR)
        canvas.paste(tile, (x, 48))
    _au_bars(canvas, draw, exp, (16, 296, 640, 632))
    lines = [("Expected emotion:", True), (f"  {exp.emotion.capitalize()} (p = {exp.probability:.2f})", False),
             (f"Confidence level: {exp.confidence_level}", False),
             (f"Matching AUs: {', '.join(exp.matching_aus) or '-'}", False),
             (f"Missing AUs: {', '.join(exp.missing_aus) or '-'}", False), ("", False)]
    lines += [(line, False) for line in textwrap.wrap(exp.explanation or "", 44)]
    y = 300
    for text, bold in lines:
        if y > HEIGHT - 18:
            break
        draw.text((660, y), text, fill=_INK, font=_font(13, bold))
        y += 18
    return np.asarray(canvas)


def png_bytes(image: np.ndarray) -> bytes:
    """PNG bytes of a uint8 RGB array, written for speed: zlib level 1 with the run-length
    strategy (``compress_type=3``, Z_RLE) is ~4x faster than Pillow's default on a photo panel
    and its files are about as small (lossless either way)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(
        buffer, format="PNG", compress_level=1, compress_type=3)
    return buffer.getvalue()


def panel_png(exp, images: dict[str, np.ndarray] | None = None) -> bytes:
    """The panel as PNG bytes."""
    return png_bytes(panel_image(exp, images))


def save_panel(exp, path):
    """Write the panel PNG atomically; returns the path."""
    return atomic_write_bytes(path, panel_png(exp))
