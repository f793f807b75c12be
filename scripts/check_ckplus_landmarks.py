"""Print how well our CK+ landmarks agree with CK+'s AAM landmarks and the shared dlib table.

    XFER_DATA_DIR=../shared/data python scripts/check_ckplus_landmarks.py [--root DIR] [--no-cache]

Uses the landmark cache (the first run detects all frames with both backends).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import xfer_keras  # noqa: F401  (environment before TensorFlow)
from xfer_keras.data.ckplus_checks import ckplus_landmark_report, format_report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="CK+ folder or its parent (default: XFER_DATA_DIR)")
    parser.add_argument("--no-cache", action="store_true", help="detect every frame again")
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    parser.add_argument("--backends", default="dlib,mediapipe")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = ckplus_landmark_report(args.root, cache=not args.no_cache,
                                    backends=tuple(args.backends.split(",")))
    print(format_report(report))
    print(f"({time.perf_counter() - start:.1f} s)")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
