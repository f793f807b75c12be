"""Per-stage latency of the XFERa pipeline on CPU, single images and batches.

    python benchmarks/pipeline_latency.py [--n 16] [--batch-size 8] [--model PATH | --tiny]
                                          [--au-source blendshapes] [--report]

Images: the CK+ peak frames under ``XFER_DATA_DIR`` when present, else scikit-image's astronaut.
Prints the median milliseconds of each stage (detect, landmarks, classify, Grad-CAM, hot
landmarks, AUs, fusion, narrate; ``--report`` adds the PNG panel + HTML) and images/s for
``explain`` one image at a time and for ``explain_many`` in batches. Benchmarks print; they never
assert. First calls (model loading, graph tracing) are excluded by a warm-up run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU numbers

import numpy as np  # noqa: E402

import xfer_keras  # noqa: E402,F401

STAGES = ("load", "detect", "landmarks", "classify", "gradcam", "hot", "aus", "fusion", "narrate")


def images(n: int):
    from xfer_keras import config

    root = config.data_dir(required=False)
    if root is not None and (root / "ckplus_sequences/sequences.csv").is_file():
        import pandas as pd

        table = pd.read_csv(root / "ckplus_sequences/sequences.csv", dtype=str)
        paths = [str(root / "ckplus_sequences" / r["frames_dir"] / r["last_frame(peak)"])
                 for _, r in table.iterrows()]
        return (paths * (n // len(paths) + 1))[:n], "CK+ peak frames (640x490 gray)"
    from skimage import data

    return [data.astronaut()] * n, "astronaut (512x512 RGB)"


def classifier(args):
    from xfer_keras.models.classifier import EmotionClassifier

    if args.tiny:
        from xfer_keras.models.registry import create

        return EmotionClassifier(create("tiny_bam", input_size=64), {"input_size": 64, "architecture": "tiny_bam"})
    return EmotionClassifier.load(args.model)


def table(rows: dict[str, list[dict]], report: bool):
    stages = STAGES + (("report",) if report else ())
    print(f"{'stage':<11}" + "".join(f"{name:>14}" for name in rows))
    for stage in stages:
        cells = []
        for runs in rows.values():
            values = [r[stage] for r in runs if stage in r]
            cells.append(f"{1000 * float(np.median(values)):11.1f} ms" if values else f"{'-':>14}")
        print(f"{stage:<11}" + "".join(cells))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=16, help="images per mode (default 16)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--model", default=None, help="classifier .keras (default: saved_models/)")
    parser.add_argument("--tiny", action="store_true", help="use an untrained tiny model")
    parser.add_argument("--au-source", default="blendshapes")
    parser.add_argument("--report", action="store_true", help="also time the PNG panel + HTML")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from xfer_keras.pipeline import XferaPipeline

    clf = classifier(args)
    srcs, what = images(args.n)
    print(f"model: {clf!r}\nimages: {args.n} x {what}; AU source: {args.au_source}; "
          f"TF threads: {tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()}, "
          f"CPUs: {os.cpu_count()}")

    def report_time(exp):
        if not args.report:
            return
        from xfer_keras.report.html import report_html
        from xfer_keras.report.panel import panel_png

        t0 = time.perf_counter()
        report_html(exp, panels=[panel_png(exp)])
        exp.timings["report"] = time.perf_counter() - t0

    with XferaPipeline(classifier=clf, au_source=args.au_source) as pipe:
        pipe.explain(srcs[0])  # warm-up: model files, graph tracing
        pipe.explain_many(srcs[: args.batch_size], batch_size=args.batch_size)
        single, start = [], time.perf_counter()
        for src in srcs:
            exp = pipe.explain(src)
            report_time(exp)
            single.append(exp.timings)
        single_s = time.perf_counter() - start
        start = time.perf_counter()
        batched = pipe.explain_many(srcs, batch_size=args.batch_size)
        for exp in batched:
            report_time(exp)
        batch_s = time.perf_counter() - start
    failed = [e for e in batched if not hasattr(e, "timings")]
    print(f"\nmedian per image ({len(srcs)} images; batched: classify and Grad-CAM per batch / batch size)")
    table({"single": single, f"batch={args.batch_size}": [e.timings for e in batched if hasattr(e, "timings")]},
          args.report)
    print(f"\nthroughput: single {len(srcs) / single_s:.2f} images/s ({1000 * single_s / len(srcs):.0f} ms/image); "
          f"batched {len(srcs) / batch_s:.2f} images/s ({1000 * batch_s / len(srcs):.0f} ms/image)"
          + (f"; {len(failed)} failed" if failed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
