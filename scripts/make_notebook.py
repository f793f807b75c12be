"""Write a numbered notebook from cell sources, with the standard set-up cell first.

Notebooks are generated so every one opens with the same Colab-aware set-up cell, the same
profile banner and the same paper header. Usage from a build script::

    from scripts.make_notebook import write_notebook
    write_notebook("notebooks/01_ckplus_landmarks.ipynb", "CK+ landmarks", [
        ("md", "## Load the sequences"),
        ("code", "records = load_ckplus_sequences()"),
    ])

Outputs are never stored (they could hold secrets or licensed images): run them yourself.
``tests/test_notebook_colab.py`` runs :data:`SETUP_CELL` in a simulated Colab (a fake
``google.colab`` module, a temporary folder, no network).
"""

from __future__ import annotations

import nbformat

#: What the Colab set-up cell clones; ``XFER_REPO_URL`` overrides it (a fork, a mirror).
REPO_URL = "https://github.com/xfer-keras/xfer-keras.git"

#: Citations, one per paper, as the notebooks print them.
PAPERS = {
    "emo": ("F. Di Luzio, A. Rosato, M. Panella, *An Explainable Fast Deep Neural Network for "
            "Emotion Recognition* (landmark sequences, T-EMO / R-EMO, global Integrated Gradients, "
            "landmark pruning)"),
    "xfera": ("N. Macchiarulo, B. De Carolis, C. Loglisci, V. N. Losavio, M. G. Miccoli, "
              "G. Palestra, *XFERa: Xplainable Emotion Recognition for improving transparency and "
              "trust*, Joint Proceedings of the ACM IUI Workshops 2025 (ResNet50 + BAM, Grad-CAM, "
              "hot landmarks, Action Units, LLM text)"),
}

#: The banner every notebook prints under its profile: quick numbers are never results.
BANNER = {
    "quick": ("QUICK PROFILE: small data, few epochs, few IG steps. The numbers below show that "
              "each step runs; they are NOT results. Reference figures (shipped models, docs/, "
              "the papers) are printed beside them with their source."),
    "full": ("FULL PROFILE: the papers' settings (hours on a CPU; use a GPU). The numbers below are "
             "results of this run."),
}

SETUP_CELL = f'''# Set-up. Locally (and in CI) this only picks the profile. On Colab it clones and installs
# xfer-keras once, restarts the runtime once (run this cell again after that), and points the
# notebooks at your data.
import os, shutil, subprocess, sys, textwrap
from pathlib import Path

PROFILE = "quick"   # "full" = the papers' settings: hours of training, choose a GPU runtime first
DATA = ""           # your licensed datasets (data/README.md), e.g. "/content/drive/MyDrive/xfer_data"

if "google.colab" in sys.modules:
    repo = Path("xfer-keras").resolve()
    if not (repo / ".colab_installed").is_file():
        if not repo.is_dir():
            url = os.environ.get("XFER_REPO_URL", "{REPO_URL}")
            subprocess.run(["git", "clone", "-q", "--depth", "1", url, str(repo)], check=True)
        # the pinned, tested stack (TensorFlow, NumPy, pandas differ from Colab's own versions)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                        str(repo / "requirements.txt"), "-e", str(repo)], check=True)
        (repo / ".colab_installed").write_text("pinned stack installed\\n")
        print("xfer-keras and its pinned stack are installed. Colab must restart once to load them:"
              " the runtime restarts now. Then run this cell again and carry on.")
        os.kill(os.getpid(), 9)   # Colab's own way to restart the runtime
    os.chdir(repo)
    os.environ["XFER_PROFILE"] = PROFILE
    if PROFILE == "full" and shutil.which("nvidia-smi") is None:
        print("warning: PROFILE = 'full' without a GPU runtime takes hours (Runtime > Change runtime type)")
    if DATA.startswith("/content/drive"):
        from google.colab import drive
        drive.mount("/content/drive")
    if DATA:
        os.environ["XFER_DATA_DIR"] = DATA
    else:
        print("No DATA folder: notebooks 02, 06, 07 and 08 use bundled examples instead; "
              "01, 03, 04 and 05 need CK+ / FER2013 (data/README.md), e.g. in a Drive folder.")
else:
    os.environ.setdefault("XFER_PROFILE", PROFILE)   # the environment wins locally (CI sets quick)
    if os.path.basename(os.getcwd()) == "notebooks":  # run from the repo root, wherever started
        os.chdir("..")
import logging
logging.getLogger("tensorflow").addFilter(lambda record: "retracing" not in record.getMessage())  # no retracing notices
if "ipykernel" in sys.modules:   # native INFO lines of TensorFlow / MediaPipe off the outputs
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
import xfer_keras  # sets ONEDNN_MAX_CPU_ISA before TensorFlow is imported
from xfer_keras import config
PROFILE = config.profile()
print("xfer-keras", xfer_keras.__version__, "| profile:", PROFILE, "| data:",
      config.data_dir(required=False) or "none (bundled examples only)")
BANNER = {{
    "quick": {BANNER["quick"]!r},
    "full": {BANNER["full"]!r},
}}[PROFILE]
print("=" * 78, textwrap.fill(BANNER, 78), "=" * 78, sep="\\n")'''


def paper_header(paper: str, mapping: list[tuple[str, str, str]]) -> str:
    """The citation and the paper item -> section -> what differs here (and why) table."""
    rows = "\n".join(f"| {item} | {where} | {differs} |" for item, where, differs in mapping)
    return (f"**Paper**: {PAPERS[paper]}.\n\n"
            "| paper item | here | what differs here, and why |\n|---|---|---|\n" + rows)


def write_notebook(path: str, title: str, cells: list[tuple[str, str]], intro: str = "", *,
                   paper: str | None = None, mapping: list[tuple[str, str, str]] | None = None,
                   seen: str = "", next_up: str = "") -> None:
    """Write ``cells`` (``("md"|"code", source)``) after a title and the set-up cell.

    ``paper`` (a key of :data:`PAPERS`) and ``mapping`` (paper item, section here, what differs)
    open the notebook with its citation; ``seen`` ("what you should have seen") and ``next_up``
    close it.
    """
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    head = f"# {title}\n\n{intro}".strip()
    if paper:
        head += "\n\n" + paper_header(paper, mapping or [])
    nb.cells.append(nbformat.v4.new_markdown_cell(head))
    nb.cells.append(nbformat.v4.new_code_cell(SETUP_CELL))
    for kind, source in cells:
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(make(source.strip("\n")))
    if seen or next_up:
        tail = "## What you should have seen\n\n" + seen.strip("\n") if seen else ""
        if next_up:
            tail += ("\n\n" if tail else "") + "**Next**: " + next_up.strip()
        nb.cells.append(nbformat.v4.new_markdown_cell(tail))
    for number, cell in enumerate(nb.cells):  # stable ids: a rebuild changes only what changed
        cell["id"] = f"cell-{number:02d}"
    nbformat.validate(nb)
    nbformat.write(nb, path)
