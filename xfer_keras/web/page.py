"""The web app's one page: upload photos or a clip, or take a webcam snapshot; see the Figure-1
panel, the probabilities, the Action Units and the narration (a clip: its timeline and the
segment narrations, or the EMO nets' answer).

Plain HTML and JavaScript, no external file: it runs offline. Everything the API returns is put
on the page as text (``textContent``), never as markup.
"""

from __future__ import annotations

from xfer_keras.html_page import REPORT_CSS, escape_html

_SCRIPT = r"""
const $ = (id) => document.getElementById(id);
function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}
function table(head, rows) {
  const t = el("table"), tr = el("tr");
  head.forEach((h) => tr.appendChild(el("th", h)));
  t.appendChild(tr);
  rows.forEach((row) => {
    const r = el("tr");
    row.forEach((cell) => r.appendChild(el("td", cell)));
    t.appendChild(r);
  });
  return t;
}
function image(src, alt) { const i = el("img"); i.src = src; i.alt = alt; return i; }
function showExplanation(box, exp, panel) {
  const head = el("h3", `${exp.emotion} (confidence level ${exp.confidence_level})`, "emotion");
  box.appendChild(head);
  if (panel) box.appendChild(image(panel, "explanation panel"));
  box.appendChild(el("p", exp.explanation, "narration box"));
  const probs = Object.entries(exp.probabilities).sort((a, b) => b[1] - a[1]);
  box.appendChild(el("h4", "Probabilities"));
  box.appendChild(table(["emotion", "p"], probs.map(([k, v]) => [k, v.toFixed(3)])));
  const aus = Object.entries(exp.aus).map(([label, au]) => [label, au.name,
    au.intensity === null || au.intensity === undefined ? "not measured" : au.intensity.toFixed(2),
    au.present ? "yes" : "no", exp.hot_aus.includes(label) ? "hot" : ""]);
  box.appendChild(el("h4", "Action Units"));
  box.appendChild(table(["AU", "name", "intensity", "present", "focus"], aus));
}
function clock(s) { const m = Math.floor(s / 60); return `${m}:${(s - 60 * m).toFixed(1).padStart(4, "0")}`; }
function showResult(result) {
  const box = el("section", null, "result");
  box.appendChild(el("h2", result.file));
  if (result.error) { box.appendChild(el("p", result.error, "error")); return box; }
  (result.explanations || []).forEach((exp, k) => showExplanation(box, exp, (result.panels || [])[k]));
  if (result.video) {
    const v = result.video;
    box.appendChild(el("p", `${v.n_sampled_frames} sampled frames, ${v.segments.length} segments; ends ${v.last_emotion}`));
    if (result.timeline) box.appendChild(image(result.timeline, "timeline"));
    box.appendChild(table(["face", "start", "end", "emotion", "mean p", "narration"],
      v.segments.map((s) => [s.face_id, clock(s.start), clock(s.end), s.emotion,
                             s.mean_probability.toFixed(2), s.narration])));
    (result.key_frames || []).forEach((kf) => showExplanation(box, kf.explanation, kf.panel));
  }
  if (result.emo) {
    const e = result.emo;
    box.appendChild(el("h3", `${e.verdict} (EMO nets)`, "emotion"));
    if (result.png) box.appendChild(image(result.png, "EMO attribution"));
    box.appendChild(el("p", e.why, "narration box"));
    box.appendChild(table(["emotion", "p", "threshold"], Object.entries(e.probabilities)
      .map(([k, p]) => [k, p.toFixed(3), e.thresholds[k].toFixed(3)])));
  }
  return box;
}
async function send(files) {
  const form = new FormData();
  files.forEach((f) => form.append("file", f, f.name));
  const emo = $("emo").checked;
  form.append("panels", "1");
  if (!emo) { form.append("faces", $("faces").value); form.append("narrator", $("narrator").value); }
  $("status").textContent = "explaining...";
  $("message").textContent = "";
  $("results").replaceChildren();
  try {
    const answer = await fetch(emo ? "api/emo" : "api/explain", {method: "POST", body: form});
    const data = await answer.json();
    if (!answer.ok) { $("message").textContent = data.error || `error ${answer.status}`; }
    else { data.results.forEach((r) => $("results").appendChild(showResult(r))); }
  } catch (err) {
    $("message").textContent = `the server did not answer (${err})`;
  }
  $("status").textContent = "";
}
$("go").addEventListener("click", () => {
  const files = Array.from($("file").files);
  if (!files.length) { $("message").textContent = "choose a photo or a clip first"; return; }
  send(files);
});
let stream = null;
$("camera").addEventListener("click", async () => {
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: true});
    $("webcam").srcObject = stream; $("webcam").hidden = false; $("snap").hidden = false;
  } catch (err) { $("message").textContent = `no webcam (${err.name})`; }
});
$("snap").addEventListener("click", () => {
  const video = $("webcam"), canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  canvas.toBlob((blob) => send([new File([blob], "webcam.png", {type: "image/png"})]), "image/png");
});
"""


def page_html(narrators: list[str], limits) -> str:
    """The page; the narrator menu offers the LLM only when the server has a key for it."""
    options = "".join(f'<option value="{escape_html(n)}">'
                      f'{"template (offline)" if n == "template" else "LLM"}</option>'
                      for n in narrators)
    rules = (f"Photos up to {limits.photo_mb:g} MB each; one clip up to {limits.clip_mb:g} MB "
             f"and {limits.clip_seconds:g} s. Files are deleted once explained.")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>xfer-keras</title>
<style>{REPORT_CSS}
.error,#message{{color:#c00;font-weight:bold}} .result img{{max-width:100%}} video{{max-width:320px}}
</style></head><body>
<h1>xfer-keras: explain a facial expression</h1>
<p>Drop one or several photos, or one short clip, or take a webcam snapshot. {escape_html(rules)}</p>
<p><input type="file" id="file" multiple accept="image/*,video/*">
<label>faces <select id="faces"><option value="largest">largest</option><option value="all">all</option></select></label>
<label>narrator <select id="narrator">{options}</select></label>
<label><input type="checkbox" id="emo"> a clip through the EMO nets</label>
<button id="go">Explain</button> <button id="camera">Webcam</button> <button id="snap" hidden>Snapshot</button>
<span id="status"></span></p>
<video id="webcam" autoplay playsinline hidden></video>
<p id="message" role="alert"></p>
<div id="results"></div>
<script>{_SCRIPT}</script>
</body></html>
"""
