"""Build hook: a wheel (``pip install .``) carries the shipped models as package data.

The models live in ``saved_models/`` at the top of the checkout, where the training scripts
write them; a non-editable install copies the ones the library loads into
``xfer_keras/saved_models/`` (:func:`xfer_keras.assets.shipped_dir` looks there first). An
editable install reads them from the checkout and copies nothing.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: what the library loads (the stored teacher answers and checkpoints are for training only)
SHIPPED = ("emotion_default.keras", "MODEL_CARD.md", "confusion_fer2013_test.png", "emo")


class BuildWithModels(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        source = Path(__file__).resolve().parent / "saved_models"
        target = Path(self.build_lib) / "xfer_keras" / "saved_models"
        for name in SHIPPED:
            if (source / name).is_dir():
                shutil.copytree(source / name, target / name, dirs_exist_ok=True)
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / name, target / name)


setup(cmdclass={"build_py": BuildWithModels})
