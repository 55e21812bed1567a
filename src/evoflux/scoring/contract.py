"""The task contract: what a request asks for, stated once by the model under a JSON Schema (the parts
the answer must contain, the values the task gives, normalised, and the changes it asks for), so that
checks can read typed fields instead of matching words of the task (issue 23)."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["CONTRACT_SCHEMA", "Change", "Given", "Need", "TaskContract", "parse_contract"]

Kind = Literal["number", "text", "time", "date", "list", "yes_no"]
_SHORT = 120


class Need(BaseModel):
    """One thing the final answer must contain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    asks: str = Field(min_length=1, max_length=_SHORT, description="What it is, in a few words.")
    kind: Kind = Field(description="The kind of value that answers it.")


class Given(BaseModel):
    """One value the task gives: as written, normalised, and what it is for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = Field(min_length=1, max_length=_SHORT, description="As the task writes it.")
    value: str = Field(
        min_length=1,
        max_length=_SHORT,
        description="Normalised: digits for numbers written in words, 24-hour HH:MM for clock times, "
        "a number with % for percentages.",
    )
    role: str = Field(max_length=_SHORT, description="What the value is, in a few words.")


class Change(BaseModel):
    """One change the task asks to make."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    what: str = Field(min_length=1, max_length=_SHORT)
    where: str = Field(default="", max_length=_SHORT)


class TaskContract(BaseModel):
    """What a task asks for; given by the caller, or stated by the planner model once per task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    parts: list[Need] = Field(default_factory=list, max_length=6)
    values: list[Given] = Field(default_factory=list, max_length=12)
    changes: list[Change] = Field(default_factory=list, max_length=4)
    source: Literal["model", "caller"] = "model"

    def render(self) -> str:
        """The contract in a few plain lines, for the live view and for prompts."""
        lines = [f"answer: {'; '.join(f'{p.asks} ({p.kind})' for p in self.parts) or '(nothing to report)'}"]
        if self.values:
            lines.append("given: " + "; ".join(f"{v.role or v.text} = {v.value}" for v in self.values))
        lines.append("changes: " + ("; ".join(_change(c) for c in self.changes) or "none (only questions)"))
        return "\n".join(lines)


def _change(change: Change) -> str:
    return f"{change.what} ({change.where})" if change.where else change.what


def _decoding_schema() -> dict[str, Any]:
    """The JSON Schema the model's contract is decoded under (the model's fields, without `source`)."""
    string = {"type": "string", "minLength": 1, "maxLength": _SHORT}
    kinds = {"type": "string", "enum": list(get_args(Kind))}

    def objects(props: dict[str, Any], required: list[str], most: int, least: int = 0) -> dict[str, Any]:
        item = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        return {"type": "array", "items": item, "minItems": least, "maxItems": most}

    return {
        "type": "object",
        "properties": {
            "parts": objects({"asks": string, "kind": kinds}, ["asks", "kind"], 6, least=1),
            "values": objects(
                {"text": string, "value": string, "role": string}, ["text", "value", "role"], 12
            ),
            "changes": objects(
                {"what": string, "where": {"type": "string", "maxLength": _SHORT}}, ["what"], 4
            ),
        },
        "required": ["parts", "values", "changes"],
        "additionalProperties": False,
    }


CONTRACT_SCHEMA = _decoding_schema()


def parse_contract(data: Any, *, source: Literal["model", "caller"] = "model") -> TaskContract | None:
    """A contract from decoded JSON (None when it is not one)."""
    if not isinstance(data, dict):
        return None
    try:
        return TaskContract.model_validate({**data, "source": source})
    except ValidationError:
        return None
