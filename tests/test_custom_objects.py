"""``import xfer_keras`` makes our custom layers loadable by plain ``keras.saving.load_model``,
without importing Keras at package import."""

import subprocess
import sys

from xfer_keras.models.classifier import DEFAULT_MODEL


def _run(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def test_plain_keras_load_after_import_xfer_keras():
    code = ("import sys, xfer_keras\n"
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules\n"
            "import keras\n"
            f"model = keras.saving.load_model({str(DEFAULT_MODEL)!r}, compile=False)\n"
            "from xfer_keras.models.bam import BAM\n"
            "assert any(isinstance(layer, BAM) for layer in model.layers)\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_plain_keras_load_when_keras_came_first():
    code = ("import keras, xfer_keras\n"
            f"keras.saving.load_model({str(DEFAULT_MODEL)!r}, compile=False)\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
