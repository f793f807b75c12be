"""Whether averaging more views of each face at test time helps: every head, validation split.

    python benchmarks/tta_views.py [--model A.keras --model B.keras] [--cache FILE]

Test-time augmentation (TTA) is a common lever on FER2013: reported single-net figures often
average ten crops. Our classifiers average each face with its mirror image (``tta_flip``); this
benchmark asks whether more views would help, before any such setting is shipped. For each
model (default: the shipped one) and head it prints the accuracy on the training script's
validation split (``tie_evidence.validation_split``: the main head against the labels it learned,
an extra ``fer2013`` head against FER2013's) of each view set of
:data:`xfer_keras.training.distillation.TEACHER_VIEWS`: one pass, the image and its mirror, the
four 2 px shifts of both, and all 12 views (the shifts and a 1.1x zoom, each mirrored), with
each head's own probabilities (no prior correction). One pass per view over the images answers
every head, then the sets are means of those passes. The validation split only: never a test set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)

#: View sets scored, each a tuple of :data:`~xfer_keras.training.distillation.TEACHER_VIEWS`
#: names (``+mirror``: also mirrored).
VIEW_SETS = {
    "one pass": ("identity",),
    "image + mirror": ("identity", "identity+mirror"),
    "+ 2 px shifts (10)": tuple(f"{v}{m}" for v in ("identity", "left", "right", "up", "down")
                                for m in ("", "+mirror")),
    "+ 1.1x zoom (12)": None,  # every view: distillation.MULTI_VIEW
}


def view_set_accuracy(clf, x, subsets: dict, main_labels: str, view_sets=None) -> dict:
    """``{head labels: {view set: accuracy}}`` for every head of ``clf`` that has labels in
    ``subsets`` (``validation_split``'s layout: label set -> (indices into ``x``, labels)): one
    forward pass per view over ``x``, answering every head."""
    import numpy as np

    from xfer_keras.training.distillation import MULTI_VIEW, teacher_probabilities

    view_sets = {name: views or MULTI_VIEW for name, views in (view_sets or VIEW_SETS).items()}
    needed = sorted({v for views in view_sets.values() for v in views}, key=MULTI_VIEW.index)
    heads = [h for h in clf.heads if h in subsets]
    passes = {v: teacher_probabilities(clf, x, heads, views=(v,)) for v in needed}
    k = len(clf.class_names)
    out = {}
    for block, labels in enumerate([main_labels, *heads]):
        if labels not in subsets:
            continue
        index, y = subsets[labels]
        columns = slice(block * k, (block + 1) * k)
        out[labels] = {name: float((np.mean([passes[v][index, columns] for v in views], 0)
                                    .argmax(1) == y).mean()) for name, views in view_sets.items()}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", default=None,
                        help="a .keras classifier (repeat; default: the shipped model)")
    parser.add_argument("--cache", default="/tmp/xfer_fer2013sharp_48_gray.npz",
                        help="the training script's array cache")
    args = parser.parse_args(argv)

    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.fer2013_arrays import model_labels
    from xfer_keras.training.tie_evidence import validation_split

    x, subsets = validation_split(args.cache)
    print("| model | head (labels, images) | " + " | ".join(VIEW_SETS) + " |")
    print("|---|---|" + "---|" * len(VIEW_SETS))
    for path in args.model or [None]:
        clf = EmotionClassifier.load(path)
        name = Path(path).name if path else "shipped"
        scores = view_set_accuracy(clf, x, subsets, model_labels(clf))
        for labels, row in scores.items():
            cells = " | ".join(f"{row[view]:.4f}" for view in VIEW_SETS)
            print(f"| {name} | {labels} ({len(subsets[labels][1])}) | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
