"""The web app's JSON API, through Starlette's test client, on the shipped model.

The answers are the command line's JSON; bad uploads get a typed status with a one-line reason,
and the server keeps answering; uploads never stay on disk; the page and the JSON never carry the
LLM key; the command binds to the loopback address by default.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("multipart")


def _png(image) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def astronaut_png() -> bytes:
    from skimage import data

    return _png(data.astronaut())


@pytest.fixture(scope="module")
def client(face_landmarker_path, shipped_classifier):
    from starlette.testclient import TestClient

    from xfer_keras.web.app import create_app
    from xfer_keras.web.service import ExplainService, ServeSettings
    from xfer_keras.web.uploads import Limits

    settings = ServeSettings(limits=Limits(photo_mb=2, clip_mb=5, clip_seconds=3))
    service = ExplainService(settings)
    with TestClient(create_app(settings, service)) as client:
        yield client
    service.close()


def _frames(ckplus_dir) -> list[np.ndarray]:
    """A CK+ smile, neutral to peak, as RGB frames."""
    from xfer_keras.face import load_image

    return [load_image(p) for p in sorted((ckplus_dir / "images/S052/001").glob("*.png"))]


def _uploads() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("xfer-serve-*")}


def test_a_photo_gives_the_cli_json_and_its_panel(client, astronaut_png, tmp_path):
    """The same fields as ``explain``'s ``<name>.json`` for the same image, and the panel."""
    from xfer_keras.cli import main

    before = _uploads()
    answer = client.post("/api/explain", files={"file": ("astronaut.png", astronaut_png)},
                         data={"panels": "1"})
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    assert result["file"] == "astronaut.png" and result["kind"] == "image"
    (served,) = result["explanations"]
    assert result["panels"][0].startswith("data:image/png;base64,")
    (tmp_path / "astronaut.png").write_bytes(astronaut_png)
    assert main(["explain", str(tmp_path / "astronaut.png"), "--out", str(tmp_path / "out"),
                 "--report", "none"]) == 0
    written = json.loads((tmp_path / "out" / "astronaut.json").read_text())
    for key in ("emotion", "confidence_level", "hot_landmarks", "aus", "matching_aus",
                "missing_aus", "explanation"):
        assert served[key] == written[key], key
    assert served["probabilities"] == pytest.approx(written["probabilities"], abs=1e-6)
    assert served["image"] == "astronaut.png"  # the client's label, never a server path
    assert _uploads() == before  # the temporary folder is gone


def test_several_photos_and_every_face(client, astronaut_png):
    from skimage import data

    two = np.concatenate([data.astronaut()] * 2, axis=1)  # two faces side by side
    answer = client.post("/api/explain", data={"faces": "all"},
                         files=[("file", ("one.png", astronaut_png)), ("file", ("two.png", _png(two)))])
    assert answer.status_code == 200, answer.text
    one, both = answer.json()["results"]
    assert len(one["explanations"]) == 1 and len(both["explanations"]) >= 2
    assert "panels" not in one  # pictures only when asked


@pytest.mark.parametrize("name, payload, status, words", [
    ("notes.txt", b"just some text, not a picture", 415, "not an image"),
    ("empty.png", b"", 400, "empty"),
    ("big.png", b"\x89PNG\r\n\x1a\n" + bytes(3_000_000), 413, "more than the 2 MB"),
    ("huge.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(6_000_000), 413, "more than the"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"not the rest of a PNG", 422, "broken.png"),
    ("cut.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(2000), 422, "cut.mp4"),
])
def test_a_bad_upload_gets_one_line_and_the_server_keeps_serving(client, astronaut_png, name,
                                                                 payload, status, words):
    answer = client.post("/api/explain", files={"file": (name, payload)})
    assert answer.status_code == status, answer.text
    message = answer.json()["error"]
    assert words in message and "\n" not in message and "Traceback" not in message
    assert "/tmp" not in message and "upload0" not in message  # no server path leaks
    again = client.post("/api/explain", files={"file": ("ok.png", astronaut_png)})
    assert again.status_code == 200 and again.json()["results"][0]["explanations"]


def test_one_bad_photo_never_stops_the_others(client, astronaut_png):
    """Photos sent together: each refused or failing one carries its own error, in its place."""
    sent = [("file", ("a.png", astronaut_png)), ("file", ("notes.txt", b"text")),
            ("file", ("sky.png", _png(np.full((120, 160, 3), 200, np.uint8)))),
            ("file", ("b.png", astronaut_png))]
    answer = client.post("/api/explain", files=sent)
    assert answer.status_code == 200, answer.text
    a, notes, sky, b = answer.json()["results"]
    assert a["explanations"] and b["explanations"] and a["file"] == "a.png"
    assert notes["status"] == 415 and notes["error"].startswith("notes.txt: not an image")
    assert sky["file"] == "sky.png" and "sky.png" in sky["error"]


def test_a_face_less_photo_and_a_missing_file_say_so(client):
    blank = client.post("/api/explain", files={"file": ("sky.png", _png(np.full((200, 300, 3), 180, np.uint8)))})
    assert blank.status_code == 422 and "sky.png" in blank.json()["error"]
    nothing = client.post("/api/explain", data={"faces": "all"})
    assert nothing.status_code == 400 and "no file" in nothing.json()["error"]
    option = client.post("/api/explain", files={"file": ("a.png", b"\x89PNG\r\n\x1a\n")},
                         data={"faces": "some"})
    assert option.status_code in (422,) and "faces" in option.json()["error"]


def test_a_client_path_never_reaches_the_filesystem(client, astronaut_png, tmp_path):
    """A file name full of ``../`` is only a label: nothing is written outside the upload
    folder, and the label is flattened."""
    name = "../../" + str(tmp_path / "evil.png")
    answer = client.post("/api/explain", files={"file": (name, astronaut_png)})
    assert answer.status_code == 200
    assert answer.json()["results"][0]["file"] == "evil.png"
    assert not (tmp_path / "evil.png").exists()


def test_a_clip_gives_its_timeline_and_the_emo_nets_answer(client, ckplus_dir, tmp_path):
    from clips import write_clip

    clip = write_clip(tmp_path / "smile.mp4", _frames(ckplus_dir), fps=10)
    data = clip.read_bytes()
    answer = client.post("/api/explain", files={"file": ("smile.mp4", data)}, data={"panels": "1"})
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["results"]
    video = result["video"]
    assert video["source"] == "smile.mp4" and video["n_sampled_frames"] > 3
    assert video["segments"] and all(s["narration"] for s in video["segments"])
    assert result["timeline"].startswith("data:image/png;base64,") and result["key_frames"]
    emo = client.post("/api/emo", files={"file": ("smile.mp4", data)}, data={"panels": "1"})
    assert emo.status_code == 200, emo.text
    (answer,) = emo.json()["results"]
    assert answer["emo"]["clip"] == "smile.mp4" and answer["emo"]["verdict"]
    assert answer["png"].startswith("data:image/png;base64,")
    photo = client.post("/api/emo", files={"file": ("a.png", _png(np.zeros((8, 8, 3), np.uint8)))})
    assert photo.status_code == 415 and "clip" in photo.json()["error"]


def test_a_clip_longer_than_the_limit_is_refused(client, ckplus_dir, tmp_path):
    from clips import write_clip

    clip = write_clip(tmp_path / "long.mp4", _frames(ckplus_dir) * 3, fps=10)  # ~4 s against a 3 s limit
    answer = client.post("/api/explain", files={"file": ("long.mp4", clip.read_bytes())})
    assert answer.status_code == 413 and "longer than the 3 s" in answer.json()["error"]


def test_the_llm_key_never_reaches_the_page_or_the_json(face_landmarker_path, shipped_classifier,
                                                        astronaut_png, monkeypatch):
    """With a key in the server's environment the page offers the LLM narrator; the key is in
    neither the page, nor health, nor an answer (the LLM is unreachable here: the template text
    stands in, and says so)."""
    from starlette.testclient import TestClient

    from xfer_keras.web.app import create_app
    from xfer_keras.web.service import ExplainService, ServeSettings

    secret = "sk-test-" + os.urandom(8).hex()
    monkeypatch.setenv("XFER_LLM_API_KEY", secret)
    settings = ServeSettings(llm_base_url="http://127.0.0.1:9/v1", llm_timeout=1.0)
    service = ExplainService(settings)
    with TestClient(create_app(settings, service)) as client:
        page = client.get("/").text
        health = client.get("/api/health").json()
        answer = client.post("/api/explain", files={"file": ("a.png", astronaut_png)},
                             data={"narrator": "openai"})
    service.close()
    assert 'value="openai"' in page and health["narrators"] == ["template", "openai"]
    assert answer.status_code == 200
    (exp,) = answer.json()["results"][0]["explanations"]
    assert exp["narrator_fallback"] and exp["explanation"]
    for text in (page, json.dumps(health), answer.text):
        assert secret not in text


def test_without_a_key_the_llm_is_not_offered(client, astronaut_png, monkeypatch):
    assert client.get("/api/health").json()["narrators"] == ["template"]
    assert 'value="openai"' not in client.get("/").text
    answer = client.post("/api/explain", files={"file": ("a.png", astronaut_png)},
                         data={"narrator": "openai"})
    assert answer.status_code == 422 and "XFER_LLM_API_KEY" in answer.json()["error"]


def test_serve_binds_to_the_loopback_address_by_default():
    from xfer_keras.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and args.port == 8000
    assert (args.max_photo_mb, args.max_clip_mb, args.max_clip_seconds) == (20.0, 200.0, 120.0)
