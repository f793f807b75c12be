"""The Explanation result object: dict / JSON / row / DataFrame / HTML, round trip, atomic writes."""

import html
import json

import numpy as np
import pandas as pd
import pytest

from factories import make_explanation
from xfer_keras.atomic import atomic_write_text
from xfer_keras.xfera.explanation import Explanation, JSON_KEYS, to_frame


def test_to_dict_has_the_cli_keys_and_is_json():
    exp = make_explanation()
    d = exp.to_dict()
    assert set(JSON_KEYS) <= set(d)
    assert d["matching_aus"] == ["AU06", "AU12"] and d["missing_aus"] == []
    assert "crop" not in d and "heatmap" not in d
    assert len(d["landmarks"]) == 68
    text = exp.to_json()
    assert json.loads(text)["emotion"] == "happiness"
    assert exp.probability == pytest.approx(0.93) and exp.name == "happy"
    assert exp.hot_mask.sum() == 4


def test_round_trip_and_nan_safe(tmp_path):
    exp = make_explanation(confidence_score=float("nan"))
    path = tmp_path / "sub" / "e.json"
    exp.to_json(path)
    back = Explanation.from_json(path)
    assert back.emotion == exp.emotion and back.matching_aus == exp.matching_aus
    assert np.allclose(back.landmarks, exp.landmarks, atol=0.01)
    assert back.confidence_score is None  # NaN is written as null, never as invalid JSON
    assert Explanation.from_json(exp.to_json()).hot_landmarks == exp.hot_landmarks
    assert not list(tmp_path.glob("sub/.*tmp"))


def test_row_and_frame():
    rows = to_frame([make_explanation(), make_explanation(image="b.png", emotion="neutral")])
    assert isinstance(rows, pd.DataFrame) and len(rows) == 2
    assert rows.loc[0, "matching_aus"] == "AU06;AU12" and rows.loc[0, "p_happiness"] == 0.93
    assert rows.loc[0, "AU06_intensity"] == 2.0 and rows.loc[1, "emotion"] == "neutral"


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "x.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second" and sorted(p.name for p in tmp_path.iterdir()) == ["x.txt"]


def test_one_explanation_as_a_frame_and_a_page(tmp_path):
    """``to_dataframe`` is the one-row table of ``to_row``; ``to_html`` the report page of this
    explanation alone, written atomically when given a path."""
    exp = make_explanation()
    frame = exp.to_dataframe()
    assert len(frame) == 1 and frame.iloc[0].to_dict() == pytest.approx(exp.to_row(), nan_ok=True)
    page = exp.to_html(tmp_path / "e.html")
    assert page == (tmp_path / "e.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "XFERa: happy" in page
    assert html.escape(exp.explanation) in page and "Happiness" in page
    assert not list(tmp_path.glob(".*tmp"))
