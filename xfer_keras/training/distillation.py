"""Knowledge distillation: trained teachers' probabilities blended into the training targets.

Training on targets that mix the labels with teachers' probabilities (Hinton et al. 2015,
offline: computed once, on the unaugmented training arrays) hands on what the teachers learned
about which classes a face resembles, without their cost at inference. A teacher answers with
its own probabilities: no prior correction (an inference setting for balanced posed faces, not
what the student's head should learn), mirror averaging if its config has it, and one block of
K columns per head the student trains (:mod:`xfer_keras.training.two_heads`). Its answers are
stored (:func:`save_teacher_answers`), so a recipe can run again after the teacher is gone.
"""

from __future__ import annotations

import numpy as np

#: The one view set a teacher answers with: its own inference. Stored answers carry it in their key.
OWN_VIEWS = "own"


def _head_readers(teacher, heads):
    """``(model, [fn(outputs) -> probabilities per head])``: one forward pass answers every head
    (pooled features through each head's weights), or the model's own output without heads."""
    import keras
    from scipy.special import softmax

    from xfer_keras.models.heads import pooled_features

    if not heads:
        return teacher.model, [lambda out: out]
    specs = teacher.config.extra.get("heads") or {}
    missing = [head for head in heads if head not in specs]
    if missing:
        raise KeyError(f"no head {missing[0]!r}; the teacher has {list(specs) or 'none'}")
    logits = teacher.model.get_layer("logits")
    weights = [[np.asarray(w, np.float32) for w in logits.get_weights()]]
    weights += [[np.asarray(specs[h]["kernel"], np.float32), np.asarray(specs[h]["bias"],
                                                                        np.float32)]
                for h in heads]
    features = keras.Model(teacher.model.input, pooled_features(teacher.model))

    def reader(kernel, bias):
        def probabilities(out):
            return softmax(np.asarray(out, np.float64) @ kernel + bias, axis=1)
        return probabilities

    return features, [reader(kernel, bias) for kernel, bias in weights]


def teacher_probabilities(teacher, x, heads=(), batch_size: int = 256) -> np.ndarray:
    """float32 ``(N, K * (1 + len(heads)))``: the teacher's own probabilities for the uint8
    training images ``x`` (main head first, then each extra head in ``heads``): its own
    inference, the mean over the image and its mirror if its config says so. Never its prior
    correction."""
    x = np.asarray(x)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"x must be a non-empty image batch (N, S, S, C), got shape {x.shape}")
    transforms = [lambda inputs: inputs]
    if teacher.config.tta_flip:
        transforms.append(lambda inputs: inputs[:, :, ::-1])
    model, readers = _head_readers(teacher, tuple(heads))
    blocks = [[] for _ in readers]
    for i in range(0, len(x), batch_size):
        inputs = teacher.preprocess(x[i:i + batch_size])
        sums = [0.0 for _ in readers]
        for transform in transforms:
            out = np.asarray(model(np.ascontiguousarray(transform(inputs)), training=False))
            sums = [total + read(out) for total, read in zip(sums, readers)]
        for block, total in zip(blocks, sums):
            block.append(total / len(transforms))
    return np.concatenate([np.concatenate(b) for b in blocks], axis=1).astype(np.float32)


def blend_targets(targets, teacher_probs, weight: float) -> np.ndarray:
    """``(1 - weight) * targets + weight * teacher_probs`` (float32), for soft targets of the
    same shape; each K-column block still sums to 1 when both inputs' blocks do."""
    targets = np.asarray(targets, np.float32)
    teacher_probs = np.asarray(teacher_probs, np.float32)
    if targets.shape != teacher_probs.shape:
        raise ValueError(f"targets {targets.shape} and teacher probabilities "
                         f"{teacher_probs.shape} differ in shape")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"the teacher's weight must be in [0, 1], got {weight}")
    return ((1.0 - weight) * targets + weight * teacher_probs).astype(np.float32)


def teacher_answers_key(x, heads=(), teacher_sha256: str | None = None) -> dict:
    """What a stored set of teacher answers was computed from: the training images (sha256 of
    their bytes and shape), the heads, the view set (:data:`OWN_VIEWS`) and the teacher file. A stored set answers a
    later run only when these match, so a changed split or posed mix is never served stale."""
    import hashlib

    x = np.ascontiguousarray(x)
    return {"images_sha256": hashlib.sha256(x.tobytes()).hexdigest(),
            "images_shape": list(x.shape), "heads": ["main", *heads],
            "views": OWN_VIEWS, "teacher_sha256": teacher_sha256}


def save_teacher_answers(path, probs, key: dict, teacher_record: dict | None = None):
    """Write ``probs`` with its ``key`` (and what to say about the teacher) atomically to the
    ``.npz`` file ``path``: a distillation run can then start without the teacher pass, or
    after the teacher file itself is gone (float16: 1.4 MB for 27k images and two heads)."""
    import json

    from xfer_keras.atomic import atomic_path

    probs = np.asarray(probs, np.float32)
    meta = json.dumps({"key": key, "teacher": teacher_record or {}})
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, probs=probs.astype(np.float16), meta=np.array(meta))
    return path


def load_teacher_answers(path, key: dict):
    """``(probs float32, teacher record)`` stored at ``path`` for ``key``, or None when the file
    is missing or unreadable, or was computed from other images, heads or views. The teacher's sha256 must
    match too when both sides know it (``key["teacher_sha256"]`` None: the teacher is gone).
    Rows are renormalised per head after the float16 round trip."""
    import json
    import zipfile
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            probs = data["probs"].astype(np.float32)
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # unreadable: compute again
        return None
    stored = meta.get("key", {})
    fields = ("images_sha256", "images_shape", "heads", "views")
    if any(stored.get(f) != key.get(f) for f in fields):
        return None
    if key.get("teacher_sha256") and stored.get("teacher_sha256") != key["teacher_sha256"]:
        return None
    blocks = len(stored["heads"])
    k = probs.shape[1] // blocks
    probs = probs.reshape(len(probs), blocks, k)
    probs /= probs.sum(axis=2, keepdims=True)
    return probs.reshape(len(probs), blocks * k), dict(meta.get("teacher") or {},
                                                       sha256=stored.get("teacher_sha256"))
