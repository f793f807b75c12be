"""Choose the default model's label set and crop framing on out-of-domain dev sets.

    python scripts/choose_image_settings.py MODEL.keras [MODEL2.keras ...] [--json out.json]
    python scripts/choose_image_settings.py MODEL.keras --apply OUT.keras   # write the choices

Every candidate model is scored through the whole pipeline (dlib detection, crop, model) on the
CK+ full-resolution peak frames (last 3 frames of the 40 sequences) with each candidate framing,
and on CK+48 (already 48x48 crops framed like FER2013: model only). FER2013 test is never read
here. Prints one table; the choice is the row with the best mean of the CK+ accuracies.

``--apply OUT`` (one model): writes the chosen framing into the model's config, then scores
Grad-CAM at each candidate layer on the CK+ peak crops cut with that framing
(:func:`xfer_keras.explain.localisation.layer_localisation`) and sets the layer picked by
:func:`~xfer_keras.explain.localisation.choose_layer` (the finest layer with pointing >= 0.9 and
in:out ratio >= 2); both records go into the config's ``extra`` for the model card.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)

FRAMING_CANDIDATES = {  # name -> crop_face keyword arguments
    "box, margin 0.0": {"margin": 0.0},
    "box, margin 0.1": {"margin": 0.1},
    "box, margin 0.2": {"margin": 0.2},
    "fer2013 (eyes level)": {"framing": "fer2013"},
    "fer2013_upright": {"framing": "fer2013_upright"},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--json", default=None)
    parser.add_argument("--apply", default=None, metavar="OUT",
                        help="write the best framing and Grad-CAM layer into a copy of the model")
    args = parser.parse_args(argv)
    if args.apply and len(args.models) != 1:
        parser.error("--apply takes exactly one model")

    from xfer_keras.data.image_folders import encode_labels, load_images
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.dev_sets import (FaceSet, ckplus48_frame, ckplus_peak_frames,
                                              score_predictions)

    peaks = FaceSet.detect(ckplus_peak_frames())
    ck48 = ckplus48_frame()
    ck48_images, ck48_labels = load_images(ck48["path"], size=48, channels=1), \
        encode_labels(ck48["emotion"])
    print(f"CK+ peaks: {len(peaks.labels)} frames, dlib found {peaks.found.sum()}; "
          f"CK+48: {len(ck48_labels)} crops")
    rows = []
    print("| model | framing | CK+ peaks acc | CK+ peaks macro F1 | CK+48 acc | CK+48 macro F1 |")
    print("|---|---|---|---|---|---|")
    for path in args.models:
        clf = EmotionClassifier.load(path)
        c48 = score_predictions(ck48_labels, clf.predict_proba(ck48_images).argmax(1))
        for name, kwargs in FRAMING_CANDIDATES.items():
            r = peaks.score(clf.predict_proba, **kwargs)
            rows.append({"model": path, "framing": name, "crop": kwargs, "ckplus_peaks": r,
                         "ckplus48": c48})
            print(f"| {Path(path).name} | {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | "
                  f"{c48['accuracy']:.4f} | {c48['macro_f1']:.4f} |", flush=True)
    best = max(rows, key=lambda r: (r["ckplus_peaks"]["accuracy"] + r["ckplus48"]["accuracy"]))
    print(f"best: {best['model']} with {best['framing']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "best": best}, indent=2))
    if args.apply:
        apply_choices(EmotionClassifier.load(args.models[0]), best, rows, peaks, Path(args.apply))
    return 0


def apply_choices(clf, best, rows, peaks, out: Path) -> None:
    """Set the chosen framing and Grad-CAM layer in ``clf``'s config and save it to ``out``."""
    from xfer_keras.explain.localisation import choose_layer, layer_localisation

    clf.config.framing = best["crop"].get("framing")
    clf.config.crop_margin = float(best["crop"].get("margin", clf.config.crop_margin))
    clf.config.extra["framing_choice"] = {
        "rule": "best mean of CK+ peak (whole pipeline) and CK+48 accuracy",
        "chosen": best["framing"],
        "candidates": {r["framing"]: {"ckplus_peaks_accuracy": r["ckplus_peaks"]["accuracy"],
                                      "ckplus_peaks_macro_f1": r["ckplus_peaks"]["macro_f1"]}
                       for r in rows}}
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
