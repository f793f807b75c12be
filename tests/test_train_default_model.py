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
from xfer_keras.training.fer2013_arrays import load_fer2013_arrays, training_targets

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_default_model.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("train_default_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_sharp_training_checks_blur_and_writes_the_card(script, sharp_data, tmp_path, capsys):
    out, card = tmp_path / "model.keras", tmp_path / "CARD.md"
    notes = tmp_path / "notes.md"
    notes.write_text("## History\nA hand-written account.\n")
    assert script.main(["--quick", "--out", str(out), "--card", str(card), "--cache", "",
                        "--notes", str(notes), "--seed", "3"]) == 0
    assert "WARNING" not in capsys.readouterr().err  # sharp train vs sharp test: no blur
    clf = EmotionClassifier.load(out)
    extra = clf.config.extra
    assert extra["input_blur_choice"]["sigma"] < 1.0 and clf.config.input_blur == 0.0
    assert extra["dataset_info"]["train_copy"] == "sharp" and extra["seed"] == 3
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
                        "--input-blur", "1.5", "--tta-flip", "on", "--fit-head", "fer2013"]) == 0
    loaded = EmotionClassifier.load(again)
    assert loaded.config.input_blur == 1.5 and loaded.config.tta_flip
    # --fit-head: an extra head on the frozen trunk; the model's own answers are unchanged
    assert loaded.heads == ("fer2013",) and "fer2013_test_head_fer2013" in loaded.config.extra
    fit = loaded.config.extra["head_fer2013_fit"]
    assert fit["converged"] and fit["targets"] == "FER2013 labels" and fit["l2"] == 1e-4
    import numpy as np

    crops = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    np.testing.assert_allclose(EmotionClassifier(loaded.model, clf.config).predict_proba(crops),
                               clf.predict_proba(crops), atol=1e-6)
    assert EmotionClassifier.load(out).config.input_blur == 0.0  # untouched
    # a head fit on posed faces the model never trained on would leak CK+48 dev subjects
    with pytest.raises(SystemExit):
        script.main(["--quick", "--evaluate-only", str(out), "--out", str(tmp_path / "x.keras"),
                     "--cache", "", "--fit-head", "fer2013", "--posed", "ckplus48"])
    assert "does not list" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a head fit needs a trained trunk
        script.main(["--quick", "--fit-head", "fer2013", "--out", str(tmp_path / "y.keras")])


def test_blurred_copy_warns_and_two_heads_train(script, sharp_data, tmp_path, capsys):
    """The blurred copy is measured and warned about; FER+ vote targets train the model's head
    and ``--second-head fer2013`` a FER2013-label head beside it: one output in the file (plain
    Keras load), the extra head in the config, a view on the same trunk with its own figures;
    ``--augmentation studio`` and ``--erasing`` train and are recorded in the recipe and card."""
    import keras
    import numpy as np

    out, card = tmp_path / "ferplus.keras", tmp_path / "CARD.md"
    assert script.main(["--quick", "--train-copy", "blurred", "--labels", "ferplus",
                        "--second-head", "fer2013", "--second-head-weight", "0.5",
                        "--augmentation", "studio", "--erasing", "0.5",
                        "--out", str(out), "--card", str(card), "--cache", ""]) == 0
    err = capsys.readouterr().err
    assert "WARNING: the train images are blurrier than the test images" in err
    clf = EmotionClassifier.load(out)
    sigma = clf.config.extra["input_blur_choice"]["sigma"]
    assert 2.5 <= sigma <= 4.0 and clf.config.input_blur == 0.0  # measured, warned, not applied
    info = clf.config.extra["dataset_info"]
    assert info["labels"] == "ferplus" and info["n_train_targets"] < info["n_train"]
    assert clf.heads == ("fer2013",) and info["second_head"] == "fer2013"
    assert clf.config.extra["second_head_weight"] == 0.5
    assert clf.config.extra["recipe"]["augmentation"] == "studio"
    assert clf.config.extra["recipe"]["erasing"] == 0.5
    assert keras.saving.load_model(out, compile=False).output_shape == (None, 7)
    head = clf.with_head("fer2013")
    assert head.config.prior_correction is None and head.heads == ()
    crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 3), dtype=np.uint8)
    p_main, p_head = clf.predict_proba(crops), head.predict_proba(crops)
    assert p_head.shape == (4, 7) and np.allclose(p_head.sum(1), 1, atol=1e-5)
    assert not np.allclose(p_main, p_head, atol=1e-4)  # a different head on the same trunk
    assert head.model.get_layer("bam3") is clf.model.get_layer("bam3")  # a view, not a copy
    for key in ("fer2013_test_head_fer2013", "fer2013_test_ferplus_majority_head_fer2013"):
        assert 0.0 <= clf.config.extra[key]["accuracy"] <= 1.0
    text = card.read_text()
    assert "Extra head `fer2013`" in text
    assert "random erasing of one rectangle in 50% of the images" in text
    # the best validation accuracy is the mean of the heads', and the card says each one's
    extra = clf.config.extra
    epoch, history = extra["best_epoch"], extra["history"]
    first, second = (history[k][epoch - 1] for k in ("val_first_accuracy", "val_second_accuracy"))
    assert extra["best_val_accuracy"] == pytest.approx((first + second) / 2, abs=1e-4)
    assert (f"the main head {first:.4f} (argmax of the FER+ vote distributions), the `fer2013` "
            f"head {second:.4f}") in text
    with pytest.raises(KeyError):
        clf.with_head("nope")


def test_train_only_with_the_layers_pipeline_then_evaluate_here(script, sharp_data, tmp_path):
    """What a GPU machine runs: augmentation in the graph (``--input-pipeline layers``), two
    heads, ``--train-only`` (the checkpoint, no test figures, no card); then ``--evaluate-only``
    here scores it like any model."""
    out, again = tmp_path / "device.keras", tmp_path / "evaluated.keras"
    assert script.main(["--quick", "--labels", "ferplus", "--second-head", "fer2013",
                        "--input-pipeline", "layers", "--erasing", "0.5", "--train-only",
                        "--out", str(out), "--cache", ""]) == 0
    clf = EmotionClassifier.load(out)
    extra = clf.config.extra
    assert extra["input_pipeline"] == "layers" and extra["training_backend"] == "tensorflow"
    assert clf.heads == ("fer2013",) and extra["recipe"]["erasing"] == 0.5
    assert "fer2013_test" not in extra and not (tmp_path / "MODEL_CARD.md").exists()
    assert extra["dataset_info"]["labels"] == "ferplus"
    assert script.main(["--quick", "--labels", "ferplus", "--evaluate-only", str(out),
                        "--out", str(again), "--card", str(tmp_path / "CARD.md"),
                        "--cache", ""]) == 0
    evaluated = EmotionClassifier.load(again).config.extra
    assert 0.0 <= evaluated["fer2013_test_head_fer2013"]["accuracy"] <= 1.0
    with pytest.raises(SystemExit):
        script.main(["--quick", "--train-only", "--evaluate-only", str(out)])


def test_posed_faces_train_and_are_left_out_of_ckplus48(script, sharp_data, data_dir, tmp_path):
    """``--posed ckplus48``: CK+48 crops of a seeded share of its subjects (never the full-res dev
    sequences' subjects) join the FER+ targets; the config names them and the card says so."""
    if not (data_dir / "ckplus48").is_dir():
        pytest.skip("ckplus48 not in XFER_DATA_DIR")
    import argparse

    import numpy as np

    from xfer_keras.data.ckplus_frames import ckplus_fullres_subjects, trained_subjects

    out, card = tmp_path / "posed.keras", tmp_path / "CARD.md"
    assert script.main(["--quick", "--labels", "ferplus", "--posed", "ckplus48",
                        "--posed-share", "0.2", "--posed-subjects", "0.3", "--out", str(out),
                        "--card", str(card), "--cache", ""]) == 0
    clf = EmotionClassifier.load(out)
    record = clf.config.extra["posed_training"]
    subjects = trained_subjects(clf)
    assert record["dataset"] == "ckplus48" and len(subjects) > 10
    assert not set(subjects) & set(ckplus_fullres_subjects())
    # the quick subset has 240 FER+ targets: 0.2 of the mix is about one copy of the crops
    assert record["repeats"] >= 1 and 0.0 < record["share_of_training"] < 1.0
    assert clf.config.extra["dataset_info"]["n_train_targets"] < 300  # FER2013's, before the mix
    assert "Posed faces mixed in" in card.read_text()
    # the prior correction's mix is the arrays' as trained: FER+ targets + the posed crops
    from xfer_keras.training.posed_faces import class_mix

    data = load_fer2013_arrays(48, 1, None, True)
    _, targets, _, _ = training_targets(data, "ferplus")
    recorded = np.asarray(clf.config.extra["training_class_mix"])
    np.testing.assert_allclose(recorded, class_mix(targets, record), atol=1e-6)
    assert recorded[4] < np.asarray(targets)[:, 4].mean()  # CK+48 has no neutral crops
    again = tmp_path / "again.keras"
    assert script.main(["--quick", "--labels", "ferplus", "--evaluate-only", str(out),
                        "--out", str(again), "--card", str(tmp_path / "CARD2.md"),
                        "--cache", ""]) == 0
    assert trained_subjects(EmotionClassifier.load(again)) == subjects  # kept in the config
    resumed = tmp_path / "resumed.keras"  # resumed without --posed: the weights still saw them
    assert script.main(["--quick", "--labels", "ferplus", "--resume", str(out), "--out",
                        str(resumed), "--card", str(tmp_path / "CARD3.md"), "--cache", ""]) == 0
    assert trained_subjects(EmotionClassifier.load(resumed)) == subjects
    # with a second head, a posed face's CK+ label is the target of both heads
    x_tr = np.zeros((20, 48, 48, 1), np.uint8)
    y_tr = np.full((20, 14), 1 / 7, np.float32)
    args = argparse.Namespace(posed_subjects=0.1, posed_share=0.5, input_size=48, channels=1,
                              second_head="fer2013")
    x_mix, y_mix, _ = script.mix_in_posed(args, x_tr, y_tr)
    posed = y_mix[20:]
    assert posed.shape[1] == 14 and np.array_equal(posed[:, :7], posed[:, 7:])
    assert set(np.unique(posed)) == {0.0, 1.0} and len(x_mix) == len(y_mix)


def _has_avx512_bf16() -> bool:
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not _has_avx512_bf16(), reason="needs a CPU with AVX-512 bf16")
def test_mixed_bf16_training_saves_a_float32_model(sharp_data, tmp_path):
    """``--isa AVX512_CORE_BF16 --precision mixed_bfloat16`` (the shipped model's recipe) in a
    fresh process (the cap is read when TensorFlow loads): the saved model is float32 and runs
    under the package's AVX2 cap, where bf16 convolutions have no kernel. (tiny_bam would
    segfault here: its 1x1 stride-2 convolutions have the few channels oneDNN's AVX-512
    gradient kernels crash on.)"""
    import subprocess

    import numpy as np

    out = tmp_path / "bf16.keras"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--arch", "resnet_bam_wide", "--isa", "AVX512_CORE_BF16",
         "--precision", "mixed_bfloat16", "--labels", "ferplus", "--out", str(out),
         "--card", str(tmp_path / "CARD.md"), "--cache", ""],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    clf = EmotionClassifier.load(out)  # this process: AVX2 cap
    assert {layer.dtype_policy.name for layer in clf.model.layers} == {"float32"}
    assert clf.config.extra["training_precision"] == "mixed_bfloat16"
    assert clf.config.extra["training_isa"] == "AVX512_CORE_BF16"
    probs = clf.predict_proba(np.zeros((2, 48, 48, 3), np.uint8))
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert "Precision: mixed_bfloat16" in (tmp_path / "CARD.md").read_text()


def test_teacher_targets_are_what_the_student_trains_on(script, sharp_data, tmp_path):
    """``--teacher MODEL --teacher-weight 1``: every training target is
    the teacher's own probabilities (both heads), so the class mix
    the script records is the mean of what
    :func:`~xfer_keras.training.distillation.teacher_probabilities` gives on the same arrays;
    the config records the teacher, its sha256 and its weight. The answers are
    written once (``--teacher-answers F --answers-only``) and serve the student's run after the
    teacher file is gone."""
    import numpy as np

    from xfer_keras.assets import sha256_of
    from xfer_keras.models.registry import create, model_config
    from xfer_keras.training.distillation import teacher_probabilities
    from xfer_keras.training.posed_faces import class_mix

    rng = np.random.default_rng(3)
    model = create("resnet_small_bam", input_size=48, channels=1)
    config = model_config("resnet_small_bam", input_size=48, channels=1, model=model)
    config["extra"] = {"heads": {"fer2013": {
        "kernel": rng.normal(0, 0.05, (model.get_layer("logits").input.shape[-1], 7)).tolist(),
        "bias": rng.normal(0, 0.5, 7).tolist(), "labels": "fer2013"}}}
    teacher_file = tmp_path / "teacher.keras"
    EmotionClassifier(model, config).save(teacher_file)
    answers = tmp_path / "teacher_answers.npz"

    out = tmp_path / "student.keras"
    distil = ["--quick", "--labels", "ferplus", "--second-head", "fer2013",
              "--teacher", str(teacher_file), "--teacher-weight", "1",
              "--teacher-answers", str(answers),
              "--out", str(out), "--card", str(tmp_path / "CARD.md"), "--cache", ""]
    # the teacher's answers are written once, where the teacher is; nothing is trained
    assert script.main([*distil, "--answers-only"]) == 0
    assert answers.is_file() and not out.exists()
    # the student then trains on them after the teacher file is gone
    teacher_file.rename(tmp_path / "elsewhere.keras")
    assert script.main([*distil, "--schedule", "constant"]) == 0
    teacher_file = (tmp_path / "elsewhere.keras").rename(teacher_file)
    student = EmotionClassifier.load(out)
    assert student.config.extra["schedule"] == "constant"
    record = student.config.extra["distillation"]
    assert record["teacher"] == str(teacher_file) and record["weight"] == 1.0
    assert record["teacher_architecture"] == "resnet_small_bam"
    assert record["teacher_sha256"] == sha256_of(teacher_file)
    assert record["answers"] == f"read from {answers}"
    assert record["heads"] == ["main", "fer2013"]
    assert record["views"] == "the teacher's own inference"
    assert 0.0 <= record["teacher_agreement_with_targets"] <= 1.0
    card = (tmp_path / "CARD.md").read_text()
    assert "Distilled (`--teacher`): every training target is 0 x its label + 1 x" in card
    assert "batch 64, a constant LR, " in card

    data = load_fer2013_arrays(48, 1, None, quick=True)
    x_tr, y_tr, _, _ = training_targets(data, "ferplus", "fer2013")
    probs = teacher_probabilities(EmotionClassifier.load(teacher_file), x_tr, ("fer2013",))
    # the stored float16 answers are the teacher's answers
    np.testing.assert_allclose(student.config.extra["training_class_mix"], class_mix(probs),
                               atol=1e-4)
    assert not np.allclose(class_mix(probs), class_mix(y_tr), atol=1e-3)  # not the labels' mix
    with pytest.raises(SystemExit):  # --answers-only needs the file to write
        script.main(["--quick", "--teacher", str(teacher_file), "--answers-only"])

    # a teacher whose columns are other classes (or in another order) is refused
    config["class_names"] = list(reversed(student.class_names))
    EmotionClassifier(model, config).save(teacher_file)
    with pytest.raises(ValueError, match="teacher's classes"):
        script.main(["--quick", "--teacher", str(teacher_file), "--out", str(out),
                     "--card", str(tmp_path / "CARD.md"), "--cache", ""])


def test_a_teacher_blends_into_fer2013_labels_too(script, sharp_data, tmp_path):
    """``--labels fer2013 --teacher``: the label indices become one-hot targets the teacher's
    answers blend into, and the validation labels follow, so the run trains, checkpoints on
    validation and writes its model and card."""
    from xfer_keras.models.registry import create, model_config

    model = create("resnet_small_bam", input_size=48, channels=1)
    teacher_file = tmp_path / "teacher.keras"
    EmotionClassifier(model, model_config("resnet_small_bam", input_size=48, channels=1,
                                          model=model)).save(teacher_file)
    out = tmp_path / "student.keras"
    assert script.main(["--quick", "--labels", "fer2013", "--teacher", str(teacher_file),
                        "--teacher-weight", "0.5", "--out", str(out),
                        "--card", str(tmp_path / "CARD.md"), "--cache", ""]) == 0
    student = EmotionClassifier.load(out)
    assert student.config.extra["distillation"]["weight"] == 0.5
    assert "Distilled (`--teacher`)" in (tmp_path / "CARD.md").read_text()


def test_an_ensemble_teacher_answers_with_the_mean_of_its_teachers(script, sharp_data, tmp_path):
    """``--teacher A B --teacher-answers FA FB``: the targets blend in the mean of the two
    teachers' own probabilities; each teacher's answers go to its own file and serve a later run
    after both teacher files are gone; the record and the card name both; a file count that does
    not match the teachers is refused."""
    from types import SimpleNamespace

    import numpy as np

    from xfer_keras.assets import sha256_of
    from xfer_keras.models.registry import create, model_config
    from xfer_keras.training.distillation import teacher_probabilities

    files, probs = [], []
    data = load_fer2013_arrays(48, 1, None, quick=True)
    x_tr, y_tr, _, _ = training_targets(data, "ferplus", "fer2013")
    for seed in (1, 2):
        rng = np.random.default_rng(seed)
        model = create("resnet_small_bam", input_size=48, channels=1)
        config = model_config("resnet_small_bam", input_size=48, channels=1, model=model)
        config["extra"] = {"heads": {"fer2013": {
            "kernel": rng.normal(0, 0.05, (model.get_layer("logits").input.shape[-1], 7)).tolist(),
            "bias": rng.normal(0, 0.5, 7).tolist(), "labels": "fer2013"}}}
        files.append(tmp_path / f"teacher{seed}.keras")
        EmotionClassifier(model, config).save(files[-1])
        probs.append(teacher_probabilities(EmotionClassifier.load(files[-1]), x_tr, ("fer2013",)))
    assert not np.allclose(probs[0], probs[1], atol=1e-2)  # two different teachers
    answers = [tmp_path / "a1.npz", tmp_path / "a2.npz"]
    args = SimpleNamespace(teacher=[str(f) for f in files],
                           teacher_answers=[str(a) for a in answers], teacher_weight=1.0,
                           second_head="fer2013")

    targets, record = script.distil_targets(args, x_tr, y_tr)
    np.testing.assert_allclose(targets, (probs[0] + probs[1]) / 2, atol=1e-5)
    assert [t["sha256"] for t in record["teachers"]] == [sha256_of(f) for f in files]
    assert [t["answers"] for t in record["teachers"]] == [f"computed, written to {a}"
                                                          for a in answers]
    assert record["teacher_sha256"] is None and record["teacher_architecture"] == "resnet_small_bam"
    card = "\n".join(script._distillation_lines(record))
    assert "the mean of the 2 teachers' own probabilities, `teacher1.keras`" in card
    assert "and `teacher2.keras`" in card

    for f in files:  # both teachers gone: their stored answers still serve
        f.rename(f.with_suffix(".gone"))
    again, record = script.distil_targets(args, x_tr, y_tr)
    np.testing.assert_allclose(again, targets, atol=2e-3)  # float16 storage
    assert [t["answers"] for t in record["teachers"]] == [f"read from {a}" for a in answers]

    with pytest.raises(SystemExit):  # two teachers, one answers file
        script.main(["--quick", "--teacher", *args.teacher, "--teacher-answers", str(answers[0]),
                     "--answers-only"])


def test_a_seed_fixes_the_initial_weights(script):
    """``--seed``: the same seed, the same fresh weights; another seed, another line."""
    import argparse

    import numpy as np

    def weights(seed):
        args = argparse.Namespace(arch="tiny_bam", input_size=48, channels=1, dropout=0.3,
                                  seed=seed)
        return script.fresh_model(args).get_weights()

    same, again, other = weights(7), weights(7), weights(8)
    assert all(np.array_equal(a, b) for a, b in zip(same, again))
    assert not all(np.array_equal(a, b) for a, b in zip(same, other))


def test_an_epoch_cap_never_cuts_a_time_cosine_schedule_short(script):
    """With the time-cosine schedule the deadline ends training (the rate reaches its floor
    there); the paper's plateau schedule keeps its 100-epoch cap; an explicit --epochs wins."""
    from argparse import Namespace

    assert script.epoch_cap(Namespace(epochs=None, schedule="time-cosine")) >= 100_000
    assert script.epoch_cap(Namespace(epochs=None, schedule="plateau")) == 100
    assert script.epoch_cap(Namespace(epochs=7, schedule="time-cosine")) == 7
