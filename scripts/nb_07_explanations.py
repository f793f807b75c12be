"""Build notebooks/07_explanations.ipynb: ``python scripts/nb_07_explanations.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts.make_notebook import write_notebook  # noqa: E402

INTRO = """XFERa end to end: image -> emotion -> Grad-CAM -> hot landmarks -> Action Units -> fusion
(Algorithm 1) -> plain-language text -> one `Explanation` (JSON / panel PNG / HTML). Offline: the
AU source is MediaPipe blendshapes with the calibrated mapping, the narrator the template. An
OpenAI-compatible LLM is used only when `XFER_LLM_API_KEY` / `OPENAI_API_KEY` is set."""

MAPPING = [
    ("Algorithm 1 lines 2-10: Grad-CAM, hot landmarks", "1", "as in notebook 06; the shipped model by default (`MODEL` swaps in notebook 05's)"),
    ("Algorithm 1 lines 11-23: OpenFace AU intensities (0-5)", "1, 3", "MediaPipe blendshapes mapped to AUs by a calibrated mapping (ours: runs offline with no extra install); OpenFace CSVs are accepted with `au_source=\"openface:<csv>\"`"),
    ("Table 2 + emotion prototypes: matching / missing AUs", "1-2", "Table 2, plus landmark sets for 9 AUs it does not map (ours, see notebook 06)"),
    ("Algorithm 1 lines 24-29: fusion (intensity > 0.3, >= 50 % hot)", "1-2", "same rule"),
    ("Algorithm 1 lines 30-34, the prompt: GPT-4 text", "4", "the paper's prompt to any OpenAI-compatible server; offline, a template narrator (ours)"),
    ("Figure 1: emotion, confidence, matching / missing AUs, text", "2", "same content as one panel, plus JSON and an HTML report"),
]

SEEN = """
- One `Explanation` per face: emotion, confidence level, matching / missing / hot AUs and a text;
  the table puts the CK+ label beside the prediction.
- A Figure-1 style panel. AUs the source did not measure are not the same as AUs measured at 0:
  check the AU table printed under the panel.
- The AUs (the learned mesh detector) agree with the FACS codes for some AUs better than others
  (`scripts/au_agreement.py`: mean F1 0.821 over 40 CK+ peaks, README "Status").
- The LLM prompt is the paper's; without a key the template text stands in.
"""

CELLS = [
    ("md", "## 1. The pipeline on CK+ peak frames"),
    ("code", """
import os, warnings
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from pathlib import Path
from IPython.display import Image, display

from xfer_keras.emotions import canonical_emotion
from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.xfera.explanation import to_frame
from xfer_keras.xfera.pipeline import XferaPipeline
from xfer_keras.xfera.report.html import save_html
from xfer_keras.xfera.report.panel import panel_png

MODEL = None   # None = the shipped default model; or notebook 05's: "outputs/05_resnet50_bam/resnet50_bam_best.keras"
clf = EmotionClassifier.load(MODEL)

root = config.data_dir(required=False)
n_images = config.pick(quick=8, full=40)
if root is not None and (root / "ckplus_sequences/sequences.csv").is_file():
    seqs = pd.read_csv(root / "ckplus_sequences/sequences.csv", dtype=str)
    seqs = seqs.groupby("emotion", group_keys=False).head(2).head(n_images) if n_images < 40 else seqs
    paths = [str(root / "ckplus_sequences" / r.frames_dir / r._7) for r in seqs.itertuples()]
else:
    from skimage import data
    seqs, paths = None, [data.astronaut()]
names = [Path(p).stem for p in paths] if seqs is not None else ["astronaut"]

pipe = XferaPipeline(classifier=clf)   # au_source="blendshapes", narrator="template"
results = pipe.explain_many(paths, names=names, batch_size=8)
explanations = [r for r in results if not isinstance(r, Exception)]
table = to_frame(explanations)
table.insert(1, "true_emotion", [canonical_emotion(e) for e in seqs.emotion.values[: len(table)]]
             if seqs is not None else "?")
table[["image", "true_emotion", "emotion", "probability", "confidence_level", "matching_aus",
       "missing_aus", "hot_aus"]].round(3)
"""),
    ("md", """
## 2. One explanation, Figure-1 style

The panel shows the crop, the Grad-CAM overlay, hot/cold landmarks, the AU bars (red: present
*and* in the network's focus areas) and the text. The AU table under it separates AUs the
source measured from those it could not (n/a): the blendshape source has no estimate for some
AUs, and a missing estimate is not an intensity of 0.
"""),
    ("code", """
exp = max(explanations, key=lambda e: (len(e.hot_aus), e.probability))
print(exp.explanation)
display(Image(panel_png(exp)))
au_rows = [{"AU": label, "description": a.get("description"),
            "intensity": round(a["intensity"], 2) if a.get("intensity") is not None else "n/a (not measured)",
            "present": a.get("present"), "hot": label in exp.hot_aus}
           for label, a in sorted(exp.aus.items())]
pd.DataFrame(au_rows).set_index("AU")
"""),
    ("md", """
## 3. The AU source against FACS codes

The calibrated blendshape mapping (fitted by `scripts/au_agreement.py`, validated leave one
subject out) against the CK+ FACS codes of these peak frames. `scripts/au_agreement.py` prints
the full table (naive vs calibrated, all 327 peaks).
"""),
    ("code", """
if seqs is not None:
    facs_codes = pd.read_csv(root / "ckplus_facs/ckplus_peak_facs_emotion.csv", dtype={"sequence": str})
    truth = seqs.merge(facs_codes, on=["subject", "sequence"], how="left")
    rows = []
    for au in (1, 2, 4, 5, 6, 7, 9, 12, 15, 17, 25, 27):
        label = f"AU{au:02d}"
        y = truth[f"AU{au}"].to_numpy().astype(bool)[: len(explanations)]
        p = np.array([e.aus.get(label, {}).get("present", False) for e in explanations])
        rows.append({"AU": label, "coded": int(y.sum()), "detected": int(p.sum()),
                     "agree": float((y == p).mean())})
    display(pd.DataFrame(rows))
"""),
    ("md", """
## 4. Narrators: the paper's prompt, the template, an LLM

The prompt below is what an OpenAI-compatible server receives (the paper's system and user
prompts). Without a key in the environment the LLM narrator warns and falls back to the
template, so this cell runs offline. It is built here from the AU descriptions alone, so its
template fallback can word things differently from the pipeline's text in section 2, which
also knows the confidence and the Grad-CAM focus.
"""),
    ("code", """
from xfer_keras.narrate.llm import OpenAINarrator
from xfer_keras.narrate.template import NarrationInput

describe = lambda labels: [exp.aus[label]["description"] for label in labels]
data = NarrationInput(exp.emotion, describe(exp.hot_aus), describe(exp.matching_aus),
                      describe(exp.missing_aus), describe(exp.variant), exp.confidence_level)
llm = OpenAINarrator(timeout=10, max_retries=0)
for message in llm.messages(data):
    print(message["role"].upper() + ":", message["content"], "\\n")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    narration = llm.run(data)
print(narration.narrator, "|", narration.text)
for w in caught:
    print("warning:", str(w.message)[:160])
"""),
    ("md", "## 5. Files: JSON, panel PNG and a self-contained HTML report"),
    ("code", """
out = Path("outputs/notebook07"); out.mkdir(parents=True, exist_ok=True)
exp.to_json(out / "example.json")
report = save_html(explanations[:4], out / "report.html", title="XFERa on CK+ peak frames")
print(report, f"{report.stat().st_size / 1e6:.1f} MB", sorted(p.name for p in out.iterdir()))
pipe.close()
"""),
]

if __name__ == "__main__":
    write_notebook("notebooks/07_explanations.ipynb", "07 - Plain-language explanations (XFERa)",
                   CELLS, intro=INTRO, paper="xfera", mapping=MAPPING, seen=SEEN,
                   next_up="`08_video_explanations`: the same pipeline on videos and group photos.")
