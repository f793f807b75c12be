"""The XFERa paper's prompts (section 2.1), verbatim where the paper gives them.

The paper prints the system prompt and the user prompt for a non-neutral emotion; the user prompt
ends with the Python expression ``{', '.join(hot_descriptions)}``. It says that for 'Neutral' "the
prompt is formulated in a simple and direct way" without printing it, and that "the prompt
includes a description of the AUs considered typical of the recognized emotion" without its
wording: :data:`NEUTRAL_USER_PROMPT` and :data:`TYPICAL_AUS_SENTENCE` are therefore ours.
"""

from __future__ import annotations

#: System prompt, verbatim (paper, section 2.1).
SYSTEM_PROMPT = (
    "You are a facial expression analysis system that detected this '{emotion}', do not explain "
    "the emotion. You are speaking to an audience completely unaware of the topic and they need a "
    "brief explanation of why the emotion occurred.\n\n"
    "Perform this task through the Action Units detected in the salient areas."
)

#: User prompt, verbatim (paper, section 2.1); ``{hot_descriptions}`` is ``', '.join(...)``.
USER_PROMPT = (
    "The expression has been classified as '{emotion}'.\n\n"
    "It is important to note that the neural network focused on areas of the face where the "
    "following facial movements were detected: {hot_descriptions}."
)

#: Ours (the paper describes but does not print it): the typical AUs of the emotion.
TYPICAL_AUS_SENTENCE = "Facial movements typical of this expression are: {typical_descriptions}."

#: Ours: the "simple and direct" neutral prompt.
NEUTRAL_USER_PROMPT = (
    "The expression has been classified as '{emotion}'. No marked facial movement was detected in "
    "the areas the neural network focused on."
)


def build_messages(emotion: str, hot_descriptions: list[str],
                   typical_descriptions: list[str] | None = None) -> list[dict[str, str]]:
    """Chat messages (OpenAI format) for one explanation."""
    label = emotion.capitalize()
    system = SYSTEM_PROMPT.format(emotion=label)
    if emotion.lower() == "neutral":
        user = NEUTRAL_USER_PROMPT.format(emotion=label)
    else:
        user = USER_PROMPT.format(emotion=label, hot_descriptions=", ".join(hot_descriptions))
        if typical_descriptions:
            user += "\n\n" + TYPICAL_AUS_SENTENCE.format(
                typical_descriptions=", ".join(typical_descriptions))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
