"""A non-editable install works on its own: the wheel carries the shipped models as package data.

``pip install .`` builds a wheel through ``setup.py``'s hook, which copies the models the
library loads into ``xfer_keras/saved_models/``. The test builds that wheel offline, unpacks it
into an empty folder (what pip's install does for a pure-Python wheel), and runs
``python -m xfer_keras demo`` from there, in another working directory: the demo must find
the shipped model inside the installed package, never in this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", minversion="77")
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    # a copy of what a clean checkout holds, so the build writes nothing into this tree
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "teachers", "checkpoints")
    for name in ("xfer_keras", "saved_models"):
        shutil.copytree(REPO / name, source / name, ignore=skip)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "--no-index", "-q", "-w", str(out), str(source)],
                          capture_output=True, text=True, cwd=out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("xfer_keras-*.whl")
    return found


def test_the_wheel_carries_the_shipped_models_and_no_training_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {"xfer_keras/saved_models/emotion_default.keras",
               "xfer_keras/saved_models/MODEL_CARD.md",
               "xfer_keras/saved_models/emo/emo_set.json",
               "xfer_keras/saved_models/emo/baselines.npz"}
    shipped |= {f"xfer_keras/saved_models/emo/{emotion}.keras" for emotion in
                ("anger", "disgust", "fear", "happiness", "sadness", "surprise")}
    assert shipped <= names
    assert not [n for n in names if "/teachers/" in n or "/checkpoints/" in n]
    assert "xfer_keras/xfera/pipeline.py" in names and "xfer_keras/cli/__init__.py" in names


def test_the_installed_package_explains_with_its_own_model(wheel, tmp_path, face_landmarker_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("XFER_EMOTION_MODEL", None)
    env.pop("XFER_EMO_MODELS", None)
    where = subprocess.run(
        [sys.executable, "-c", "import xfer_keras.assets as a, xfer_keras.models.classifier as c,"
         " xfer_keras.models.emo_set as e; print(a.__file__); print(c.EmotionClassifier"
         ".resolve_path()); print(e.default_folder())"],
        capture_output=True, text=True, cwd=elsewhere, env=env)
    assert where.returncode == 0, where.stderr[-2000:]
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to(site.resolve()), line
    proc = subprocess.run([sys.executable, "-m", "xfer_keras", "demo", "--out", "out"],
                          capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((elsewhere / "out" / "astronaut.json").read_text())
    assert result["emotion"] in result["probabilities"] and result["explanation"]


def test_the_package_dependencies_are_the_pinned_stack():
    """``pip install .`` resolves the versions that requirements.txt pins (and verifies)."""
    import re
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", (REPO / "requirements.txt")
                           .read_text(), re.M))
    declared = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    assert len(declared) >= 15
    for requirement in declared:
        name, _, version = requirement.partition("==")
        assert pins.get(name) == version, f"{requirement} is not requirements.txt's pin"
