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


def test_plain_keras_load_of_a_joined_model(tmp_path):
    """A joined model (:mod:`xfer_keras.models.ensemble`) names ``xfer_keras>ChannelSlice``:
    registered by ``import xfer_keras`` too."""
    import keras

    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.models.ensemble import join_classifiers
    from xfer_keras.models.registry import create, model_config

    members = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        model = create("tiny_bam", input_size=48)
        members.append(EmotionClassifier(model, model_config("tiny_bam", model=model)))
    path = join_classifiers(members).save(tmp_path / "joined.keras")
    code = ("import sys, xfer_keras\n"
            "assert 'keras' not in sys.modules\n"
            "import keras\n"
            f"model = keras.saving.load_model({str(path)!r}, compile=False)\n"
            "assert sum(type(layer).__name__ == 'ChannelSlice' for layer in model.layers) == 2\n")
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
