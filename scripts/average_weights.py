"""Average the weights of classifiers fine-tuned from one start into one model (or, with
``--join``, join independently trained ones side by side), and score it.

    python scripts/average_weights.py A.keras B.keras [C.keras ...] --out SOUP.keras
        [--weights 0.5 0.5] [--recompute-bn] [--compare OTHER.keras ...] [--score-members]
    python scripts/average_weights.py A.keras B.keras --join --out JOINED.keras [--weights ...]

Writes the mean-weight network (:func:`xfer_keras.training.weight_average.average_classifiers`:
trunk, batch-norm statistics and extra heads; the members' files and sha256 in the config; the
first member's settings) and prints each head's accuracy on the training script's validation
split for the average, each ``--compare`` model (e.g. the shipped one) and, with
``--score-members``, every member, all at the average's mirror setting (``--mirror``), no prior
correction (snapshots of a training run: ``train_default_model.py --snapshots``). ``--join``
writes :func:`xfer_keras.models.ensemble.join_classifiers` instead: one flat graph answering
with the weighted mean logit of members trained from different starts (whose weights cannot be
averaged), one forward pass per member. The validation
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
    parser.add_argument("--join", action="store_true",
                        help="join the members side by side (their mean logit, one graph) "
                             "instead of averaging their weights: members from different starts")
    parser.add_argument("--recompute-bn", action="store_true",
                        help="re-estimate the batch-norm statistics on the training images "
                             "instead of averaging them")
    parser.add_argument("--compare", nargs="+", default=[], metavar="MODEL",
                        help="also score these models (e.g. the shipped one)")
    parser.add_argument("--score-members", action="store_true",
                        help="also score every member (a forward pass over validation each)")
    parser.add_argument("--mirror", choices=("first", "on", "off"), default="first",
                        help="mirror averaging for the average and the scores: the first "
                             "member's setting, or on / off")
    parser.add_argument("--cache", default="/tmp/xfer_fer2013sharp_48_gray.npz",
                        help="the training script's array cache")
    args = parser.parse_args(argv)
    if len(args.members) < 2:
        parser.error("give at least two members")
    if args.weights is not None and len(args.weights) != len(args.members):
        parser.error(f"--weights needs {len(args.members)} numbers")
    if args.join and args.recompute_bn:
        parser.error("--recompute-bn is for an average; joined members keep their statistics")

    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.models.ensemble import join_classifiers
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
    soup = (join_classifiers if args.join else average_classifiers)(members, args.weights)
    if args.mirror != "first":
        soup.config.tta_flip = args.mirror == "on"
    if args.recompute_bn:
        data = load_fer2013_arrays(48, 1, Path(args.cache) if args.cache else None)
        recompute_batchnorm(soup, data.x_train)
    soup.save(args.out)
    sets = validation_sets(args.cache)
    mirror = soup.config.tta_flip
    print(f"validation accuracy per head (mirror averaging {'on' if mirror else 'off'}, no prior "
          "correction)")
    scored = [*(zip(args.members, members) if args.score_members else ()),
              *((path, EmotionClassifier.load(path)) for path in args.compare),
              (f"{'join' if args.join else 'average'} of {len(members)} -> {args.out}", soup)]
    for name, clf in scored:
        clf.config.tta_flip = mirror
        scores = validation_correctness(clf, sets, model_labels(clf))
        print(f"  {name}: " + ", ".join(f"{labels} {ok.mean():.4f} (n={ok.size})"
                                        for labels, ok in scores.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
