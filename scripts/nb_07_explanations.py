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

CELLS = [
    ("md", "## 1. The pipeline on CK+ peak frames"),
    ("code", """
import os, warnings
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from pathlib import Path
from IPython.display import Image, display

from xfer_keras.models.classifier import EmotionClassifier
from xfer_keras.xfera.explanation import to_frame
from xfer_keras.xfera.pipeline import XferaPipeline
from xfer_keras.xfera.report.html import save_html
from xfer_keras.xfera.report.panel import panel_png

clf = EmotionClassifier.load()  # the shipped default model (saved_models/)

root = config.data_dir(required=False)
n_images = config.pick(quick=8, full=40)
if root is not None and (root / "ckplus_sequences/sequences.csv").is_file():
    seqs = pd.read_csv(root / "ckplus_sequences/sequences.csv", dtype=str)
    seqs = seqs.groupby("emotion", group_keys=False).head(2).head(n_images) if n_images < 40 else seqs
    paths = [str(root / "ckplus_sequences" / r.frames_dir / r._7) for r in seqs.itertuples()]
else:
    from skimage import data
    seqs, paths = None, [data.astronaut()]

pipe = XferaPipeline(classifier=clf)   # au_source="blendshapes", narrator="template"
results = pipe.explain_many(paths, batch_size=8)
explanations = [r for r in results if not isinstance(r, Exception)]
table = to_frame(explanations)
if seqs is not None:
    table.insert(1, "true_emotion", seqs.emotion.values[: len(table)])
table[["image", "true_emotion", "emotion", "probability", "confidence_level", "matching_aus",
       "missing_aus", "hot_aus"]].assign(image=lambda t: t.image.map(lambda p: Path(p).stem))
"""),
    ("md", """
## 2. One explanation, Figure-1 style

The panel shows the crop, the Grad-CAM overlay, hot/cold landmarks, the AU bars (red: present
*and* in the network's focus areas) and the text.
"""),
    ("code", """
exp = max(explanations, key=lambda e: (len(e.hot_aus), e.probability))
print(exp.explanation)
display(Image(panel_png(exp)))
{k: exp.to_dict()[k] for k in ("emotion", "confidence_level", "matching_aus", "missing_aus", "hot_aus", "scores")}
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
template, so this cell runs offline.
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
print([str(w.message)[:120] for w in caught])
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
                   CELLS, intro=INTRO)
