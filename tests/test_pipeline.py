"""End to end: image -> Explanation, the `explain` / `demo` commands, every CK+ peak frame."""

import json
import os

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from xfer_keras.cli import main
from xfer_keras.errors import NoFaceError
from xfer_keras.xfera.explanation import Explanation, JSON_KEYS

LEVELS = {"High", "Medium", "Low"}


@pytest.fixture(scope="module")
def tiny_classifier():
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.models.registry import create

    return EmotionClassifier(create("tiny_bam", input_size=64), {"input_size": 64, "architecture": "tiny_bam"})


@pytest.fixture(scope="module")
def tiny_model_file(tiny_classifier, tmp_path_factory):
    return tiny_classifier.save(tmp_path_factory.mktemp("model") / "tiny.keras")


@pytest.fixture(scope="module")
def pipeline(tiny_classifier, face_landmarker_path):
    from xfer_keras.xfera.pipeline import XferaPipeline

    with XferaPipeline(classifier=tiny_classifier) as pipe:
        yield pipe


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return data.astronaut()


def assert_complete(exp: Explanation, n_classes=7):
    assert isinstance(exp, Explanation)
    d = exp.to_dict()
    assert set(JSON_KEYS) <= set(d)
    assert exp.emotion in exp.probabilities and len(exp.probabilities) == n_classes
    assert abs(sum(exp.probabilities.values()) - 1) < 1e-3
    assert exp.confidence_level in LEVELS
    assert exp.landmarks.shape == (68, 2) and exp.crop.shape == (224, 224, 3)
    assert exp.heatmap.shape == (224, 224) and 0 <= exp.heatmap.min() and exp.heatmap.max() <= 1
    assert all(0 <= i < 68 for i in exp.hot_landmarks)
    assert exp.aus and exp.explanation and exp.explanation.strip()[-1] == "."
    assert set(exp.matching_aus) <= set(exp.variant) and set(exp.missing_aus) <= set(exp.variant)
    assert set(exp.hot_aus) <= {k for k, v in exp.aus.items() if v["present"]}
    assert {"load", "detect", "landmarks", "hot", "aus", "fusion", "narrate"} <= set(exp.timings)
    assert "model" in exp.timings or {"classify", "gradcam"} <= set(exp.timings)
    json.dumps(d)


def test_explain_array(pipeline, astronaut):
    exp = pipeline.explain(astronaut, name="astronaut")
    assert_complete(exp)
    assert exp.au_source == "blendshapes" and exp.notes == []
    # a smiling face: the blendshape source finds the lip-corner pull and the lips apart
    assert exp.aus["AU12"]["present"] and exp.aus["AU25"]["present"]


def test_explain_many_keeps_going_after_bad_items(pipeline, astronaut, tmp_path):
    from xfer_keras.errors import ImageReadError, NoFaceError

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    results = pipeline.explain_many([astronaut, str(broken), np.zeros((64, 64, 3), np.uint8),
                                     astronaut[:, ::-1]], names=["a", "broken", "blank", "mirror"],
                                    batch_size=3)
    assert isinstance(results[1], ImageReadError) and "broken" in str(results[1])
    assert isinstance(results[2], NoFaceError)
    assert_complete(results[0]) and assert_complete(results[3])


def test_cli_explain_folder(tiny_model_file, astronaut, tmp_path, capsys, face_landmarker_path):
    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(astronaut).save(folder / "astro.png")
    Image.fromarray(astronaut[:320, 60:420]).save(folder / "sub" / "astro_small.jpg")
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    out = tmp_path / "out"
    code = main(["explain", str(folder), "--model", str(tiny_model_file), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1  # one bad file
    assert captured.err.count("error:") == 1 and "broken.png" in captured.err
    for name in ("astro", "astro_small"):
        data = json.loads((out / f"{name}.json").read_text())
        assert set(JSON_KEYS) <= set(data)
        assert (out / f"{name}.png").stat().st_size > 1000
        assert (out / f"{name}.html").read_text().startswith("<!DOCTYPE html>")
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 2 and {"image", "emotion", "confidence_level"} <= set(summary.columns)
    assert not list(out.glob(".*.tmp"))
    # a single good file, no report files: exit code 0, the JSON and a one-row summary
    out2 = tmp_path / "out2"
    code = main(["explain", str(folder / "astro.png"), "--model", str(tiny_model_file), "--out",
                 str(out2), "--report", "none"])
    assert code == 0 and (out2 / "astro.json").is_file()
    assert not list(out2.glob("*.png")) and not list(out2.glob("*.html"))
    assert len(pd.read_csv(out2 / "summary.csv")) == 1


@pytest.mark.parametrize("flags, png, html", [(["--report", "png"], True, False),
                                              (["--report", "html"], False, True),
                                              (["--no-png"], False, True),
                                              (["--report", "all", "--no-html"], True, False)])
def test_report_flags(flags, png, html):
    from xfer_keras.cli import build_parser
    from xfer_keras.cli.explain import report_files

    args = build_parser().parse_args(["explain", "x.png", *flags])
    assert report_files(args) == (png, html)
    assert (args.gradcam, args.gradcam_engine) == ("gradcam", "auto")


def test_cli_gradcam_method_and_engine(tiny_model_file, astronaut, tmp_path, face_landmarker_path):
    """``--gradcam`` / ``--gradcam-engine`` reach the pipeline: the reference engine and another
    tf-keras-vis method both give a complete explanation."""
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    for i, flags in enumerate((["--gradcam-engine", "tf-keras-vis"], ["--gradcam", "layercam"])):
        out = tmp_path / f"out{i}"
        assert main(["explain", str(tmp_path / "a.png"), "--model", str(tiny_model_file), "--out",
                     str(out), "--report", "none", *flags]) == 0
        data = json.loads((out / "a.json").read_text())
        assert set(JSON_KEYS) <= set(data) and "gradcam" in data["timings"]


def test_demo_without_default_model_fails_clearly(monkeypatch, tmp_path, capsys):
    import xfer_keras.assets as assets

    monkeypatch.delenv("XFER_EMOTION_MODEL", raising=False)
    monkeypatch.setattr(assets, "shipped_dir", lambda: tmp_path)
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 1
    err = capsys.readouterr().err
    assert "the shipped default emotion model is not at" in err and err.count("\n") == 1


def test_demo_with_model(tiny_model_file, tmp_path, capsys, face_landmarker_path):
    out = tmp_path / "demo"
    assert main(["demo", "--model", str(tiny_model_file), "--out", str(out)]) == 0
    assert json.loads((out / "astronaut.json").read_text())["image"] == "astronaut"
    assert (out / "astronaut.png").is_file() and (out / "astronaut.html").is_file()
    assert "confidence level" in capsys.readouterr().out


def test_explain_stderr_has_only_our_lines(tiny_model_file, tmp_path, face_landmarker_path):
    """A subprocess, so the real file descriptor 2 is watched: TensorFlow's and MediaPipe's
    native log lines are kept off; one line per bad file and the summary line remain."""
    import os
    import subprocess
    import sys

    from skimage import data

    good, bad = tmp_path / "astro.png", tmp_path / "bad.png"
    Image.fromarray(data.astronaut()).save(good)
    bad.write_text("not an image")
    env = dict(os.environ, XFER_FACE_LANDMARKER=str(face_landmarker_path))
    command = [sys.executable, "-m", "xfer_keras", "explain", str(good), str(bad), "--model",
               str(tiny_model_file), "--out", str(tmp_path / "out"), "--no-png", "--no-html"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert "bad.png" in lines[0] and lines[1] == "1 explained, 1 failed"
    assert (tmp_path / "out" / "astro.json").is_file()
    noisy = subprocess.run(command + ["--native-logs"], capture_output=True, text=True, env=env,
                           timeout=300)
    assert len(noisy.stderr.strip().splitlines()) > 2  # the lines exist, and were silenced


@pytest.mark.real_data
def test_every_ckplus_peak_frame_is_explained(ckplus_dir, tiny_classifier, face_landmarker_path):
    """All 40 shared CK+ peak frames -> complete Explanations (default model when present)."""
    from xfer_keras.errors import ModelFileError
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.xfera.pipeline import XferaPipeline

    paths = ckplus_peaks(ckplus_dir)
    assert len(paths) == 40
    try:
        classifier = EmotionClassifier.load()
    except ModelFileError:
        classifier = tiny_classifier
    with XferaPipeline(classifier=classifier) as pipe:
        results = pipe.explain_many(paths, batch_size=8)
    for path, exp in zip(paths, results):
        assert isinstance(exp, Explanation), f"{path}: {exp}"
        assert_complete(exp, n_classes=len(classifier.class_names))
        assert exp.notes == [], exp.notes


def test_cli_llm_fallback_is_one_line(tiny_model_file, astronaut, tmp_path, capsys, monkeypatch,
                                      face_landmarker_path):
    monkeypatch.delenv("XFER_LLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    Image.fromarray(astronaut).save(tmp_path / "a.png")
    code = main(["explain", str(tmp_path / "a.png"), "--model", str(tiny_model_file), "--narrator",
                 "openai", "--out", str(tmp_path / "out"), "--no-png", "--no-html"])
    err = capsys.readouterr().err
    assert code == 0
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [
        "warning: LLM narrator unavailable (no API key: set XFER_LLM_API_KEY or OPENAI_API_KEY); "
        "using the template narrator"]
    assert json.loads((tmp_path / "out" / "a.json").read_text())["narrator"] == "template"


def ckplus_peaks(ckplus_dir, n=None):
    """The CK+ peak frames (``n`` of them, spread over the 40 sequences, when given)."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    paths = [str(r.peak_path) for r in load_ckplus_sequences(ckplus_dir)]
    return paths if n is None else paths[:: max(1, len(paths) // n)][:n]


@pytest.mark.real_data
def test_pipeline_output_is_the_same_with_every_engine(ckplus_dir, face_landmarker_path):
    """The user-visible fields on CK+ peak frames (8 here; all 40 in
    ``benchmarks/pipeline_latency.py``) are identical with the LiteRT engine (the default for
    a model file), the traced TensorFlow function and the reference engine (tf-keras-vis)."""
    from xfer_keras.errors import ModelFileError
    from xfer_keras.explain.litert_gradcam import litert_available
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.xfera.explanation import output_differences
    from xfer_keras.xfera.pipeline import XferaPipeline

    try:
        shipped_clf = EmotionClassifier.load()
    except ModelFileError as error:
        pytest.skip(f"default model not available: {error}")

    paths = ckplus_peaks(ckplus_dir, 8)
    with XferaPipeline(classifier=shipped_clf, gradcam_engine="tf-keras-vis",
                       prepare_workers=0) as pipe:
        reference = pipe.explain_many(paths, batch_size=4)
    with XferaPipeline(classifier=shipped_clf, gradcam_engine="fast", prepare_workers=0) as pipe:
        traced = pipe.explain_many(paths, batch_size=4)
    with XferaPipeline(classifier=shipped_clf, prepare_workers=2) as pipe:
        assert pipe.gradcam.engine == ("litert" if litert_available() else "fast")
        fast = pipe.explain_many(paths, batch_size=3)  # prepare threads
        single = pipe.explain(paths[0])  # the mesh on the mesh thread beside dlib and the model
        with pytest.raises(NoFaceError):  # the mesh thread's work is awaited, then the error
            pipe.explain(np.full((240, 320, 3), 127, np.uint8))
        again = pipe.explain(paths[0])
    assert "mesh" in single.timings and output_differences(again, single) == []
    for path, a, b, c in zip(paths, reference, fast, traced):
        assert all(isinstance(e, Explanation) for e in (a, b, c)), (path, a, b, c)
        assert output_differences(a, b) == [], path
        assert output_differences(a, c) == [], path
        assert "model" in b.timings and "gradcam" in a.timings
    assert output_differences(single, reference[0]) == []


def test_the_first_explain_on_a_fresh_cache_runs_in_a_fresh_process(tiny_model_file, tmp_path,
                                                                     face_landmarker_path):
    """A library user's first ``explain``, with nothing cached: the mesh thread opens MediaPipe
    while this thread loads Keras to export the LiteRT copy. Both import TensorFlow's modules;
    run at once they failed (``AttributeError: ... DatasetV2``), so the mesh thread opens first."""
    import shutil
    import subprocess
    import sys

    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy2(face_landmarker_path, cache / "face_landmarker.task")
    code = ("import xfer_keras\n"
            "from skimage import data\n"
            "from xfer_keras.xfera import XferaPipeline\n"
            "with XferaPipeline(prepare_workers=2) as pipe:\n"
            "    exp = pipe.explain(data.astronaut())\n"
            "print('emotion', exp.emotion)\n")
    env = dict(os.environ, XFER_CACHE_DIR=str(cache), XFER_EMOTION_MODEL=str(tiny_model_file))
    env.pop("XFER_FACE_LANDMARKER", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "emotion " in proc.stdout and list((cache / "litert").glob("*.tflite"))
