"""`explain` on videos, frame folders, several faces and faces dlib's HOG misses, end to end with
the shipped default model on clips and images built from real CK+ frames."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from clips import ckplus_sequences, rotate, sequence_frames, side_by_side, write_clip
from xfer_keras.cli import main
from xfer_keras.emotions import canonical_emotion
from xfer_keras.errors import NoFaceError, XferError
from xfer_keras.xfera.explanation import Explanation

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def pipe(shipped_classifier, face_landmarker_path):
    from xfer_keras.xfera.pipeline import XferaPipeline

    with XferaPipeline(classifier=shipped_classifier) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def ck_rows(ckplus_dir):
    return ckplus_sequences(ckplus_dir)


def first_sequence(rows, emotion):
    """The rule for choosing test sequences: the first of that emotion in sequences.csv order
    (never picked by looking at the model's answers)."""
    return next(r for r in rows if r["emotion"] == emotion)


def test_clips_end_on_their_label(ckplus_dir, ck_rows, tmp_path, shipped_classifier, capsys):
    """A happiness and a surprise CK+ sequence (neutral -> peak) written as 10 fps clips: the
    main face's last segment has the sequence's label; frames.csv has one row per frame."""
    clips, labels, lengths = [], [], []
    for emotion, suffix in (("happy", ".mp4"), ("surprise", ".avi")):
        row = first_sequence(ck_rows, emotion)
        frames = sequence_frames(ckplus_dir, row)
        clips.append(write_clip(tmp_path / f"{row['subject']}_{row['sequence']}{suffix}", frames, fps=10))
        labels.append(canonical_emotion(emotion))
        lengths.append(len(frames))
    out = tmp_path / "out"
    code = main(["explain", *map(str, clips), "--every", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for clip, label, n in zip(clips, labels, lengths):
        folder = out / clip.stem
        frames = pd.read_csv(folder / "frames.csv")
        assert len(frames) == n and frames["frame"].tolist() == list(range(n))
        assert (frames["status"] == "ok").all() and frames["face_id"].nunique() == 1
        assert np.allclose(frames["time"], np.arange(n) / 10.0)
        summary = json.loads((folder / "summary.json").read_text())
        last = summary["segments"][-1]
        assert last["emotion"] == label == summary["last_emotion"], summary["segments"]
        assert last["narration"] and label.capitalize() in last["narration"]
        assert last["start"] <= last["key_time"] <= last["end"] == pytest.approx((n - 1) / 10)
        assert summary["n_sampled_frames"] == n and summary["settings"]["smooth_frames"] == 5
        page = (folder / "report.html").read_text()
        assert page.count('alt="explanation panel"') >= 1 and "timeline" in page
        assert (folder / "timeline.png").read_bytes()[:4] == b"\x89PNG"
        assert f"{clip}:" in captured.out


def test_blank_stretch_gives_no_face_rows(pipe, ckplus_dir, ck_rows, tmp_path):
    """A folder of frames with blank frames in the middle: those rows are no_face, the run
    succeeds, and no segment spans the gap."""
    frames = sequence_frames(ckplus_dir, first_sequence(ck_rows, "happy"))[:20]
    blank = set(range(8, 14))
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, rgb in enumerate(frames):
        Image.fromarray(np.zeros_like(rgb) if i in blank else rgb).save(folder / f"frame{i}.png")
    video = pipe.explain_video(folder, every=1, frames_fps=10, progress=False)
    table = video.frames
    assert len(table) == len(frames) and table["frame"].tolist() == list(range(len(frames)))
    assert set(table.index[table["status"] == "no_face"]) == blank
    assert (table.loc[table["status"] == "no_face", "face_id"] == -1).all()
    gap = (0.8, 1.3)
    assert all(s.end < gap[0] or s.start > gap[1] for s in video.segments)
    assert video.to_dict()["n_no_face_frames"] == len(blank)
    html = video.to_html()
    assert html.startswith("<!DOCTYPE html>") and "without the face" in html


def test_corrupt_video_is_one_line_and_the_next_input_runs(ckplus_dir, ck_rows, tmp_path, capsys):
    frames = sequence_frames(ckplus_dir, first_sequence(ck_rows, "surprise"))
    good = write_clip(tmp_path / "good.mp4", frames, fps=10)
    data = good.read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 3])       # truncated: the mp4 index is lost
    blank = write_clip(tmp_path / "blank.mp4", [np.zeros_like(frames[0])] * 5, fps=10)
    out = tmp_path / "out"
    code = main(["explain", str(broken), str(blank), str(good), "--fps", "5", "--out", str(out),
                 "--report", "none"])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, captured.err
    assert str(broken) in errors[0] and str(blank) in errors[1] and "no face" in errors[1]
    assert "Traceback" not in captured.err
    assert captured.err.strip().splitlines()[-1] == "0 explained, 2 failed, 1 of 3 videos explained"
    assert len(pd.read_csv(out / "good" / "frames.csv")) == 8     # 15 frames at 10 fps, 5/s
    assert not (out / "broken").exists()


def test_every_face_and_the_detector_fallback(pipe, ckplus_dir, ck_rows, tmp_path, capsys):
    """Two CK+ faces side by side give two explanations with disjoint boxes; a CK+ face rotated
    by 60 degrees (dlib's HOG finds none of the 40 peaks at that angle) is found by MediaPipe's
    detector, and the JSON says so."""
    left = sequence_frames(ckplus_dir, ck_rows[0])[-1]
    right = sequence_frames(ckplus_dir, ck_rows[1])[-1]
    pair = side_by_side(left, right)
    tilted, _ = rotate(right, 60)
    results = pipe.explain_many([pair, np.zeros((80, 80, 3), np.uint8), tilted],
                                names=["pair", "blank", "tilted"], faces="all")
    assert [type(r) for r in results] == [Explanation, Explanation, NoFaceError, Explanation]
    a, b = sorted(results[:2], key=lambda e: e.detected_box[0])
    assert {a.face_index, b.face_index} == {0, 1} and a.detected_box[2] <= b.detected_box[0]
    assert a.detected_box[2] <= left.shape[1] <= b.detected_box[0]
    assert results[3].detector == "mediapipe-face-detector" and results[0].detector == "dlib-hog"
    largest = pipe.explain_many([pair, tilted])
    assert len(largest) == 2 and largest[0].face_index == 0

    Image.fromarray(pair).save(tmp_path / "pair.png")
    Image.fromarray(tilted).save(tmp_path / "tilted.jpg")
    out = tmp_path / "out"
    assert main(["explain", str(tmp_path / "pair.png"), str(tmp_path / "tilted.jpg"),
                 "--faces", "all", "--out", str(out)]) == 0
    boxes = [json.loads((out / f"pair_face{k}.json").read_text())["detected_box"] for k in (0, 1)]
    first, second = sorted(boxes)
    assert first[2] <= second[0]
    assert (out / "pair_face0.png").is_file() and (out / "pair_face1.png").is_file()
    assert (out / "pair.html").read_text().count('alt="explanation panel"') == 2
    tilted_json = json.loads((out / "tilted_face0.json").read_text())
    assert tilted_json["detector"] == "mediapipe-face-detector"
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 3 and sorted(summary["face_index"]) == [0, 0, 1]
    capsys.readouterr()


def test_video_arguments_fail_cleanly(tmp_path, capsys):
    assert main(["explain", "x.mp4", "--start", "3", "--end", "1"]) == 2
    assert "--end" in capsys.readouterr().err
    assert main(["explain"]) == 2
    assert issubclass(NoFaceError, XferError)


def test_video_with_every_face_tracks_each(pipe, ckplus_dir, ck_rows, tmp_path):
    """Two CK+ sequences side by side, ``faces="all"``: two tracks, each seen in every sampled
    frame, each on its own half, each with its own segments."""
    left = sequence_frames(ckplus_dir, ck_rows[0])
    right = sequence_frames(ckplus_dir, ck_rows[1])[: len(left)]
    clip = write_clip(tmp_path / "two.mp4", [side_by_side(a, b) for a, b in zip(left, right)], fps=10)
    video = pipe.explain_video(clip, every=2, faces="all", progress=False)
    table = video.frames
    n = (len(left) + 1) // 2
    assert (table["status"] == "ok").all() and sorted(table.groupby("face_id").size()) == [n, n]
    assert table.groupby("sample").size().eq(2).all()
    width = left[0].shape[1]
    sides = table.groupby("face_id").apply(lambda t: bool((t["box_x1"] <= width).all())
                                           - bool((t["box_x0"] >= width).all()), include_groups=False)
    assert sorted(sides) == [-1, 1]   # one track wholly left of the seam, the other wholly right
    assert {s.face_id for s in video.segments} == set(video.face_ids) and len(video.face_ids) == 2
