"""OpenAI-compatible narrator (GPT-4 in the paper), with the template as the safety net.

    narrator = OpenAINarrator(model="gpt-4o-mini")                        # api.openai.com
    narrator = OpenAINarrator(model="llama3", base_url="http://127.0.0.1:8080/v1")  # local server

The API key comes **only from the environment** (``XFER_LLM_API_KEY``, then ``OPENAI_API_KEY``);
it is never an argument, never logged, never stored in a result. Local servers that need no key
still need the variable set to something (``XFER_LLM_API_KEY=none``). Any failure (no key, HTTP
error, timeout, empty answer) falls back to :class:`~xfer_keras.narrate.template.TemplateNarrator`
with a :class:`NarratorFallbackWarning` naming the reason.
"""

from __future__ import annotations

import os
import warnings

from xfer_keras.errors import OptionError
from xfer_keras.narrate.prompts import build_messages
from xfer_keras.narrate.template import Narration, NarrationInput, TemplateNarrator

KEY_ENV_VARS = ("XFER_LLM_API_KEY", "OPENAI_API_KEY")
BASE_URL_ENV = "XFER_LLM_BASE_URL"
MODEL_ENV = "XFER_LLM_MODEL"
DEFAULT_MODEL = "gpt-4o-mini"


class NarratorFallbackWarning(UserWarning):
    """The LLM narrator could not answer; the template text was used instead."""


def api_key_from_env() -> str | None:
    for name in KEY_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _redact(text: str, secret: str | None) -> str:
    text = str(text)
    if secret:
        text = text.replace(secret, "***")
    return text[:300]


class OpenAINarrator:
    """Chat-completions narrator for any OpenAI-compatible endpoint."""

    def __init__(self, model: str | None = None, base_url: str | None = None, timeout: float = 30.0,
                 max_retries: int = 2, temperature: float = 0.2, max_tokens: int = 200,
                 include_typical: bool = True, fallback: TemplateNarrator | None = None):
        self.model = model or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
        self.base_url = base_url or os.environ.get(BASE_URL_ENV) or None
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.include_typical = include_typical
        self.fallback = fallback or TemplateNarrator()
        self.name = f"openai:{self.model}"

    def __repr__(self) -> str:  # never shows a key (it is not even stored)
        return f"OpenAINarrator(model={self.model!r}, base_url={self.base_url!r}, timeout={self.timeout})"

    def messages(self, data: NarrationInput) -> list[dict[str, str]]:
        typical = data.typical_descriptions if self.include_typical else None
        return build_messages(data.emotion, data.hot_descriptions, typical,
                              matching_descriptions=data.matching_descriptions,
                              atypical_hot_descriptions=data.atypical_hot_descriptions)

    def _fallback(self, data: NarrationInput, reason: str) -> Narration:
        warnings.warn(f"LLM narrator unavailable ({reason}); using the template narrator",
                      NarratorFallbackWarning, stacklevel=3)
        return Narration(self.fallback.narrate(data), "template", fallback_reason=reason)

    def run(self, data: NarrationInput) -> Narration:
        key = api_key_from_env()
        if not key:
            return self._fallback(data, f"no API key: set {' or '.join(KEY_ENV_VARS)}")
        try:
            import openai

            client = openai.OpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout,
                                   max_retries=self.max_retries)
            response = client.chat.completions.create(
                model=self.model, messages=self.messages(data), temperature=self.temperature,
                max_tokens=self.max_tokens,
            )
            text = (response.choices[0].message.content or "").strip() if response.choices else ""
        except Exception as error:  # noqa: BLE001  (any failure -> template, with the reason)
            status = getattr(error, "status_code", None)
            kind = type(error).__name__ + (f" HTTP {status}" if status else "")
            return self._fallback(data, f"{kind}: {_redact(error, key)}")
        if not text:
            return self._fallback(data, "empty answer")
        return Narration(text, self.name)

    def narrate(self, data: NarrationInput) -> str:
        return self.run(data).text


def make_narrator(name: str | object | None = "template", **kwargs):
    """``"template"`` | ``"openai"`` | ``"openai:MODEL"`` | a narrator object (passed through)."""
    if name is None or (isinstance(name, str) and name.strip().lower() == "template"):
        return TemplateNarrator()
    if not isinstance(name, str):
        return name
    kind, _, model = name.strip().partition(":")
    if kind.lower() == "openai":
        return OpenAINarrator(model=model or kwargs.pop("model", None), **kwargs)
    raise OptionError(f"unknown narrator {name!r}: use template, openai or openai:MODEL")
