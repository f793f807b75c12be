"""Knowledge distillation: a trained teacher's probabilities blended into the training targets.

A deeper net of the same family reads FER2013 better than the shipped width but explains more
slowly. Training the narrower net on targets that mix the labels with the teacher's
probabilities (Hinton et al. 2015, offline: computed once, on the unaugmented training arrays)
hands on what the teacher learned about which classes a face resembles, without its cost at
inference. The teacher answers with its own probabilities: no prior correction (an inference
setting for balanced posed faces, not what the student's head should learn), mirror averaging
if its config has it, and one block of K columns per head the student trains
(:mod:`xfer_keras.training.two_heads`).
"""

from __future__ import annotations

import numpy as np


def teacher_probabilities(teacher, x, heads=(), batch_size: int = 256) -> np.ndarray:
    """float32 ``(N, K * (1 + len(heads)))``: the teacher's own probabilities for the uint8
    training images ``x`` (main head first, then each extra head in ``heads``)."""
    from xfer_keras.models.classifier import EmotionClassifier

    x = np.asarray(x)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"x must be a non-empty image batch (N, S, S, C), got shape {x.shape}")
    own = EmotionClassifier(teacher.model, dict(teacher.config.to_dict(), prior_correction=None))
    views = [own] + [teacher.with_head(head) for head in heads]
    blocks = []
    for view in views:
        parts = [view.proba_of_inputs(view.preprocess(x[i:i + batch_size]), batch_size)
                 for i in range(0, len(x), batch_size)]
        blocks.append(np.concatenate(parts))
    return np.concatenate(blocks, axis=1).astype(np.float32)


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
