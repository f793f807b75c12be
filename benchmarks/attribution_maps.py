"""Which attribution map names the coded Action Units, and is faithful? One table, CK+ peaks.

    python benchmarks/attribution_maps.py [--model A.keras] [--fill blur|grey] [--random 20]
        [--pipeline-ms 28.5] [--goal-ms 35] [--limit N]

(also ``python benchmarks/explanation_agreement.py --maps``). Every map of
:data:`xfer_keras.evaluation.attribution_maps.MAP_SPECS` explains the classifier's answer on the
CK+ full-resolution peak frames with FACS codes (cropped as the pipeline crops them; cached), and
the table gives per map: focus precision / recall of its heat-activated AUs against the coded
AUs (Table 2 regions, XFERa's hot-landmark and 70 % rules), the same as shares of the oracle's
(a map that heats exactly the coded AUs' landmarks), deletion AUC over 10 face parts against 20
random part orders (mean, sd; ``faithful``: below the mean by more than 2 sd), insertion AUC,
and warm ms per image (classification included). The oracle row comes under Table 2's regions
and under :data:`~xfer_keras.evaluation.attribution_maps.REFINED_AU_LANDMARKS`. Then the rule
(:func:`~xfer_keras.evaluation.attribution_maps.pick_best`) prints the winner and the pipeline
options that run it, and times the pipeline (one image explained, warm) with the shipped map and
with the winner, taking turns. These are dev frames: a map choice may use them, a held-out
claim may not.

The table also gives each map's localisation (pointing: the heat maximum inside the landmark
hull; in:out: heat inside over outside, pooled), and the rule requires the localisation goals
(0.9 and 2): a map whose heat lies off the face names landmarks by accident.

One run (the shipped model, 40 frames, a quiet 2-CPU machine): Grad-CAM at ``bam3`` reads focus
precision / recall 0.083 / 0.113 (P+R 0.14 of the oracle's 0.359 / 1.000), deletion AUC 0.597
against the control's 0.735 (sd 0.014), pointing 0.97, in:out 4.79; the rule keeps it. Grad-CAM
at ``bam2`` (12x12) reads 0.320 / 0.121 (0.32 of the oracle) but its heat maximum is inside the
face on 0.15 of the crops (in:out 1.00); HiResCAM at ``bam3`` 0.161 / 0.138 (0.22), pointing
0.72. SmoothGrad is localised (1.00 / 2.51) but takes 291 ms. Every map deletes faster than
random orders by more than 2 sd. Under the refined AU regions the oracle's precision is 0.703
instead of 0.359.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import xfer_keras  # noqa: E402,F401  (sets ONEDNN_MAX_CPU_ISA before TensorFlow)


def print_table(study, pipeline_ms: float, out=print) -> None:
    from xfer_keras.evaluation.attribution_maps import pipeline_ms_estimate

    control = study.control
    d, i = control["deletion"], control["insertion"]
    out(f"{study.n_faces} CK+ full-res peak frames with FACS codes; parts masked with the "
        f"crop's {study.fill} copy; random control ({len(d['aucs'])} orders): deletion AUC "
        f"{d['mean']:.3f} (sd {d['sd']:.3f}), insertion AUC {i['mean']:.3f} (sd {i['sd']:.3f})")
    head = ("| map | engine | focus P | focus R | P share | R share | P+R share | "
            "refined P | refined R | deletion AUC | vs control | insertion AUC | pointing | "
            "in:out | ms/img | pipeline ms (est.) |")
    out(head)
    out("|" + "---|" * (head.count("|") - 1))
    shipped = study.scores[0]
    for s in study.scores:
        f, r = s.focus["table2"], s.focus["refined"]
        share = s.share(study.oracle)
        gap = (s.deletion_auc - d["mean"]) / d["sd"] if d["sd"] > 0 else float("nan")
        verdict = f"{gap:+.1f} sd{' faithful' if s.faithful else ''}"
        est = pipeline_ms_estimate(s, shipped, pipeline_ms)
        out(f"| {s.spec.name} | {s.engine} | {f['focus_precision']:.3f} | {f['focus_recall']:.3f} | "
            f"{share['precision']:.2f} | {share['recall']:.2f} | {share['sum']:.2f} | "
            f"{r['focus_precision']:.3f} | {r['focus_recall']:.3f} | {s.deletion_auc:.3f} | "
            f"{verdict} | {s.insertion_auc:.3f} | {s.localisation['pointing']:.2f} | "
            f"{s.localisation['ratio_pooled']:.2f}{' localised' if s.localised else ''} | "
            f"{s.ms:.1f} | {est:.1f} |")
    for name, o in (("oracle (Table 2 regions)", study.oracle["table2"]),
                    ("oracle (refined regions)", study.oracle["refined"])):
        out(f"| {name} | - | {o['focus_precision']:.3f} | {o['focus_recall']:.3f} | 1.00 | 1.00 | "
            f"1.00 | - | - | - | - | - | - | - | - | - |")
    ro = study.oracle["refined"]
    out(f"(refined P / R: the map's focus under the refined AU regions, whose oracle reads "
        f"{ro['focus_precision']:.3f} / {ro['focus_recall']:.3f})")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="a .keras file (default: the default model)")
    parser.add_argument("--fill", default="blur", choices=("blur", "grey"))
    parser.add_argument("--random", type=int, default=20, help="random part orders (control)")
    parser.add_argument("--pipeline-ms", type=float, default=None,
                        help="the pipeline's warm ms per image with the shipped map "
                             "(default: PIPELINE_MS_SHIPPED)")
    parser.add_argument("--goal-ms", type=float, default=None, help="latency goal (default 35)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N frames")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per map")
    parser.add_argument("--skip-pipeline", action="store_true",
                        help="do not time the pipeline with the shipped and the winning map")
    args = parser.parse_args(argv)

    from xfer_keras.evaluation import attribution_maps as am
    from xfer_keras.models.classifier import EmotionClassifier

    clf = EmotionClassifier.load(args.model)
    frames = am.coded_peak_frames()[: args.limit]
    faces = am.load_peak_faces(clf, frames)
    pipeline_ms = am.PIPELINE_MS_SHIPPED if args.pipeline_ms is None else args.pipeline_ms
    goal = am.LATENCY_GOAL_MS if args.goal_ms is None else args.goal_ms
    from xfer_keras.assets import sha256_of

    import os

    print(f"model: {clf.model_file} (sha256 {sha256_of(clf.model_file)[:12]}); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (timings under load compare only "
          "with each other)")
    study = am.run_study(clf, faces, n_random=args.random, fill=args.fill, repeats=args.repeats)
    print_table(study, pipeline_ms)
    best = am.pick_best(study, goal_ms=goal, pipeline_ms=pipeline_ms)
    if best is None:
        print(f"rule: no map is faithful, localised and within {goal:.0f} ms")
        return 0
    share = best.share(study.oracle)
    print(f"rule (within {goal:.0f} ms est., faithful, localised, max focus P+R share of the "
          "oracle): "
          f"{best.spec.name}, P+R share {share['sum']:.2f}, "
          f"{am.pipeline_ms_estimate(best, study.scores[0], pipeline_ms):.1f} ms est.")
    options = best.spec.pipeline_options()
    if options:
        print("pipeline: XferaPipeline(clf, " + ", ".join(f"{k}={v!r}" for k, v in options.items())
              + ")")
    if options and not args.skip_pipeline:
        shipped = study.scores[0]
        measured = am.pipeline_latency(clf, [f.path for f in faces], {
            shipped.spec.name: shipped.spec.pipeline_options(), best.spec.name: options})
        print("pipeline, one image explained warm (median ms over the frames, taking turns): "
              + ", ".join(f"{name} {ms:.1f}" for name, ms in measured.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
