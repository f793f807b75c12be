"""scripts/train_default_model.py end to end on tiny FER2013 subsets (quick mode): training on
the sharp copy with FER2013 labels and the blurred copy with FER+ vote targets, the label-free
blur check, mirror averaging chosen on validation, the model file and the card; then
``--evaluate-only``."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from xfer_keras.models.classifier import EmotionClassifier

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_default_model.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_default_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sharp_data(data_dir):
    for name in ("fer2013", "fer2013_sharp", "fer2013_ferplus_labels"):
        if not (data_dir / name).is_dir():
            pytest.skip(f"{name} not in XFER_DATA_DIR")


def test_sharp_training_checks_blur_and_writes_the_card(script, sharp_data, tmp_path, capsys):
    out, card = tmp_path / "model.keras", tmp_path / "CARD.md"
    notes = tmp_path / "notes.md"
    notes.write_text("## History\nA hand-written account.\n")
    assert script.main(["--quick", "--out", str(out), "--card", str(card), "--cache", "",
                        "--notes", str(notes)]) == 0
    assert "WARNING" not in capsys.readouterr().err  # sharp train vs sharp test: no blur
    clf = EmotionClassifier.load(out)
    extra = clf.config.extra
    assert extra["input_blur_choice"]["sigma"] < 1.0 and clf.config.input_blur == 0.0
    assert extra["dataset_info"]["train_copy"] == "sharp"
    choice = extra["tta_flip_choice"]
    assert clf.config.tta_flip == (choice["val_accuracy_flip"] > choice["val_accuracy_plain"])
    for key in ("fer2013_test", "fer2013_test_ferplus_majority"):
        assert 0.0 <= extra[key]["accuracy"] <= 1.0
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    assert metrics["config"]["input_blur"] == 0.0
    text = card.read_text()
    assert "A hand-written account." in text and "FER+ majority labels" in text
    assert (tmp_path / "confusion_fer2013_test.png").is_file()

    again = tmp_path / "again.keras"
    assert script.main(["--quick", "--evaluate-only", str(out), "--out", str(again),
                        "--card", str(tmp_path / "CARD2.md"), "--cache", "",
                        "--input-blur", "1.5", "--tta-flip", "on"]) == 0
    loaded = EmotionClassifier.load(again)
    assert loaded.config.input_blur == 1.5 and loaded.config.tta_flip
    assert EmotionClassifier.load(out).config.input_blur == 0.0  # untouched


def test_blurred_copy_warns_and_ferplus_targets_train(script, sharp_data, tmp_path, capsys):
    out = tmp_path / "ferplus.keras"
    assert script.main(["--quick", "--train-copy", "blurred", "--labels", "ferplus",
                        "--out", str(out), "--card", str(tmp_path / "CARD.md"),
                        "--cache", ""]) == 0
    err = capsys.readouterr().err
    assert "WARNING: the train images are blurrier than the test images" in err
    clf = EmotionClassifier.load(out)
    sigma = clf.config.extra["input_blur_choice"]["sigma"]
    assert 2.5 <= sigma <= 4.0 and clf.config.input_blur == 0.0  # measured, warned, not applied
    info = clf.config.extra["dataset_info"]
    assert info["labels"] == "ferplus" and info["n_train_targets"] < info["n_train"]
