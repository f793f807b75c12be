"""Average the weights of classifiers fine-tuned from one start into one model, and score it.

    python scripts/average_weights.py A.keras B.keras [C.keras ...] --out SOUP.keras
        [--weights 0.5 0.5] [--recompute-bn]

Writes the mean-weight network (:func:`xfer_keras.training.weight_average.average_classifiers`:
trunk, batch-norm statistics and extra heads; the members' files and sha256 in the config) and
prints each head's accuracy on the training script's validation split for every member and for
the average, each at the first member's mirror setting, no prior correction. The validation
split only: the settings and the model choice are then made as for any candidate
(``choose_image_settings.py OLD SOUP``, ``train_default_model.py --evaluate-only``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("members", nargs="+")
    parser.add_argument("--out", required=True)
    parser.add_argument("--weights", type=float, nargs="+", default=None,
                        help="one per member (default: equal)")
    parser.add_argument("--recompute-bn", action="store_true",
                        help="re-estimate the batch-norm statistics on the training images "
                             "instead of averaging them")
    parser.add_argument("--cache", default="/tmp/xfer_fer2013sharp_48_gray.npz",
                        help="the training script's array cache")
    args = parser.parse_args(argv)
    if len(args.members) < 2:
        parser.error("give at least two members")
    if args.weights is not None and len(args.weights) != len(args.members):
        parser.error(f"--weights needs {len(args.members)} numbers")

    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.fer2013_arrays import load_fer2013_arrays, model_labels
    from xfer_keras.training.tie_evidence import validation_correctness, validation_sets
    from xfer_keras.training.weight_average import (average_classifiers, float32_clone,
                                                    recompute_batchnorm)

    # float32 copies: a checkpoint from a mixed-precision run would compute in bf16
    members = [EmotionClassifier.load(path) for path in args.members]
    for clf in members:
        model = float32_clone(clf.model)
        model.set_weights(clf.model.get_weights())
        clf.model = model
    soup = average_classifiers(members, args.weights)
    if args.recompute_bn:
        data = load_fer2013_arrays(48, 1, Path(args.cache) if args.cache else None)
        recompute_batchnorm(soup, data.x_train)
    soup.save(args.out)
    sets = validation_sets(args.cache)
    mirror = members[0].config.tta_flip
    print(f"validation accuracy per head (mirror averaging {'on' if mirror else 'off'}, no prior "
          "correction)")
    for name, clf in [*zip(args.members, members), (f"average -> {args.out}", soup)]:
        clf.config.tta_flip = mirror
        scores = validation_correctness(clf, sets, model_labels(clf))
        print(f"  {name}: " + ", ".join(f"{labels} {ok.mean():.4f} (n={ok.size})"
                                        for labels, ok in scores.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
