"""Command line: ``python -m xfer_keras <command> ...`` (also installed as ``xfer-keras``).

One command table (:func:`commands`), one module per command, each only parsing arguments and
driving the library: ``explain``/``demo`` (:mod:`~xfer_keras.cli.explain`, XFERa), ``emo``
(:mod:`~xfer_keras.cli.emo`, the EMO nets), ``landmarks`` (:mod:`~xfer_keras.cli.landmarks`) and
``fetch-models`` (:mod:`~xfer_keras.cli.fetch_models`) and ``serve`` (:mod:`~xfer_keras.cli.serve`,
the web app). A command module exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int`` (the exit code).
Heavy imports (TensorFlow, mediapipe) happen inside ``func`` so ``--help`` stays instant; what a
command will need is begun early by :mod:`~xfer_keras.cli.startup`.
"""

from __future__ import annotations

import argparse
import sys

import xfer_keras  # noqa: F401  (sets ONEDNN_MAX_CPU_ISA before anything imports TensorFlow)
from xfer_keras.errors import XferError


def commands() -> tuple:
    """The command modules, in the order ``--help`` lists them."""
    from xfer_keras.cli import emo, explain, fetch_models, landmarks, serve

    return (fetch_models, landmarks, explain, emo, serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xfer-keras", description="Explainable facial emotion recognition (Keras 3)."
    )
    parser.add_argument("--version", action="version", version=xfer_keras.__version__)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in commands():
        module.register(subparsers)
    return parser


def _start_up(steps, args=None) -> None:
    """What a command declares it will need, begun early (``xfer_keras.cli.startup``): dlib's
    models on a thread, Keras and MediaPipe without the extras they would import for nothing.
    ``"engine"``: the Grad-CAM engine's runtime, LiteRT when the run will use it (see
    :func:`xfer_keras.cli.startup.litert_ready`), else Keras."""
    from xfer_keras.cli import startup
    from xfer_keras.native_logs import native_stderr_silenced

    if "dlib" in steps:
        startup.preload_dlib_in_background()
    lean = [name for name in ("keras", "mediapipe") if name in steps]
    if "engine" in steps:
        if startup.litert_ready(getattr(args, "model", None), getattr(args, "gradcam", "gradcam"),
                                getattr(args, "gradcam_engine", "auto")):
            import ai_edge_litert.interpreter  # noqa: F401
        else:
            lean.insert(0, "keras")
    if lean:
        native_logs = getattr(args, "native_logs", False)
        with native_stderr_silenced(enabled=not native_logs):  # TensorFlow logs at import
            startup.import_lean(*lean)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _start_up(getattr(args, "startup", ()), args)
    try:
        return int(args.func(args) or 0)
    except XferError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
