"""Choose the default model's label set and crop framing on out-of-domain dev sets.

    python scripts/choose_image_settings.py MODEL.keras [MODEL2.keras ...] [--json out.json]

Every candidate model is scored through the whole pipeline (dlib detection, crop, model) on the
CK+ full-resolution peak frames (last 3 frames of the 40 sequences) with each candidate framing,
and on CK+48 (already 48x48 crops framed like FER2013: model only). FER2013 test is never read
here. Prints one table; the choice is the row with the best mean of the CK+ accuracies.
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
    args = parser.parse_args(argv)

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
