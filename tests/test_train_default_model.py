"""scripts/train_default_model.py end to end on a tiny FER2013 subset (quick mode): training,
the label-free inference choices, the model file and the card; then ``--evaluate-only``."""

import importlib.util
import json
from pathlib import Path

import pytest

from xfer_keras.models.classifier import EmotionClassifier

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_default_model.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_default_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_training_then_evaluate_only(script, fer2013_dir, tmp_path):
    out, card = tmp_path / "model.keras", tmp_path / "CARD.md"
    notes = tmp_path / "notes.md"
    notes.write_text("## History\nA hand-written account.\n")
    assert script.main(["--quick", "--out", str(out), "--card", str(card), "--cache", "",
                        "--notes", str(notes)]) == 0
    clf = EmotionClassifier.load(out)
    extra = clf.config.extra
    # the blur was measured on pixels: the train copy is blurred by ~3 px (tests/test_blur.py)
    assert extra["input_blur_choice"]["sigma"] == clf.config.input_blur
    assert 2.5 <= clf.config.input_blur <= 4.0
    choice = extra["tta_flip_choice"]
    assert clf.config.tta_flip == (choice["val_accuracy_flip"] > choice["val_accuracy_plain"])
    assert 0.0 <= extra["fer2013_test"]["accuracy"] <= 1.0
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    assert metrics["config"]["input_blur"] == clf.config.input_blur
    text = card.read_text()
    assert f"sigma {clf.config.input_blur:.2f} px" in text and "A hand-written account." in text
    assert (tmp_path / "confusion_fer2013_test.png").is_file()

    again = tmp_path / "again.keras"
    assert script.main(["--quick", "--evaluate-only", str(out), "--out", str(again),
                        "--card", str(tmp_path / "CARD2.md"), "--cache", "",
                        "--input-blur", "1.5", "--tta-flip", "on"]) == 0
    loaded = EmotionClassifier.load(again)
    assert loaded.config.input_blur == 1.5 and loaded.config.tta_flip
    assert EmotionClassifier.load(out).config.input_blur == clf.config.input_blur  # untouched
