"""Keep native libraries' log lines off stderr while Python's own messages still get through.

TensorFlow (imported by mediapipe) and MediaPipe's C++ graph write absl/glog lines straight to
file descriptor 2 ("All log messages before absl::InitializeLog() ...", "Created TensorFlow Lite
XNNPACK delegate", ...); environment variables such as ``TF_CPP_MIN_LOG_LEVEL`` and
``GLOG_minloglevel`` do not silence them all. :func:`native_stderr_silenced` points fd 2 at
``/dev/null`` and gives Python's ``sys.stderr`` a duplicate of the original descriptor, so
``print(..., file=sys.stderr)``, warnings and tracebacks still reach the terminal. Use it around
a whole command, from the main thread, before worker threads start.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True):
    if not enabled:
        yield
        return
    try:
        real = sys.stderr.fileno() == 2  # not when a test runner or notebook captures stderr
        if real:
            sys.stderr.flush()
            saved = os.dup(2)
    except (OSError, AttributeError, ValueError):  # io.UnsupportedOperation is both
        real = False
    if not real:
        yield
        return
    python_stderr = sys.stderr
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    sys.stderr = io.TextIOWrapper(
        os.fdopen(os.dup(saved), "wb", buffering=0), encoding="utf-8", errors="replace",
        line_buffering=True, write_through=True,
    )
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
            sys.stderr.close()
        finally:
            sys.stderr = python_stderr
            os.dup2(saved, 2)
            os.close(saved)


def quiet_command(command):
    """Wrap a CLI command ``command(args) -> int`` so it runs with native log lines kept off
    stderr, unless ``args.native_logs`` (the ``--native-logs`` flag) asks for them."""
    @functools.wraps(command)
    def run(args) -> int:
        with native_stderr_silenced(enabled=not getattr(args, "native_logs", False)):
            return command(args)
    return run
