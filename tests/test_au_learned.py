"""The learned mesh-geometry AU detector (``--au-source blendshapes``) and its geometry features."""

from __future__ import annotations

import numpy as np
import pytest

from xfer_keras.face.geometry import FEATURE_NAMES, MIDLINE, N_POINTS, PAIRS, mesh_features
from xfer_keras.xfera.aus import LearnedAUSource, make_au_source
from xfer_keras.xfera.aus import learned
from xfer_keras.xfera.aus.learned import (
    fit_learned,
    learned_probabilities,
    load_learned,
    loso_learned,
)

BROW_POINTS = (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300,
               334, 336)


def synthetic_mesh(seed=0):
    """Random points with the eyes where a face has them (enough for geometry identities)."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(100, 300, size=(N_POINTS, 2))
    for name, (right, left) in {"eye_outer_corner": ((140, 180), (260, 184)),
                                "eye_inner_corner": ((180, 182), (220, 183))}.items():
        points[PAIRS[name][0]], points[PAIRS[name][1]] = right, left
    return points, rng.normal(0, 20, N_POINTS)


def test_geometry_is_invariant_to_scale_rotation_and_translation():
    points, z = synthetic_mesh()
    base = mesh_features(points, z)
    assert base.shape == (len(FEATURE_NAMES),) and np.isfinite(base).all()
    for angle, scale, shift in ((20.0, 2.5, (40.0, -13.0)), (-35.0, 0.4, (-100.0, 250.0))):
        a = np.deg2rad(angle)
        rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        moved = (points @ rotation.T) * scale + np.array(shift)
        # MediaPipe's depth is in image-width units: it scales with the image, not with the roll
        np.testing.assert_allclose(mesh_features(moved, z * scale), base, atol=1e-9)
    other, _ = synthetic_mesh(1)
    assert not np.allclose(mesh_features(other, z), base)


def test_geometry_rejects_a_68_point_face():
    from xfer_keras.errors import InputShapeError

    with pytest.raises(InputShapeError):
        mesh_features(np.zeros((68, 2)))


def test_loso_never_trains_on_the_held_out_subject(monkeypatch):
    """Each fold's standardisation, models and thresholds see only the other subjects' rows:
    with a feature that names the subject and labels that are a coin toss per subject, a leak
    would predict the held-out subject perfectly; without one it is chance."""
    rng = np.random.default_rng(0)
    n_subjects, per = 30, 4
    groups = np.repeat([f"S{i:03d}" for i in range(n_subjects)], per)
    x = np.zeros((len(groups), n_subjects + 3))
    x[np.arange(len(groups)), np.repeat(np.arange(n_subjects), per)] = 1.0
    x[:, n_subjects:] = rng.normal(size=(len(groups), 3))
    labels = {12: np.repeat(rng.integers(0, 2, n_subjects), per)}

    seen_groups = []
    original = learned.threshold_and_kappa

    def recording(xs, y, g, C=1.0, n_splits=5):
        seen_groups.append(set(np.asarray(g)))
        return original(xs, y, g, C, n_splits)

    monkeypatch.setattr(learned, "threshold_and_kappa", recording)
    folds = []
    pred, _ = loso_learned(x, labels, groups, folds=folds)
    assert len(folds) == n_subjects
    for (subject, train), tuned_on in zip(folds, seen_groups):
        assert subject not in set(groups[train]) and subject not in tuned_on
        assert len(train) == len(groups) - per
    accuracy = (pred[12] == labels[12].astype(bool)).mean()
    assert accuracy < 0.8, accuracy


def test_fit_keeps_an_au_with_signal_and_leaves_out_one_without():
    rng = np.random.default_rng(1)
    n = 150
    x = rng.normal(size=(n, 12))
    rare = np.zeros(n, int)
    rare[rng.choice(n, 9, replace=False)] = 1  # unrelated to the features
    labels = {12: (x[:, 3] > 0.2).astype(int), 10: rare}
    groups = np.repeat(np.arange(30), 5)
    params = fit_learned(x, labels, groups)
    assert "12" in params["aus"] and "10" in params["unreliable"]
    assert params["unreliable"]["10"]["n_positive"] == 9
    source = LearnedAUSource(params=params)
    for row in x:
        reading = source.read(face=row)
        assert 10 not in reading.intensities and not reading.present(10)
    pred, _ = loso_learned(x, labels, groups)
    assert pred[10].mean() < 0.1  # left out in (nearly) every training fold: absent
    assert (pred[12] == labels[12].astype(bool)).mean() > 0.85


def test_shipped_params_load_and_give_probabilities():
    params = load_learned()
    names = learned.feature_names(params["feature_set"])
    assert params["features"] == list(names)
    for key in ("mean", "scale", "neutral_mean"):
        assert len(params[key]) == len(names)
    assert all(len(m["coef"]) == len(names) for m in params["aus"].values())
    measured = {int(k) for k in params["aus"]}
    assert measured.isdisjoint(int(k) for k in params["unreliable"])
    rng = np.random.default_rng(2)
    mean, scale = np.asarray(params["mean"]), np.asarray(params["scale"])
    vectors = [mean, mean + 1e3 * scale, mean - 1e3 * scale] + [
        mean + scale * rng.normal(0, 3, len(names)) for _ in range(20)]
    for x in vectors:
        for neutral in (None, mean + scale * rng.normal(0, 1, len(names))):
            probs = learned_probabilities(x, params, neutral)
            assert set(probs) == measured
            assert all(0.0 <= p <= 1.0 for p in probs.values())


def test_source_spellings():
    assert isinstance(make_au_source("blendshapes"), LearnedAUSource)
    assert make_au_source("blendshapes").name == "blendshapes"
    assert make_au_source("blendshapes:learned").name == "blendshapes:learned"
    assert make_au_source("blendshapes:calibrated").name == "blendshapes:calibrated"
    assert make_au_source("blendshapes:naive").name == "blendshapes:naive"
    assert make_au_source(None).name == "blendshapes"
    from xfer_keras.errors import AUSourceError

    with pytest.raises(AUSourceError, match="MediaPipe"):
        make_au_source("blendshapes").read(face=None)
    with pytest.raises(AUSourceError, match="MediaPipe"):
        make_au_source("blendshapes").read(face=type("F", (), {"landmarks": np.zeros((68, 2))})())


def test_unmeasured_aus_are_never_present_nor_narrated():
    """An AU the shipped detector does not measure has no intensity, is never present, and so
    the fusion never counts it as matching or describes it as seen, whatever the face."""
    from xfer_keras.xfera.fusion import fuse
    from xfer_keras.xfera.hot_landmarks import HotLandmarks

    params = load_learned()
    unmeasured = {int(k) for k in params["unreliable"]} | ({10, 26} - {int(k) for k in params["aus"]})
    assert unmeasured, "the shipped detector measures every AU it was fitted on"
    source = LearnedAUSource(params=params)
    hot = HotLandmarks(values=np.ones(68), hot=np.ones(68, bool), threshold=0.0, mean=0.0,
                       std=0.0, k=1.0, region="face")
    rng = np.random.default_rng(3)
    mean, scale = np.asarray(params["mean"]), np.asarray(params["scale"])
    for _ in range(30):
        reading = source.read(face=mean + scale * rng.normal(0, 2, len(mean)))
        assert unmeasured.isdisjoint(reading.intensities)
        assert unmeasured.isdisjoint(reading.present_aus)
        for emotion in ("disgust", "anger", "surprise", "fear"):
            fusion = fuse(emotion, 0.9, hot, reading)
            said = set(fusion.matching_aus) | set(fusion.hot_aus) | {
                e.au for e in fusion.evidence if e.present}
            assert unmeasured.isdisjoint(said), (emotion, said)


# ---------------------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def neutral_and_peak(ckplus_dir, face_landmarker_path):
    """A CK+ sequence's neutral first frame and smiling peak (MediaPipe faces)."""
    from xfer_keras.data.ckplus import load_ckplus_sequences
    from xfer_keras.face import LandmarkDetector, load_image

    records = [r for r in load_ckplus_sequences(ckplus_dir) if r.au_codes and 12 in r.au_codes]
    if not records:
        pytest.skip("no CK+ sequence coded with AU12")
    record = records[0]
    with LandmarkDetector("mediapipe") as detector:
        return (detector.detect_one(load_image(record.frame_paths[0])),
                detector.detect_one(load_image(record.frame_paths[-1])), record)


def _moved(face, landmarks):
    from dataclasses import replace

    return replace(face, landmarks=landmarks.astype(np.float32))


def _iod(points):
    eyes = [(points[PAIRS["eye_outer_corner"][i]] + points[PAIRS["eye_inner_corner"][i]]) / 2
            for i in (0, 1)]
    return float(np.hypot(*(eyes[1] - eyes[0])))


def test_planted_brow_raise_and_smile_are_found(neutral_and_peak):
    """On a real neutral face, raising the brows (AU1, AU2) or pulling the lip corners up and out
    (AU12) geometrically raises that AU's probability past its threshold."""
    neutral, _, _ = neutral_and_peak
    source = LearnedAUSource()
    before = source.read(face=neutral)
    points = np.asarray(neutral.landmarks, dtype=np.float64)
    iod = _iod(points)

    brows = points.copy()
    brows[list(BROW_POINTS), 1] -= 0.12 * iod
    raised = source.read(face=_moved(neutral, brows))
    for au in (1, 2):
        assert raised.intensity(au) > before.intensity(au) + 0.3, (au, before.intensity(au))
        assert raised.present(au) and not before.present(au)

    smile = points.copy()
    lip_centre = (points[MIDLINE["upper_lip_inner"]] + points[MIDLINE["lower_lip_inner"]]) / 2
    for corner in PAIRS["mouth_corner"]:
        c = points[corner]
        near = np.hypot(*(points - c).T) < 0.3 * iod
        weight = 1.0 - np.hypot(*(points[near] - c).T) / (0.3 * iod)
        outward = np.sign(c[0] - lip_centre[0])
        smile[near, 1] -= 0.1 * iod * weight
        smile[near, 0] += 0.05 * iod * outward * weight
    smiled = source.read(face=_moved(neutral, smile))
    assert smiled.intensity(12) > before.intensity(12) + 0.3, before.intensity(12)
    assert smiled.present(12) and not before.present(12)


def test_neutral_referenced_reading(neutral_and_peak):
    """Read against its own neutral frame, the neutral frame shows no AU and the peak shows the
    coded smile; the source says it was neutral-referenced."""
    neutral, peak, record = neutral_and_peak
    source = LearnedAUSource()
    itself = source.read(face=neutral, neutral=neutral)
    assert itself.present_aus == [] and itself.source.endswith("(neutral-referenced)")
    referenced = source.read(face=peak, neutral=neutral)
    assert referenced.present(12)
    source.set_neutral(neutral)
    assert source.read(face=peak).intensities == referenced.intensities
    source.set_neutral(None)
    assert source.read(face=peak).source == "blendshapes"
