"""The OpenAI-compatible narrator over real HTTP, against a fake server on 127.0.0.1.

Covers success, HTTP 500, timeout and a missing key (the last three fall back to the template),
and checks that the API key never reaches the Explanation, its JSON or the HTML report.
"""

import json
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import openai  # noqa: F401  (imported up front so the timeout test times the request only)
import pytest

from xfer_keras.narrate.llm import NarratorFallbackWarning, OpenAINarrator
from xfer_keras.narrate.template import NarrationInput, TemplateNarrator

SECRET = "sk-test-THIS-KEY-MUST-NEVER-LEAK-1234567890"
LLM_TEXT = "The cheeks are lifted and the lip corners pulled up, so the face reads as happy."


class FakeOpenAI:
    """A tiny OpenAI-compatible server: POST /v1/chat/completions, behaviour set by ``mode``."""

    def __init__(self):
        self.mode = "ok"
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                       "body": body})
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                if owner.mode == "500":
                    return self._send(500, {"error": {"message": "boom", "type": "server_error"}})
                if owner.mode == "slow":
                    time.sleep(5.0)
                self._send(200, {
                    "id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                    "model": body.get("model", "m"),
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": LLM_TEXT}}],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                })

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("XFER_LLM_API_KEY", SECRET)
    return SECRET


DATA = NarrationInput("happiness", ["the lifting of the cheek", "the pulling of the lip corner"],
                      ["the lifting of the cheek", "the pulling of the lip corner"], [],
                      ["the lifting of the cheek", "the pulling of the lip corner"])


def narrator(server, **kw):
    return OpenAINarrator(model="fake-gpt", base_url=server.base_url, timeout=kw.pop("timeout", 5.0),
                          max_retries=kw.pop("max_retries", 0), **kw)


def test_success_over_http(server, key):
    with warnings.catch_warnings():
        warnings.simplefilter("error", NarratorFallbackWarning)
        result = narrator(server).run(DATA)
    assert result.text == LLM_TEXT and result.narrator == "openai:fake-gpt" and result.fallback_reason is None
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == f"Bearer {SECRET}"
    messages = request["body"]["messages"]
    assert request["body"]["model"] == "fake-gpt"
    assert messages[0]["role"] == "system" and "'Happiness'" in messages[0]["content"]
    assert "the lifting of the cheek, the pulling of the lip corner." in messages[1]["content"]


def test_http_500_falls_back_to_template(server, key):
    server.mode = "500"
    with pytest.warns(NarratorFallbackWarning, match="500") as record:
        result = narrator(server, max_retries=1).run(DATA)
    assert result.narrator == "template" and result.text == TemplateNarrator().narrate(DATA)
    assert "500" in result.fallback_reason and SECRET not in result.fallback_reason
    assert len(server.requests) == 2  # one retry
    assert all(SECRET not in str(w.message) for w in record)


def test_timeout_falls_back_to_template(server, key):
    server.mode = "slow"
    start = time.perf_counter()
    with pytest.warns(NarratorFallbackWarning, match="(?i)timeout|timed out"):
        result = narrator(server, timeout=0.5).run(DATA)
    assert time.perf_counter() - start < 4.0  # the server answers after 5 s
    assert result.narrator == "template" and result.text == TemplateNarrator().narrate(DATA)


def test_missing_key_falls_back_without_calling(server, monkeypatch):
    monkeypatch.delenv("XFER_LLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.warns(NarratorFallbackWarning, match="no API key"):
        result = narrator(server).run(DATA)
    assert result.narrator == "template" and server.requests == []


def test_openai_api_key_env_is_used(server, monkeypatch):
    monkeypatch.delenv("XFER_LLM_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    assert narrator(server).run(DATA).text == LLM_TEXT
    assert server.requests[0]["auth"] == "Bearer sk-other"


def test_key_never_in_explanation_json_or_html(server, key, tmp_path, face_landmarker_path):
    from skimage import data as skdata

    from xfer_keras.cli.explain import write_outputs
    from xfer_keras.models.classifier import EmotionClassifier
    from xfer_keras.models.registry import create
    from xfer_keras.xfera.pipeline import XferaPipeline

    model = create("tiny_bam", input_size=64)
    clf = EmotionClassifier(model, {"input_size": 64})

    class FlatCam:
        def explain(self, crops, targets=None):
            h, w = np.shape(crops)[1:3]
            yy = np.linspace(0, 1, h)[:, None] * np.ones((1, w))
            return np.repeat(yy[None], len(crops), 0).astype(np.float32)

    image = skdata.astronaut()
    with XferaPipeline(classifier=clf, gradcam=FlatCam(), narrator="openai:fake-gpt",
                       narrator_options={"base_url": server.base_url, "timeout": 5, "max_retries": 0}) as pipe:
        ok = pipe.explain(image, name="astronaut")
        server.mode = "500"
        with pytest.warns(NarratorFallbackWarning):
            failed = pipe.explain(image, name="astronaut")
    assert ok.explanation == LLM_TEXT and ok.narrator == "openai:fake-gpt"
    assert failed.narrator == "template" and failed.narrator_fallback
    for exp, name in ((ok, "ok"), (failed, "failed")):
        files = write_outputs(exp, tmp_path, name)
        assert SECRET not in repr(exp) and SECRET not in exp.to_json()
        for path in files:
            assert SECRET.encode() not in path.read_bytes()
