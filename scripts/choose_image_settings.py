"""Choose the default model's crop framing and prior correction on out-of-domain dev sets.

    python scripts/choose_image_settings.py MODEL.keras [MODEL2.keras ...] [--json out.json]
    python scripts/choose_image_settings.py MODEL.keras --apply OUT.keras   # write the choices

Every candidate model is scored through the whole pipeline (dlib detection, crop, model) on the
CK+ full-resolution frames: the last 3 frames of the 40 sequences (their emotion) and the first
frame of each (neutral), with each candidate framing and each power of the prior correction
(probabilities divided by the training class mix ** power, ``ClassifierConfig.prior_correction``;
the mix of the arrays as trained, posed faces included: ``training_prior``),
and on CK+48 (already 48x48 crops framed like FER2013: model only, no neutral class; without
the subjects any of the models trained on, ``--posed`` in the training script). FER2013 test is
never read here. Prints one table. Each model's settings are its row with the best balanced
accuracy (mean recall) on the CK+ full-resolution frames, exact ties to the smaller prior power and
then CK+48; between models (the first is the incumbent), CK+ full-res differences no larger than
one photo can make are ties, CK+48 decides them, and a challenger tied with the incumbent must beat
it on CK+48 beyond subject resampling noise (:mod:`xfer_keras.evaluation.model_selection`). A
challenger tied on both posed sets is then weighed on evidence they do not hold
(:class:`TieEvidence`: the validation split of the training script, beyond image resampling noise
on every head that changed; the capture changes of the CK+ dev photos, within one photo; Grad-CAM localisation);
of several, the first in the order given that passes replaces the incumbent.

``--apply OUT`` (one model): writes the chosen framing and prior correction into the model's
config, then scores Grad-CAM at each candidate layer on the CK+ peak crops cut with that framing
(:func:`xfer_keras.evaluation.localisation.layer_localisation`) and sets the layer picked by
:func:`~xfer_keras.evaluation.localisation.choose_layer` (the finest layer with pointing >= 0.9 and
in:out ratio >= 2); the records go into the config's ``extra`` for the model card.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)
from xfer_keras.training.fer2013_arrays import model_labels, training_prior  # noqa: E402
from xfer_keras.evaluation.tie_evidence import TieEvidence  # noqa: E402

FRAMING_CANDIDATES = {  # name -> crop_face keyword arguments
    "box, margin 0.0": {"margin": 0.0},
    "box, margin 0.1": {"margin": 0.1},
    "box, margin 0.2": {"margin": 0.2},
    "box, margin 0.0, eyes level": {"margin": 0.0, "level_eyes": True},
    "box, margin 0.1, eyes level": {"margin": 0.1, "level_eyes": True},
    "fer2013 (eyes level)": {"framing": "fer2013"},
    "fer2013_upright": {"framing": "fer2013_upright"},
}


PRIOR_POWERS = (0.0, 0.25, 0.5, 0.75, 1.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--json", default=None)
    parser.add_argument("--apply", default=None, metavar="OUT",
                        help="write the best framing, prior correction and Grad-CAM layer into a "
                             "copy of the model")
    parser.add_argument("--cache", default="/tmp/xfer_fer2013sharp_48_gray.npz",
                        help="the training script's array cache (for the training class prior)")
    parser.add_argument("--tie-margin", type=float, default=None,
                        help="CK+ full-res balanced accuracy differences between models up to "
                             "this are ties, decided by CK+48, and so are capture-robustness "
                             "losses in step 3 (default: one photo's weight)")
    args = parser.parse_args(argv)
    if args.apply and len(args.models) != 1:
        parser.error("--apply takes exactly one model")

    import numpy as np

    from xfer_keras.data.image_folders import encode_labels, load_images
    from xfer_keras.emotions import EMOTIONS7
    from xfer_keras.models.classifier import EmotionClassifier, class_weights_of
    from xfer_keras.data.ckplus_frames import (ckplus48_frame, ckplus_fullres_dev_frames,
                                               trained_subjects)
    from xfer_keras.evaluation.dev_sets import FaceSet, score_predictions
    from xfer_keras.evaluation.model_selection import (best_settings, break_posed_tie, choose_model,
                                                     one_photo_margin, posed_tie_challengers)

    frame = ckplus_fullres_dev_frames()
    full = FaceSet.detect(frame)
    onset = full.labels == EMOTIONS7.index("neutral")
    # every model is scored on the same CK+48 crops: none of a subject any of them trained on
    seen = sorted({s for path in args.models
                   for s in trained_subjects(EmotionClassifier.load(path, lazy=True))})
    ck48 = ckplus48_frame(exclude_subjects=seen)
    ck48_images, ck48_labels = load_images(ck48["path"], size=48, channels=1), \
        encode_labels(ck48["emotion"])
    print(f"CK+ full-res: {int((~onset).sum())} peak + {int(onset.sum())} neutral onset frames, "
          f"dlib found {full.found.sum()}; CK+48: {len(ck48_labels)} crops of "
          f"{ck48['subject'].nunique()} subjects" +
          (f" ({len(seen)} subjects a model trained on left out)" if seen else ""))
    rows = []
    print("| model | framing | prior power | CK+ full-res balanced acc (peaks + onsets) | "
          "CK+ peaks acc / macro F1 | CK+48 acc / macro F1 |")
    print("|---|---|---|---|---|---|")
    for path in args.models:
        clf = EmotionClassifier.load(path)
        clf.config.prior_correction = None  # raw probabilities; the powers are applied below
        labels = model_labels(clf)
        prior = training_prior(clf, labels, args.cache)
        p48 = clf.predict_proba(ck48_images)
        for name, kwargs in FRAMING_CANDIDATES.items():
            probs = clf.predict_proba(full.crops(224, **kwargs)) if full.found.any() else None
            for power in PRIOR_POWERS:
                weights = class_weights_of({"prior": prior, "power": power}, 7)
                w = np.ones(7) if weights is None else weights
                pred = full.predictions(None if probs is None else probs * w)
                r_full = score_predictions(full.labels, pred)
                r_peaks = score_predictions(full.labels[~onset], pred[~onset])
                pred48 = (p48 * w).argmax(1)
                c48 = score_predictions(ck48_labels, pred48)
                rows.append({"model": path, "framing": name, "crop": kwargs, "power": power,
                             "prior": prior, "labels": labels, "ckplus_fullres": r_full,
                             "ckplus_peaks": r_peaks, "ckplus48": c48,
                             "ckplus48_pred": pred48.tolist()})
                print(f"| {Path(path).name} | {name} | {power:.2f} | "
                      f"{r_full['balanced_accuracy']:.4f} | {r_peaks['accuracy']:.4f} / "
                      f"{r_peaks['macro_f1']:.4f} | {c48['accuracy']:.4f} / "
                      f"{c48['macro_f1']:.4f} |", flush=True)
    per_model = [best_settings([r for r in rows if r["model"] == path]) for path in args.models]
    margin = one_photo_margin(full.labels) if args.tie_margin is None else args.tie_margin
    best = choose_model(per_model, margin, ck48_labels, ck48["subject"].to_numpy())
    for r in per_model:
        print(f"{r['model']}: {r['framing']}, prior power {r['power']}: CK+ full-res balanced "
              f"{r['ckplus_fullres']['balanced_accuracy']:.4f}, CK+48 balanced "
              f"{r['ckplus48']['balanced_accuracy']:.4f}")
    if "ckplus48_gain_interval" in best:
        low, high = best["ckplus48_gain_interval"]
        print(f"{best['challenger']} ties with {args.models[0]} on CK+ full-res; its CK+48 gain, "
              f"95 % interval over resampled subjects: [{low:+.4f}, {high:+.4f}]")
    ties = (posed_tie_challengers(per_model, margin, ck48_labels, ck48["subject"].to_numpy())
            if best["model"] == args.models[0] else [])
    posed_ties = []
    if ties:  # step 3: the posed sets cannot tell them apart; other dev evidence decides
        evidence = TieEvidence(args.cache, frame, full)
        mine = evidence.of(per_model[0])
        for row, interval in ties:
            decision = break_posed_tie(mine, evidence.of(row), capture_margin=margin)
            posed_ties.append({"model": row["model"], "ckplus48_gain_interval": interval,
                               **decision})
            print(f"{row['model']} ties with {args.models[0]} on both posed sets (CK+48 gain "
                  f"[{interval[0]:+.4f}, {interval[1]:+.4f}]); validation gain per head "
                  + ", ".join(f"{h} [{lo:+.4f}, {hi:+.4f}]"
                              for h, (lo, hi) in decision["validation_gain_intervals"].items())
                  + ", capture changes balanced {:.4f} vs {:.4f}: ".format(
                      *decision["capture_balanced"])
                  + ("replaces it" if decision["replace"] else "; ".join(decision["reasons"])))
            if decision["replace"]:
                best = dict(row, ckplus48_gain_interval=interval, challenger=row["model"],
                            posed_tie=decision)
                break
    print(f"best: {best['model']} with {best['framing']}, prior power {best['power']} "
          f"(CK+ full-res ties within {margin:.4f}, one photo, go to CK+48; the first model "
          "stays unless beaten beyond subject noise, or, tied on both posed sets, beaten on "
          "validation without losing capture robustness beyond one photo)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "per_model": per_model,
                                               "tie_margin": margin, "posed_ties": posed_ties,
                                               "best": best}, indent=2))
    if args.apply:
        peaks = full.subset(~onset)
        apply_choices(EmotionClassifier.load(args.models[0]), best, rows, peaks, Path(args.apply))
    return 0


def apply_choices(clf, best, rows, peaks, out: Path) -> None:
    """Set the chosen framing and Grad-CAM layer in ``clf``'s config and save it to ``out``."""
    from xfer_keras.evaluation.localisation import choose_layer, layer_localisation

    rule = ("framing and prior power together: best balanced accuracy on the CK+ full-res "
            "peak + neutral onset frames (whole pipeline), exact ties to the smaller power, "
            "then CK+48")
    clf.config.framing = best["crop"].get("framing")
    clf.config.crop_margin = float(best["crop"].get("margin", clf.config.crop_margin))
    clf.config.crop_level_eyes = bool(best["crop"].get("level_eyes", False))
    clf.config.extra["framing_choice"] = {
        "rule": rule, "chosen": best["framing"],
        "candidates": {r["framing"]: {"ckplus_peaks_accuracy": r["ckplus_peaks"]["accuracy"],
                                      "ckplus_peaks_macro_f1": r["ckplus_peaks"]["macro_f1"],
                                      "ckplus_fullres_balanced_accuracy":
                                          r["ckplus_fullres"]["balanced_accuracy"]}
                       for r in rows if r["power"] == best["power"]}}
    clf.config.prior_correction = ({"prior": best["prior"], "power": best["power"],
                                    "labels": best["labels"]} if best["power"] else None)
    clf.config.extra["prior_choice"] = {
        "rule": rule, "chosen": best["power"], "labels": best["labels"],
        "candidates": {f"{r['power']:.2f}": {
            "ckplus_fullres_balanced_accuracy": r["ckplus_fullres"]["balanced_accuracy"],
            "ckplus_peaks_accuracy": r["ckplus_peaks"]["accuracy"],
            "ckplus48_accuracy": r["ckplus48"]["accuracy"]}
            for r in rows if r["framing"] == best["framing"]}}
    scores = layer_localisation(clf, peaks.face_crops(224, **clf.crop_options()))
    clf.config.gradcam_layer = choose_layer(scores)
    clf.config.extra["gradcam_layer_choice"] = {
        "rule": "finest layer with pointing >= 0.9 and pooled in:out ratio >= 2 on the CK+ "
                "peak crops, else the closest",
        "chosen": clf.config.gradcam_layer,
        "candidates": {name: {k: r[k] for k in ("cells", "pointing", "ratio_median",
                                                 "ratio_pooled")}
                       for name, r in scores.items()}}
    for name, r in scores.items():
        print(f"  Grad-CAM {name} ({r['cells']}x{r['cells']}): pointing {r['pointing']:.3f}, "
              f"in:out {r['ratio_pooled']:.2f} pooled / {r['ratio_median']:.2f} median")
    clf.save(out)
    print(f"wrote {out}: framing {clf.crop_options()}, Grad-CAM layer {clf.gradcam_layer}")


if __name__ == "__main__":
    raise SystemExit(main())
