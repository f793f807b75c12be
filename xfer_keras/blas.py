"""One BLAS thread while the pipeline works: :func:`one_blas_thread`.

Why: NumPy's OpenBLAS splits even small products (the 224 -> 48 px resize, the grey
conversion) over every core, and its worker threads then spin, busy-waiting for the next
call. The pipeline already runs one image per core (prepare threads, the mesh thread, LiteRT's
threads), so those spinning workers only take CPU from the real work: on CK+ peak frames
(2 cores) one ``explain`` took 74 ms of CPU (38 ms wall) with OpenBLAS's default threads and
39 ms (25 ms) with one, for the same outputs; batches ran at 41 and 46 images/s
(``benchmarks/pipeline_latency.py`` prints both).

The limit holds only while some pipeline call is inside the block (counted across threads);
the last one out restores the user's own BLAS threads. It acts on the OpenBLAS libraries with
their own thread pool (what NumPy's and SciPy's wheels ship), found by ``threadpoolctl`` and
set through OpenBLAS's own process-wide call: threadpoolctl's limits would be ignored on the
prepare threads (it lets one thread alone set OpenBLAS). Without ``threadpoolctl``, or with
``xfer_keras.blas.enabled = False`` (benchmarks measure both), it does nothing.
"""

from __future__ import annotations

import contextlib
import sys
import threading

__all__ = ["one_blas_thread", "enabled"]

#: False leaves BLAS threads alone (``benchmarks/pipeline_latency.py`` measures both ways)
enabled = True

_LOCK = threading.Lock()
_STATE = {"depth": 0, "libraries": [], "saved": [], "modules": -1}


def openblas_libraries() -> list:
    """``(get, set)`` thread-count functions (ctypes) of each OpenBLAS loaded now that runs its
    own thread pool (not the OpenMP builds, whose setting is per thread)."""
    import ctypes
    import itertools

    try:
        from threadpoolctl import ThreadpoolController

        found = ThreadpoolController().lib_controllers
    except Exception:  # noqa: BLE001  (not installed, or a library it cannot read)
        return []
    out = []
    for lib in found:
        if lib.internal_api != "openblas" or lib.threading_layer == "openmp":
            continue
        try:
            dll = ctypes.CDLL(lib.filepath)  # the loaded library itself (dlopen counts it)
        except OSError:
            continue
        for prefix, suffix in itertools.product(("", "scipy_"), ("", "64_", "_64")):
            get = getattr(dll, f"{prefix}openblas_get_num_threads{suffix}", None)
            put = getattr(dll, f"{prefix}openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                out.append((get, put))
                break
    return out


def _libraries() -> list:
    """:func:`openblas_libraries`, found again only when modules were imported since (a BLAS
    library arrives with an import: SciPy, MediaPipe's TensorFlow); a scan costs ~4 ms."""
    if _STATE["modules"] != len(sys.modules):
        _STATE["libraries"] = openblas_libraries()
        _STATE["modules"] = len(sys.modules)
    return _STATE["libraries"]


@contextlib.contextmanager
def one_blas_thread():
    """Within the block (and any block entered meanwhile, on any thread), BLAS uses one thread."""
    with _LOCK:
        if _STATE["depth"] == 0 and enabled:
            libraries = _libraries()
            _STATE["saved"] = [(put, get()) for get, put in libraries]
            for put, _ in _STATE["saved"]:
                put(1)
        _STATE["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["depth"] -= 1
            if _STATE["depth"] == 0:
                saved, _STATE["saved"] = _STATE["saved"], []
                for put, threads in saved:
                    put(threads)
