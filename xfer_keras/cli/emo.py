"""CLI command ``emo`` (registered by :mod:`xfer_keras.cli`): explain a clip of a face.

    python -m xfer_keras emo CLIP... [--out DIR] [--models DIR] [--start N] [--end N]

Each CLIP is a video file, a folder of frames or a CK+ sequence folder. Per clip:
``<name>.json`` (verdict, probabilities, thresholds, segment, attribution per landmark, top
regions, ...) and ``<name>.png`` (the peak frame with the attribution, and the
probabilities), written atomically; several clips add ``summary.csv``. A bad clip (unreadable,
no face, too short for the nets' P frames) prints one line and is skipped; the exit code is 1
when any clip failed, else 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

from xfer_keras.native_logs import quiet_command


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "emo", help="which emotion a clip of a face shows, and which movements decided (EMO nets + IG)",
        description="Explain clips of a face with the shipped EMO nets (landmark motion) and "
                    "Integrated Gradients: per clip <name>.json and <name>.png; several clips add "
                    "summary.csv. Bad clips print one line; exit code 1 when any failed.")
    p.add_argument("paths", nargs="+", metavar="CLIP", help="video files, frame folders or CK+ sequence folders")
    p.add_argument("--out", default="outputs/emo", help="output folder (default %(default)s)")
    p.add_argument("--models", default=None, help="an EMO net set folder (default: saved_models/emo/)")
    p.add_argument("--start", type=int, default=None, help="first frame of the neutral -> peak stretch (0-based)")
    p.add_argument("--end", type=int, default=None, help="last frame of the stretch (the peak, inclusive)")
    p.add_argument("--steps", type=int, default=64, help="IG steps (Gauss-Legendre, default 64)")
    p.add_argument("--no-png", action="store_true", help="skip the PNG")
    p.add_argument("--native-logs", action="store_true",
                   help="let TensorFlow/dlib print their native log lines on stderr")
    p.set_defaults(func=quiet_command(_emo), startup=("keras", "mediapipe"))


def _names(paths) -> list[str]:
    names, seen = [], {}
    for raw in paths:
        path = Path(raw)
        stem = path.stem or path.name or "clip"
        if path.is_dir() and stem.isdigit() and path.parent.name:  # CK+ layout: S052/004 -> S052_004
            stem = f"{path.parent.name}_{stem}"
        n = seen.get(stem, 0)
        seen[stem] = n + 1
        names.append(stem if n == 0 else f"{stem}_{n + 1}")
    return names


def _emo(args) -> int:
    from xfer_keras.atomic import atomic_write_text
    from xfer_keras.emo.pipeline import EmoPipeline, NO_CLEAR_EMOTION
    from xfer_keras.errors import XferError

    out_dir = Path(args.out)
    failed, rows = 0, []
    with EmoPipeline(args.models, n_steps=args.steps) as pipe:
        for path, name in zip(args.paths, _names(args.paths)):
            try:
                result = pipe.explain(path, name=str(path), start=args.start, end=args.end)
            except XferError as error:
                print(f"error: {error}", file=sys.stderr)
                failed += 1
                continue
            try:
                result.to_json(out_dir / f"{name}.json")
                if not args.no_png:
                    result.save_png(out_dir / f"{name}.png")
            except OSError as error:
                print(f"error: {path}: cannot write outputs: {error}", file=sys.stderr)
                failed += 1
                continue
            rows.append(result.to_row())
            seg = result.segment
            if result.verdict == NO_CLEAR_EMOTION:
                head = f"{NO_CLEAR_EMOTION} (most probable {result.explained_emotion}, p = {result.probability:.2f})"
            else:
                head = (f"{result.verdict} (p = {result.probability:.2f}, "
                        f"threshold {result.thresholds[result.verdict]:.2f})")
            print(f"{path}: {head}; frames {seg['start']}-{seg['end']} (peak {seg['peak']}) "
                  f"-> {out_dir / name}.json")
            print(f"  why: {result.why}")
    if len(args.paths) > 1:
        if rows:
            import pandas as pd

            atomic_write_text(out_dir / "summary.csv", pd.DataFrame(rows).to_csv(index=False))
            print(f"summary: {out_dir / 'summary.csv'} ({len(rows)} clips)")
        print(f"{len(rows)} explained, {failed} failed", file=sys.stderr)
    return 1 if failed else 0
