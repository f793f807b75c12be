"""Does Grad-CAM look at the face? Pointing game and in:out heat ratio on the CK+ peak frames.

    python benchmarks/gradcam_localisation.py [--model M] [--layers bam1,bam2,...] [--n-last 3]

Faces are found and cropped as the pipeline does (dlib, the model's framing, 224 px crops); for
each candidate layer, Grad-CAM of the predicted class is compared with the convex hull of the 68
landmarks in the crop (:mod:`xfer_keras.explain.localisation`). Prints the pointing-game share
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


def candidate_layers(model) -> list[str]:
    """Stage outputs (BAM or block outputs) and their ReLUs, shallow to deep, with >= 3x3 cells."""
    import re

    names = []
    for layer in model.layers:
        shape = getattr(getattr(layer, "output", None), "shape", None)
        if shape is None or len(shape) != 4 or min(shape[1] or 0, shape[2] or 0) < 3:
            continue
        if re.match(r"^(bam\d+|conv\d+_block\d+_(out|1_relu))$", layer.name):
            names.append(layer.name)
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--layers", default=None, help="comma-separated (default: candidates)")
    parser.add_argument("--n-last", type=int, default=3)
    parser.add_argument("--crop-size", type=int, default=224)
    args = parser.parse_args(argv)

    import numpy as np

    from xfer_keras.explain.gradcam import GradCAM
    from xfer_keras.explain.localisation import localisation_scores
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.training.dev_sets import FaceSet, ckplus_peak_frames

    clf = EmotionClassifier.load(args.model)
    faces = FaceSet.detect(ckplus_peak_frames(args.n_last))
    crops = faces.face_crops(args.crop_size, **clf.crop_options())
    images = np.stack([c.image for c in crops])
    landmarks = np.stack([c.landmarks for c in crops])
    layers = args.layers.split(",") if args.layers else candidate_layers(clf.model)
    print(f"{clf}; {len(crops)} CK+ peak crops ({faces.found.sum()}/{len(faces.labels)} faces "
          f"found), framing {clf.crop_options()}")
    print("| layer | cells | pointing | in:out ratio (median per crop) | in:out ratio (pooled) |")
    print("|---|---|---|---|---|")
    for layer in layers:
        cells = clf.model.get_layer(layer).output.shape[1]
        maps = GradCAM(clf, layer=layer).explain(images)
        r = localisation_scores(maps, landmarks, images.shape[1:3])
        mark = " (default)" if layer == clf.gradcam_layer else ""
        print(f"| {layer}{mark} | {cells}x{cells} | {r['pointing']:.3f} | {r['ratio_median']:.2f} | "
              f"{r['ratio_pooled']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
