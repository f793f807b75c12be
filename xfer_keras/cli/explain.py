"""CLI commands ``explain`` and ``demo`` (registered by :mod:`xfer_keras.cli`).

    python -m xfer_keras explain PATH... [--model M] [--au-source blendshapes|openface:CSV]
                                 [--narrator template|openai[:MODEL]] [--out DIR]
                                 [--report none|png|html|all] [--faces largest|all]
    python -m xfer_keras explain clip.mp4 [--frames DIR] [--every N | --fps F] [--start S --end S]
    python -m xfer_keras demo --out DIR

Per image: ``<name>.json`` (image, emotion, probabilities, confidence_level, hot_landmarks, aus,
matching_aus, missing_aus, explanation, ...), and as ``--report`` asks (default ``all``)
``<name>.png`` (panel) and ``<name>.html`` (report), all written atomically; ``summary.csv``
(one row per explained image) is always written. ``--no-png`` / ``--no-html`` still work (they
take that file out of the report). ``--faces all`` explains every face: ``<name>_face<k>.json``
/ ``.png`` per face (k = 0 is the largest), one ``<name>.html`` with all of them, one
``summary.csv`` row per face.

A video (any container OpenCV decodes; see :data:`xfer_keras.video.VIDEO_SUFFIXES`) or a folder
of frames (``--frames DIR``) writes ``OUT/<clip>/``: ``frames.csv``, ``timeline.png``,
``summary.json`` and ``report.html`` (:class:`~xfer_keras.xfera.video.VideoExplanation`).

A bad file (image or video) prints one line and is skipped; the exit code is 1 when any input
failed, else 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

from xfer_keras.blas import one_blas_thread
from xfer_keras.native_logs import quiet_command

REPORTS = ("none", "png", "html", "all")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain", help="explain the emotion of faces in images and videos (XFERa)",
        description="Explain faces in images and videos (XFERa): per image <name>.json, and per "
                    "--report <name>.png (panel) and <name>.html; always summary.csv (--faces "
                    "all: <name>_face<k>.*, one row per face). Per video or --frames folder "
                    "OUT/<clip>/ with frames.csv, timeline.png, summary.json, report.html. Bad "
                    "files print one line and are skipped; exit code 1 when any input failed.")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="image or video files, or folders of them")
    _common_options(p)
    p.add_argument("--out", default="outputs/explain", help="output folder (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--faces", choices=("largest", "all"), default="largest",
                   help="explain the largest face (default) or every face (images and videos)")
    v = p.add_argument_group("videos")
    v.add_argument("--frames", action="append", default=[], metavar="DIR",
                   help="a folder of video frames (sorted by name), explained as one clip; repeatable")
    v.add_argument("--frames-fps", type=float, default=None,
                   help="frame rate of --frames folders (default 30)")
    rate = v.add_mutually_exclusive_group()
    rate.add_argument("--every", type=int, default=None, metavar="N", help="explain every N-th frame")
    rate.add_argument("--fps", type=float, default=None, metavar="F",
                      help="explain F frames per second (default 5)")
    v.add_argument("--start", type=float, default=None, metavar="S", help="start at S seconds")
    v.add_argument("--end", type=float, default=None, metavar="S", help="stop at S seconds")
    v.add_argument("--smooth", type=float, default=None, metavar="S",
                   help="temporal smoothing window in seconds (default 0.5; 0: none)")
    v.add_argument("--progress", choices=("auto", "on", "off"), default="auto",
                   help="progress bar for videos (auto: when stderr is a terminal)")
    p.set_defaults(func=quiet_command(_explain), startup=("dlib", "engine", "mediapipe"))

    d = subparsers.add_parser("demo", help="explain the embedded demo image (offline)")
    _common_options(d)
    d.add_argument("--out", default="outputs/demo", help="output folder (default %(default)s)")
    d.set_defaults(func=quiet_command(_demo), startup=("dlib", "engine", "mediapipe"))


def _common_options(p) -> None:
    p.add_argument("--model", default=None, help="a .keras classifier (default: saved_models/)")
    p.add_argument("--au-source", default="blendshapes",
                   help="blendshapes (default, offline: the learned mesh AU detector) | "
                        "blendshapes:calibrated | blendshapes:naive | openface:CSV_OR_DIR | "
                        "openface (runs FeatureExtraction)")
    p.add_argument("--narrator", default="template",
                   help="template (default, offline) | openai | openai:MODEL "
                        "(key from XFER_LLM_API_KEY or OPENAI_API_KEY)")
    p.add_argument("--llm-base-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--llm-timeout", type=float, default=30.0)
    p.add_argument("--k", type=float, default=1.0, help="hot threshold = mean + k*std (default 1)")
    p.add_argument("--margin", type=float, default=None,
                   help="crop margin around the detected face (default: the model's, else 0.1)")
    p.add_argument("--gradcam", default="gradcam",
                   choices=("gradcam", "gradcam++", "scorecam", "layercam", "hirescam"),
                   help="heatmap method (default gradcam; hirescam runs through the CAM engine, "
                        "the others through tf-keras-vis unless --gradcam-engine says cam)")
    p.add_argument("--gradcam-engine", default="auto",
                   choices=("auto", "litert", "fast", "tf-keras-vis", "cam", "cam-litert"),
                   help="Grad-CAM engine: litert (one pass in LiteRT, no TensorFlow; the default "
                        "via auto), fast (the same pass traced by TensorFlow), cam / cam-litert "
                        "(Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM in one pass, TensorFlow / "
                        "LiteRT) or tf-keras-vis (the reference)")
    p.add_argument("--report", choices=REPORTS, default="all",
                   help="report files per image besides the JSON: none | png (panel) | html | "
                        "all (default %(default)s)")
    p.add_argument("--no-png", action="store_true", help="skip the panel PNG (same as taking png "
                   "out of --report)")
    p.add_argument("--no-html", action="store_true", help="skip the HTML report")
    p.add_argument("--native-logs", action="store_true",
                   help="let TensorFlow/MediaPipe print their native log lines on stderr")


def collect_images(paths) -> tuple[list[Path], list[str], bool]:
    """Files to explain (images and videos), problems found while listing, and whether a folder
    was given."""
    from xfer_keras.video.reader import VIDEO_SUFFIXES

    files, problems, had_folder = [], [], False
    wanted = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            had_folder = True
            found = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in wanted)
            if not found:
                problems.append(f"{path}: no image or video files in this folder")
            files.extend(found)
        else:
            files.append(path)  # missing / unreadable files fail later, with one line each
    return files, problems, had_folder


def _unique_names(files: list[Path]) -> list[str]:
    names, seen = [], {}
    for f in files:
        stem = f.stem or "image"
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(stem if n == 0 else f"{stem}_{n + 1}")
    return names


def report_files(args) -> tuple[bool, bool]:
    """``(png, html)`` wanted by ``--report`` and the older ``--no-png`` / ``--no-html``."""
    report = getattr(args, "report", "all")
    png = report in ("png", "all") and not args.no_png
    html = report in ("html", "all") and not args.no_html
    return png, html


def _make_pipeline(args):
    from xfer_keras.xfera.pipeline import XferaPipeline

    options = {}
    if str(args.narrator).lower().startswith("openai"):
        options = {"base_url": args.llm_base_url, "timeout": args.llm_timeout}
    return XferaPipeline(model_path=args.model, au_source=args.au_source, narrator=args.narrator,
                         k=args.k, margin=args.margin, narrator_options=options,
                         gradcam_method=args.gradcam, gradcam_engine=args.gradcam_engine)


def write_outputs(exp, out_dir: Path, name: str, png: bool = True, html: bool = True) -> list[Path]:
    """``<name>.json`` (+ ``.png`` panel, ``.html`` report), each written atomically."""
    return write_image_outputs([exp], out_dir, name, png=png, html=html, per_face=False)


@one_blas_thread()  # the overlays' few BLAS calls would spin a core beside the prepare threads
def write_image_outputs(exps: list, out_dir: Path, name: str, png: bool = True, html: bool = True,
                        per_face: bool = True) -> list[Path]:
    """The explanations of one image's faces: ``<name>_face<k>.json`` (+ ``.png``) per face
    (``<name>.json`` / ``.png`` when not ``per_face``) and one ``<name>.html`` with all."""
    from xfer_keras.atomic import atomic_write_bytes

    stems = [f"{name}_face{e.face_index}" if per_face else name for e in exps]
    written = []
    for exp, stem in zip(exps, stems):
        written.append(out_dir / f"{stem}.json")
        exp.to_json(written[-1])
    if not (png or html):
        return written
    from xfer_keras.xfera.report.html import save_html
    from xfer_keras.xfera.report.panel import overlays, panel_png

    images = [overlays(exp) for exp in exps]  # once, for the panel and the HTML
    panels = [panel_png(exp, im) for exp, im in zip(exps, images)]
    if png:
        for stem, panel in zip(stems, panels):
            written.append(atomic_write_bytes(out_dir / f"{stem}.png", panel))
    if html:
        written.append(save_html(exps, out_dir / f"{name}.html", title=f"XFERa: {name}",
                                 panels=panels, images=images))
    return written


def _explain(args) -> int:
    import warnings

    from xfer_keras.atomic import atomic_write_text
    from xfer_keras.errors import XferError
    from xfer_keras.narrate.llm import NarratorFallbackWarning

    from xfer_keras.video.reader import is_video_file

    if not args.paths and not args.frames:
        print("error: give image or video files, folders, or --frames DIR", file=sys.stderr)
        return 2
    try:
        video_options = _video_options(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    found, problems, _ = collect_images(args.paths)
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    files = [f for f in found if not is_video_file(f)]
    clips = [f for f in found if is_video_file(f)] + [Path(d) for d in args.frames]
    if not files and not clips:
        return 1
    out_dir = Path(args.out)
    names = _unique_names(files + clips)
    failed = len(problems)
    done = []  # summary rows only: the arrays of each Explanation are dropped once written
    png, html = report_files(args)
    per_face = args.faces == "all"
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        warnings.filterwarnings("always", category=NarratorFallbackWarning)
        with _make_pipeline(args) as pipe:
            stream = pipe.iter_explain([str(f) for f in files], names=[str(f) for f in files],
                                       batch_size=max(1, args.batch_size), faces=args.faces)
            for i, items in _group_by_input(stream):
                path, name = files[i], names[i]
                results = [r for r in items if not isinstance(r, XferError)]
                for error in (r for r in items if isinstance(r, XferError)):
                    print(f"error: {error}", file=sys.stderr)
                    failed += 1
                if not results:
                    continue
                try:
                    write_image_outputs(results, out_dir, name, png=png, html=html, per_face=per_face)
                except (OSError, XferError) as error:
                    print(f"error: {path}: cannot write outputs: {error}", file=sys.stderr)
                    failed += 1
                    continue
                for result in results:
                    done.append(result.to_row())
                    stem = f"{name}_face{result.face_index}" if per_face else name
                    print(f"{path}: {result.emotion} ({result.confidence_level}) -> {out_dir / stem}.json")
            videos_ok = 0
            for clip, name in zip(clips, names[len(files):]):
                if _explain_clip(pipe, clip, out_dir / name, video_options, png, html):
                    videos_ok += 1
                else:
                    failed += 1
    if done:
        from xfer_keras.xfera.report.summary import rows_to_csv

        atomic_write_text(out_dir / "summary.csv", rows_to_csv(done))
        print(f"summary: {out_dir / 'summary.csv'} ({len(done)} {'faces' if per_face else 'images'})")
    videos = f", {videos_ok} of {len(clips)} videos explained" if clips else ""
    print(f"{len(done)} explained, {failed} failed{videos}",
          file=sys.stderr)
    return 1 if failed else 0


def _group_by_input(stream):
    """``(index, [Explanation or XferError, ...])`` per input from ``iter_explain``, which yields
    one item per face (or the input's error), in input order."""
    current, group = None, []
    for i, result in stream:
        if group and i != current:
            yield current, group
            group = []
        current = i
        group.append(result)
    if group:
        yield current, group


def _video_options(args) -> dict:
    """Keyword arguments of :meth:`XferaPipeline.explain_video` from the command line."""
    from xfer_keras.video.reader import Sampling

    sampling = Sampling(every=args.every, fps=args.fps, start=args.start, end=args.end)  # checks
    options = {"every": sampling.every, "fps": sampling.fps, "start": sampling.start,
               "end": sampling.end, "faces": args.faces, "frames_fps": args.frames_fps,
               "batch_size": max(1, args.batch_size),
               "progress": {"auto": None, "on": True, "off": False}[args.progress]}
    if args.smooth is not None:
        options["smooth_s"] = max(0.0, float(args.smooth))
    return options


def _explain_clip(pipe, clip: Path, out_dir: Path, options: dict, png: bool, html: bool) -> bool:
    """Explain one video or frames folder into ``out_dir``; one line either way."""
    from xfer_keras.errors import XferError

    try:
        video = pipe.explain_video(str(clip), **options)
        video.save(out_dir, png=png, html=html)
    except (OSError, XferError) as error:
        print(f"error: {error}", file=sys.stderr)
        return False
    last = video.segments_of()[-1] if video.segments_of() else None
    tail = f"ends {last.emotion} (p = {last.mean_probability:.2f})" if last else "no segment"
    print(f"{clip}: {video.n_sampled} frames, {len(video.segments)} segments, {tail} -> "
          f"{out_dir / 'summary.json'}")
    return True


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def demo_image():
    """The embedded demo image: scikit-image's astronaut (Eileen Collins, public domain)."""
    from skimage import data

    return data.astronaut()


def _demo(args) -> int:
    from xfer_keras.errors import ModelFileError

    try:
        pipe = _make_pipeline(args)
    except ModelFileError as error:
        raise ModelFileError(
            f"the demo needs the default emotion model: {error}. Train it or pass --model PATH."
        ) from error
    import warnings

    out_dir = Path(args.out)
    with pipe, warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        exp = pipe.explain(demo_image(), name="astronaut")
    png, html = report_files(args)
    written = write_outputs(exp, out_dir, "astronaut", png=png, html=html)
    print(f"emotion: {exp.emotion} (p = {exp.probability:.2f}), confidence level: {exp.confidence_level}")
    print(f"matching AUs: {', '.join(exp.matching_aus) or '-'}; missing AUs: {', '.join(exp.missing_aus) or '-'}")
    print(exp.explanation)
    for path in written:
        print(f"wrote {path}")
    return 0
