"""Panel PNG and self-contained, escaped HTML report."""

import io
import re

import numpy as np
from PIL import Image

from xfer_keras.xfera.report.html import report_html, save_html
from xfer_keras.xfera.report.panel import overlays, panel_png, save_panel
from factories import make_explanation


def test_panel_png(tmp_path):
    heat = np.zeros((224, 224), np.float32)
    heat[150:, :] = 1
    exp = make_explanation(heatmap=heat)
    data = panel_png(exp)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size[0] > 600
    images = overlays(exp)
    assert set(images) == {"crop", "gradcam", "landmarks"}
    assert all(im.shape == (224, 224, 3) and im.dtype == np.uint8 for im in images.values())
    path = save_panel(exp, tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_is_self_contained_and_escaped(tmp_path):
    evil = '<script>alert("x")</script>'
    exp = make_explanation(image=f"dir/{evil}.png", explanation=f"text {evil} & more",
                           crop=None, heatmap=None, landmarks=None)
    text = report_html([exp, make_explanation()], title=evil)
    assert "<script>" not in text and "&lt;script&gt;" in text and "&amp; more" in text
    srcs = re.findall(r'src="([^"]+)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in text and "https://" not in text
    path = save_html(exp, tmp_path / "r.html")
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_the_panel_draws_an_unmeasured_au_as_not_measured_not_as_zero():
    """An AU the source cannot measure (intensity None) gets no bar, and the grey "n/a" in its
    place; the same AU measured at a low intensity gets a bar of its own colour."""
    from xfer_keras.xfera.report.panel import ABSENT_AU

    def bars(intensity):
        exp = make_explanation()
        exp.aus = dict(exp.aus, AU26={"au": 26, "label": "AU26", "name": "Jaw drop",
                                      "description": "the dropping of the jaw",
                                      "intensity": intensity, "normalized": intensity,
                                      "present": False, "threshold": None})
        panel = np.asarray(Image.open(io.BytesIO(panel_png(exp))).convert("RGB"))
        return panel, (panel == ABSENT_AU).all(axis=-1).sum()

    measured, light = bars(0.3)
    unmeasured, none = bars(None)
    assert light > 50 and none == 0  # AU26 is the only absent AU: its bar is there or not
    grey = (unmeasured == (120, 120, 120)).all(axis=-1).sum()
    assert grey > (measured == (120, 120, 120)).all(axis=-1).sum()  # the "n/a" label
