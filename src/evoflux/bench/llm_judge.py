"""An optional LLM judge with MCP-Bench's six dimensions, for any model (usually a stronger one behind an
OpenAI-compatible endpoint: `--judge openai:MODEL@URL`)."""

from __future__ import annotations

from typing import Any

from evoflux.models.lm import Message, Usage
from evoflux.planner.prompting import prompt
from evoflux.protocols import LanguageModel
from evoflux.scoring.coverage import Coverage
from evoflux.workflow.parse import extract_json

__all__ = ["DIMENSIONS", "WEIGHTS", "DimensionJudge"]

DIMENSIONS = (
    "task_fulfillment",
    "grounding",
    "tool_appropriateness",
    "parameter_accuracy",
    "dependency_awareness",
    "parallelism_efficiency",
)
WEIGHTS = {"task_fulfillment": 2.0, "grounding": 2.0}

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **{d: {"type": "integer", "minimum": 0, "maximum": 10} for d in DIMENSIONS},
        "missing": {"type": "array", "items": {"type": "string", "maxLength": 160}, "maxItems": 5},
    },
    "required": [*DIMENSIONS, "missing"],
    "additionalProperties": False,
}


class DimensionJudge:
    """Judges coverage on MCP-Bench's six dimensions with `model`; implements `search.Judge`."""

    def __init__(self, model: LanguageModel, *, max_tokens: int = 200) -> None:
        self.model = model
        self.max_tokens = max_tokens
        self.usage = Usage()

    def judge(self, task: str, evidence: str, answer: str) -> Coverage | None:
        text = prompt("judge6").replace("<<task>>", task).replace("<<evidence>>", evidence)
        completion = self.model.complete(
            [Message(role="user", content=text.replace("<<answer>>", answer))],
            schema=_SCHEMA,
            max_tokens=self.max_tokens,
        )
        self.usage = self.usage + completion.usage
        try:
            data = extract_json(completion.text)
            ratings = {d: max(0.0, min(10.0, float(data[d]))) for d in DIMENSIONS}
            missing = [str(m) for m in data.get("missing", [])][:5]
        except (ValueError, KeyError, TypeError):
            return None
        total = sum(WEIGHTS.get(d, 1.0) for d in DIMENSIONS)
        score = sum(WEIGHTS.get(d, 1.0) * r for d, r in ratings.items()) / (10.0 * total)
        return Coverage(score=score, missing=missing, dimensions=ratings)
