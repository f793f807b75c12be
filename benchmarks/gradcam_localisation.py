"""Does Grad-CAM look at the face? Pointing game and in:out heat ratio on the CK+ peak frames.

    python benchmarks/gradcam_localisation.py [--model M] [--layers bam1,bam2,...] [--n-last 3]

Faces are found and cropped as the pipeline does (dlib, the model's framing, 224 px crops); for
each candidate layer, Grad-CAM of the predicted class is compared with the convex hull of the 68
landmarks in the crop (:mod:`xfer_keras.evaluation.localisation`). Prints the pointing-game share
(maximum inside the hull) and the in:out ratio (mean heat inside / outside: the median over
crops, and pooled over all crops). Goals (issue 10): pointing >= 0.9, ratio >= 2.
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
    parser.add_argument("--model", default=None)
    parser.add_argument("--layers", default=None, help="comma-separated (default: candidates)")
    parser.add_argument("--n-last", type=int, default=3)
    parser.add_argument("--crop-size", type=int, default=224)
    args = parser.parse_args(argv)

    from xfer_keras.data.ckplus_frames import ckplus_peak_frames
    from xfer_keras.evaluation.dev_sets import FaceSet
    from xfer_keras.evaluation.localisation import choose_layer, layer_localisation
    from xfer_keras.models.classifier import EmotionClassifier

    clf = EmotionClassifier.load(args.model)
    faces = FaceSet.detect(ckplus_peak_frames(args.n_last))
    crops = faces.face_crops(args.crop_size, **clf.crop_options())
    print(f"{clf}; {len(crops)} CK+ peak crops ({faces.found.sum()}/{len(faces.labels)} faces "
          f"found), framing {clf.crop_options()}")
    scores = layer_localisation(clf, crops, args.layers.split(",") if args.layers else None)
    print("| layer | cells | pointing | in:out ratio (median per crop) | in:out ratio (pooled) |")
    print("|---|---|---|---|---|")
    for layer, r in scores.items():
        mark = " (default)" if layer == clf.gradcam_layer else ""
        print(f"| {layer}{mark} | {r['cells']}x{r['cells']} | {r['pointing']:.3f} | "
              f"{r['ratio_median']:.2f} | {r['ratio_pooled']:.2f} |")
    print(f"rule (finest layer meeting pointing >= 0.9 and pooled ratio >= 2, else the closest): "
          f"{choose_layer(scores)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
