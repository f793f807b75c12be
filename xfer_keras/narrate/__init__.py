"""Plain-language explanations: the paper's prompt, an offline template, an OpenAI-compatible LLM."""

from xfer_keras.narrate.llm import NarratorFallbackWarning, OpenAINarrator, make_narrator
from xfer_keras.narrate.prompts import SYSTEM_PROMPT, USER_PROMPT, build_messages
from xfer_keras.narrate.template import Narration, NarrationInput, TemplateNarrator

__all__ = [
    "TemplateNarrator", "NarrationInput", "Narration",
    "OpenAINarrator", "make_narrator", "NarratorFallbackWarning",
    "SYSTEM_PROMPT", "USER_PROMPT", "build_messages",
]
