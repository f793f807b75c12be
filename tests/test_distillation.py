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


def test_a_teacher_answers_with_its_own_inference(teacher):
    """The teacher's own probabilities: the mean over the image and its mirror when its config
    averages the mirror, one pass otherwise; one K-column block per head, each summing to 1."""
    x = _faces(4)
    plain = EmotionClassifier(teacher.model, dict(teacher.config.to_dict(),
                                                  prior_correction=None, tta_flip=False))
    inputs = plain.preprocess(x)
    np.testing.assert_allclose(teacher_probabilities(plain, x), plain.proba_of_inputs(inputs),
                               atol=1e-5)
    mirrored = EmotionClassifier(teacher.model, dict(plain.config.to_dict(), tta_flip=True))
    expected = np.mean([plain.proba_of_inputs(np.ascontiguousarray(v))
                        for v in (inputs, inputs[:, :, ::-1])], axis=0)
    np.testing.assert_allclose(teacher_probabilities(mirrored, x), expected, atol=1e-5)
    both = teacher_probabilities(teacher, x, heads=("fer2013",))
    assert both.shape == (4, 14)
    np.testing.assert_allclose(both.reshape(4, 2, 7).sum(-1), 1.0, atol=1e-5)


def test_stored_answers_serve_only_the_arrays_heads_views_and_teacher_they_came_from(tmp_path):
    """A stored set of teacher answers is read back (float16, rows renormalised) only for the
    same images, heads and views, and for the same teacher file while that file exists."""
    rng = np.random.default_rng(4)
    x = _faces(6)
    probs = rng.dirichlet(np.ones(7), (6, 2)).reshape(6, 14).astype(np.float32)
    key = teacher_answers_key(x, ("fer2013",), teacher_sha256="ab" * 32)
    path = tmp_path / "answers.npz"
    save_teacher_answers(path, probs, key, {"architecture": "resnet_bam_wide"})
    assert [p.name for p in tmp_path.iterdir()] == ["answers.npz"]  # no temporary left over
    got, about = load_teacher_answers(path, key)
    np.testing.assert_allclose(got, probs, atol=1e-3)
    np.testing.assert_allclose(got.reshape(6, 2, 7).sum(-1), 1.0, atol=1e-6)
    assert about == {"architecture": "resnet_bam_wide", "sha256": "ab" * 32}
    # the teacher file is gone: the images, heads and views still decide
    assert load_teacher_answers(path, dict(key, teacher_sha256=None)) is not None
    other = x.copy()
    other[0, 0, 0, 0] ^= 1  # one pixel of one image
    for changed in (teacher_answers_key(other, ("fer2013",), "ab" * 32),
                    teacher_answers_key(x, (), "ab" * 32),
                    dict(key, views=["identity", "right"]),
                    teacher_answers_key(x, ("fer2013",), "cd" * 32)):
        assert load_teacher_answers(path, changed) is None
    assert load_teacher_answers(tmp_path / "missing.npz", key) is None
    (tmp_path / "broken.npz").write_bytes(b"not a zip")  # unreadable: computed again
    assert load_teacher_answers(tmp_path / "broken.npz", key) is None
