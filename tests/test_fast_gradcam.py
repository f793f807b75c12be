"""The fast fused Grad-CAM engine equals tf-keras-vis' Grad-CAM, and the pipeline's output does
not depend on the engine (real CK+ crops with the shipped model; a tiny model elsewhere)."""

import numpy as np
import pandas as pd
import pytest

import keras

from xfer_keras.explain.gradcam import GradCAM
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.models.registry import create, model_config


@pytest.fixture(scope="module")
def tiny_clf():
    keras.utils.set_random_seed(1)
    model = create("tiny_bam", input_size=64)
    return EmotionClassifier(model, model_config("tiny_bam", model=model))


@pytest.fixture(scope="module")
def shipped_clf():
    from xfer_keras.errors import ModelFileError

    try:
        return EmotionClassifier.load()
    except ModelFileError as error:
        pytest.skip(f"default model not available: {error}")


def peak_frames(ckplus_dir, n):
    table = pd.read_csv(ckplus_dir / "sequences.csv", dtype=str)
    paths = [str(ckplus_dir / r["frames_dir"] / r["last_frame(peak)"]) for _, r in table.iterrows()]
    return paths[:: max(1, len(paths) // n)][:n]


def with_mirror(clf, mirror):
    return EmotionClassifier(clf.model, dict(clf.config.to_dict(), tta_flip=mirror))


def assert_engines_agree(clf, crops, targets=None):
    ref = GradCAM(clf, engine="tf-keras-vis", batch_size=4)
    fast = GradCAM(clf, engine="fast", batch_size=4)
    p_ref, c_ref, t_ref = ref.classify_and_explain(crops, targets)
    p_fast, c_fast, t_fast = fast.classify_and_explain(crops, targets)
    np.testing.assert_array_equal(t_fast, t_ref)
    np.testing.assert_allclose(p_fast, p_ref, atol=1e-5, rtol=0)
    assert c_fast.shape == c_ref.shape == crops.shape[:3]
    assert 0.0 <= c_fast.min() and c_fast.max() <= 1.0
    assert np.abs(c_fast - c_ref).max() <= 1e-4
    return fast


@pytest.mark.parametrize("mirror", [False, True])
def test_fast_equals_tf_keras_vis_tiny_model(tiny_clf, mirror):
    crops = np.random.default_rng(0).integers(0, 256, size=(5, 80, 80, 3), dtype=np.uint8)
    clf = with_mirror(tiny_clf, mirror)
    fast = assert_engines_agree(clf, crops)
    assert_engines_agree(clf, crops, targets=[0, 1, 2, 3, 4])
    # explain() keeps its contract on the fast engine; batches of other sizes do not retrace
    cams, targets = fast.explain(crops[:3], targets="happiness", return_targets=True)
    assert cams.shape == (3, 80, 80) and (targets == clf.class_names.index("happiness")).all()
    fast.explain(crops[:1])
    assert fast._fused_engine()._run.experimental_get_tracing_count() == 1


@pytest.mark.real_data
@pytest.mark.parametrize("mirror", [False, True])
def test_fast_equals_tf_keras_vis_on_ckplus(ckplus_dir, shipped_clf, mirror):
    """On real CK+ peak-frame crops and the shipped model: maps within 1e-4 (max abs),
    probabilities within 1e-5, the same explained classes."""
    from xfer_keras.face import crop_face, detect_face

    crops = []
    for path in peak_frames(ckplus_dir, 8):
        crops.append(crop_face(path, detect_face(path, backend="dlib"), size=224, margin=0.1).image)
    assert_engines_agree(with_mirror(shipped_clf, mirror), np.stack(crops))


def test_engine_choice(tiny_clf):
    assert GradCAM(tiny_clf).engine == "fast"
    assert GradCAM(tiny_clf, method="gradcam++").engine == "tf-keras-vis"
    with pytest.raises(ValueError):
        GradCAM(tiny_clf, method="gradcam++", engine="fast")
    with pytest.raises(ValueError):
        GradCAM(tiny_clf, engine="nope")


@pytest.mark.parametrize("method", ["scorecam", "layercam"])
def test_other_tf_keras_vis_methods(tiny_clf, method):
    crops = np.random.default_rng(2).integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
    cams, targets = GradCAM(tiny_clf, method=method).explain(crops, return_targets=True)
    assert cams.shape == (2, 64, 64) and cams.dtype == np.float32
    assert cams.min() >= 0.0 and cams.max() <= 1.0
    np.testing.assert_array_equal(targets, tiny_clf.predict_proba(crops).argmax(1))


@pytest.mark.real_data
def test_pipeline_output_is_the_same_with_both_engines(ckplus_dir, shipped_clf, face_landmarker_path):
    """The user-visible fields on CK+ peak frames (8 here; all 40 in
    ``benchmarks/pipeline_latency.py``) are identical with the fast and the reference engine."""
    from xfer_keras.explanation import Explanation, output_differences
    from xfer_keras.pipeline import XferaPipeline

    paths = peak_frames(ckplus_dir, 8)
    with XferaPipeline(classifier=shipped_clf, gradcam_engine="tf-keras-vis",
                       prepare_workers=0) as pipe:
        reference = pipe.explain_many(paths, batch_size=4)
    with XferaPipeline(classifier=shipped_clf) as pipe:
        assert pipe.gradcam.engine == "fast" and pipe.prepare_workers >= 0
        fast = pipe.explain_many(paths, batch_size=3)
        single = pipe.explain(paths[0])
    for path, a, b in zip(paths, reference, fast):
        assert isinstance(a, Explanation) and isinstance(b, Explanation), (path, a, b)
        assert output_differences(a, b) == [], path
        assert "model" in b.timings and "gradcam" in a.timings
    assert output_differences(single, reference[0]) == []
