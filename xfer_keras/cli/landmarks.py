"""``python -m xfer_keras landmarks IMAGE... --backend {mediapipe,dlib} [--json OUT]``.

Output: a JSON list with one entry per face found, in input order::

    {"image": "a.png", "face": 0, "backend": "dlib", "detector": "dlib-hog", "image_size": [W, H],
     "box": [x0, y0, x1, y1], "score": 3.4, "landmarks": [[x, y], ...], "blendshapes": {...} | null}

(``face`` counts the faces of one image, largest first; there is more than one only with
``--policy all``. ``--backend dlib --fallback mediapipe`` takes the box from MediaPipe's face
detector when HOG finds none; ``detector`` says which found each face.) The file is written atomically; without ``--json`` the list goes to stdout.

Errors (missing / unreadable file, no face, several faces under ``--policy error``) print one line
``error: <file>: <reason>`` on stderr; the native log lines of TensorFlow and MediaPipe are kept
off stderr (``--native-logs`` lets them through).

* Without ``--skip-errors`` the first error stops the run with exit code 1 and no JSON is written.
* With ``--skip-errors`` failing images are reported, skipped, and the JSON holds the others.
  The exit code is 0 when every image succeeded, 3 when some failed but at least one succeeded
  (a partial result: the JSON is written), and 1 when none succeeded (the JSON, an empty list,
  is still written so a pipeline finds the file).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from xfer_keras.atomic import atomic_write_text
from xfer_keras.native_logs import quiet_command

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 3


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "landmarks",
        help="detect faces and landmarks (dlib 68 | MediaPipe 478 + blendshapes) -> JSON",
        description=(
            "Detect faces and landmarks; write a JSON list with one entry per face: image, face, "
            "backend, box [x0, y0, x1, y1], score, landmarks [[x, y], ...], blendshapes, image_size."
        ),
        epilog=(
            "exit codes: 0 all images succeeded; 1 an image failed (without --skip-errors: the "
            "first failure stops the run and no JSON is written), or with --skip-errors none "
            "succeeded; 3 with --skip-errors, some failed and at least one succeeded."
        ),
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--backend", choices=("mediapipe", "dlib"), default="mediapipe")
    parser.add_argument("--json", dest="json_out", metavar="OUT", help="output JSON (default: stdout)")
    parser.add_argument("--policy", choices=("largest", "all", "error"), default="largest",
                        help="several faces in one image: keep the largest (default), all, or fail")
    parser.add_argument("--skip-errors", action="store_true",
                        help="report failing images on stderr and go on (exit 3 if some failed)")
    parser.add_argument("--fallback", choices=("none", "mediapipe"), default="none",
                        help="dlib only: when HOG finds no face, take the box from MediaPipe's face "
                             "detector and predict the 68 points in it")
    parser.add_argument("--model-path", help="MediaPipe face_landmarker.task (default: resolved)")
    parser.add_argument("--overlay-dir", metavar="DIR",
                        help="also save <DIR>/<image stem>_landmarks.png overlays")
    parser.add_argument("--decimals", type=int, default=2, help="landmark rounding (default 2)")
    parser.add_argument("--workers", type=int, default=None,
                        help="detector threads (default: 1 for fewer than 4 images, else the CPU count, max 8)")
    parser.add_argument("--native-logs", action="store_true",
                        help="let TensorFlow/MediaPipe print their native log lines on stderr")
    # native log lines (TensorFlow, MediaPipe) would drown the one line per failing image
    parser.set_defaults(func=quiet_command(_run), startup=("keras", "mediapipe"))


def write_json_atomic(data, path: str | os.PathLike) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (see :mod:`xfer_keras.atomic`)."""
    return atomic_write_text(path, json.dumps(data) + "\n")


def _run(args) -> int:
    from xfer_keras.face import draw_landmarks, save_png
    from xfer_keras.face.batch import iter_detect

    results: list[dict] = []
    n_ok = n_failed = 0
    fallback = None if args.fallback == "none" else args.fallback
    if fallback and args.backend != "dlib":
        print("error: --fallback is a dlib option (MediaPipe has its own detector)", file=sys.stderr)
        return EXIT_ERROR
    workers = args.workers or (1 if len(args.images) < 4 else None)
    outcomes = iter_detect(args.images, args.backend, workers=workers,
                           model_path=args.model_path, policy=args.policy, fallback=fallback)
    try:
        for index, outcome in outcomes:
            image_path = args.images[index]
            if isinstance(outcome, Exception):
                message = str(outcome)
                if image_path not in message:
                    message = f"{image_path}: {message}"
                print(f"error: {message}", file=sys.stderr)
                n_failed += 1
                if not args.skip_errors:
                    return EXIT_ERROR
                continue
            n_ok += 1
            for face_index, face in enumerate(outcome):
                entry = {"image": str(image_path), "face": face_index}
                entry.update(face.to_dict(decimals=args.decimals))
                results.append(entry)
            if args.overlay_dir:
                out = Path(args.overlay_dir) / f"{Path(image_path).stem}_landmarks.png"
                save_png(draw_landmarks(image_path, outcome), out)
    finally:
        outcomes.close()
    if args.json_out:
        write_json_atomic(results, args.json_out)
    else:
        json.dump(results, sys.stdout)
        sys.stdout.write("\n")
    if n_failed == 0:
        return EXIT_OK
    return EXIT_PARTIAL if n_ok else EXIT_ERROR

