"""What the notebooks' text claims, checked against the figures it rests on.

Two kinds of check, both cheap (no training, no notebook run):

* every number of a "**Reference ...**" block (figures quoted next to a quick table) must occur
  in the sources the block names: a file of this repository in backticks, the README's status
  table, or the paper (checked when ``../shared/papers`` is present);
* the claims listed in :data:`CLAIMS` - a phrase of a notebook and a function that recomputes
  the figure behind it - must still be in the notebook and still be true.

Claims about a notebook's own run (quick numbers that vary) are not written as text: the
notebooks print them from the data instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAPERS = REPO.parent / "shared" / "papers"
NUMBER = re.compile(r"(?<![\d.])\d+\.\d+")


def markdown(notebook: str) -> str:
    cells = json.loads((REPO / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def reference_blocks():
    for path in sorted((REPO / "notebooks").glob("0*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            text = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and text.lstrip().startswith("**Reference"):
                yield path.stem, text


def numbers(text: str) -> set[str]:
    return {n.rstrip("0").rstrip(".") or "0" for n in NUMBER.findall(text)}


def sources_of(block: str) -> tuple[list[Path], bool]:
    """Files a reference block cites (those that exist here), and whether it cites a paper."""
    files = [REPO / p for p in re.findall(r"`([\w./-]+\.(?:md|json|csv))`", block) if (REPO / p).is_file()]
    if "README" in block:
        files.append(REPO / "README.md")
    return files, "paper" in block.lower()


def test_there_are_reference_blocks():
    assert {name for name, _ in reference_blocks()} >= {
        "02_train_emo_nets", "04_landmark_pruning", "05_train_resnet50_bam"}


@pytest.mark.parametrize("name,block", list(reference_blocks()), ids=lambda v: v if len(v) < 40 else "")
def test_reference_figures_are_the_sources_figures(name, block):
    files, cites_paper = sources_of(block)
    if cites_paper:
        papers = sorted(PAPERS.glob("*.md")) if PAPERS.is_dir() else []
        if not papers:
            pytest.skip("the papers are not present (../shared/papers)")
        files += papers
    assert files, f"{name}: a reference block must name its source"
    known = set().union(*(numbers(f.read_text()) for f in files))
    # the paper writes 0.924 \pm 0.016 in LaTeX; the same numbers either way
    missing = sorted(numbers(block) - known - {"0.5"})
    assert not missing, f"{name}: figures not found in {[f.name for f in files]}: {missing}"


# --- claims of the text and the figure behind each -------------------------------------------

def _emo_params():
    from xfer_keras.models.emo_net import build_emo_net

    return build_emo_net((8, 2, 68, 1), "t-emo", seed=0).count_params()


def _majority_range():
    import pandas as pd

    csv = REPO.parent / "shared" / "data" / "ckplus_sequences" / "sequences.csv"
    if not csv.is_file():
        pytest.skip("CK+ sequences not present")
    counts = pd.read_csv(csv).emotion.value_counts()
    counts = counts[counts.index != "contempt"]
    return round(1 - counts.max() / counts.sum(), 2), round(1 - counts.min() / counts.sum(), 2)


def _shipped_verdict():
    return json.loads((REPO / "saved_models/emo/training.json").read_text())["verdict_accuracy"]


def _readme_row(label: str) -> str:
    (row,) = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith(f"| {label}")]
    return row


CLAIMS = [
    # (notebook, phrase in its markdown, check of the figure)
    ("02_train_emo_nets", "~0.58 M parameters",
     lambda: 0.575e6 <= _emo_params() <= 0.585e6),
    ("02_train_emo_nets", "right emotion for 0.525 of 40", lambda: _shipped_verdict() == 0.525),
    ("04_landmark_pruning", 'already scores 0.78-0.90 accuracy', lambda: _majority_range() == (0.78, 0.9)),
    ("07_explanations", "mean F1 0.821 over 40 CK+ peaks",
     lambda: "0.821" in _readme_row("AUs (default: learned mesh detector) against CK+ FACS codes")),
    ("06_gradcam_hot_landmarks", "adds 9 AUs the paper does not map",
     lambda: len(__import__("xfer_keras.xfera.facs", fromlist=["x"]).AU_LANDMARKS_EXTRA) == 9),
    ("05_train_resnet50_bam", "`bam1`-`bam3` after conv2-conv4",
     lambda: __import__("xfer_keras.models.resnet_bam", fromlist=["x"]).stage_output_names(
         (3, 4, 6, 3))[:3] == ["bam1", "bam2", "bam3"]),
]


@pytest.mark.parametrize("notebook,phrase,check", CLAIMS, ids=[f"{c[0]}:{c[1][:30]}" for c in CLAIMS])
def test_claim_matches_its_figure(notebook, phrase, check):
    assert phrase in markdown(notebook), f"{notebook}: the claim changed; update CLAIMS"
    assert check(), f"{notebook}: {phrase!r} no longer matches its figure"
