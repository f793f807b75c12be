"""Speed of ``explain`` on a video: sampled frames per second, end to end, on CPU.

    python benchmarks/video_latency.py [--sequences 12] [--fps 30] [--every 1] [--batch-size 16]
                                       [--video PATH] [--model PATH] [--skip-au-compare]

The clip: the first ``--sequences`` CK+ sequences under ``XFER_DATA_DIR`` played one after the
other (neutral -> peak, 640x490) and written with OpenCV as a ``--fps`` mp4 (or ``--video``).
Counted: decoding, detection + tracking, the batched pipeline (crop, mesh + AUs, classification,
Grad-CAM, hot landmarks, fusion, narration), smoothing, segments and the key frames' second pass
(the report files are not written). Prints, after a warm-up run on a short clip:

1. sampled frames/s over the whole ``explain_video`` call, and the clip-level split (decode and
   detect on the read-ahead thread, overlapping track, pipeline and key frames);
2. the pipeline's own stages, in ms per explained face (``load``/``mesh`` run on the prepare
   threads, overlapped with the model);
3. the AU decision: the same run with no AU source (no MediaPipe mesh, no AU reading; a
   benchmark-only source), so the price of AUs on every frame is measured, not guessed.

Benchmarks print; they never assert. Figures taken while other jobs load the CPU are not
comparable with idle ones: the load average is printed first.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU numbers

import xfer_keras  # noqa: E402,F401

from xfer_keras.errors import AUSourceError  # noqa: E402
from xfer_keras.xfera.aus import AUSource  # noqa: E402


class NoAUs(AUSource):
    """Benchmark-only AU source: reads nothing, so the pipeline runs no mesh and no AU step."""

    name = "none (benchmark)"

    def read(self, image=None, face=None, path=None):
        raise AUSourceError("AUs switched off for the benchmark")


def make_clip(folder: Path, n_sequences: int, fps: float) -> tuple[Path, int]:
    from clips import ckplus_sequences, sequence_frames, write_clip
    from xfer_keras import config

    root = config.data_dir(required=True) / "ckplus_sequences"
    frames = []
    for row in ckplus_sequences(root)[:n_sequences]:
        frames += sequence_frames(root, row)
    return write_clip(folder / f"ckplus_{n_sequences}.mp4", frames, fps=fps), len(frames)


def run(pipe, clip, every, batch_size):
    start = time.perf_counter()
    video = pipe.explain_video(str(clip), every=every, batch_size=batch_size, progress=False)
    return video, time.perf_counter() - start


def report(title, video, seconds):
    n = video.n_sampled
    print(f"\n{title}: {n} sampled frames in {seconds:.2f} s -> {n / seconds:.1f} sampled frames/s "
          f"({1e3 * seconds / n:.1f} ms/frame)")
    split = {k: v for k, v in video.timings.items() if k != "total"}
    print("  clip split (decode + detect on the read-ahead thread, overlapping the rest): "
          + ", ".join(f"{k} {1e3 * v / n:.1f} ms/frame" for k, v in split.items()))
    stages = video.stage_ms
    print("  pipeline stages (ms per face): " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=12)
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the written clip")
    parser.add_argument("--every", type=int, default=1, help="sample every N-th frame")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--video", default=None, help="a video of your own instead of CK+")
    parser.add_argument("--model", default=None)
    parser.add_argument("--skip-au-compare", action="store_true")
    args = parser.parse_args(argv)

    from xfer_keras.xfera.pipeline import XferaPipeline

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "warm").mkdir()
        warm, _ = make_clip(tmp / "warm", 1, args.fps)
        if args.video:
            clip, n_frames = Path(args.video), None
        else:
            clip, n_frames = make_clip(tmp, args.sequences, args.fps)
        print(f"clip: {clip.name}" + (f", {n_frames} frames at {args.fps:g} fps" if n_frames else "")
              + f", every {args.every}")
        with XferaPipeline(model_path=args.model) as pipe:
            run(pipe, warm, 1, args.batch_size)  # model files, tracing, MediaPipe graphs
            video, seconds = run(pipe, clip, args.every, args.batch_size)
            report("AUs on every frame (default)", video, seconds)
        if not args.skip_au_compare:
            with XferaPipeline(model_path=args.model, au_source=NoAUs()) as pipe:
                run(pipe, warm, 1, args.batch_size)
                video_off, seconds_off = run(pipe, clip, args.every, args.batch_size)
                report("no AU source (benchmark only)", video_off, seconds_off)
            share = 1.0 - seconds_off / seconds
            print(f"\nAUs on every frame cost {1e3 * (seconds - seconds_off) / video.n_sampled:.1f} "
                  f"ms/frame, {100 * share:.0f} % of the run; running them on every other frame "
                  f"would save at most {50 * share:.0f} %.")
    return 0


if __name__ == "__main__":
    from xfer_keras.errors import XferError

    try:
        sys.exit(main())
    except XferError as error:  # no data, no model: one line
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
