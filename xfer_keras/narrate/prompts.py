"""The XFERa paper's prompts (section 2.1), verbatim where the paper gives them.

The paper prints the system prompt and the user prompt for a non-neutral emotion; the user prompt
ends with the Python expression ``{', '.join(hot_descriptions)}``. It says that for 'Neutral' "the
prompt is formulated in a simple and direct way" without printing it, and that "the prompt
includes a description of the AUs considered typical of the recognized emotion" without its
wording: :data:`NEUTRAL_USER_PROMPT` and :data:`TYPICAL_AUS_SENTENCE` are therefore ours.

The paper's user prompt assumes at least one movement in the focus areas. The sentences that
tell the model the same facts the template narrator uses are ours too: no movement in the focus
areas (:data:`NO_HOT_SENTENCE`, instead of an empty list), focus movements that are not typical
of the emotion (:data:`ATYPICAL_HOT_SENTENCE`), typical movements seen outside the focus areas
(:data:`OUT_OF_FOCUS_SENTENCE`) and none of the typical movements seen at all
(:data:`WEAK_EVIDENCE_SENTENCE`).
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

#: Ours: the focus sentence when no movement was detected in the focus areas.
NO_HOT_SENTENCE = ("It is important to note that no facial movement was detected in the areas of "
                   "the face the neural network focused on.")

#: Ours: focus movements that are not typical of the emotion.
ATYPICAL_HOT_SENTENCE = "Of these, {atypical} {verb} not typical of this expression."

#: Ours: typical movements present outside the focus areas.
OUT_OF_FOCUS_SENTENCE = ("Outside those areas, these facial movements typical of this expression "
                         "were detected: {matching}.")

#: Ours: none of the typical movements was detected.
WEAK_EVIDENCE_SENTENCE = ("None of the facial movements typical of this expression was detected, "
                          "so the evidence for this result is weak: say so.")

#: Ours: the "simple and direct" neutral prompt.
NEUTRAL_USER_PROMPT = (
    "The expression has been classified as '{emotion}'. No marked facial movement was detected in "
    "the areas the neural network focused on."
)


def build_messages(emotion: str, hot_descriptions: list[str],
                   typical_descriptions: list[str] | None = None, *,
                   matching_descriptions: list[str] | None = None,
                   atypical_hot_descriptions: list[str] | None = None) -> list[dict[str, str]]:
    """Chat messages (OpenAI format) for one explanation.

    ``hot_descriptions``: the movements present in the network's focus areas (the paper's list;
    an empty list gets :data:`NO_HOT_SENTENCE`, never an empty enumeration);
    ``typical_descriptions``: the emotion's prototype movements; ``matching_descriptions`` (when
    known): the typical movements present, in focus or not; ``atypical_hot_descriptions``: the
    focus movements not typical of the emotion. The last two give the model the facts the
    template narrator states (typical movements outside the focus, weak evidence)."""
    label = emotion.capitalize()
    system = SYSTEM_PROMPT.format(emotion=label)
    if emotion.lower() == "neutral":
        user = NEUTRAL_USER_PROMPT.format(emotion=label)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]
    if hot_descriptions:
        user = USER_PROMPT.format(emotion=label, hot_descriptions=", ".join(hot_descriptions))
    else:
        user = USER_PROMPT.split("\n\n")[0].format(emotion=label) + "\n\n" + NO_HOT_SENTENCE
    atypical = [d for d in hot_descriptions if d in set(atypical_hot_descriptions or ())]
    if atypical:
        user += " " + ATYPICAL_HOT_SENTENCE.format(atypical=", ".join(atypical),
                                                   verb="is" if len(atypical) == 1 else "are")
    if matching_descriptions is not None:
        out_of_focus = [d for d in matching_descriptions if d not in set(hot_descriptions)]
        if out_of_focus:
            user += "\n\n" + OUT_OF_FOCUS_SENTENCE.format(matching=", ".join(out_of_focus))
        if not matching_descriptions:
            user += "\n\n" + WEAK_EVIDENCE_SENTENCE
    if typical_descriptions:
        user += "\n\n" + TYPICAL_AUS_SENTENCE.format(
            typical_descriptions=", ".join(typical_descriptions))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
