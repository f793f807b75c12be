"""Attribution maps (xfer_keras.explain.cam_maps, the CAM engines of GradCAM) and their scoring
(xfer_keras.evaluation.attribution_maps): the CAM engine equals the fast Grad-CAM and
tf-keras-vis' LayerCAM; a map pointing at the part whose masking kills the answer deletes faster
than random part orders (and one pointing elsewhere does not); the oracle's own landmarks score
1; on real CK+ peaks every map is a finite map of the crop's shape with an 11-point deletion
curve from the unmasked probability."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

import keras

from xfer_keras.evaluation import attribution_maps as am
from xfer_keras.explain.gradcam import GradCAM
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.models.registry import create, model_config


@pytest.fixture(scope="module")
def tiny_clf():
    keras.utils.set_random_seed(0)
    model = create("tiny_bam", input_size=64)
    return EmotionClassifier(model, model_config("tiny_bam", model=model))


def test_cam_engine_matches_fast_gradcam_and_tf_keras_vis_layercam(tiny_clf):
    crops = np.random.default_rng(1).integers(0, 256, size=(3, 80, 80, 3), dtype=np.uint8)
    targets = [0, 3, 5]
    fast = GradCAM(tiny_clf, engine="fast").explain(crops, targets=targets)
    cam = GradCAM(tiny_clf, engine="cam")
    assert cam.engine == "cam"
    np.testing.assert_allclose(cam.explain(crops, targets=targets), fast, atol=1e-5)
    reference = GradCAM(tiny_clf, method="layercam", layer="bam1").explain(crops, targets=targets)
    mine = GradCAM(tiny_clf, method="layercam", layer="bam1", engine="cam")
    np.testing.assert_allclose(mine.explain(crops, targets=targets), reference, atol=1e-4)
    model_before = [w.copy() for w in tiny_clf.model.get_weights()]
    probs, maps, chosen = GradCAM(tiny_clf, method="hirescam",
                                  layer="bam1,conv3_block1_out").classify_and_explain(crops)
    assert maps.shape == (3, 80, 80) and 0.0 <= maps.min() and maps.max() <= 1.0
    np.testing.assert_allclose(probs, tiny_clf.predict_proba(crops), atol=1e-5)
    np.testing.assert_array_equal(chosen, probs.argmax(1))
    for a, b in zip(model_before, tiny_clf.model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_engine_choice_for_new_methods_and_layer_lists(tiny_clf):
    assert GradCAM(tiny_clf, method="hirescam").engine == "cam"  # not from a file: no LiteRT
    assert GradCAM(tiny_clf, method="layercam", layer="bam1,conv3_block1_out").engine == "cam"
    assert GradCAM(tiny_clf, method="layercam").engine == "tf-keras-vis"  # as before
    with pytest.raises(ValueError):
        GradCAM(tiny_clf, layer="bam1,conv3_block1_out", engine="fast")
    with pytest.raises(ValueError):
        GradCAM(tiny_clf, method="scorecam", engine="cam")
    with pytest.raises(ValueError):
        GradCAM(tiny_clf, method="hirescam", layer="bam1,nope", engine="cam")


def template_landmarks() -> np.ndarray:
    """A plausible frontal 68-point face in a 224 crop (dlib order)."""
    t = np.linspace(np.pi, 0.0, 17)
    jaw = np.c_[112 + 90 * np.cos(t), 90 + 110 * np.sin(t)]
    brows = np.r_[np.c_[np.linspace(45, 100, 5), np.full(5, 70)],
                  np.c_[np.linspace(124, 179, 5), np.full(5, 70)]]
    nose = np.r_[np.c_[np.full(4, 112), np.linspace(85, 130, 4)],
                 np.c_[np.linspace(95, 129, 5), np.full(5, 140)]]

    def ring(cx, cy, rx, ry, n):
        a = np.linspace(np.pi, -np.pi, n, endpoint=False)
        return np.c_[cx + rx * np.cos(a), cy + ry * np.sin(a)]

    eyes = np.r_[ring(72, 95, 12, 5, 6), ring(152, 95, 12, 5, 6)]
    mouth = np.r_[ring(112, 172, 30, 12, 12), ring(112, 172, 18, 5, 8)]
    points = np.r_[jaw, brows, nose, eyes, mouth].astype(np.float32)
    assert points.shape == (68, 2)
    return points


def mouth_model(crop_shape, landmarks):
    """A 2-class 'model' sure of class 1 while the mouth keeps its fine texture (the blurred fill
    wipes it out), whatever happens elsewhere."""
    x0, y0 = landmarks[48:60].min(0).astype(int)
    x1, y1 = landmarks[48:60].max(0).astype(int)

    def predict(images):
        patch = np.asarray(images, np.float32)[:, y0:y1, x0:x1].mean(-1)
        texture = np.abs(np.diff(patch, axis=2)).mean(axis=(1, 2))
        p = 1.0 / (1.0 + np.exp(-(texture - 20.0) / 4.0))
        return np.c_[1.0 - p, p]

    return predict


def heat_at(points: np.ndarray, shape=(224, 224), sigma: float = 14.0) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    cx, cy = points.mean(0)
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2)).astype(np.float32)


def test_deletion_of_the_decisive_part_beats_random_orders():
    """8 synthetic faces whose 'model' reads only the mouth: the map on the mouth is faithful
    against 20 random part orders, one on the brows is not."""
    rng = np.random.default_rng(0)
    probers, mouth_maps, brow_maps = [], [], []
    for _ in range(8):
        landmarks = template_landmarks() + rng.normal(0, 2, (68, 2)).astype(np.float32)
        crop = np.full((224, 224, 3), 120, np.uint8)
        crop[::2, ::2] = 200  # fine texture everywhere; the model reads only the mouth's
        crop = np.clip(crop + rng.integers(-10, 10, crop.shape), 0, 255).astype(np.uint8)
        labels = am.part_labels(landmarks, crop.shape[:2])
        assert set(np.unique(labels)) == set(range(-1, len(am.FACE_PARTS)))
        probers.append(am.CurveProber(None, crop, labels, target=1,
                                      predict=mouth_model(crop.shape, landmarks)))
        mouth_maps.append(heat_at(landmarks[48:68]))
        brow_maps.append(heat_at(landmarks[17:27]))
    control = am.random_control(probers, n_random=20, seed=1)
    curves = [am.region_curves(p, m) for p, m in zip(probers, mouth_maps)]
    for deletion, insertion in curves:
        assert len(deletion) == len(insertion) == len(am.FACE_PARTS) + 1
        assert deletion[0] > 0.9 and insertion[-1] == deletion[0]
    mouth_deletion = np.mean([am.auc(d) for d, _ in curves])
    assert am.is_faithful(mouth_deletion, control)
    assert np.mean([am.auc(i) for _, i in curves]) > control["insertion"]["mean"]
    brow_deletion = np.mean([am.auc(am.region_curves(p, m)[0]) for p, m in zip(probers, brow_maps)])
    assert not am.is_faithful(brow_deletion, control)


def test_oracle_scores_one_on_its_own_landmarks():
    for codes in [(6, 12), (1, 2, 5, 26), (4, 7, 17, 23, 24), (9, 15)]:
        for table, regions in am.AU_REGIONS.items():
            hot = am.oracle_hot(codes, regions)
            scores = am.focus_scores(hot, codes, regions)
            assert scores["landmark_precision"] == 1.0 and scores["landmark_recall"] == 1.0
            assert scores["focus_recall"] == 1.0, (codes, table)
    # Table 2's mouth AUs share the whole mouth: the oracle of a smile activates AU18-24 too
    table2 = am.focus_scores(am.oracle_hot((6, 12)), (6, 12))
    assert table2["focus_precision"] < 1.0
    hot = np.zeros(68, bool)
    assert np.isnan(am.focus_scores(hot, (6, 12))["focus_precision"])


@pytest.mark.skipif(not os.environ.get("XFER_DATA_DIR"),
                    reason="needs the CK+ peak frames with FACS codes under XFER_DATA_DIR")
def test_every_map_on_real_ckplus_peaks():
    from xfer_keras.errors import DataNotFoundError

    clf = EmotionClassifier.load()
    try:
        frames = am.coded_peak_frames()
    except DataNotFoundError as error:
        pytest.skip(f"no CK+ data: {error}")
    faces = am.load_peak_faces(clf, frames[::15][:3])
    assert len(faces) >= 2
    crops = np.stack([f.crop for f in faces])
    probs = clf.predict_proba(crops)
    for spec in am.MAP_SPECS:
        if spec.engine == "cam-litert":  # the same function by TensorFlow (no export to wait for)
            spec = dataclasses.replace(spec, engine="cam")
        if spec.kind == "ig":
            spec = dataclasses.replace(spec, options={"n_steps": 8})
        if spec.kind == "smoothgrad":
            spec = dataclasses.replace(spec, options={"n_samples": 8})
        maps, map_probs, targets = am.MapMaker(clf, spec)(crops)
        assert maps.shape == crops.shape[:3] and np.isfinite(maps).all(), spec.name
        np.testing.assert_array_equal(targets, probs.argmax(1))
        for face, heatmap, target, p in zip(faces, maps, targets, probs):
            prober = am.CurveProber(clf, face.crop, am.part_labels(face.landmarks, face.crop.shape[:2]),
                                    target)
            deletion, insertion = am.region_curves(prober, heatmap)
            assert len(deletion) == 11 and len(insertion) == 11
            assert deletion[0] == pytest.approx(p[target], abs=1e-5), spec.name


def test_the_command_line_offers_every_method_and_engine():
    """``explain --gradcam`` / ``--gradcam-engine`` list what :class:`GradCAM` computes."""
    import argparse

    from xfer_keras.cli.explain import _common_options
    from xfer_keras.explain.gradcam import ENGINES, METHODS

    parser = argparse.ArgumentParser()
    _common_options(parser)
    actions = {a.dest: a for a in parser._actions}
    assert tuple(actions["gradcam"].choices) == METHODS
    assert tuple(actions["gradcam_engine"].choices) == ENGINES
