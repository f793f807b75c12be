"""Do the explanations name the movements a FACS coder saw? Several models, one run, CK+ peaks.

    python benchmarks/explanation_agreement.py [--model A.keras --model B.keras ...]
        [--layers bam2,bam3] [--au-source blendshapes --au-source blendshapes:calibrated]
        [--n-last 1]

Each model explains the CK+ full-resolution peak frames (the last ``n_last`` frames of the 40
sequences; FACS codes are given for the last one, so ``--n-last 1``, the default, is exact)
through the whole pipeline (dlib, the model's framing and Grad-CAM layer, blendshape AUs,
fusion, template narration), and each explanation is compared with the frame's FACS codes
(:mod:`xfer_keras.evaluation.facs_agreement`): focus recall / precision (Grad-CAM against the coded
AUs' landmarks), hot precision (the AUs the narration names), how often the focus part names a
(coded) typical AU (else it calls the result uncertain), and how often the whole text (hot and
matching AUs) names a coded typical AU with the share of its named AUs that were coded, overall
and over the correct answers, for every model and AU source given.
These are dev frames: a model choice may use them, a held-out claim may not.

    python benchmarks/explanation_agreement.py --maps [benchmarks/attribution_maps.py options]

compares attribution maps instead (Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM at several layers,
fusions, Integrated Gradients, SmoothGrad): focus against the FACS codes and an oracle,
faithfulness against random deletion orders, time; see ``benchmarks/attribution_maps.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)

COLUMNS = ("focus_recall", "focus_precision", "hot_precision", "typical_named",
           "typical_coded_named", "text_typical_coded_named", "text_named_precision")


def peak_frames_with_codes(n_last: int):
    """``[(path, emotion, coded AUs)]`` of the last ``n_last`` frames of the coded sequences."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    return [(path, record.emotion, record.au_codes) for record in load_ckplus_sequences()
            if record.au_codes for path in record.frame_paths[-n_last:]]


def score_model(model_path, frames, pipeline_options=None) -> tuple[dict, list]:
    """(summary, per-frame rows) of one model on ``frames``."""
    from xfer_keras.errors import XferError
    from xfer_keras.evaluation.facs_agreement import agreement, summarise
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.xfera.pipeline import XferaPipeline

    rows = []
    classifier = EmotionClassifier.load(model_path, lazy=True)
    with XferaPipeline(classifier, **(pipeline_options or {})) as pipe:
        results = pipe.explain_many([str(p) for p, _, _ in frames])
    for (path, emotion, codes), result in zip(frames, results):
        if isinstance(result, XferError):  # a missed face: wrong, and nothing explained
            rows.append({"path": str(path), "correct": False, "error": str(result),
                         **{name: float("nan") for name in COLUMNS[:3]},
                         "typical_named": 0.0, "typical_coded_named": 0.0,
                         "text_typical_coded_named": 0.0, "text_named_precision": float("nan")})
            continue
        rows.append({"path": str(path), "correct": result.emotion == emotion,
                     "text": result.explanation, **agreement(result, codes)})
    return summarise(rows), rows


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--maps" in argv:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from attribution_maps import main as maps_main

        return maps_main([a for a in argv if a != "--maps"])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", default=None,
                        help="a .keras file (repeat to compare; default: the default model)")
    parser.add_argument("--layers", default=None,
                        help="comma-separated Grad-CAM layers to compare (default: each model's own)")
    parser.add_argument("--au-source", action="append", default=None,
                        help="an AU source spelling (repeat to compare; default: blendshapes, "
                             "the shipped one), e.g. blendshapes:calibrated for the previous "
                             "pipeline's")
    parser.add_argument("--n-last", type=int, default=1)
    parser.add_argument("--maps", action="store_true",
                        help="compare attribution maps instead (benchmarks/attribution_maps.py)")
    args = parser.parse_args(argv)

    from xfer_keras.models.classifier import EmotionClassifier

    frames = peak_frames_with_codes(args.n_last)
    models = args.model or [str(EmotionClassifier.resolve_path())]
    sources = args.au_source or ["blendshapes"]
    print(f"{len(frames)} CK+ full-res peak frames with FACS codes (last {args.n_last} of "
          f"{len({str(p.parent) for p, _, _ in frames})} sequences)")
    header = "| model | set | n | " + " | ".join(COLUMNS) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    layers = args.layers.split(",") if args.layers else [None]
    for model in models:
        for layer in layers:
            for source in sources:
                summary, rows = score_model(model, frames, {"gradcam_layer": layer,
                                                            "au_source": source})
                name = (model if layer is None else f"{model} @ {layer}") + f", AUs: {source}"
                for subset in ("all", "correct"):
                    n = summary["n"] if subset == "all" else summary["n_correct"]
                    cells = " | ".join(f"{summary[subset][c]:.3f}" for c in COLUMNS)
                    print(f"| {name} | {subset} | {n} | {cells} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
