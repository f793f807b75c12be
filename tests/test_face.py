"""xfer_keras.face without backends: image input, boxes, crops, flip tables, overlays, laziness."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from xfer_keras.errors import ImageReadError, InputShapeError
from xfer_keras.face import (
    N_DLIB,
    N_MESH,
    N_MESH_IRIS,
    Crop,
    Face,
    LandmarkDetector,
    clamp_box,
    crop_face,
    draw_landmarks,
    eye_angle,
    flip_box,
    flip_landmarks,
    flip_permutation,
    load_image,
    save_overlay,
    save_png,
    square_box,
)
from xfer_keras.face.topology import DLIB68_REGIONS

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)


# ------------------------------------------------------------------------------ load_image
@pytest.mark.parametrize(
    "make",
    [
        lambda: RGB,
        lambda: RGB[:, :, 0],  # gray (H, W)
        lambda: RGB[:, :, :1],  # (H, W, 1)
        lambda: np.dstack([RGB, np.full(RGB.shape[:2], 7, np.uint8)]),  # RGBA
        lambda: RGB.astype(np.uint16) * 257,  # 16-bit
        lambda: RGB.astype(np.float32) / 255.0,  # float in [0, 1]
        lambda: RGB.astype(np.float64) / 255.0,
        lambda: RGB[:, :, 0] > 127,  # bool
        lambda: RGB.astype(np.int32),  # ints in [0, 255]
        lambda: RGB[:, ::-1],  # a non-contiguous view
        lambda: Image.fromarray(RGB),
        lambda: Image.fromarray(RGB[:, :, 0]),  # mode L
        lambda: Image.fromarray(RGB).convert("RGBA"),
        lambda: Image.fromarray(RGB).convert("P"),
        lambda: Image.fromarray(RGB[:, :, 0].astype(np.uint16) * 257),  # mode I;16
    ],
)
def test_load_image_kinds(make):
    image = load_image(make())
    assert image.shape == (20, 30, 3) and image.dtype == np.uint8 and image.flags.c_contiguous


def test_load_image_values():
    assert np.array_equal(load_image(RGB), RGB)
    assert np.array_equal(load_image(RGB.astype(np.uint16) * 257), RGB)
    assert np.array_equal(load_image(RGB.astype(np.float64) / 255.0), RGB)
    assert np.array_equal(load_image(RGB[:, :, 1])[:, :, 2], RGB[:, :, 1])
    assert np.array_equal(load_image(np.dstack([RGB, RGB[:, :, :1]])), RGB)  # alpha dropped
    assert set(np.unique(load_image(RGB[:, :, 0] > 127))) <= {0, 255}


def test_load_image_files(tmp_path):
    Image.fromarray(RGB).save(tmp_path / "a.png")
    smooth = np.dstack([*np.meshgrid(np.arange(30) * 8, np.arange(20) * 12), np.full((20, 30), 90)])
    smooth = smooth.astype(np.uint8)
    Image.fromarray(smooth).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(RGB[:, :, 0].astype(np.uint16) * 257).save(tmp_path / "g16.png")
    Image.fromarray(RGB).convert("RGBA").save(tmp_path / "rgba.png")
    assert np.array_equal(load_image(tmp_path / "a.png"), RGB)
    assert np.abs(load_image(str(tmp_path / "a.jpg")).astype(int) - smooth).mean() < 3
    g16 = load_image(tmp_path / "g16.png")
    assert np.array_equal(g16[:, :, 0], RGB[:, :, 0]) and g16.dtype == np.uint8
    assert np.array_equal(load_image(tmp_path / "rgba.png"), RGB)
    exif = Image.Exif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90 degrees to display
    Image.fromarray(RGB).save(tmp_path / "rotated.png", exif=exif)
    assert load_image(tmp_path / "rotated.png").shape == (30, 20, 3)


def test_load_image_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageReadError, match="missing.png: file not found"):
        load_image(missing)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageReadError, match="notes.png"):
        load_image(text)
    truncated = tmp_path / "truncated.png"
    Image.fromarray(RGB).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(ImageReadError, match="truncated.png"):
        load_image(truncated)
    with pytest.raises(ImageReadError, match="folder"):
        load_image(tmp_path)
    assert issubclass(ImageReadError, OSError)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((2, 4, 4, 3), np.uint8), "shape"),
        (np.zeros((0, 4), np.uint8), "empty"),
        (np.full((4, 4), 2.0), r"\[0, 1\]"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), 300, np.int32), r"\[0, 255\]"),
        ("not-an-array-but-a-name-that-does-not-exist.png", None),
    ],
)
def test_load_image_rejects(bad, match):
    if isinstance(bad, str):
        with pytest.raises(ImageReadError):
            load_image(bad)
        return
    with pytest.raises(InputShapeError, match=match):
        load_image(bad, source="frame 7")
    with pytest.raises(InputShapeError, match="frame 7"):
        load_image(bad, source="frame 7")


def test_load_image_wrong_type():
    with pytest.raises(InputShapeError, match="list"):
        load_image([[1, 2], [3, 4]])


# ------------------------------------------------------------------------------ boxes, Face
def test_clamp_box():
    assert clamp_box(-5.2, -1, 40.3, 30, 32, 24) == (0, 0, 32, 24)
    assert clamp_box(3.5, 4.5, 10.2, 11.0, 32, 24) == (3, 4, 11, 11)
    x0, y0, x1, y1 = clamp_box(50, 50, 60, 60, 32, 24)  # wholly outside: a 1-pixel box
    assert 0 <= x0 < x1 <= 32 and 0 <= y0 < y1 <= 24


def _face(landmarks, box=(10, 10, 30, 30), backend="dlib"):
    return Face(box=box, landmarks=np.asarray(landmarks, np.float32), backend=backend)


def test_face_to_dict_and_mesh():
    face = _face(RNG.uniform(0, 30, (N_DLIB, 2)))
    data = json.loads(json.dumps(face.to_dict()))
    assert set(data) >= {"box", "backend", "landmarks", "blendshapes", "score"}
    assert len(data["landmarks"]) == 68 and data["blendshapes"] is None
    with pytest.raises(InputShapeError, match="mesh468"):
        face.mesh468
    mesh = _face(RNG.uniform(0, 30, (N_MESH_IRIS, 2)), backend="mediapipe")
    assert mesh.mesh468.shape == (N_MESH, 2)


def test_detector_arguments_checked_without_loading_a_backend():
    with pytest.raises(ValueError, match="backend"):
        LandmarkDetector("opencv")
    with pytest.raises(ValueError, match="policy"):
        LandmarkDetector("dlib", policy="first")
    detector = LandmarkDetector("mediapipe")  # creating it loads nothing
    assert detector._impl is None and detector.n_landmarks == 478
    detector.close()


# ------------------------------------------------------------------------------ crops
def test_square_box():
    x0, y0, x1, y1 = square_box((10, 20, 30, 60), margin=0.25)
    assert x1 - x0 == y1 - y0 == 60
    assert (x0 + x1) / 2 == pytest.approx(20, abs=0.5) and (y0 + y1) / 2 == pytest.approx(40, abs=0.5)


@pytest.mark.parametrize("size", [224, 64, 333])
def test_crop_maps_a_landmark_to_the_right_pixel(size):
    image = np.zeros((240, 320, 3), np.uint8)
    points = np.array([[150.0, 100.0], [180.0, 130.0], [131.0, 140.0]], np.float32)
    for (x, y), color in zip(points.astype(int), [(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        image[y - 3 : y + 4, x - 3 : x + 4] = color  # 7x7 blocks centred on the landmarks
    face = _face(points, box=(120, 80, 200, 160))
    crop = crop_face(image, face, size=size, margin=0.25)
    assert isinstance(crop, Crop) and crop.image.shape == (size, size, 3) and crop.image.dtype == np.uint8
    assert crop.box[2] - crop.box[0] == crop.box[3] - crop.box[1] == 120
    assert crop.scale == pytest.approx(size / 120)
    for (cx, cy), color in zip(crop.landmarks, [(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        pixel = crop.image[int(round(cy)), int(round(cx))]
        assert np.argmax(pixel) == np.argmax(color) and pixel.max() > 200
    assert np.allclose(crop.to_original(crop.landmarks), points, atol=1e-3)


def test_crop_pads_where_the_square_leaves_the_image():
    image = np.full((100, 100, 3), 200, np.uint8)
    face = _face([[5.0, 5.0]], box=(0, 0, 30, 30))  # near the top-left corner
    crop = crop_face(image, face, size=90, margin=0.5)
    assert crop.box[0] < 0 and crop.box[1] < 0
    assert crop.image[0, 0].max() == 0 and crop.image[-1, -1].min() == 200
    assert crop_face(image, face, size=90, margin=0.5, pad_value=(9, 9, 9)).image[0, 0].tolist() == [9, 9, 9]
    # the landmark still lands on the image content it marks
    image[5, 5] = (255, 0, 0)
    crop = crop_face(image, face, size=60, margin=0.5)  # 60 px for a 60 px square: scale 1
    x, y = np.round(crop.landmarks[0]).astype(int)
    assert crop.scale == 1 and crop.image[y, x].tolist() == [255, 0, 0]


def _planted_68(angle_deg, eye_mid=(200.0, 150.0), iod=60.0, eye_mouth=65.0):
    """68 landmarks whose eye centres and mouth centre are known: eyes at +-iod/2 along a line
    tilted by ``angle_deg``, the mouth ``eye_mouth`` below their midpoint (perpendicular)."""
    theta = np.radians(angle_deg)
    along, down = np.array([np.cos(theta), np.sin(theta)]), np.array([-np.sin(theta), np.cos(theta)])
    mid = np.asarray(eye_mid)
    points = np.tile(mid, (68, 1))
    ring = np.stack([np.cos(np.linspace(0, 2 * np.pi, 6, endpoint=False)),
                     np.sin(np.linspace(0, 2 * np.pi, 6, endpoint=False))], 1) * 4.0
    points[36:42] = mid - along * iod / 2 + ring
    points[42:48] = mid + along * iod / 2 + ring
    points[48:68] = mid + down * eye_mouth + np.resize(ring, (20, 2))
    points[:17] = mid + np.linspace(-1, 1, 17)[:, None] * along * 70 + down * 40  # jaw
    return points.astype(np.float32)


@pytest.mark.parametrize("angle", [0.0, 25.0, -40.0])
def test_framing_puts_eyes_and_mouth_where_the_training_faces_have_them(angle):
    from xfer_keras.face import FRAMINGS

    framing = FRAMINGS["fer2013"]
    image = np.zeros((300, 400, 3), np.uint8)
    face = _face(_planted_68(angle), box=(120, 80, 280, 260))
    size = 96
    crop = crop_face(image, face, size=size, framing="fer2013")
    eye_a, eye_b = crop.landmarks[36:42].mean(0), crop.landmarks[42:48].mean(0)
    mouth = crop.landmarks[48:68].mean(0)
    # pixel-centre convention: a fraction u of the side is at u * size - 0.5
    np.testing.assert_allclose((eye_a + eye_b) / 2, np.array(framing.eye_center) * size - 0.5,
                               atol=1e-3)
    assert abs(eye_a[1] - eye_b[1]) < 1e-3  # eyes level whatever the head's tilt
    assert np.linalg.norm(eye_b - eye_a) / size == pytest.approx(framing.eye_distance, rel=0.1)
    assert np.linalg.norm(mouth - (eye_a + eye_b) / 2) / size == pytest.approx(framing.eye_mouth,
                                                                             rel=0.1)
    np.testing.assert_allclose(crop.to_original(crop.landmarks), face.landmarks, atol=1e-3)
    upright = crop_face(image, face, size=size, framing="fer2013_upright")
    tilt = np.degrees(np.arctan2(*(upright.landmarks[42:48].mean(0)
                                   - upright.landmarks[36:42].mean(0))[::-1]))
    assert tilt == pytest.approx(angle, abs=1e-3)  # no rotation, same scale and position


def test_framing_warps_the_pixels_with_the_landmarks():
    """A bright dot on each planted eye lands where the crop's landmarks say, when rotated."""
    image = np.zeros((300, 400, 3), np.uint8)
    points = _planted_68(30.0)
    for centre in (points[36:42].mean(0), points[42:48].mean(0)):
        x, y = np.round(centre).astype(int)
        image[y - 2 : y + 3, x - 2 : x + 3] = 255
    crop = crop_face(image, _face(points, box=(120, 80, 280, 260)), size=160, framing="fer2013")
    for centre in (crop.landmarks[36:42].mean(0), crop.landmarks[42:48].mean(0)):
        x, y = np.round(centre).astype(int)
        assert crop.image[y, x].min() > 150


def test_framing_needs_68_landmarks():
    with pytest.raises(InputShapeError, match="68"):
        crop_face(np.zeros((50, 50, 3), np.uint8), _face([[5.0, 5.0]], box=(0, 0, 30, 30)),
                  size=32, framing="fer2013")
    with pytest.raises(ValueError, match="unknown framing"):
        crop_face(np.zeros((50, 50, 3), np.uint8), _face(_planted_68(0.0), box=(0, 0, 30, 30)),
                  size=32, framing="nope")


@pytest.mark.parametrize("angle", [0.0, 15.0, -30.0])
def test_level_eyes_turns_the_box_crop_about_its_centre(angle):
    """``level_eyes``: the eyes come out level, the square keeps its centre and side, and with
    level eyes the crop is the axis-aligned box crop (same landmark mapping, same pixels up to
    interpolation)."""
    yy, xx = np.mgrid[0:300, 0:400]
    image = np.stack([xx * 0.6, yy * 0.8, (xx + yy) * 0.35], -1).astype(np.uint8)
    face = _face(_planted_68(angle), box=(130, 90, 270, 250))
    size = 112
    plain = crop_face(image, face, size=size, margin=0.1)
    level = crop_face(image, face, size=size, margin=0.1, level_eyes=True)
    eye_a, eye_b = level.landmarks[36:42].mean(0), level.landmarks[42:48].mean(0)
    assert abs(eye_a[1] - eye_b[1]) < 1e-3
    assert level.scale == pytest.approx(plain.scale)
    centre = np.array([(plain.box[0] + plain.box[2]) / 2 - 0.5, (plain.box[1] + plain.box[3]) / 2 - 0.5])
    np.testing.assert_allclose(level.to_crop(centre), [size / 2 - 0.5] * 2, atol=1e-3)
    np.testing.assert_allclose(level.to_original(level.landmarks), face.landmarks, atol=1e-3)
    if angle == 0.0:
        np.testing.assert_allclose(level.landmarks, plain.landmarks, atol=1e-3)
        assert np.abs(level.image.astype(float) - plain.image).mean() < 1.5
    else:
        tilt = np.degrees(eye_angle(plain.landmarks))
        assert tilt == pytest.approx(angle, abs=1e-3)  # the plain crop keeps the tilt


def test_level_eyes_needs_68_landmarks():
    with pytest.raises(InputShapeError, match="68"):
        crop_face(np.zeros((50, 50, 3), np.uint8), _face([[5.0, 5.0]], box=(0, 0, 30, 30)),
                  size=32, level_eyes=True)


# ------------------------------------------------------------------------------ flips
@pytest.mark.parametrize("n", [N_DLIB, N_MESH, N_MESH_IRIS])
def test_flip_permutation_is_an_involution(n):
    perm = flip_permutation(n)
    assert perm.shape == (n,) and sorted(perm.tolist()) == list(range(n))
    assert np.array_equal(perm[perm], np.arange(n))


def test_flip_permutation_68_layout():
    perm = flip_permutation(68)
    assert perm[0] == 16 and perm[8] == 8  # jaw ends swap, chin stays
    assert perm[36] == 45 and perm[39] == 42  # outer / inner eye corners
    assert perm[48] == 54 and perm[51] == 51 and perm[62] == 62  # mouth corners, midline
    assert all(perm[i] == i for i in DLIB68_REGIONS["nose_bridge"])
    assert set(perm[list(DLIB68_REGIONS["right_eye"])]) == set(DLIB68_REGIONS["left_eye"])


def test_flip_permutation_mesh_and_iris():
    perm = flip_permutation(478)
    assert perm[468] == 473 and set(perm[469:473]) == set(range(474, 478))  # iris centres, rings
    assert perm[1] == 1 and perm[33] == 263 and perm[133] == 362  # nose tip, eye corners
    assert int((perm[:468] == np.arange(468)).sum()) == 28  # the canonical mesh's midline
    with pytest.raises(InputShapeError, match="no flip permutation"):
        flip_permutation(5)


def test_flip_landmarks_twice_is_identity_and_batches():
    points = RNG.uniform(0, 100, (3, 68, 2)).astype(np.float32)
    flipped = flip_landmarks(points, 101)
    assert flipped.shape == points.shape
    assert np.allclose(flip_landmarks(flipped, 101), points)
    perm = flip_permutation(68)
    assert np.allclose(flipped[1, 5], [100 - points[1, perm[5], 0], points[1, perm[5], 1]])
    assert flip_landmarks(points[0][:, :1].repeat(3, 1), 101).shape == (68, 3)  # x, y, z kept
    with pytest.raises(InputShapeError):
        flip_landmarks(np.zeros(68), 10)


def test_flip_box_matches_the_mirrored_pixels():
    image = np.zeros((10, 20), np.uint8)
    image[2:5, 3:8] = 1  # box (3, 2, 8, 5), x1/y1 exclusive
    x0, y0, x1, y1 = flip_box((3, 2, 8, 5), 20)
    mirrored = image[:, ::-1]
    assert mirrored[y0:y1, x0:x1].all() and mirrored.sum() == (x1 - x0) * (y1 - y0)
    boxes = np.array([[3, 2, 8, 5], [0, 0, 20, 10]], np.float32)
    assert np.array_equal(flip_box(boxes, 20), [[12, 2, 17, 5], [0, 0, 20, 10]])


# ------------------------------------------------------------------------------ overlay
def test_draw_landmarks_and_save_png(tmp_path):
    image = np.zeros((50, 60), np.uint8)  # gray input
    face = _face([[20.0, 25.0], [40.0, 25.0]], box=(10, 10, 50, 40))
    overlay = draw_landmarks(image, face, radius=2, numbers=True, highlight=[1])
    assert overlay.shape == (50, 60, 3) and overlay.dtype == np.uint8
    assert overlay[25, 20, 1] == 255 and overlay[25, 40, 0] == 255  # point, highlighted point
    assert overlay[10, 30].tolist() == [255, 64, 64]  # box edge
    assert image.max() == 0  # the input is not modified
    path = save_png(overlay, tmp_path / "sub" / "overlay.png")
    assert np.array_equal(load_image(path), overlay)
    saved = save_overlay(image, [face, face], tmp_path / "two.png", radius=2)
    assert np.array_equal(load_image(saved), draw_landmarks(image, [face, face], radius=2))
    plain = draw_landmarks(RGB, landmarks=np.array([[3.0, 4.0]]))
    assert plain.shape == RGB.shape and not np.array_equal(plain, RGB)


# ------------------------------------------------------------------------------ laziness
def test_import_loads_no_backend():
    code = (
        "import sys, xfer_keras.face, xfer_keras.cli.landmarks; "
        "heavy = [m for m in ('dlib', 'mediapipe', 'tensorflow', 'cv2') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_stored_flip_tables_match_their_derivation(face_landmarker_path):
    """The generated constants equal what scripts/derive_flip_permutation.py derives (no detector)."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "derive_flip_permutation.py"
    spec = importlib.util.spec_from_file_location("derive_flip_permutation", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert np.array_equal(module.flip68_from_layout(), flip_permutation(68))
    perm, residual = module.flip468_from_canonical(face_landmarker_path)
    assert residual < 1e-6 and np.array_equal(perm, flip_permutation(468))
