"""The LiteRT engine: the fused classify + Grad-CAM function exported once and run without
TensorFlow. It equals tf-keras-vis (tiny model; real CK+ crops with the shipped model, with and
without mirror averaging), is chosen by ``auto`` for models loaded from files, never loads the
Keras model when its export is cached, caches by what changes the function, rejects bad files,
and the command line explains a photo with TensorFlow never imported."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import keras

from test_gradcam import assert_engines_agree, peak_frames
from xfer_keras.errors import ModelFileError
from xfer_keras.explain import litert_gradcam
from xfer_keras.explain.gradcam import GradCAM
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.models.registry import create, model_config

pytestmark = pytest.mark.skipif(not litert_gradcam.litert_available(),
                                reason="the LiteRT runtime is not installed (pip install ai-edge-litert)")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh cache folder for this module's exports."""
    path = tmp_path_factory.mktemp("litert_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XFER_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def tiny_files(cache, tmp_path_factory):
    """A tiny BAM classifier saved twice: without and with mirror averaging."""
    keras.utils.set_random_seed(0)
    model = create("tiny_bam", input_size=64)
    folder = tmp_path_factory.mktemp("tiny")
    files = {}
    for mirror in (False, True):
        config = dict(model_config("tiny_bam", model=model), tta_flip=mirror)
        files[mirror] = EmotionClassifier(model, config).save(folder / f"tiny_{mirror}.keras")
    return files


def with_mirror(clf, mirror):
    """The same model and file with mirror averaging switched (a different exported function)."""
    return EmotionClassifier(clf.model, dict(clf.config.to_dict(), tta_flip=mirror),
                             model_file=clf.model_file)


def assert_litert_equals_reference(clf, crops, targets=None):
    return assert_engines_agree(clf, crops, targets, engine="litert")


@pytest.mark.parametrize("mirror", [False, True])
def test_litert_equals_tf_keras_vis_tiny_model(tiny_files, mirror):
    clf = EmotionClassifier.load(tiny_files[mirror])
    crops = np.random.default_rng(0).integers(0, 256, size=(5, 80, 80, 3), dtype=np.uint8)
    litert = assert_litert_equals_reference(clf, crops)
    assert_litert_equals_reference(clf, crops, targets=[0, 1, 2, 3, 4])
    cams, targets = litert.explain(crops[:2], targets="happiness", return_targets=True)
    assert cams.shape == (2, 80, 80) and (targets == clf.class_names.index("happiness")).all()


@pytest.mark.real_data
@pytest.mark.parametrize("mirror", [False, True])
def test_litert_equals_tf_keras_vis_on_ckplus(ckplus_dir, shipped_classifier, cache, mirror):
    """Real CK+ peak-frame crops, the shipped model (its prior correction included): maps within
    1e-4 (max abs), probabilities within 1e-5, the same explained classes."""
    from xfer_keras.face import crop_face, detect_face

    crops = [crop_face(path, detect_face(path, backend="dlib"), size=224, margin=0.0).image
             for path in peak_frames(ckplus_dir, 8)]
    assert_litert_equals_reference(with_mirror(shipped_classifier, mirror), np.stack(crops))


def test_auto_takes_litert_and_never_loads_keras_when_cached(tiny_files):
    path = tiny_files[True]
    litert_gradcam.litert_model_for(EmotionClassifier.load(path))  # exported (cached) once
    lazy = EmotionClassifier.load(path, lazy=True)
    assert not lazy.model_loaded
    gradcam = GradCAM(lazy)
    assert gradcam.engine == "litert"
    crops = np.random.default_rng(1).integers(0, 256, size=(3, 64, 64, 3), dtype=np.uint8)
    probs, cams, targets = gradcam.classify_and_explain(crops)
    assert not lazy.model_loaded  # the Keras model was never needed
    assert probs.shape == (3, 7) and cams.shape == (3, 64, 64)
    np.testing.assert_allclose(probs, lazy.predict_proba(crops), atol=1e-5)  # loads it now
    assert lazy.model_loaded


def test_engine_rules(tiny_files):
    in_memory = EmotionClassifier(EmotionClassifier.load(tiny_files[False]).model,
                                  EmotionClassifier.load(tiny_files[False]).config)
    assert GradCAM(in_memory).engine == "fast"  # nothing to name an export by
    with pytest.raises(ValueError):
        GradCAM(in_memory, engine="litert")
    from_file = EmotionClassifier.load(tiny_files[False])
    assert GradCAM(from_file, method="gradcam++").engine == "tf-keras-vis"
    with pytest.raises(ValueError):
        GradCAM(from_file, method="layercam", engine="litert")
    assert GradCAM(from_file, engine="fast").engine == "fast"


def test_cache_key_follows_what_changes_the_function(tiny_files):
    clf = EmotionClassifier.load(tiny_files[False], lazy=True)
    key = litert_gradcam.cached_litert_path(clf)
    assert key == litert_gradcam.cached_litert_path(EmotionClassifier.load(tiny_files[False], lazy=True))
    assert key != litert_gradcam.cached_litert_path(clf, layer="bam1")
    assert key != litert_gradcam.cached_litert_path(EmotionClassifier.load(tiny_files[True], lazy=True))
    prior = dict(clf.config.to_dict(), prior_correction={"prior": [0.1] * 6 + [0.4], "power": 1.0})
    assert key != litert_gradcam.cached_litert_path(
        EmotionClassifier(None, prior, model_file=clf.model_file))
    with pytest.raises(ModelFileError):
        litert_gradcam.litert_model_for(clf, layer="bam1", export=False)  # not exported yet


def test_bad_files_are_model_file_errors(tmp_path, tiny_files):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all" * 10)
    with pytest.raises(ModelFileError):
        litert_gradcam.LiteRTGradCAM(junk)
    # an export of one model never passes the check against another
    from xfer_keras.explain.fast_gradcam import FusedGradCAM

    a = EmotionClassifier.load(tiny_files[False])
    keras.utils.set_random_seed(1)
    other = create("tiny_bam", input_size=64)
    blob = litert_gradcam.export_fused(FusedGradCAM(a.model, a.gradcam_layer))
    litert_gradcam.check_export(FusedGradCAM(a.model, a.gradcam_layer), blob)  # its own: fine
    with pytest.raises(ModelFileError):
        litert_gradcam.check_export(FusedGradCAM(other, a.gradcam_layer), blob)


@pytest.mark.real_data
def test_cli_explains_a_photo_without_tensorflow(shipped_classifier, face_landmarker_path, cache,
                                                 tmp_path):
    """``python -m xfer_keras explain`` with the default model's export cached: the outputs of
    the TensorFlow engine, and neither TensorFlow nor Keras in the process."""
    from skimage import data
    from PIL import Image

    from xfer_keras.xfera.pipeline import XferaPipeline

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    litert_gradcam.litert_model_for(shipped_classifier)  # as fetch-models does
    out = tmp_path / "out"
    code = ("import sys\n"
            "from xfer_keras.cli import main\n"
            f"code = main(['explain', {str(photo)!r}, '--out', {str(out)!r}, '--report', 'all'])\n"
            "loaded = [m for m in ('tensorflow', 'keras', 'tf_keras_vis') if sys.modules.get(m)]\n"
            "print('LOADED', loaded)\n"
            "raise SystemExit(code or bool(loaded))\n")
    env = dict(os.environ, XFER_CACHE_DIR=str(cache))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "LOADED []" in proc.stdout
    got = json.loads((out / "astronaut.json").read_text())
    assert (out / "astronaut.png").is_file() and (out / "astronaut.html").is_file()
    with XferaPipeline(classifier=shipped_classifier, gradcam_engine="fast") as pipe:
        want = pipe.explain(str(photo)).to_dict()
    assert got["emotion"] == want["emotion"] and got["hot_landmarks"] == want["hot_landmarks"]
    for name, p in want["probabilities"].items():
        assert abs(got["probabilities"][name] - p) <= 1e-5
    assert got["explanation"] == want["explanation"]
