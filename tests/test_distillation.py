"""Distillation targets (:mod:`xfer_keras.training.distillation`): the teacher answers with its
own probabilities (no prior correction, its mirror averaging, one block per head), in batches
that do not change the answer, and the blend is the stated convex mix."""

import numpy as np
import pytest

from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.models.registry import create, model_config
from xfer_keras.training.distillation import (blend_targets, load_teacher_answers,
                                              save_teacher_answers, teacher_answers_key,
                                              teacher_probabilities)


@pytest.fixture(scope="module")
def teacher():
    """An untrained small net with a prior correction, mirror averaging and a stored head."""
    rng = np.random.default_rng(0)
    model = create("resnet_small_bam", input_size=48, channels=1)
    config = model_config("resnet_small_bam", input_size=48, channels=1, model=model)
    width = model.get_layer("logits").input.shape[-1]
    config.update(tta_flip=True,
                  prior_correction={"prior": [0.1, 0.02, 0.05, 0.3, 0.3, 0.13, 0.1],
                                    "power": 1.0})
    config["extra"] = {"heads": {"fer2013": {
        "kernel": rng.normal(0, 0.05, (width, 7)).tolist(),
        "bias": rng.normal(0, 0.1, 7).tolist(), "labels": "fer2013"}}}
    return EmotionClassifier(model, config)


def _faces(n=5):
    return np.random.default_rng(1).integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)


def test_teacher_answers_with_its_own_probabilities_per_head(teacher):
    x = _faces()
    probs = teacher_probabilities(teacher, x, heads=("fer2013",), batch_size=2)
    assert probs.shape == (5, 14) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.reshape(5, 2, 7).sum(-1), 1.0, atol=1e-5)
    raw = EmotionClassifier(teacher.model, dict(teacher.config.to_dict(), prior_correction=None))
    np.testing.assert_allclose(probs[:, :7], raw.predict_proba(x), atol=1e-5)
    np.testing.assert_allclose(probs[:, 7:], teacher.with_head("fer2013").predict_proba(x),
                               atol=1e-5)
    # the prior correction is an inference setting, not a target: it is left out
    assert not np.allclose(probs[:, :7], teacher.predict_proba(x), atol=1e-3)
    # batches do not change the answer
    np.testing.assert_allclose(teacher_probabilities(teacher, x, heads=("fer2013",)), probs,
                               atol=1e-5)
    with pytest.raises(KeyError):
        teacher_probabilities(teacher, x, heads=("nope",))
    with pytest.raises(ValueError, match="image batch"):
        teacher_probabilities(teacher, x[0])


def test_blend_is_the_convex_mix_and_refuses_bad_input():
    rng = np.random.default_rng(2)
    targets = np.eye(7, dtype=np.float32)[rng.integers(0, 7, 6)]
    teacher = rng.dirichlet(np.ones(7), 6).astype(np.float32)
    np.testing.assert_allclose(blend_targets(targets, teacher, 0.0), targets)
    np.testing.assert_allclose(blend_targets(targets, teacher, 1.0), teacher, atol=1e-7)
    half = blend_targets(targets, teacher, 0.5)
    np.testing.assert_allclose(half.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(half, 0.5 * targets + 0.5 * teacher, atol=1e-7)
    with pytest.raises(ValueError, match="shape"):
        blend_targets(targets, teacher[:, :6], 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        blend_targets(targets, teacher, 1.5)


def test_views_average_the_named_transforms(teacher):
    """``views``: the mean of the teacher's own probabilities over exactly those views; the
    shifts move the picture by 2 px at 48 px and fill the border from the edge."""
    from xfer_keras.training.distillation import MULTI_VIEW, TEACHER_VIEWS

    x = _faces(4)
    plain = EmotionClassifier(teacher.model, dict(teacher.config.to_dict(),
                                                  prior_correction=None, tta_flip=False))
    inputs = plain.preprocess(x)
    one = teacher_probabilities(teacher, x, views=("identity",))
    np.testing.assert_allclose(one, plain.proba_of_inputs(inputs), atol=1e-5)
    # the default is the teacher's own inference: image and mirror
    np.testing.assert_allclose(teacher_probabilities(teacher, x),
                               teacher_probabilities(teacher, x, views=("identity",
                                                                        "identity+mirror")),
                               atol=1e-6)
    right = TEACHER_VIEWS["right"](inputs)
    np.testing.assert_array_equal(right[:, :, 2:], inputs[:, :, :-2])
    np.testing.assert_array_equal(right[:, :, :2], np.repeat(inputs[:, :, :1], 2, axis=2))
    np.testing.assert_array_equal(TEACHER_VIEWS["up"](inputs)[:, :-2], inputs[:, 2:])
    assert TEACHER_VIEWS["zoom"](inputs).shape == inputs.shape
    expected = np.mean([plain.proba_of_inputs(np.ascontiguousarray(v)) for v in
                        (inputs, right[:, :, ::-1])], axis=0)
    np.testing.assert_allclose(teacher_probabilities(teacher, x, views=("identity",
                                                                        "right+mirror")),
                               expected, atol=1e-5)
    assert len(MULTI_VIEW) == 12 and len(set(MULTI_VIEW)) == 12
    multi = teacher_probabilities(teacher, x, heads=("fer2013",), views=MULTI_VIEW)
    assert multi.shape == (4, 14)
    np.testing.assert_allclose(multi.reshape(4, 2, 7).sum(-1), 1.0, atol=1e-5)
    for bad in ("tilt", "left+blur"):
        with pytest.raises(ValueError, match="unknown teacher view"):
            teacher_probabilities(teacher, x, views=(bad,))


def test_stored_answers_serve_only_the_arrays_heads_views_and_teacher_they_came_from(tmp_path):
    """A stored set of teacher answers is read back (float16, rows renormalised) only for the
    same images, heads and views, and for the same teacher file while that file exists."""
    rng = np.random.default_rng(4)
    x = _faces(6)
    probs = rng.dirichlet(np.ones(7), (6, 2)).reshape(6, 14).astype(np.float32)
    key = teacher_answers_key(x, ("fer2013",), None, teacher_sha256="ab" * 32)
    path = tmp_path / "answers.npz"
    save_teacher_answers(path, probs, key, {"architecture": "resnet_bam_wide2"})
    assert [p.name for p in tmp_path.iterdir()] == ["answers.npz"]  # no temporary left over
    got, about = load_teacher_answers(path, key)
    np.testing.assert_allclose(got, probs, atol=1e-3)
    np.testing.assert_allclose(got.reshape(6, 2, 7).sum(-1), 1.0, atol=1e-6)
    assert about == {"architecture": "resnet_bam_wide2", "sha256": "ab" * 32}
    # the teacher file is gone: the images, heads and views still decide
    assert load_teacher_answers(path, dict(key, teacher_sha256=None)) is not None
    other = x.copy()
    other[0, 0, 0, 0] ^= 1  # one pixel of one image
    for changed in (teacher_answers_key(other, ("fer2013",), None, "ab" * 32),
                    teacher_answers_key(x, (), None, "ab" * 32),
                    teacher_answers_key(x, ("fer2013",), ("identity",), "ab" * 32),
                    teacher_answers_key(x, ("fer2013",), None, "cd" * 32)):
        assert load_teacher_answers(path, changed) is None
    assert load_teacher_answers(tmp_path / "missing.npz", key) is None
    (tmp_path / "broken.npz").write_bytes(b"not a zip")  # unreadable: computed again
    assert load_teacher_answers(tmp_path / "broken.npz", key) is None


def test_view_set_benchmark_agrees_with_the_chooser_at_one_pass_and_with_the_mirror(teacher):
    """``benchmarks/tta_views.py`` scores view sets from one pass per view; its "image + mirror"
    column is what the model-selection rule scores (``validation_correctness`` at the model's
    mirror setting), and its "one pass" column the model without mirror averaging: labelled
    with the one-pass answers, that column reads 1 and the others less."""
    import importlib.util
    from pathlib import Path

    from xfer_keras.training.tie_evidence import validation_correctness

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "tta_views.py"
    spec = importlib.util.spec_from_file_location("tta_views", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = teacher.config.to_dict()
    head = config["extra"]["heads"]["fer2013"]
    config["extra"] = {"heads": {"fer2013": dict(head, kernel=(np.asarray(head["kernel"]) * 300)
                                                 .tolist())}}  # answers that vary by view
    config["prior_correction"] = None
    clf = EmotionClassifier(teacher.model, config)
    single = EmotionClassifier(teacher.model, dict(config, tta_flip=False))
    x = _faces(40)
    subsets = {"ferplus": (np.arange(30), single.predict_proba(x[:30]).argmax(1)),
               "fer2013": (np.arange(40), single.with_head("fer2013").predict_proba(x).argmax(1))}
    sets = {labels: (x[index], y) for labels, (index, y) in subsets.items()}
    scores = bench.view_set_accuracy(clf, x, subsets, "ferplus")
    assert set(scores) == set(sets)
    mirrored = validation_correctness(clf, sets, "ferplus")
    for labels, row in scores.items():
        assert set(row) == set(bench.VIEW_SETS) and row["one pass"] == 1.0
        assert row["image + mirror"] == pytest.approx(mirrored[labels].mean())
    assert max(scores["fer2013"][name] for name in list(bench.VIEW_SETS)[1:]) < 1.0
