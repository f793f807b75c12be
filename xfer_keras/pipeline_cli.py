"""CLI commands ``explain`` and ``demo`` (registered by :mod:`xfer_keras.cli`).

    python -m xfer_keras explain PATH... [--model M] [--au-source blendshapes|openface:CSV]
                                 [--narrator template|openai[:MODEL]] [--out DIR]
                                 [--report none|png|html|all]
    python -m xfer_keras demo --out DIR

Per image: ``<name>.json`` (image, emotion, probabilities, confidence_level, hot_landmarks, aus,
matching_aus, missing_aus, explanation, ...), and as ``--report`` asks (default ``all``)
``<name>.png`` (panel) and ``<name>.html`` (report), all written atomically; ``summary.csv``
(one row per explained image) is always written. ``--no-png`` / ``--no-html`` still work (they
take that file out of the report). A bad file prints one line and is skipped; the exit code is 1
when any image failed, else 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

from xfer_keras.native_logs import quiet_command

REPORTS = ("none", "png", "html", "all")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "explain", help="explain the emotion of face images (XFERa)",
        description="Explain face images (XFERa): per image <name>.json, and per --report "
                    "<name>.png (panel) and <name>.html; always summary.csv. Bad files print one "
                    "line and are skipped; exit code 1 when any image failed.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders of images")
    _common_options(p)
    p.add_argument("--out", default="outputs/explain", help="output folder (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=8)
    p.set_defaults(func=quiet_command(_explain))

    d = subparsers.add_parser("demo", help="explain the embedded demo image (offline)")
    _common_options(d)
    d.add_argument("--out", default="outputs/demo", help="output folder (default %(default)s)")
    d.set_defaults(func=quiet_command(_demo))


def _common_options(p) -> None:
    p.add_argument("--model", default=None, help="a .keras classifier (default: saved_models/)")
    p.add_argument("--au-source", default="blendshapes",
                   help="blendshapes (default, offline) | blendshapes:naive | openface:CSV_OR_DIR | "
                        "openface (runs FeatureExtraction)")
    p.add_argument("--narrator", default="template",
                   help="template (default, offline) | openai | openai:MODEL "
                        "(key from XFER_LLM_API_KEY or OPENAI_API_KEY)")
    p.add_argument("--llm-base-url", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--llm-timeout", type=float, default=30.0)
    p.add_argument("--k", type=float, default=1.0, help="hot threshold = mean + k*std (default 1)")
    p.add_argument("--margin", type=float, default=None,
                   help="crop margin around the detected face (default: the model's, else 0.1)")
    p.add_argument("--report", choices=REPORTS, default="all",
                   help="report files per image besides the JSON: none | png (panel) | html | "
                        "all (default %(default)s)")
    p.add_argument("--no-png", action="store_true", help="skip the panel PNG (same as taking png "
                   "out of --report)")
    p.add_argument("--no-html", action="store_true", help="skip the HTML report")
    p.add_argument("--native-logs", action="store_true",
                   help="let TensorFlow/MediaPipe print their native log lines on stderr")


def collect_images(paths) -> tuple[list[Path], list[str], bool]:
    """Files to explain, problems found while listing, and whether a folder was given."""
    files, problems, had_folder = [], [], False
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            had_folder = True
            found = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                problems.append(f"{path}: no image files in this folder")
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
    from xfer_keras.pipeline import XferaPipeline

    options = {}
    if str(args.narrator).lower().startswith("openai"):
        options = {"base_url": args.llm_base_url, "timeout": args.llm_timeout}
    return XferaPipeline(model_path=args.model, au_source=args.au_source, narrator=args.narrator,
                         k=args.k, margin=args.margin, narrator_options=options)


def write_outputs(exp, out_dir: Path, name: str, png: bool = True, html: bool = True) -> list[Path]:
    """``<name>.json`` (+ ``.png`` panel, ``.html`` report), each written atomically."""
    from xfer_keras.report.html import save_html
    from xfer_keras.report.panel import panel_png
    from xfer_keras.atomic import atomic_write_bytes

    written = [out_dir / f"{name}.json"]
    exp.to_json(written[0])
    panel = panel_png(exp) if (png or html) else None
    if png:
        written.append(atomic_write_bytes(out_dir / f"{name}.png", panel))
    if html:
        written.append(save_html(exp, out_dir / f"{name}.html", title=f"XFERa: {name}", panels=[panel]))
    return written


def _explain(args) -> int:
    import warnings

    from xfer_keras.errors import XferError
    from xfer_keras.atomic import atomic_write_text
    from xfer_keras.narrate.llm import NarratorFallbackWarning

    files, problems, _ = collect_images(args.paths)
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if not files:
        return 1
    out_dir = Path(args.out)
    names = _unique_names(files)
    failed = len(problems)
    done = []  # summary rows only: the arrays of each Explanation are dropped once written
    png, html = report_files(args)
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        warnings.filterwarnings("always", category=NarratorFallbackWarning)
        with _make_pipeline(args) as pipe:
            stream = pipe.iter_explain([str(f) for f in files], names=[str(f) for f in files],
                                       batch_size=max(1, args.batch_size))
            for i, result in stream:
                path, name = files[i], names[i]
                if isinstance(result, XferError):
                    print(f"error: {result}", file=sys.stderr)
                    failed += 1
                    continue
                try:
                    write_outputs(result, out_dir, name, png=png, html=html)
                except (OSError, XferError) as error:
                    print(f"error: {path}: cannot write outputs: {error}", file=sys.stderr)
                    failed += 1
                    continue
                done.append(result.to_row())
                print(f"{path}: {result.emotion} ({result.confidence_level}) -> {out_dir / name}.json")
    if done:
        import pandas as pd

        atomic_write_text(out_dir / "summary.csv", pd.DataFrame(done).to_csv(index=False))
        print(f"summary: {out_dir / 'summary.csv'} ({len(done)} images)")
    print(f"{len(done)} explained, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


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
