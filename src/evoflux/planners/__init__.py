"""Planners and the language models they call.

The backends (`embedded.EmbeddedModel`, `openai_compat.OpenAIModel`) are imported on demand by
`load_model`, so importing this package loads neither llama.cpp nor the OpenAI client.
"""

from evoflux.planners.lm import Completion, LanguageModel, Message, Usage
from evoflux.planners.spec import load_model

__all__ = ["Completion", "LanguageModel", "Message", "Usage", "load_model"]
