"""The landmark-sequence method for users: recipe, shipped EMO nets, segmenter, `emo` command.

Real-data tests skip with a reason without CK+ (XFER_DATA_DIR) or without the shipped set
(saved_models/emo/, made by scripts/train_emo_nets.py). Landmarks of CK+ frame files come
from the landmark cache; only the video tests run the detector (on 11 small frames or fewer).
"""

from __future__ import annotations

import html
import json

import numpy as np
import pytest

from clips import write_clip  # tests/clips.py
from xfer_keras.emo.clip import find_segment
from xfer_keras.emo.regions import describe_regions, region_counts, top_regions
from xfer_keras.errors import ClipTooShortError
from xfer_keras.training.emo_recipe import youden_threshold

P = 8


# ----------------------------------------------------------------------------- no data needed
def _ramp_clip(n_rest=6, n_rise=8, n_hold=4, reverse=False):
    """Face-like shapes (68, 2): still, then the mouth corners move out, then held."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(68, 2))
    amount = np.concatenate([np.zeros(n_rest), np.linspace(0.05, 1, n_rise), np.ones(n_hold)])
    shapes = np.repeat(base[None], amount.size, axis=0)
    shapes[:, [48, 54], 0] += amount[:, None] * np.array([-1, 1]) * 0.3
    return shapes[::-1].copy() if reverse else shapes


def test_segment_rule_finds_rest_to_peak():
    shapes = _ramp_clip()
    seg = find_segment(shapes, P, neutral_shape=shapes[0])
    assert seg.rule == "displacement"
    assert 3 <= seg.start <= 6  # the onset: the last still frame (grown towards rest to reach P)
    assert 12 <= seg.peak <= 14 and seg.end == seg.peak  # first frame at 95 % of the maximum
    assert len(seg.frames) == P and seg.frames[0] == seg.start and seg.frames[-1] == seg.end


def test_segment_rule_reads_a_reversed_clip_backwards():
    shapes = _ramp_clip(reverse=True)
    seg = find_segment(shapes, P, neutral_shape=shapes[-1])
    assert seg.start > seg.end  # read from rest (late frames) towards the peak (early frames)
    assert seg.frames == sorted(seg.frames, reverse=True)


def test_segment_override_and_too_short():
    shapes = _ramp_clip()
    seg = find_segment(shapes, P, start=2, end=15)
    assert (seg.start, seg.end, seg.rule) == (2, 15, "given") and seg.frames[0] == 2
    with pytest.raises(ClipTooShortError):
        find_segment(shapes, P, start=2, end=5)
    with pytest.raises(ClipTooShortError):
        find_segment(shapes[:P - 1], P)


def test_youden_threshold_separates_and_falls_back():
    assert 0.3 < youden_threshold([0, 0, 1, 1], [0.2, 0.3, 0.6, 0.7]) < 0.6
    assert youden_threshold([0, 0, 0], [0.1, 0.2, 0.3]) == 0.5


def test_regions_in_words():
    assert sum(region_counts(range(68)).values()) == 68
    a = np.zeros(68)
    a[[48, 54]] = 3.0
    a[21] = 1.0
    regions = top_regions(a)
    assert regions[0]["region"] == "mouth" and regions[0]["parts"] == ["mouth corners"]
    assert "mouth corners" in describe_regions(regions)


def test_net_set_save_load_roundtrip(tmp_path):
    from xfer_keras.models.emo_net import build_emo_net
    from xfer_keras.models.emo_set import EmoNetSet, EmoNetSpec

    specs = {}
    for i, emotion in enumerate(("happiness", "surprise")):
        ids = [48, 54, 60] if i == 0 else [17, 26]
        net = build_emo_net((P, 2, len(ids), 1), filters=2, lstm_units=2, fc1_units=2, seed=i)
        specs[emotion] = EmoNetSpec(emotion, net, ids, 0.4 + 0.1 * i)
    baselines = {e: np.full((P, 2, 68), k, np.float32) for k, e in enumerate(("happiness", "surprise", "anger"))}
    meta = {"n_frames": P, "coords": 2, "n_landmarks": 68, "backend": "dlib", "topology": "dlib68"}
    saved = EmoNetSet(specs, baselines, np.zeros((68, 2), np.float32), meta)
    saved.save(tmp_path)
    loaded = EmoNetSet.load(tmp_path)
    X = np.random.default_rng(1).normal(size=(3, P, 2, 68, 1)).astype(np.float32)
    np.testing.assert_allclose(loaded.positive_probabilities(X), saved.positive_probabilities(X), atol=1e-6)
    assert loaded.thresholds() == pytest.approx(saved.thresholds())
    assert set(loaded.baselines) == set(baselines) and loaded.specs["happiness"].landmarks == [48, 54, 60]


# ----------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def motion_dataset(ckplus_dir):
    from xfer_keras.data import load_ckplus_dataset

    return load_ckplus_dataset(backend="dlib", n_frames=P, root=ckplus_dir, motion=True, progress=False)


@pytest.fixture(scope="module")
def shipped():
    from xfer_keras.errors import ModelFileError
    from xfer_keras.models.emo_set import EmoNetSet

    try:
        return EmoNetSet.load()
    except ModelFileError as error:
        pytest.skip(f"shipped EMO nets not available: {error}")


@pytest.mark.real_data
@pytest.mark.slow
def test_recipe_without_one_subject_beats_majority_on_that_subject(motion_dataset):
    """Nets trained by the shipped recipe (K and thresholds chosen inside the training
    subjects) without S055 - the first subject with happiness, surprise and 4+ clips -
    classify S055's clips better than the majority baseline (balanced accuracy 0.5)."""
    from xfer_keras.training.emo_recipe import RecipeSettings, train_emo_set
    from xfer_keras.training.metrics import binary_metrics, majority_baseline

    ds = motion_dataset
    held = ds.subjects == "S055"
    settings = RecipeSettings(emotions=("happiness", "surprise"), epochs=25)  # fewer epochs: CPU
    net_set = train_emo_set(ds, np.flatnonzero(~held), settings)
    assert not set(net_set.meta["training_ids"]) & set(ds.ids[held])
    p = net_set.positive_probabilities(ds.X[held])
    for j, emotion in enumerate(net_set.emotions):
        y = ds.binary_labels(emotion)
        m = binary_metrics(y[held], p[:, j], threshold=net_set.specs[emotion].threshold)
        majority = majority_baseline(y[~held], y[held])
        assert m["balanced_accuracy"] > 0.5, (emotion, p[:, j], ds.emotions[held])
        assert m["accuracy"] >= majority, (emotion, m, majority)


@pytest.mark.real_data
def test_happiness_net_looks_at_the_mouth(shipped, ckplus_dir):
    from xfer_keras.emo.pipeline import EmoPipeline

    from clips import ckplus_sequences

    happy = [str(ckplus_dir / r["frames_dir"]) for r in ckplus_sequences(ckplus_dir) if r["emotion"] == "happy"]
    assert len(happy) == 8
    with EmoPipeline(shipped, n_steps=16) as pipe:
        results = [pipe.attribute(pipe_input, "happiness")[0] for pipe_input in _inputs(pipe, happy)]
    for attribution in results:
        assert "mouth" in [r["region"] for r in top_regions(attribution)]


def _inputs(pipe, folders):
    from xfer_keras.emo.clip import (clip_landmarks, find_segment, motion_tensor,
                                     normalized_shapes, open_clip)

    for folder in folders:
        marks = clip_landmarks(open_clip(folder), pipe.nets.backend)
        shapes = normalized_shapes(marks)
        yield motion_tensor(shapes, find_segment(shapes, pipe.nets.n_frames, pipe.nets.neutral_shape).frames)


def _ck_frames(ckplus_dir, folder):
    from clips import sequence_frames  # tests/clips.py: CK+ clips written with OpenCV

    return sequence_frames(ckplus_dir, {"frames_dir": folder})


@pytest.mark.real_data
def test_cli_on_a_happiness_video(shipped, ckplus_dir, tmp_path, capsys):
    from xfer_keras.cli import main

    clip = write_clip(tmp_path / "happy.avi", _ck_frames(ckplus_dir, "images/S106/006"))
    code = main(["emo", str(clip), "--out", str(tmp_path / "out"), "--steps", "16"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0].split(": ", 1)[1].startswith("happiness"), out
    result = json.loads((tmp_path / "out" / "happy.json").read_text())
    assert result["verdict"] == "happiness"
    assert set(result["probabilities"]) == set(shipped.emotions)
    assert len(result["attribution"]) == 68 and result["top_regions"]
    assert result["segment"]["n_clip_frames"] == 11 and len(result["segment"]["frames"]) == P
    assert (tmp_path / "out" / "happy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.real_data
@pytest.mark.parametrize("kind", ["no_face", "too_short", "corrupt"])
def test_cli_bad_clip_one_line_and_nonzero_exit(kind, shipped, ckplus_dir, tmp_path, capsys):
    from xfer_keras.cli import main

    if kind == "no_face":
        frames = [np.full((120, 160, 3), 90 + 10 * i, np.uint8) for i in range(P + 2)]
        clip = write_clip(tmp_path / "blank.avi", frames)
    elif kind == "too_short":
        clip = write_clip(tmp_path / "short.avi", _ck_frames(ckplus_dir, "images/S106/006")[-(P - 3):])
    else:
        clip = tmp_path / "broken.mp4"
        clip.write_bytes(b"not a video at all" * 50)
    code = main(["emo", str(clip), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(clip) in lines[0], captured.err
    assert "Traceback" not in captured.err and not (tmp_path / "out").exists()


@pytest.mark.real_data
def test_pipeline_many_clips_errors_as_values(shipped, ckplus_dir, tmp_path):
    """A CK+ sequence folder gives a result, a folder without a face an error value, in order."""
    from PIL import Image

    from xfer_keras.emo.pipeline import EmoPipeline, EmoResult
    from xfer_keras.errors import NoFaceError, VideoReadError

    blank = tmp_path / "blank"
    blank.mkdir()
    for i in range(P):
        Image.fromarray(np.full((96, 128, 3), 40 + 20 * i, np.uint8)).save(blank / f"f{i}.png")
    with EmoPipeline(shipped, n_steps=16) as pipe:
        good, no_face, missing = pipe.explain_many(
            [ckplus_dir / "images/S052/001", blank, tmp_path / "nope.mp4"])
    assert isinstance(good, EmoResult) and isinstance(no_face, NoFaceError)
    assert isinstance(missing, VideoReadError)
    table = good.to_dataframe()
    assert len(table) == 68 and table["share"].sum() == pytest.approx(1.0)
    assert set(table[table["attribution"] > 0]["landmark"]) <= set(good.net_landmarks)
    saved = json.loads(good.to_json(tmp_path / "r.json"))
    assert saved["probabilities"] == good.probabilities and saved["segment"]["frames"] == good.segment["frames"]
    page = good.to_html(tmp_path / "r.html")
    assert page == (tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and html.escape(good.why) in page
    assert f"<b>Verdict:</b> {html.escape(good.verdict)}" in page
    assert page.count('src="data:image/png;base64,') == 1 and "http" not in page
    for region in good.top_regions:
        assert f"<td>{html.escape(region['region'])}</td>" in page
