"""Face-detection benchmark material: positive faces under capture conditions, face-free
negatives, a split by source, and the scoring of detections against true boxes.

``benchmarks/face_detection.py`` drives it; the tests reuse it. Everything is seeded and
deterministic for a given seed.

**True faces.** A source face carries a set of points in its image: the 68 dlib points of CK+
frames (``landmarks_dlib68.csv``), or, for the already cropped Taiwanese and FER2013 faces, an
ellipse inscribed in a fixed box of the crop (:data:`CROP_FACE_BOX`). Every condition transforms
the points with the image, and the true box is the box of the transformed points
(:func:`points_box`): brow to chin, cheek to cheek, the framing dlib's HOG boxes have. "A face
40 px tall" means this box is 40 px tall.

**Hits.** :func:`match_detections` counts a detection as a hit on a true face when their IoU is
at least 0.3, *or* the detection's centre lies inside the true box and its size is within a factor
:data:`MAX_SCALE_RATIO` of the true box's. The centre rule is there because detectors frame a face
differently (Haar and BlazeFace include the forehead, HOG does not; a three-quarter view's true
box is the visible part only), which alone can push IoU under 0.3 for a box everybody would call
right; the size limit keeps a box covering half the canvas from hitting a face by its centre.
Each true face takes at most one detection (best score first); a second box on the same face, and
any box matching no face, is a false detection.

**Split.** Sources are grouped (CK+ subject, Taiwanese performer, FER2013 image; negatives: the
image or procedure they were made from) and every group falls in one half, "tune" or "report",
by a seeded hash, so no source image (nor person, where known) is in both halves. A composite
takes its faces from one half only.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from xfer_keras.face.detector import box_iou, fitted_68
from xfer_keras.face.topology import mesh_to_68

__all__ = [
    "CONDITIONS", "CANVAS_SIZE", "CROP_FACE_BOX", "IOU_HIT", "MAX_SCALE_RATIO", "NEGATIVE_FAMILIES",
    "SKIMAGE_NEGATIVES", "SKIMAGE_WITH_PEOPLE", "Source", "Sample", "list_sources", "points_box",
    "ellipse_points", "box_iou", "apply_condition", "composite", "make_negatives",
    "make_backgrounds", "half_of", "match_detections", "score_samples", "choose_threshold",
    "condition_names",
]

CANVAS_SIZE = (1280, 960)  # (width, height) of the canvas conditions
#: the face's box inside a Taiwanese (256 px) or upscaled FER2013 crop, as fractions of the crop
#: (x0, y0, x1, y1): the median box of dlib's 68 points on 21 Taiwanese and 6 FER images.
CROP_FACE_BOX = {"taiwanese": (0.18, 0.40, 0.83, 0.93), "fer2013": (0.07, 0.24, 0.85, 0.99)}
FER_UPSCALE = 4
IOU_HIT = 0.3
MAX_SCALE_RATIO = 2.5
#: scikit-image data images that show a person (never used as negatives)
SKIMAGE_WITH_PEOPLE = ("astronaut", "camera", "lfw_subset", "page", "stereo_motorcycle")
SKIMAGE_NEGATIVES = ("brick", "cat", "chelsea", "coffee", "coins", "grass", "gravel", "horse",
                     "moon", "rocket", "text", "clock", "checkerboard", "logo",
                     "hubble_deep_field", "immunohistochemistry", "colorwheel", "retina", "cell",
                     "microaneurysms")
NEGATIVE_FAMILIES = ("skimage", "texture", "landscape", "text", "video")


# ------------------------------------------------------------------------------- sources
@dataclass
class Source:
    """One source face: its image file, its group (split unit) and its points in that image."""

    key: str
    dataset: str
    group: str
    path: Path
    points: np.ndarray  # (N, 2) float32 in the loaded image's pixels
    upscale: int = 1

    def load(self) -> np.ndarray:
        """The RGB uint8 image (FER2013 faces upscaled by :data:`FER_UPSCALE`)."""
        import cv2

        image = cv2.imread(str(self.path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"cannot read {self.path}")
        image = np.ascontiguousarray(image[:, :, ::-1])
        if self.upscale != 1:
            h, w = image.shape[:2]
            image = cv2.resize(image, (w * self.upscale, h * self.upscale),
                               interpolation=cv2.INTER_CUBIC)
        return image


@dataclass
class Sample:
    """One benchmark image: positive (``boxes`` are its true faces) or negative (no face)."""

    id: str
    condition: str  # a CONDITIONS name, or "negative:<family>"
    half: str  # "tune" or "report"
    boxes: list = field(default_factory=list)  # [(x0, y0, x1, y1), ...] floats
    sources: tuple = ()

    @property
    def positive(self) -> bool:
        return not self.condition.startswith("negative")


def ellipse_points(box, n: int = 32) -> np.ndarray:
    """``n`` points on the ellipse inscribed in ``box`` (its box is ``box``)."""
    x0, y0, x1, y1 = box
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)  # n % 4 == 0: the 4 extremes included
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1).astype(np.float32)


def points_box(points: np.ndarray):
    """The true box ``(x0, y0, x1, y1)`` of a face's points."""
    points = np.asarray(points, dtype=np.float64)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return (float(x0), float(y0), float(x1), float(y1))


def _seeded(seed: int, *parts) -> np.random.Generator:
    text = "|".join(str(p) for p in (seed,) + parts)
    return np.random.default_rng(zlib.crc32(text.encode()))


def half_of(group: str, seed: int) -> str:
    """The half ("tune" or "report") a source group falls in: a seeded hash, ~50/50."""
    digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "report"


def list_sources(data_dir, limit: int = 100, seed: int = 0,
                 datasets=("ckplus", "taiwanese", "fer2013")) -> list[Source]:
    """A seeded sample of ``limit`` source faces from each dataset (none from a test set).

    CK+: frames of ``ckplus_sequences`` with their ``landmarks_dlib68.csv`` points (group: the
    subject). Taiwanese: ``taiwanese_fe/images`` (group: the performer). FER2013: the *train*
    folders of ``fer2013_sharp`` (group: the image), upscaled 4x.
    """
    data_dir = Path(data_dir)
    out: list[Source] = []
    if "ckplus" in datasets:
        import pandas as pd

        root = data_dir / "ckplus_sequences"
        table = pd.read_csv(root / "landmarks_dlib68.csv", dtype={"subject": str, "sequence": str})
        if "n_faces" in table.columns:
            table = table[table["n_faces"] == 1]
        rows = []
        for _, row in table.iterrows():
            path = (root / "images" / row["subject"] / row["sequence"]
                    / f"{row['subject']}_{row['sequence']}_{int(row['frame']):08d}.png")
            if path.is_file():
                rows.append((row, path))
        rng = _seeded(seed, "ckplus")
        for i in sorted(rng.permutation(len(rows))[:limit]):
            row, path = rows[i]
            pts = np.stack([row[[f"x{k}" for k in range(68)]].to_numpy(np.float32),
                            row[[f"y{k}" for k in range(68)]].to_numpy(np.float32)], axis=1)
            out.append(Source(f"ckplus/{path.stem}", "ckplus", f"ckplus:{row['subject']}",
                              path, pts))
    if "taiwanese" in datasets:
        files = sorted((data_dir / "taiwanese_fe" / "images").glob("*.jpg"))
        rng = _seeded(seed, "taiwanese")
        fx0, fy0, fx1, fy1 = CROP_FACE_BOX["taiwanese"]
        for i in sorted(rng.permutation(len(files))[:limit]):
            path = files[i]
            size = 256.0
            pts = ellipse_points((fx0 * size, fy0 * size, fx1 * size, fy1 * size))
            out.append(Source(f"taiwanese/{path.stem}", "taiwanese",
                              f"taiwanese:{path.stem[:2]}", path, pts))
    if "fer2013" in datasets:
        files = sorted((data_dir / "fer2013_sharp" / "train").glob("*/*.*"))
        files = [f for f in files if f.suffix.lower() in (".png", ".jpg", ".jpeg")]
        rng = _seeded(seed, "fer2013")
        fx0, fy0, fx1, fy1 = CROP_FACE_BOX["fer2013"]
        size = 48.0 * FER_UPSCALE
        for i in sorted(rng.permutation(len(files))[:limit]):
            path = files[i]
            pts = ellipse_points((fx0 * size, fy0 * size, fx1 * size, fy1 * size))
            out.append(Source(f"fer2013/{path.parent.name}/{path.stem}", "fer2013",
                              f"fer2013:{path.stem}", path, pts, upscale=FER_UPSCALE))
    return out


# ----------------------------------------------------------------------------- conditions
def _affine_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def rotate(image: np.ndarray, points: np.ndarray, degrees: float):
    """Rotate by ``degrees`` (counter-clockwise on screen) about the face centre, on a canvas
    grown so that no pixel is lost (new corners replicate the border)."""
    import cv2

    h, w = image.shape[:2]
    x0, y0, x1, y1 = points_box(points)
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float32)
    moved = _affine_points(matrix, corners)
    lo, hi = moved.min(axis=0), moved.max(axis=0)
    matrix[:, 2] -= lo
    size = (int(math.ceil(hi[0] - lo[0])), int(math.ceil(hi[1] - lo[1])))
    out = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return out, _affine_points(matrix, points)


def face_patch(image: np.ndarray, points: np.ndarray, margin: float = 0.6):
    """The face's box grown by ``margin`` of its size on every side (clipped to the image)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = points_box(points)
    bw, bh = x1 - x0, y1 - y0
    px0, py0 = max(0, int(x0 - margin * bw)), max(0, int(y0 - margin * bh))
    px1, py1 = min(w, int(math.ceil(x1 + margin * bw))), min(h, int(math.ceil(y1 + margin * bh)))
    return image[py0:py1, px0:px1], points - np.array([px0, py0], np.float32)


def _scaled_patch(image, points, height: float):
    import cv2

    patch, pts = face_patch(image, points)
    x0, y0, x1, y1 = points_box(pts)
    scale = height / max(1e-6, y1 - y0)
    size = (max(1, int(round(patch.shape[1] * scale))), max(1, int(round(patch.shape[0] * scale))))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(patch, size, interpolation=interp)
    return out, pts * np.array([size[0] / patch.shape[1], size[1] / patch.shape[0]], np.float32)


def place_in_canvas(image, points, height: float, background: np.ndarray, rng):
    """The face (with its patch of context) scaled to ``height`` px and pasted at a random place
    of ``background`` (a copy, :data:`CANVAS_SIZE`)."""
    canvas = np.array(background, copy=True)
    patch, pts = _scaled_patch(image, points, height)
    ch, cw = canvas.shape[:2]
    ph, pw = patch.shape[:2]
    if ph > ch or pw > cw:  # never for the sizes used; keep the face whole anyway
        patch, pts = patch[:ch, :cw], pts
    ph, pw = patch.shape[:2]
    ox, oy = int(rng.integers(0, cw - pw + 1)), int(rng.integers(0, ch - ph + 1))
    canvas[oy:oy + ph, ox:ox + pw] = patch
    return canvas, pts + np.array([ox, oy], np.float32)


def composite(faces, background: np.ndarray, rng, heights=(80, 180), tries: int = 500):
    """Paste 2-4 ``(image, points)`` faces (random heights) on ``background`` with no two
    patches overlapping; returns ``(canvas, [points, ...], [patch rectangles], [index of each
    placed face])`` (a face that finds no free place after ``tries`` is left out)."""
    canvas = np.array(background, copy=True)
    ch, cw = canvas.shape[:2]
    placed, out_points, used = [], [], []
    for index, (image, points) in enumerate(faces):
        for _ in range(tries):
            patch, pts = _scaled_patch(image, points, float(rng.uniform(*heights)))
            ph, pw = patch.shape[:2]
            if ph >= ch or pw >= cw:
                continue
            ox, oy = int(rng.integers(0, cw - pw + 1)), int(rng.integers(0, ch - ph + 1))
            rect = (ox, oy, ox + pw, oy + ph)
            if all(rect[2] <= r[0] or r[2] <= rect[0] or rect[3] <= r[1] or r[3] <= rect[1]
                   for r in placed):
                canvas[oy:oy + ph, ox:ox + pw] = patch
                placed.append(rect)
                out_points.append(pts + np.array([ox, oy], np.float32))
                used.append(index)
                break
    return canvas, out_points, placed, used


def brightness(image, factor: float = 0.3):
    return np.clip(np.rint(image.astype(np.float32) * factor), 0, 255).astype(np.uint8)


def contrast(image, factor: float = 0.5):
    f = image.astype(np.float32)
    return np.clip(np.rint((f - f.mean()) * factor + f.mean()), 0, 255).astype(np.uint8)


def jpeg(image, quality: int = 20):
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1])


def occlude(image, points, rng):
    """A flat rectangle over a quarter of the face box (one of its four quadrants)."""
    out = np.array(image, copy=True)
    x0, y0, x1, y1 = points_box(points)
    qx, qy = int(rng.integers(0, 2)), int(rng.integers(0, 2))
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    rx0, rx1 = (x0, mx) if qx == 0 else (mx, x1)
    ry0, ry1 = (y0, my) if qy == 0 else (my, y1)
    h, w = out.shape[:2]
    sl = (slice(max(0, int(round(ry0))), min(h, int(round(ry1)))),
          slice(max(0, int(round(rx0))), min(w, int(round(rx1)))))
    out[sl] = rng.integers(0, 256, size=3).astype(np.uint8)
    return out, (rx0, ry0, rx1, ry1)


def three_quarter(image, points, rng, share: float = 0.35):
    """Crop the image so that ``share`` of the face width is cut off on one (random) side."""
    x0, _, x1, _ = points_box(points)
    if rng.integers(0, 2) == 0:  # cut the left side
        cut = int(round(x0 + share * (x1 - x0)))
        pts = points.copy()
        pts[:, 0] = np.maximum(pts[:, 0], cut) - cut
        return np.ascontiguousarray(image[:, cut:]), pts
    cut = int(round(x1 - share * (x1 - x0)))
    pts = points.copy()
    pts[:, 0] = np.minimum(pts[:, 0], cut - 1)
    return np.ascontiguousarray(image[:, :cut]), pts


def _rotation(deg):
    def apply(image, points, rng, background):
        sign = 1 if rng.integers(0, 2) == 0 else -1
        return rotate(image, points, sign * deg)
    return apply


def _canvas(height):
    def apply(image, points, rng, background):
        return place_in_canvas(image, points, height, background, rng)
    return apply


Condition = Callable[[np.ndarray, np.ndarray, np.random.Generator, np.ndarray], tuple]
#: name -> ``f(image, points, rng, background) -> (image, points)``; "composite" is separate.
CONDITIONS: dict[str, Condition] = {
    "as is": lambda im, p, rng, bg: (im, p),
    "rotated 30": _rotation(30),
    "rotated 45": _rotation(45),
    "rotated 60": _rotation(60),
    "40 px in canvas": _canvas(40),
    "80 px in canvas": _canvas(80),
    "160 px in canvas": _canvas(160),
    "brightness x0.3": lambda im, p, rng, bg: (brightness(im), p),
    "contrast x0.5": lambda im, p, rng, bg: (contrast(im), p),
    "JPEG q20": lambda im, p, rng, bg: (jpeg(im), p),
    "quarter occluded": lambda im, p, rng, bg: (occlude(im, p, rng)[0], p),
    "three-quarter crop": lambda im, p, rng, bg: three_quarter(im, p, rng),
}


def condition_names() -> list[str]:
    return list(CONDITIONS) + ["2-4 faces composite"]


def apply_condition(name: str, image, points, rng, background=None):
    """``(image, points)`` under condition ``name`` (canvas conditions need ``background``)."""
    return CONDITIONS[name](image, points, rng, background)


# ------------------------------------------------------------------------------ negatives
def _fit(image: np.ndarray, size) -> np.ndarray:
    """Resize to ``size`` ``(w, h)``, RGB uint8."""
    import cv2

    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA
                      if size[0] < image.shape[1] else cv2.INTER_LINEAR)


_SKIMAGE_CACHE: dict = {}


def _skimage(name: str) -> np.ndarray:
    if name not in _SKIMAGE_CACHE:
        import skimage.data

        _SKIMAGE_CACHE[name] = np.asarray(getattr(skimage.data, name)())
    return _SKIMAGE_CACHE[name]


def available_skimage() -> list[str]:
    """The :data:`SKIMAGE_NEGATIVES` this scikit-image install can load offline."""
    out = []
    for name in SKIMAGE_NEGATIVES:
        try:
            _skimage(name)
            out.append(name)
        except Exception:
            pass
    return out


def _skimage_negative(name: str, rng) -> np.ndarray:
    image = _skimage(name)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    h, w = image.shape[:2]
    if rng.random() < 0.35:  # whole image, resized
        crop = image
    else:
        fh, fw = rng.uniform(0.4, 0.9, size=2)
        ch, cw = max(16, int(h * fh)), max(16, int(w * fw))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = image[y:y + ch, x:x + cw]
    scale = rng.uniform(0.6, 2.0)
    size = (max(64, int(crop.shape[1] * scale)), max(64, int(crop.shape[0] * scale)))
    return _fit(crop, size)


def _smooth_noise(rng, size, cells) -> np.ndarray:
    import cv2

    w, h = size
    small = rng.random((max(2, h * cells // w), cells)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _texture(rng, size=(512, 512)) -> np.ndarray:
    import cv2

    w, h = size
    kind = int(rng.integers(0, 4))
    if kind == 0:  # multi-scale noise ("clouds", "marble")
        field = sum(_smooth_noise(rng, size, c) / (i + 1) for i, c in enumerate((4, 16, 64)))
    elif kind == 1:  # stripes / wood grain
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        field = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) / rng.uniform(3, 20)
                       + 4 * _smooth_noise(rng, size, 8))
    elif kind == 2:  # cells / spots
        field = np.zeros((h, w), np.float32)
        for _ in range(int(rng.integers(20, 120))):
            cv2.circle(field, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                       int(rng.integers(3, 40)), float(rng.random()), -1)
        field = cv2.GaussianBlur(field, (0, 0), 2)
    else:  # fine grain
        field = rng.random((h, w)).astype(np.float32)
        field = cv2.GaussianBlur(field, (0, 0), rng.uniform(0.5, 3))
    field = (field - field.min()) / max(1e-6, field.max() - field.min())
    c0, c1 = rng.integers(0, 256, size=3), rng.integers(0, 256, size=3)
    return (c0 + field[..., None] * (c1 - c0)).clip(0, 255).astype(np.uint8)


def _sky(rng, size) -> np.ndarray:
    w, h = size
    top = np.array([rng.uniform(40, 120), rng.uniform(100, 170), rng.uniform(190, 255)])
    bottom = np.array([rng.uniform(170, 230), rng.uniform(200, 240), rng.uniform(230, 255)])
    t = np.linspace(0, 1, h)[:, None, None]
    sky = top * (1 - t) + bottom * t
    clouds = _smooth_noise(rng, size, 6) * 0.6 + _smooth_noise(rng, size, 24) * 0.4
    clouds = np.clip((clouds - 0.55) * 3, 0, 1)[..., None]
    return (sky * (1 - clouds) + 250 * clouds).clip(0, 255).astype(np.uint8)


def _landscape(rng, size=(640, 480)) -> np.ndarray:
    import cv2

    w, h = size
    image = np.ascontiguousarray(_sky(rng, size))
    for layer in range(int(rng.integers(2, 4))):  # hill ridges, far to near
        base = h * (0.45 + 0.15 * layer) + rng.uniform(-20, 20)
        xs = np.linspace(0, w, 40)
        ys = base + 40 * (_smooth_noise(rng, (40, 2), 6)[0] - 0.5) * (layer + 1)
        poly = np.array([[0, h]] + [[x, y] for x, y in zip(xs, ys)] + [[w, h]], np.int32)
        g = rng.uniform(60, 140) / (layer + 1) + 30
        colour = tuple(int(v) for v in (g * 0.6, g * rng.uniform(0.9, 1.4), g * 0.5))
        cv2.fillPoly(image, [poly], colour)
    if rng.random() < 0.5:  # a sun
        cv2.circle(image, (int(rng.integers(0, w)), int(rng.integers(0, h // 3))),
                   int(rng.integers(15, 50)), (255, 240, 200), -1)
    noise = rng.normal(0, 4, image.shape)
    return (image + noise).clip(0, 255).astype(np.uint8)


def _fonts() -> list[str]:
    found = []
    for folder in (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts")):
        if folder.is_dir():
            found += sorted(str(p) for p in folder.rglob("*.ttf"))
    return sorted(set(found))[:24]


def _text_image(rng, size=(800, 450)) -> np.ndarray:
    """Puffy, blurred or outlined letters on a sky or texture background (PIL)."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    w, h = size
    background = _sky(rng, size) if rng.random() < 0.6 else _texture(rng, (w, h))
    words = ["HELLO", "SUMMER", "CLOUD", "OOPS", "GOOD", "BOO!", "Q&A", "WOW", "dream", "COOL",
             "8008", "OO", "moon", "Holiday", "@@", "SKY", "GO GO", "pop", "DOODLE", "zoo"]
    word = words[int(rng.integers(0, len(words)))]
    fonts = _fonts()
    font_size = int(rng.integers(40, 220))
    try:
        font = ImageFont.truetype(fonts[int(rng.integers(0, len(fonts)))], font_size) if fonts \
            else ImageFont.load_default()
    except OSError:
        font = ImageFont.load_default()
    style = int(rng.integers(0, 3))  # 0 puffy, 1 blurred, 2 outlined
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    x, y = int(rng.integers(0, max(1, w // 3))), int(rng.integers(0, max(1, h // 2)))
    if style == 2:
        draw.text((x, y), word, fill=0, font=font, stroke_width=max(2, font_size // 20),
                  stroke_fill=255)
        draw.text((x, y), word, fill=0, font=font)
    else:
        draw.text((x, y), word, fill=255, font=font,
                  stroke_width=max(1, font_size // 8) if style == 0 else 0, stroke_fill=255)
    blur = font_size / 10 if style == 0 else (font_size / 6 if style == 1 else 1.0)
    mask = np.asarray(layer.filter(ImageFilter.GaussianBlur(blur)), np.float32) / 255.0
    if style == 0:  # puffy: soft shading from a shifted copy
        shade = np.roll(mask, (int(font_size / 15), int(font_size / 15)), axis=(0, 1))
        colour = np.array([255, 255, 255]) - 60 * np.clip(shade - mask, 0, 1)[..., None]
    else:
        colour = np.broadcast_to(rng.integers(0, 256, size=3), (h, w, 3))
    out = background * (1 - mask[..., None]) + colour * mask[..., None]
    return out.clip(0, 255).astype(np.uint8)


def _video_frame(rng, clip: int, frame: int, size=(640, 360)) -> np.ndarray:
    """A frame of a blank or cartoon-like clip: flat colours, moving shapes, cartoon faces."""
    import cv2

    crng = _seeded(clip, "clip")  # the clip's look; the frame index moves things
    w, h = size
    image = np.zeros((h, w, 3), np.uint8)
    image[:] = crng.integers(0, 256, size=3)
    kind = int(crng.integers(0, 3))  # 0 blank, 1 shapes, 2 cartoon faces
    if kind == 0:
        if frame % 2:
            image[:] = np.clip(image.astype(int) + int(frame), 0, 255)
        return image
    for k in range(int(crng.integers(1, 4))):
        cx = int((crng.uniform(0.15, 0.85) * w + frame * crng.uniform(-12, 12)) % w)
        cy = int(crng.uniform(0.2, 0.8) * h)
        r = int(crng.uniform(30, 110))
        colour = tuple(int(v) for v in crng.integers(0, 256, size=3))
        if kind == 1:
            if k % 2:
                cv2.rectangle(image, (cx - r, cy - r // 2), (cx + r, cy + r // 2), colour, -1)
            else:
                cv2.circle(image, (cx, cy), r, colour, -1)
            continue
        skin = (int(crng.integers(180, 256)), int(crng.integers(140, 220)), int(crng.integers(60, 180)))
        cv2.circle(image, (cx, cy), r, skin, -1)  # head
        cv2.circle(image, (cx, cy), r, (0, 0, 0), 2)
        ex, ey, er = int(r * 0.35), int(r * 0.25), max(2, int(r * 0.12))
        for side in (-1, 1):  # eyes
            cv2.circle(image, (cx + side * ex, cy - ey), er + 2, (255, 255, 255), -1)
            cv2.circle(image, (cx + side * ex, cy - ey), max(1, er // 2), (0, 0, 0), -1)
        cv2.ellipse(image, (cx, cy + int(r * 0.3)), (int(r * 0.4), int(r * 0.2)), 0,
                    0, 180, (0, 0, 0), 2)  # mouth
        if crng.random() < 0.5:
            cv2.circle(image, (cx, cy + int(r * 0.05)), max(2, int(r * 0.08)), (200, 60, 60), -1)
    return image


def make_negatives(n: int, seed: int = 0):
    """``n`` face-free images as ``(id, family, group, image)``, the families in turn.

    Families: scikit-image data without people (random crops and resizes), procedural
    textures, landscape-like pictures, rendered text (puffy, blurred, outlined letters on sky or
    texture), frames of blank / shapes / cartoon-face synthetic clips (cartoon faces are
    negatives). Reads nothing from the dataset folder.
    """
    names = available_skimage()
    out = []
    for i in range(n):
        family = NEGATIVE_FAMILIES[i % len(NEGATIVE_FAMILIES)]
        k = i // len(NEGATIVE_FAMILIES)
        rng = _seeded(seed, "negative", i)
        if family == "skimage" and names:
            name = names[k % len(names)]
            image, group = _skimage_negative(name, rng), f"skimage:{name}"
        elif family == "texture" or (family == "skimage" and not names):
            image, group = _texture(rng, (int(rng.integers(256, 640)),) * 2), f"texture:{k}"
        elif family == "landscape":
            image, group = _landscape(rng), f"landscape:{k}"
        elif family == "text":
            image, group = _text_image(rng), f"text:{k}"
        else:
            clip, frame = k // 4, k % 4
            image, group = _video_frame(rng, seed * 1000 + clip, frame * 5), f"video:{clip}"
        out.append((f"negative/{family}/{i:04d}", family, group, image))
    return out


def make_backgrounds(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` face-free :data:`CANVAS_SIZE` canvases (landscapes, textures, scikit-image
    pictures), made apart from the negatives (their own seed stream)."""
    names = available_skimage()
    out = []
    for i in range(n):
        rng = _seeded(seed, "background", i)
        kind = i % 3
        if kind == 0:
            image = _landscape(rng, CANVAS_SIZE)
        elif kind == 1 or not names:
            image = _fit(_texture(rng, (640, 480)), CANVAS_SIZE)
        else:
            image = _fit(_skimage(names[i % len(names)]), CANVAS_SIZE)
        out.append(np.ascontiguousarray(image))
    return out


# -------------------------------------------------------------------------------- scoring
def is_hit(detection, truth) -> bool:
    """IoU >= :data:`IOU_HIT`, or the detection's centre in the true box at a similar size."""
    if box_iou(detection, truth) >= IOU_HIT:
        return True
    cx, cy = (detection[0] + detection[2]) / 2, (detection[1] + detection[3]) / 2
    if not (truth[0] <= cx <= truth[2] and truth[1] <= cy <= truth[3]):
        return False
    size_d = math.sqrt(max(1e-9, (detection[2] - detection[0]) * (detection[3] - detection[1])))
    size_t = math.sqrt(max(1e-9, (truth[2] - truth[0]) * (truth[3] - truth[1])))
    return 1 / MAX_SCALE_RATIO <= size_d / size_t <= MAX_SCALE_RATIO


def match_detections(detections, truths):
    """Match detections (``(box, score)``) to true boxes: returns ``(hit per truth, true per
    detection)``; each truth takes the best-scoring detection that hits it."""
    order = sorted(range(len(detections)), key=lambda i: -(detections[i][1] or 0.0))
    hit = [False] * len(truths)
    true = [False] * len(detections)
    for i in order:
        box = detections[i][0]
        best, best_iou = None, -1.0
        for j, truth in enumerate(truths):
            if not hit[j] and is_hit(box, truth):
                iou = box_iou(box, truth)
                if iou > best_iou:
                    best, best_iou = j, iou
        if best is not None:
            hit[best] = True
            true[i] = True
    return hit, true


def _kept(detections, threshold):
    """Detections ``(box, score, detector)`` passing ``threshold``: a number, or a dict
    detector -> number (None: keep all)."""
    if threshold is None:
        return [(d[0], d[1]) for d in detections]
    out = []
    for box, score, detector in detections:
        t = threshold.get(detector) if isinstance(threshold, dict) else threshold
        if t is None or score is None or score >= t:
            out.append((box, score))
    return out


def score_samples(samples, detections: dict, threshold=None, half: str | None = None) -> dict:
    """Recall per condition, false faces on negatives and precision.

    ``detections``: sample id -> list of ``(box, score, detector)``. Returns a dict with
    ``recall`` (condition -> (hits, faces)), ``mean_recall`` (over conditions), ``min_recall``,
    ``negatives`` (images), ``false_negatives`` (images with a detection), ``false_faces``
    (detections on negatives), ``false_by_family``, ``true_detections``, ``all_detections``,
    ``precision``.
    """
    recall: dict[str, list[int]] = {}
    neg_images = neg_fired = false_faces = tp = total = 0
    by_family: dict[str, list[int]] = {}
    for sample in samples:
        if half is not None and sample.half != half:
            continue
        kept = _kept(detections.get(sample.id, []), threshold)
        total += len(kept)
        if sample.positive:
            hit, true = match_detections(kept, sample.boxes)
            cell = recall.setdefault(sample.condition, [0, 0])
            cell[0] += sum(hit)
            cell[1] += len(hit)
            tp += sum(true)
        else:
            family = sample.condition.split(":", 1)[1]
            fam = by_family.setdefault(family, [0, 0, 0])
            neg_images += 1
            fam[1] += 1
            if kept:
                neg_fired += 1
                fam[0] += 1
            false_faces += len(kept)
            fam[2] += len(kept)
    rates = [h / f for h, f in recall.values() if f]
    return {
        "recall": recall,
        "mean_recall": float(np.mean(rates)) if rates else float("nan"),
        "min_recall": float(np.min(rates)) if rates else float("nan"),
        "negatives": neg_images,
        "false_negatives": neg_fired,
        "false_faces": false_faces,
        "false_by_family": by_family,
        "true_detections": tp,
        "all_detections": total,
        "precision": tp / total if total else float("nan"),
    }


def objective(result: dict) -> float:
    """What the threshold search maximises: mean recall over conditions minus the share of
    negative images with a false face (one point of recall weighs one point of negatives)."""
    share = result["false_negatives"] / result["negatives"] if result["negatives"] else 0.0
    return result["mean_recall"] - share


def choose_threshold(samples, detections: dict, detectors: tuple[str, ...], half: str = "tune",
                     n_candidates: int | None = None):
    """The threshold (dict detector -> score) maximising :func:`objective` on ``half``.

    Candidates per detector: quantiles of its scores on that half (and no threshold); with two
    detectors, the grid of both. Ties go to the lower threshold (more recall).
    """
    import itertools

    n_candidates = n_candidates or (40 if len(detectors) == 1 else 14)
    per = {}
    for det in detectors:
        scores = sorted({d[1] for s in samples if s.half == half
                         for d in detections.get(s.id, []) if d[2] == det and d[1] is not None})
        if scores:
            qs = np.unique(np.quantile(scores, np.linspace(0, 1, n_candidates)))
            per[det] = [None] + [float(q) for q in qs]
        else:
            per[det] = [None]
    best, best_value = None, -np.inf
    for combo in itertools.product(*(per[d] for d in detectors)):
        threshold = dict(zip(detectors, combo))
        value = objective(score_samples(samples, detections, threshold, half))
        if value > best_value + 1e-12:
            best, best_value = threshold, value
    return best


# ------------------------------------------------------------------------------ the set
def _save(path: Path, image: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    cv2.imwrite(str(tmp), np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    tmp.replace(path)


def load_image(folder: Path, sample_id: str) -> np.ndarray:
    """A generated image (RGB uint8) from the cache folder."""
    import cv2

    image = cv2.imread(str(Path(folder) / f"{sample_id}.png"), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"missing cached image {sample_id}")
    return np.ascontiguousarray(image[:, :, ::-1])


def build_set(data_dir, folder, limit: int = 100, n_negatives: int = 300, seed: int = 0,
              log=None) -> list[Sample]:
    """Make (or read back) the benchmark images under ``folder``; returns the samples.

    Positives: every source under every :data:`CONDITIONS` entry, plus composites of 2-4
    sources of one half. Negatives: :func:`make_negatives`. Images are PNG files (the JPEG
    condition's decoded pixels), the boxes in ``folder/manifest.json``.
    """
    import json

    folder = Path(folder)
    manifest = folder / "manifest.json"
    if manifest.is_file():
        rows = json.loads(manifest.read_text())
        return [Sample(r["id"], r["condition"], r["half"], [tuple(b) for b in r["boxes"]],
                       tuple(r["sources"])) for r in rows]
    sources = list_sources(data_dir, limit=limit, seed=seed)
    backgrounds = make_backgrounds(16, seed)
    samples: list[Sample] = []
    names = list(CONDITIONS)
    for n, source in enumerate(sources):
        if log and n % 50 == 0:
            log(f"  generating positives {n}/{len(sources)}")
        image = source.load()
        half = half_of(source.group, seed)
        for c, name in enumerate(names):
            rng = _seeded(seed, source.key, name)
            background = backgrounds[int(rng.integers(0, len(backgrounds)))]
            out, pts = apply_condition(name, image, source.points, rng, background)
            sid = f"positive/{c:02d}/{source.key}"
            _save(folder / f"{sid}.png", out)
            samples.append(Sample(sid, name, half, [points_box(pts)], (source.key,)))
    for half in ("tune", "report"):  # composites: faces of one half only
        pool = [s for s in sources if half_of(s.group, seed) == half]
        rng = _seeded(seed, "composite", half)
        order = [pool[i] for i in rng.permutation(len(pool))]
        k = 0
        while k < len(order):
            count = int(rng.integers(2, 5))
            group = order[k:k + count]
            k += count
            if len(group) < 2:
                break
            background = backgrounds[int(rng.integers(0, len(backgrounds)))]
            canvas, pts, _, used = composite([(s.load(), s.points) for s in group], background,
                                             rng)
            sid = f"positive/composite/{half}/{k:04d}"
            _save(folder / f"{sid}.png", canvas)
            samples.append(Sample(sid, "2-4 faces composite", half, [points_box(p) for p in pts],
                                  tuple(group[i].key for i in used)))
    for sid, family, group, image in make_negatives(n_negatives, seed):
        _save(folder / f"{sid}.png", image)
        samples.append(Sample(sid, f"negative:{family}", half_of(group, seed), [], (group,)))
    rows = [{"id": s.id, "condition": s.condition, "half": s.half, "boxes": s.boxes,
             "sources": list(s.sources)} for s in samples]
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows))
    tmp.replace(manifest)
    return samples


# ------------------------------------------------------------------------- landmark fit
#: the conditions the landmark-fit table reads (those where HOG misses faces the fallback finds)
LANDMARK_CONDITIONS = ("as is", "rotated 30", "rotated 45", "rotated 60", "80 px in canvas",
                       "quarter occluded", "three-quarter crop")


def landmark_fit(sources, backend, conditions=LANDMARK_CONDITIONS, seed: int = 0,
                 half: str | None = "report") -> dict:
    """How well the fallback's 68 points fit faces HOG cannot be trusted on: per condition, on
    the CK+ sources (their 68 reference points, moved with the image), the faces the fallback
    finds (BlazeFace boxes the face mesh confirms, ``backend``: a dlib ``LandmarkDetector``'s
    backend with ``fallback="mediapipe"``), scored two ways: dlib's 68-point predictor in the box
    (rotated upright by BlazeFace's roll) and the mesh's 68 (:func:`~xfer_keras.face.topology.
    mesh_to_68`), and the one the detector keeps (:func:`~xfer_keras.face.detector.fitted_68`).
    The reference is the data provider's dlib fit of the untouched frame, which favours dlib's
    predictor wherever it fits. Error: mean point-to-point distance over the reference's outer
    inter-ocular distance, on the points a condition leaves in view (a three-quarter crop's cut
    points are left out). Returns ``{condition: {"n": faces, "mesh_chosen": faces given the
    mesh's points, "dlib" / "mesh" / "chosen": mean error}}``."""
    from xfer_keras.face.image import to_gray

    backgrounds = make_backgrounds(16, seed)
    out: dict = {}
    for name in conditions:
        dlib_err, mesh_err, chosen_err, n_mesh = [], [], [], 0
        for source in sources:
            if source.dataset != "ckplus" or (half and half_of(source.group, seed) != half):
                continue
            rng = _seeded(seed, source.key, name)
            background = backgrounds[int(rng.integers(0, len(backgrounds)))]
            image, points = apply_condition(name, source.load(), source.points, rng, background)
            visible = np.ones(len(points), bool)
            if name == "three-quarter crop":  # points the crop clamped to its edge
                visible = (points[:, 0] > 0.5) & (points[:, 0] < image.shape[1] - 1.5)
            found = [item for item in backend._fallback_boxes(image, tiles=True)
                     if is_hit(item[0], points_box(points))]
            if not found:
                continue
            box, _, roll, _, mesh = found[0]
            iod = float(np.linalg.norm(points[36] - points[45]))
            dlib_points = backend.landmarks(to_gray(image), box, roll)
            mesh_points = mesh_to_68(mesh.landmarks)
            chosen, landmarker = fitted_68(dlib_points, mesh_points)
            for err, pts in ((dlib_err, dlib_points), (mesh_err, mesh_points),
                             (chosen_err, chosen)):
                err.append(float(np.linalg.norm(pts - points, axis=1)[visible].mean() / iod))
            n_mesh += landmarker == "mesh-68"
        out[name] = {"n": len(dlib_err), "mesh_chosen": n_mesh,
                     **{key: float(np.mean(err)) if err else None for key, err in
                        (("dlib", dlib_err), ("mesh", mesh_err), ("chosen", chosen_err))}}
    return out
