"""Command-line start-up (``xfer_keras.cli.startup``): Keras and MediaPipe load without the extras no
command uses, those extras still import normally afterwards, the model still loads and explains;
dlib's models preload on a thread; summary.csv without pandas."""

import csv
import io
import subprocess
import sys

from xfer_keras.models.classifier import DEFAULT_MODEL
from xfer_keras.xfera.report.summary import rows_to_csv


def test_lean_imports_skip_extras_then_restore_them():
    code = (
        "import sys, xfer_keras\n"
        "from xfer_keras.cli import startup\n"
        "startup.import_lean('keras', 'mediapipe')\n"
        "assert 'tensorflow' in sys.modules and 'mediapipe' in sys.modules\n"
        "for name in ('sklearn', 'pandas'):\n"
        "    assert name not in sys.modules, name\n"
        "import importlib.util\n"
        "plt = sys.modules['matplotlib.pyplot']\n"
        "assert isinstance(plt, importlib.util._LazyModule), type(plt)\n"  # not executed yet
        "assert not any(isinstance(f, startup._LazyFinder) for f in sys.meta_path)\n"
        "import keras\n"
        f"model = keras.saving.load_model({str(DEFAULT_MODEL)!r}, compile=False)\n"
        "import numpy as np\n"
        "assert model(np.zeros((1,) + model.input_shape[1:], 'float32')).shape == (1, 7)\n"
        "import sklearn.linear_model, pandas\n"  # the marks are gone: normal imports work
        "assert pandas.DataFrame({'a': [1]}).shape == (1, 1)\n"
        "assert callable(plt.figure)\n"  # the lazy module loads on first use
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_lean_imports_leave_loaded_modules_alone():
    from xfer_keras.cli.startup import lean_imports

    import json

    with lean_imports(hidden=("json", "xfer_keras_no_such_module"), lazy=()):
        import json as again  # already loaded: not hidden

        assert again is json
        try:
            import xfer_keras_no_such_module  # noqa: F401
        except ImportError:
            pass
    assert "xfer_keras_no_such_module" not in sys.modules


def test_dlib_preload_hands_its_detector_to_the_first_backend():
    from xfer_keras.cli import startup
    from xfer_keras.face import detector

    thread = startup.preload_dlib_in_background()
    assert startup.preload_dlib_in_background() is thread  # once per process
    thread.join(timeout=120)
    assert detector._PREDICTOR is not None
    spare = list(detector._SPARE_FRONTAL)
    backend = detector._DlibBackend()
    if spare:  # unless another test's backend took it first
        assert backend._detector is spare[0]
    assert detector._predictor_path().name == "shape_predictor_68_face_landmarks.dat"


def test_summary_csv_rows_union_of_columns():
    text = rows_to_csv([{"image": "a.jpg", "emotion": "happiness", "n": 3},
                        {"image": "b,c.jpg", "emotion": "sadness", "box_x0": 12}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["image", "emotion", "n", "box_x0"]
    assert rows[0]["box_x0"] == "" and rows[1]["n"] == ""
    assert rows[1]["image"] == "b,c.jpg" and rows[1]["box_x0"] == "12"  # ints stay ints
