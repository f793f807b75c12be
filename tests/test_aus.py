"""AU sources: OpenFace CSV (real column layout), the FeatureExtraction runner, blendshapes."""

import os
import stat
import sys
import textwrap

import numpy as np
import pytest

from xfer_keras.errors import AUSourceError, MissingColumnsError
from xfer_keras.xfera.aus import (BlendshapeAUSource, OpenFaceBinarySource, OpenFaceCSVSource,
                                  make_au_source, read_openface_csv, reading_from_csv)
from xfer_keras.xfera.aus.blendshapes import (
    CALIBRATION_FEATURES, NAIVE_MAPPING, fit_calibration, load_calibration, loso_presence,
    naive_intensities, symmetric_features,
)

R_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)
C_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)


def openface_csv(path, rows):
    """A CSV laid out as OpenFace 2's FeatureExtraction writes it (leading spaces included)."""
    header = ["frame", "face_id", "timestamp", "confidence", "success"]
    header += [f"AU{a:02d}_r" for a in R_AUS] + [f"AU{a:02d}_c" for a in C_AUS]
    lines = [", ".join(header)]
    for frame, confidence, success, r in rows:
        values = [frame, 0, (frame - 1) * 0.033, confidence, success]
        values += [r.get(a, 0.0) for a in R_AUS] + [1 if r.get(a, 0.0) >= 1 else 0 for a in C_AUS]
        lines.append(", ".join(str(v) for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_openface_csv_columns_stripped_and_bad_frames_dropped(tmp_path):
    path = openface_csv(tmp_path / "clip.csv", [
        (1, 0.98, 1, {6: 2.5, 12: 3.1}),
        (2, 0.20, 1, {6: 4.9}),            # low confidence
        (3, 0.99, 0, {12: 5.0}),           # tracking failed
        (4, 0.95, 1, {6: 0.2, 12: 0.31}),
    ])
    assert path.read_text().splitlines()[0].split(",")[1] == " face_id"
    table = read_openface_csv(path, min_confidence=0.5)
    assert "AU06_r" in table.columns and list(table["frame"]) == [1, 4]
    best = reading_from_csv(path, min_confidence=0.5)
    assert best.source == "openface" and best.scale == (0.0, 5.0)
    assert best.intensity(6) == 2.5 and best.confidence == pytest.approx(0.98)
    assert best.present(6) and best.present(12) and not best.present(1)
    assert best.normalized(12) == pytest.approx(3.1 / 5) and best.classes[12]
    frame4 = reading_from_csv(path, frame=4)
    assert not frame4.present(6) and frame4.present(12)   # 0.2 < 0.3 <= 0.31
    assert frame4.threshold(12) == 0.3
    with pytest.raises(AUSourceError, match="no successfully tracked face"):
        reading_from_csv(path, frame=3)
    d = best.to_dict()
    assert d["aus"]["AU06"]["present"] and d["scale"] == [0.0, 5.0]


def test_openface_csv_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("frame, success, confidence\n1, 1, 0.9\n")
    with pytest.raises(MissingColumnsError, match="AUxx_r"):
        read_openface_csv(bad)
    allbad = openface_csv(tmp_path / "allbad.csv", [(1, 0.9, 0, {6: 1.0})])
    with pytest.raises(AUSourceError, match="allbad.csv"):
        reading_from_csv(allbad)
    with pytest.raises(AUSourceError, match="not found"):
        OpenFaceCSVSource(tmp_path / "missing.csv")


def test_openface_csv_source_file_or_folder(tmp_path):
    folder = tmp_path / "csvs"
    folder.mkdir()
    openface_csv(folder / "face1.csv", [(1, 0.9, 1, {12: 2.0})])
    source = make_au_source(f"openface:{folder}")
    assert isinstance(source, OpenFaceCSVSource)
    assert source.read(path="/somewhere/face1.png").present(12)
    with pytest.raises(AUSourceError, match="face2"):
        source.read(path="face2.jpg")
    single = make_au_source(f"openface:{folder / 'face1.csv'}")
    assert single.read().intensity(12) == 2.0


def test_feature_extraction_missing_gives_clear_error(monkeypatch):
    monkeypatch.delenv("XFER_OPENFACE_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(AUSourceError, match="FeatureExtraction not found.*blendshapes"):
        OpenFaceBinarySource()
    with pytest.raises(AUSourceError):
        make_au_source("openface")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell script stands in for OpenFace")
def test_feature_extraction_runs_binary_on_path(tmp_path, monkeypatch):
    """A stand-in FeatureExtraction on PATH: called as OpenFace is, its CSV is read back."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    header = ", ".join(["frame", "face_id", "timestamp", "confidence", "success", "AU06_r", "AU12_r"])
    script = bindir / "FeatureExtraction"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        # usage: FeatureExtraction -f IMAGE -out_dir DIR -aus
        while [ $# -gt 0 ]; do case "$1" in -f) f="$2"; shift;; -out_dir) o="$2"; shift;; esac; shift; done
        name=$(basename "$f"); stem="${{name%.*}}"
        mkdir -p "$o"
        printf '%s\\n%s\\n' '{header}' '1, 0, 0.0, 0.97, 1, 1.5, 2.5' > "$o/$stem.csv"
        """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    source = make_au_source("openface")
    reading = source.read(image=np.zeros((32, 32, 3), np.uint8))
    assert reading.intensity(6) == 1.5 and reading.present(12)


def test_blendshape_source_naive_and_calibrated():
    shapes = {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.7, "cheekSquintLeft": 0.4,
              "cheekSquintRight": 0.5, "eyeSquintLeft": 0.5, "eyeSquintRight": 0.5, "jawOpen": 0.02}
    assert symmetric_features(shapes)["mouthSmile"] == 0.9
    naive = naive_intensities(shapes)
    assert naive[12] == 0.9 and naive[6] == 0.5 and naive[1] == 0.0
    reading = make_au_source("blendshapes:naive").read(face=type("F", (), {"blendshapes": shapes})())
    assert reading.present(12) and reading.threshold(12) == 0.2 and not reading.present(25)

    calibrated = BlendshapeAUSource()
    params = load_calibration()
    assert set(int(k) for k in params["aus"]) <= set(CALIBRATION_FEATURES)
    reading = calibrated.read(blendshapes=shapes)
    assert reading.source == "blendshapes:calibrated" and reading.scale == (0.0, 1.0)
    assert all(0.0 <= v <= 1.0 for v in reading.intensities.values())
    assert reading.present(12) and not reading.present(25) and not reading.present(27)
    neutral = calibrated.read(blendshapes={k: 0.0 for k in shapes})
    assert not neutral.present(12)
    with pytest.raises(AUSourceError, match="blendshapes"):
        calibrated.read(face=None)
    with pytest.raises(ValueError):
        make_au_source("nonsense")


def test_calibration_fit_and_loso_on_synthetic_rows():
    rng = np.random.default_rng(0)
    n = 60
    smile = rng.uniform(0, 1, n)
    rows = [{"mouthSmileLeft": s, "mouthSmileRight": s * 0.9, "cheekSquintLeft": rng.uniform(0, 0.2)}
            for s in smile]
    labels = {12: (smile > 0.5).astype(int)}
    groups = np.repeat(np.arange(12), 5)
    params = fit_calibration(rows, labels, groups=groups)
    model = params["aus"]["12"]
    assert model["features"][0] == "mouthSmile" and model["coef"][0] > 0
    assert 0.2 <= model["threshold"] <= 0.9
    reading = BlendshapeAUSource(params=params).read(blendshapes=rows[int(np.argmax(smile))])
    assert reading.present(12)
    pred = loso_presence(rows, labels, groups)
    assert (pred[12] == labels[12].astype(bool)).mean() > 0.85
    assert set(NAIVE_MAPPING) == set(CALIBRATION_FEATURES)


def test_a_rare_au_without_signal_is_not_measured():
    """An AU whose blendshapes carry no signal and that few faces show would get a threshold that
    calls it present nearly everywhere (AU10 on CK+); it is left out instead, and LOSO counts it
    absent, while an AU with signal is kept."""
    from xfer_keras.xfera.aus.blendshapes import MIN_KAPPA

    rng = np.random.default_rng(1)
    n = 120
    smile = rng.uniform(0, 1, n)
    rows = [{"mouthSmileLeft": s, "mouthSmileRight": s, "mouthUpperUpLeft": rng.uniform(0, 1),
             "noseSneerLeft": rng.uniform(0, 1)} for s in smile]
    rare = np.zeros(n, int)
    rare[rng.choice(n, 8, replace=False)] = 1          # 7 % of the faces, unrelated to the shapes
    labels = {12: (smile > 0.5).astype(int), 10: rare}
    groups = np.repeat(np.arange(24), 5)
    params = fit_calibration(rows, labels, groups=groups)
    assert "12" in params["aus"] and "10" not in params["aus"]
    dropped = params["unreliable"]["10"]
    assert dropped["n_positive"] == 8
    assert dropped["oof_kappa"] < MIN_KAPPA
    reading = BlendshapeAUSource(params=params).read(blendshapes=rows[0])
    assert 10 not in reading.intensities and not reading.present(10)
    pred = loso_presence(rows, labels, groups)
    assert not pred[10].any()
    assert (pred[12] == labels[12].astype(bool)).mean() > 0.85


def test_cohen_kappa_known_values():
    from xfer_keras.xfera.aus.blendshapes import cohen_kappa

    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    assert cohen_kappa(y, y) == pytest.approx(1.0)
    assert cohen_kappa(y, np.ones(10)) == pytest.approx(0.0)       # "always present"
    # 1 TP, 1 FN, 1 FP, 7 TN: observed 0.8, chance 0.2*0.2 + 0.8*0.8 = 0.68 -> 0.375
    assert cohen_kappa(y, [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(0.375)


def test_no_measured_au_is_called_present_far_more_often_than_coded(ckplus_dir, face_landmarker_path):
    """On the 40 full-resolution CK+ peaks, every AU the shipped calibration measures is called
    present on at most 40 points more of the faces than FACS codes it (AU10, before it was left
    out: present on all 40, coded on 1), and the ones it measures agree better than chance."""
    from xfer_keras.data.ckplus import load_ckplus_sequences
    from xfer_keras.face import LandmarkDetector, load_image
    from xfer_keras.xfera.aus.blendshapes import cohen_kappa

    records = [r for r in load_ckplus_sequences(ckplus_dir) if r.au_codes]
    source = BlendshapeAUSource()
    with LandmarkDetector("mediapipe") as detector:
        readings = [source.read(face=detector.detect_one(load_image(r.frame_paths[-1])))
                    for r in records]
    assert len(readings) == 40
    for au in source.thresholds:
        present = np.array([reading.present(au) for reading in readings])
        coded = np.array([au in r.au_codes for r in records])
        assert present.mean() <= coded.mean() + 0.4, (au, present.mean(), coded.mean())
        if coded.sum() >= 5:
            assert cohen_kappa(coded.astype(int), present) > 0.2, au
