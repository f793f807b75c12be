"""Deterministic offline narrator: sentences in the style of the paper's Figure 1.

    I analyzed the facial expression and classified it as "Happiness". In particular, I focused on
    the lifting of the cheek and the pulling of the lip corner. The combination of these two
    movements is typically associated with this emotion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


@dataclass
class NarrationInput:
    """What a narrator needs (built from a fusion result by the pipeline)."""

    emotion: str
    hot_descriptions: list[str]            # hot AUs (present and in the network's focus areas)
    matching_descriptions: list[str]       # present AUs typical of the emotion (hot or not)
    missing_descriptions: list[str]        # typical AUs that were not found
    typical_descriptions: list[str]        # the emotion's prototype AUs
    confidence_level: str = "Medium"
    #: hot AUs that are *not* typical of the emotion (a subset of ``hot_descriptions``)
    atypical_hot_descriptions: list[str] = field(default_factory=list)


@dataclass
class Narration:
    """A narrator's text and who wrote it (``fallback_reason`` when the LLM was not used)."""

    text: str
    narrator: str
    fallback_reason: str | None = None


def join_phrases(phrases: list[str]) -> str:
    phrases = [p for p in phrases if p]
    if not phrases:
        return ""
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


class TemplateNarrator:
    """Offline narrator (the default when no LLM key is configured)."""

    name = "template"

    def run(self, data: NarrationInput) -> Narration:
        return Narration(self.narrate(data), self.name)

    def narrate(self, data: NarrationInput) -> str:
        label = data.emotion.capitalize()
        first = f'I analyzed the facial expression and classified it as "{label}".'
        if data.emotion.lower() == "neutral":
            return (f"{first} The face looks relaxed: I did not find marked movements of the "
                    "eyebrows, eyes or mouth in the areas I focused on, which is what a neutral "
                    "expression looks like.")
        atypical = [d for d in data.hot_descriptions if d in set(data.atypical_hot_descriptions)]
        typical_hot = [d for d in data.hot_descriptions if d not in set(atypical)]
        if typical_hot:
            n = len(typical_hot)
            focus = f"In particular, I focused on {join_phrases(typical_hot)}."
            if n == 1:
                tail = "This movement is typically associated with this emotion."
            else:
                tail = (f"The combination of these {_NUMBERS.get(n, str(n))} movements is "
                        "typically associated with this emotion.")
            text = f"{first} {focus} {tail}"
            if atypical:
                text += f" I also noticed {join_phrases(atypical)}, which is less typical of it."
            return text
        if atypical:
            text = (f"{first} In particular, I focused on {join_phrases(atypical)}, which "
                    f"{'is' if len(atypical) == 1 else 'are'} not among the movements typical of "
                    "this emotion")
            if data.matching_descriptions:  # the typical movements are there, outside the focus
                verb = "is" if len(data.matching_descriptions) == 1 else "are"
                return (f"{text}; but I also noticed {join_phrases(data.matching_descriptions)}, "
                        f"which {verb} typically associated with it.")
            return f"{text}, so this result is uncertain."
        if data.matching_descriptions:
            verb = "is" if len(data.matching_descriptions) == 1 else "are"
            return (f"{first} I noticed {join_phrases(data.matching_descriptions)}, which {verb} "
                    "typically associated with this emotion, although the areas I focused on most "
                    "were elsewhere on the face.")
        typical = join_phrases(data.typical_descriptions[:3])
        hint = f" Movements such as {typical} would usually support it." if typical else ""
        return (f"{first} I did not find the facial movements that usually go with this "
                f"emotion, so this result is uncertain.{hint}")
