"""Plain-language explanations: the paper's prompt, an offline template, an OpenAI-compatible LLM."""
