"""Write a numbered notebook from cell sources, with the standard set-up cell first.

Notebooks are generated so every one opens with the same Colab-aware set-up cell and the same
profile handling. Usage from a build script::

    from scripts.make_notebook import write_notebook
    write_notebook("notebooks/01_ckplus_landmarks.ipynb", "CK+ landmarks", [
        ("md", "## Load the sequences"),
        ("code", "records = load_ckplus_sequences()"),
    ])

Outputs are never stored (they could hold secrets or licensed images): run them yourself.
"""

from __future__ import annotations

import nbformat

REPO_URL = "https://github.com/xfer-keras/xfer-keras.git"

SETUP_CELL = f'''# Set-up: on Colab this clones and installs xfer-keras; locally (and in CI) it does nothing.
import os, subprocess, sys
if "google.colab" in sys.modules and not os.path.isdir("xfer-keras"):
    subprocess.run(["git", "clone", "-q", "{REPO_URL}"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                    "xfer-keras/requirements.txt", "-e", "xfer-keras"], check=True)
    sys.path.insert(0, os.path.abspath("xfer-keras"))
if os.path.basename(os.getcwd()) == "notebooks":  # run from the repo root, wherever started
    os.chdir("..")
import xfer_keras  # sets ONEDNN_MAX_CPU_ISA before TensorFlow is imported
from xfer_keras import config
PROFILE = config.profile()  # XFER_PROFILE=quick (CI, laptop) or full (paper settings, GPU)
print("xfer-keras", xfer_keras.__version__, "| profile:", PROFILE)'''


def write_notebook(path: str, title: str, cells: list[tuple[str, str]], intro: str = "") -> None:
    """Write ``cells`` (``("md"|"code", source)``) after a title and the set-up cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell(f"# {title}\n\n{intro}".strip()))
    nb.cells.append(nbformat.v4.new_code_cell(SETUP_CELL))
    for kind, source in cells:
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(make(source.strip("\n")))
    for number, cell in enumerate(nb.cells):  # stable ids: a rebuild changes only what changed
        cell["id"] = f"cell-{number:02d}"
    nbformat.validate(nb)
    nbformat.write(nb, path)
