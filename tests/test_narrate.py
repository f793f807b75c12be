"""The paper's prompts (verbatim) and the offline template narrator (Figure 1 style)."""

from xfer_keras.narrate.llm import OpenAINarrator, make_narrator
from xfer_keras.narrate.prompts import NEUTRAL_USER_PROMPT
from xfer_keras.narrate.prompts import SYSTEM_PROMPT
from xfer_keras.narrate.prompts import USER_PROMPT
from xfer_keras.narrate.prompts import build_messages
from xfer_keras.narrate.template import NarrationInput, TemplateNarrator, join_phrases

FIGURE1 = ('I analyzed the facial expression and classified it as "Happiness". In particular, I '
           'focused on the lifting of the cheek and the pulling of the lip corner. The combination '
           'of these two movements is typically associated with this emotion.')


def _input(emotion="happiness", hot=("the lifting of the cheek", "the pulling of the lip corner"), **kw):
    return NarrationInput(emotion=emotion, hot_descriptions=list(hot),
                          matching_descriptions=kw.get("matching", list(hot)),
                          missing_descriptions=kw.get("missing", []),
                          typical_descriptions=kw.get("typical", list(hot)))


def test_template_reproduces_figure1():
    assert TemplateNarrator().narrate(_input()) == FIGURE1
    narration = TemplateNarrator().run(_input())
    assert narration.text == FIGURE1 and narration.narrator == "template" and narration.fallback_reason is None


def test_template_other_cases():
    one = TemplateNarrator().narrate(_input("surprise", hot=["the dropping of the jaw"]))
    assert '"Surprise"' in one and "the dropping of the jaw" in one and "This movement" in one
    seen = TemplateNarrator().narrate(_input("anger", hot=[], matching=["the lowering of the brows"]))
    assert "I noticed the lowering of the brows" in seen
    none = TemplateNarrator().narrate(_input("fear", hot=[], matching=[], typical=["a", "b"]))
    assert "uncertain" in none and "a and b" in none
    neutral = TemplateNarrator().narrate(_input("neutral", hot=[]))
    assert '"Neutral"' in neutral and "relaxed" in neutral
    assert join_phrases(["a", "b", "c"]) == "a, b and c" and join_phrases([]) == ""


def test_prompts_are_the_papers():
    assert SYSTEM_PROMPT.startswith("You are a facial expression analysis system that detected this '{emotion}'")
    assert "do not explain the emotion" in SYSTEM_PROMPT
    assert "Perform this task through the Action Units detected in the salient areas." in SYSTEM_PROMPT
    assert USER_PROMPT.startswith("The expression has been classified as '{emotion}'.")
    assert USER_PROMPT.endswith("the following facial movements were detected: {hot_descriptions}.")
    messages = build_messages("happiness", ["the lifting of the cheek", "the pulling of the lip corner"])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "'Happiness'" in messages[0]["content"]
    assert messages[1]["content"].endswith(
        "detected: the lifting of the cheek, the pulling of the lip corner.")
    typical = build_messages("happiness", ["x"], ["the lifting of the cheek"])
    assert "typical" in typical[1]["content"]
    neutral = build_messages("neutral", [])
    assert neutral[1]["content"] == NEUTRAL_USER_PROMPT.format(emotion="Neutral")


def test_make_narrator():
    assert isinstance(make_narrator("template"), TemplateNarrator)
    assert isinstance(make_narrator(None), TemplateNarrator)
    llm = make_narrator("openai:my-model", base_url="http://127.0.0.1:1/v1")
    assert isinstance(llm, OpenAINarrator) and llm.model == "my-model" and llm.name == "openai:my-model"
    assert "key" not in repr(llm).lower()


def test_template_does_not_call_atypical_movements_typical():
    data = _input("sadness", hot=["the raising of the upper lip"], matching=[])
    data.atypical_hot_descriptions = ["the raising of the upper lip"]
    text = TemplateNarrator().narrate(data)
    assert "not among the movements typical" in text and "typically associated" not in text
    assert text.endswith("so this result is uncertain.")
    # the typical movements present outside the focus are named, and the result is not called
    # uncertain (the demo photo: a smile with the focus on the parted lips)
    data = _input("happiness", hot=["the parting of the lips"],
                  matching=["the lifting of the cheek", "the pulling of the lip corner"])
    data.atypical_hot_descriptions = ["the parting of the lips"]
    text = TemplateNarrator().narrate(data)
    assert "I focused on the parting of the lips, which is not among the movements typical" in text
    assert text.endswith("but I also noticed the lifting of the cheek and the pulling of the lip "
                         "corner, which are typically associated with it.")
    assert "uncertain" not in text
    data = _input("sadness", hot=["the raising of the inner eyebrows", "the raising of the upper lip"])
    data.atypical_hot_descriptions = ["the raising of the upper lip"]
    text = TemplateNarrator().narrate(data)
    assert "I focused on the raising of the inner eyebrows. This movement is typically" in text
    assert text.endswith("I also noticed the raising of the upper lip, which is less typical of it.")


def test_the_llm_prompt_never_sends_an_empty_list_and_says_what_the_template_says():
    """The LLM gets the facts the template states: no movement in focus (never "detected: ."),
    focus movements that are atypical, typical movements outside the focus, weak evidence."""
    from xfer_keras.narrate.llm import OpenAINarrator
    from xfer_keras.narrate.template import NarrationInput

    cheek, corner, lips = ("the lifting of the cheek", "the pulling of the lip corner",
                           "the parting of the lips")
    cases = {
        "out of focus": NarrationInput("happiness", [], [corner], [cheek], [cheek, corner]),
        "atypical focus": NarrationInput("happiness", [lips], [cheek, corner], [], [cheek, corner],
                                         atypical_hot_descriptions=[lips]),
        "weak": NarrationInput("anger", [lips], [], ["the lowering of the brow"],
                               ["the lowering of the brow"], atypical_hot_descriptions=[lips]),
    }
    narrator = OpenAINarrator(model="m", base_url="http://127.0.0.1:1/v1")
    template = TemplateNarrator()
    for name, data in cases.items():
        prompt = narrator.messages(data)[1]["content"]
        assert ": ." not in prompt and "detected: \n" not in prompt, name
        text = template.narrate(data)
        for description in {cheek, corner, lips} & set(data.hot_descriptions
                                                         + data.matching_descriptions):
            assert description in prompt, (name, description)
            assert description in text, (name, description)
    assert "no facial movement was detected in the areas" in narrator.messages(
        cases["out of focus"])[1]["content"]
    assert "Outside those areas" in narrator.messages(cases["out of focus"])[1]["content"]
    assert "not typical of this expression" in narrator.messages(cases["atypical focus"])[1]["content"]
    weak = narrator.messages(cases["weak"])[1]["content"]
    assert "the evidence for this result is weak" in weak
    assert "uncertain" in template.narrate(cases["weak"])
