"""One BLAS thread while the pipeline works, the user's own BLAS threads restored after."""

import contextlib
import threading

import numpy as np
import pytest

threadpoolctl = pytest.importorskip("threadpoolctl")

from xfer_keras import blas  # noqa: E402
from xfer_keras.blas import one_blas_thread  # noqa: E402


def blas_threads() -> set[int]:
    """Thread counts of the OpenBLAS libraries with their own pool (what the limit acts on)."""
    return {info["num_threads"] for info in threadpoolctl.threadpool_info()
            if info["internal_api"] == "openblas" and info.get("threading_layer") != "openmp"}


@contextlib.contextmanager
def user_setting_of_three():
    """A known user setting (3 threads) that differs from the limit; skips without OpenBLAS."""
    if not blas_threads():
        pytest.skip("no OpenBLAS with its own thread pool is loaded (NumPy built otherwise)")
    with threadpoolctl.threadpool_limits(3, user_api="blas"):
        assert blas_threads() == {3}
        yield
    threadpoolctl.OpenBLASController.clear_controlling_thread(force=True)


@pytest.fixture
def three_blas_threads():
    with user_setting_of_three():
        yield


def test_limit_holds_inside_and_is_undone(three_blas_threads):
    with one_blas_thread():
        assert blas_threads() == {1}
        with one_blas_thread():  # nested: still one
            assert blas_threads() == {1}
        assert blas_threads() == {1}
    assert blas_threads() == {3}


def test_overlapping_blocks_on_two_threads_restore_after_the_last(three_blas_threads):
    inside, leave, seen = threading.Event(), threading.Event(), []

    def other():
        with one_blas_thread():
            inside.set()
            leave.wait(10)
            seen.append(blas_threads())

    worker = threading.Thread(target=other)
    worker.start()
    assert inside.wait(10)
    with one_blas_thread():
        pass  # this block ends while the other thread's is still open: the limit stays
    assert blas_threads() == {1}
    leave.set()
    worker.join(10)
    assert seen == [{1}] and blas_threads() == {3}


def test_disabled_leaves_threads_alone(three_blas_threads, monkeypatch):
    monkeypatch.setattr(blas, "enabled", False)
    with one_blas_thread():
        assert blas_threads() == {3}


def test_an_error_inside_still_restores(three_blas_threads):
    with pytest.raises(ZeroDivisionError):
        with one_blas_thread():
            1 / 0
    assert blas_threads() == {3}


def test_pipeline_stages_run_with_one_blas_thread(face_landmarker_path, monkeypatch):
    """Detection on the calling and on the prepare threads sees one BLAS thread; the caller's
    setting is back once ``explain`` / ``explain_many`` return."""
    from skimage import data

    from xfer_keras.face import LandmarkDetector
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.models.registry import create
    from xfer_keras.xfera.pipeline import XferaPipeline

    seen = []

    class RecordingDetector(LandmarkDetector):
        def detect(self, *args, **kwargs):
            seen.append(blas_threads())
            return super().detect(*args, **kwargs)

    clf = EmotionClassifier(create("tiny_bam", input_size=64), {"input_size": 64, "architecture": "tiny_bam"})
    face, blank = data.astronaut(), np.zeros((64, 64, 3), np.uint8)
    with XferaPipeline(classifier=clf, detector=RecordingDetector("dlib", fallback="mediapipe"),
                       mesh_detector=RecordingDetector("mediapipe")) as pipe:
        pipe.explain(face)  # loads every library first (MediaPipe brings more BLAS copies)
        seen.clear()
        with user_setting_of_three():
            exp = pipe.explain(face)
            assert blas_threads() == {3}
            results = pipe.explain_many([face, blank])
            assert blas_threads() == {3}
    assert results[0].emotion == exp.emotion
    assert len(seen) == 5 and all(s == {1} for s in seen), seen  # 2 + 2 + the blank's dlib
    import xfer_keras.face

    monkeypatch.setattr(xfer_keras.face, "LandmarkDetector", RecordingDetector)
    with XferaPipeline(classifier=clf, prepare_workers=2) as pipe:  # detectors on worker threads
        seen.clear()
        results = pipe.explain_many([face, face, face])
    assert all(r.emotion == exp.emotion for r in results)
    assert len(seen) == 6 and all(s == {1} for s in seen), seen
