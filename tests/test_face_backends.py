"""Both face backends on real faces (CK+ frames, skimage's astronaut): landmarks, policies,
clamping, flips, crops, errors and the ``landmarks`` CLI."""

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xfer_keras.errors import ImageReadError, MultipleFacesError, NoFaceError
from xfer_keras.face import (
    LandmarkDetector,
    crop_face,
    detect_face,
    detect_faces,
    detect_many,
    flip_landmarks,
    load_image,
)

pytestmark = pytest.mark.real_data
N_POINTS = {"dlib": 68, "mediapipe": 478}
EYES = {"dlib": (list(range(36, 42)), list(range(42, 48))), "mediapipe": ([33, 133], [362, 263])}


def _iod(landmarks, backend):
    right, left = EYES[backend]
    return float(np.linalg.norm(landmarks[right].mean(0) - landmarks[left].mean(0)))


@pytest.fixture(scope="module")
def ck_frames(ckplus_dir):
    """{'neutral': path, 'peak': path, 'other': path} from three CK+ subjects."""
    with open(ckplus_dir / "sequences.csv") as handle:
        rows = list(csv.DictReader(handle))
    by_subject = {}
    for row in rows:
        by_subject.setdefault(row["subject"], row)
    first, second, third = list(by_subject.values())[:3]
    frame = lambda row, key: ckplus_dir / row["frames_dir"] / row[key]  # noqa: E731
    return {
        "neutral": frame(first, "first_frame(neutral)"),
        "peak": frame(second, "last_frame(peak)"),
        "other": frame(third, "first_frame(neutral)"),
    }


@pytest.fixture(scope="module")
def two_faces(ck_frames, tmp_path_factory):
    """A PNG with two CK+ faces side by side: a small one (left), a large one (right)."""
    small = load_image(ck_frames["other"])
    small = np.asarray(Image.fromarray(small).resize((small.shape[1] * 3 // 5, small.shape[0] * 3 // 5)))
    large = load_image(ck_frames["neutral"])
    canvas = np.zeros((large.shape[0], small.shape[1] + large.shape[1], 3), np.uint8)
    canvas[: small.shape[0], : small.shape[1]] = small
    canvas[:, small.shape[1] :] = large
    path = tmp_path_factory.mktemp("faces") / "two_faces.png"
    Image.fromarray(canvas).save(path)
    return path, small.shape[1]


@pytest.fixture(scope="module", params=["dlib", "mediapipe"])
def detector(request):
    model_path = None
    if request.param == "mediapipe":
        model_path = request.getfixturevalue("face_landmarker_path")
    with LandmarkDetector(request.param, model_path=model_path) as detector:
        yield detector


def _check_face(face, backend, width, height):
    assert face.backend == backend
    assert face.landmarks.shape == (N_POINTS[backend], 2) and face.landmarks.dtype == np.float32
    x0, y0, x1, y1 = face.box
    assert all(isinstance(v, int) for v in face.box)
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert face.image_size == (width, height)
    inside = (
        (face.landmarks[:, 0] >= x0 - 0.1 * (x1 - x0)) & (face.landmarks[:, 0] <= x1 + 0.1 * (x1 - x0))
        & (face.landmarks[:, 1] >= y0 - 0.2 * (y1 - y0)) & (face.landmarks[:, 1] <= y1 + 0.1 * (y1 - y0))
    )
    assert inside.mean() > 0.9
    if backend == "mediapipe":
        assert len(face.blendshapes) == 52 and "jawOpen" in face.blendshapes
        assert all(0.0 <= v <= 1.0 for v in face.blendshapes.values())
        assert face.landmarks_z.shape == (478,)
        assert face.mesh468.shape == (468, 2)
    else:
        assert face.blendshapes is None and face.score is not None


def test_real_face_from_every_input_kind(detector, ck_frames):
    path = ck_frames["neutral"]
    rgb = load_image(path)
    face = detector.detect_one(path)
    _check_face(face, detector.backend, rgb.shape[1], rgb.shape[0])
    gray = rgb[:, :, 0]  # CK+ is gray: the same pixels
    for image in (str(path), gray, gray[:, :, None], rgb, gray.astype(np.float32) / 255.0,
                  gray.astype(np.uint16) * 257, Image.open(path),
                  np.dstack([rgb, np.full(gray.shape, 255, np.uint8)])):
        other = detector.detect_one(image)
        assert np.abs(other.landmarks - face.landmarks).max() < 1.0


def test_astronaut(detector):
    skimage_data = pytest.importorskip("skimage.data")
    image = skimage_data.astronaut()
    face = detector.detect_one(image)
    _check_face(face, detector.backend, 512, 512)
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    assert 170 < cx < 290 and 60 < cy < 190  # her face, not the flag or the helmet


def test_small_48px_faces(detector, data_dir):
    """ckplus48 crops (48x48, the face fills the image): dlib needs the 2x enlargement."""
    paths = sorted((data_dir / "ckplus48").glob("*/*.png"))[::40][:6]
    if not paths:
        pytest.skip("ckplus48 not found")
    for path in paths:
        face = detector.detect_one(path)
        _check_face(face, detector.backend, 48, 48)


def test_mirrored_face_gives_flipped_permuted_landmarks(detector, ck_frames):
    for key in ("peak", "other"):
        rgb = load_image(ck_frames[key])
        face = detector.detect_one(rgb)
        mirrored = detector.detect_one(np.ascontiguousarray(rgb[:, ::-1]))
        expected = flip_landmarks(face.landmarks, rgb.shape[1])
        error = np.linalg.norm(expected - mirrored.landmarks, axis=1).mean() / _iod(face.landmarks, detector.backend)
        assert error < 0.05, f"{key}: mean error {error:.3f} IOD"
        unpermuted = face.landmarks.copy()
        unpermuted[:, 0] = rgb.shape[1] - 1 - unpermuted[:, 0]
        wrong = np.linalg.norm(unpermuted - mirrored.landmarks, axis=1).mean() / _iod(face.landmarks, detector.backend)
        assert wrong > 0.3  # the permutation matters


def test_policies_on_two_faces(detector, two_faces):
    path, split = two_faces
    faces = detector.detect(path, policy="all")
    assert len(faces) == 2 and faces[0].area > faces[1].area
    assert faces[0].box[0] >= split - 5 and faces[1].box[2] <= split + 5  # large right, small left
    largest = detector.detect(path)
    assert len(largest) == 1  # dlib "largest" detects on a smaller copy: the box may differ a bit
    shift = np.linalg.norm(largest[0].landmarks - faces[0].landmarks, axis=1).mean()
    assert shift < 0.05 * _iod(faces[0].landmarks, detector.backend)
    assert detector.detect_one(path, policy="all").box == faces[0].box
    with pytest.raises(MultipleFacesError, match="two_faces.png: 2 faces"):
        detector.detect(path, policy="error")
    assert len(detector.detect(load_image(path)[:, split:], policy="error")) == 1


def test_box_is_clamped_when_the_face_leaves_the_image(detector, ck_frames):
    rgb = load_image(ck_frames["neutral"])
    face = detector.detect_one(rgb)
    x_cut = int(face.box[0] + 0.12 * (face.box[2] - face.box[0]))  # cut off the face's left edge
    y_cut = int(face.box[1] + 0.08 * (face.box[3] - face.box[1]))
    cut = rgb[y_cut:, x_cut:]
    try:
        clipped = detector.detect_one(cut)
    except NoFaceError:
        pytest.skip(f"{detector.backend} finds no face once it is cut")
    _check_face(clipped, detector.backend, cut.shape[1], cut.shape[0])
    assert clipped.box[0] == 0 or clipped.landmarks[:, 0].min() >= 0
    if detector.backend == "mediapipe":  # points outside the image, box clamped to it
        assert clipped.landmarks[:, 0].min() < 0 and clipped.box[0] == 0


def test_no_face_and_bad_files_name_the_source(detector, tmp_path):
    with pytest.raises(NoFaceError, match="blank frame: no face found"):
        detector.detect(np.full((240, 320), 128, np.uint8), source="blank frame")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ImageReadError, match="broken.jpg"):
        detector.detect(bad)
    with pytest.raises(ImageReadError, match="nowhere.png: file not found"):
        detector.detect(tmp_path / "nowhere.png")


def test_crop_of_a_real_face(detector, ck_frames):
    face = detector.detect_one(ck_frames["neutral"])
    crop = crop_face(ck_frames["neutral"], face)
    assert crop.image.shape == (224, 224, 3) and crop.landmarks.shape == face.landmarks.shape
    inside = (crop.landmarks >= 0) & (crop.landmarks < 224)
    assert inside.all(axis=1).mean() > 0.95
    # the crop is the face: detecting on it gives the mapped landmarks back
    again = detector.detect_one(crop.image)
    scale_error = np.linalg.norm(again.landmarks - crop.landmarks, axis=1).mean()
    assert scale_error / _iod(crop.landmarks, detector.backend) < 0.1


def test_convenience_functions_reuse_a_detector(ck_frames, face_landmarker_path):
    face = detect_face(ck_frames["neutral"], backend="dlib")
    assert face.landmarks.shape == (68, 2)
    faces = detect_faces(ck_frames["neutral"], backend="mediapipe", model_path=face_landmarker_path)
    assert len(faces) == 1 and faces[0].landmarks.shape == (478, 2)
    from xfer_keras.face import detector as module

    assert len(module._CACHE.detectors) >= 2
    again = detect_face(ck_frames["neutral"], backend="dlib")
    assert np.array_equal(again.landmarks, face.landmarks)


def test_dlib_detectors_in_threads_match_serial(ck_frames):
    paths = [ck_frames[k] for k in ("neutral", "peak", "other")] * 2

    def run(chunk):
        with LandmarkDetector("dlib") as detector:
            return [detector.detect_one(p).landmarks for p in chunk]

    serial = run(paths)
    with ThreadPoolExecutor(2) as pool:
        threaded = [x for part in pool.map(run, [paths[::2], paths[1::2]]) for x in part]
    order = list(range(0, len(paths), 2)) + list(range(1, len(paths), 2))
    for got, index in zip(threaded, order):
        assert np.array_equal(got, serial[index])


def test_detect_many_keeps_order_and_reports_errors(ck_frames, tmp_path):
    paths = [ck_frames["neutral"], tmp_path / "missing.png", ck_frames["peak"], ck_frames["other"]]
    results = detect_many(paths, backend="dlib", workers=2, skip_errors=True)
    assert isinstance(results[1], ImageReadError) and "missing.png" in str(results[1])
    with LandmarkDetector("dlib") as detector:
        for index in (0, 2, 3):
            assert np.array_equal(results[index][0].landmarks, detector.detect_one(paths[index]).landmarks)
    with pytest.raises(ImageReadError, match="missing.png"):
        detect_many(paths, backend="dlib", workers=2)


# ------------------------------------------------------------------------------------------ CLI
def _cli(argv, capsys):
    from xfer_keras.cli import main

    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


def test_cli_end_to_end(ck_frames, tmp_path, capsys, two_faces):
    good = str(ck_frames["neutral"])
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    out = tmp_path / "out" / "landmarks.json"

    code, err = _cli(["landmarks", good, "--backend", "dlib", "--json", str(out),
                      "--overlay-dir", str(tmp_path / "png")], capsys)
    assert code == 0 and err == []
    data = json.loads(out.read_text())
    assert len(data) == 1 and data[0]["image"] == good and data[0]["backend"] == "dlib"
    assert len(data[0]["landmarks"]) == 68 and len(data[0]["box"]) == 4
    assert data[0]["blendshapes"] is None
    assert (tmp_path / "png" / f"{Path(good).stem}_landmarks.png").is_file()

    out.unlink()
    code, err = _cli(["landmarks", good, str(bad), "--backend", "dlib", "--json", str(out)], capsys)
    assert code == 1 and len(err) == 1 and "bad.png" in err[0] and not out.exists()

    missing = str(tmp_path / "missing.png")
    code, err = _cli(["landmarks", good, str(bad), missing, "--backend", "dlib", "--json", str(out),
                      "--skip-errors"], capsys)
    assert code == 3 and len(err) == 2 and "missing.png" in err[1]
    assert [d["image"] for d in json.loads(out.read_text())] == [good]

    code, err = _cli(["landmarks", str(bad), "--backend", "dlib", "--json", str(out), "--skip-errors"], capsys)
    assert code == 1 and json.loads(out.read_text()) == []

    many = [good, str(ck_frames["peak"]), str(ck_frames["other"]), good]
    code, err = _cli(["landmarks", *many, "--backend", "dlib", "--json", str(out), "--workers", "2"], capsys)
    data = json.loads(out.read_text())
    assert code == 0 and [d["image"] for d in data] == many and data[0]["landmarks"] == data[3]["landmarks"]
    assert data[0]["image_size"] == [640, 490]

    path, _ = two_faces
    code, _ = _cli(["landmarks", str(path), "--backend", "dlib", "--json", str(out), "--policy", "all"], capsys)
    assert code == 0 and [d["face"] for d in json.loads(out.read_text())] == [0, 1]
    code, err = _cli(["landmarks", str(path), "--backend", "dlib", "--json", str(out), "--policy", "error"], capsys)
    assert code == 1 and len(err) == 1 and "2 faces" in err[0]


def test_cli_mediapipe_and_unclosed_landmarker_exits_cleanly(ck_frames, tmp_path, face_landmarker_path):
    """A subprocess: the CLI's JSON has blendshapes; its stderr is one line per bad image (native
    TensorFlow/MediaPipe log lines kept off); a detector left open prints no traceback at exit."""
    out = tmp_path / "mp.json"
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    env = dict(os.environ, XFER_FACE_LANDMARKER=str(face_landmarker_path))
    code = (
        "import sys; from xfer_keras.cli import main; from xfer_keras.face import LandmarkDetector\n"
        f"rc = main(['landmarks', {str(ck_frames['neutral'])!r}, {str(bad)!r}, '--json', {str(out)!r},"
        " '--skip-errors'])\n"
        "print('--- cli done ---', file=sys.stderr, flush=True)\n"
        f"LandmarkDetector('mediapipe').detect({str(ck_frames['peak'])!r})  # never closed\n"
        "sys.exit(rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 3, result.stderr[-2000:]
    cli_stderr = result.stderr.split("--- cli done ---")[0].strip().splitlines()
    assert len(cli_stderr) == 1 and "bad.png" in cli_stderr[0], cli_stderr
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data[0]["backend"] == "mediapipe" and len(data[0]["landmarks"]) == 478
    assert len(data[0]["blendshapes"]) == 52


def test_dlib_agrees_with_the_real_ckplus_aam_landmarks(ckplus_dir):
    """CK+'s own AAM landmarks (iBUG-68 order) for one frame: same order, close positions."""
    reference_file = ckplus_dir / "reference_aam_landmarks" / "S052_004_00000033_landmarks.txt"
    if not reference_file.is_file():
        pytest.skip("reference AAM landmarks not found")
    reference = np.loadtxt(reference_file)
    image = ckplus_dir / "images" / "S052" / "004" / "S052_004_00000033.png"
    with LandmarkDetector("dlib") as detector:
        landmarks = detector.detect_one(image).landmarks
    iod = np.linalg.norm(reference[36:42].mean(0) - reference[42:48].mean(0))
    errors = np.linalg.norm(landmarks - reference, axis=1) / iod
    assert errors.mean() < 0.1 and np.median(errors) < 0.08  # measured: mean 0.063
    nearest = np.argmin(np.linalg.norm(landmarks[:, None] - reference[None], axis=2), axis=1)
    assert (nearest == np.arange(68)).mean() > 0.8  # the same point order
