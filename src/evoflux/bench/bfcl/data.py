"""BFCL v4 multi-turn data as `bfcl-eval` ships it: the entries, their ground truth, each backend class's
function docs as MCP tool schemas, and calls in BFCL's call syntax (`mv(source='a', destination='b')`)."""

from __future__ import annotations

import ast
import importlib.resources
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from pydantic import BaseModel, Field

from evoflux.bench.tasks import SuiteError

__all__ = [
    "CATEGORIES",
    "CLASSES",
    "Entry",
    "call_text",
    "function_docs",
    "input_schema",
    "load_entries",
    "parse_call",
    "server_name",
]

CATEGORIES = ("multi_turn_base", "multi_turn_long_context", "multi_turn_miss_func", "multi_turn_miss_param")
CLASSES = {
    "GorillaFileSystem": "gorilla_file_system",
    "MathAPI": "math_api",
    "MessageAPI": "message_api",
    "TwitterAPI": "posting_api",
    "TicketAPI": "ticket_api",
    "TradingBot": "trading_bot",
    "TravelAPI": "travel_booking",
    "VehicleControlAPI": "vehicle_control",
}
"""The backend classes of the multi-turn categories, and the name of each one's function-doc file."""
_TYPES = {"dict": "object", "float": "number", "tuple": "array"}


class Entry(BaseModel):
    """One multi-turn conversation: a user request per turn, the backends' starting state, and the calls
    BFCL's ground truth makes in each turn."""

    id: str
    turns: list[str]
    initial_config: dict[str, Any] = Field(default_factory=dict)
    involved_classes: list[str]
    ground_truth: list[list[str]]
    missed_function: dict[str, list[str]] = Field(
        default_factory=dict, description="Turn index -> functions held back until that turn."
    )
    raw: dict[str, Any] = Field(default_factory=dict, description="The entry as BFCL's checker reads it.")


def _data(*parts: str) -> str:
    try:
        path = importlib.resources.files("bfcl_eval").joinpath("data", *parts)
        return path.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise SuiteError(
            f"BFCL data {'/'.join(parts)} not found: install bfcl-eval (scripts/setup.sh)"
        ) from e


def _lines(text: str) -> Iterator[dict[str, Any]]:
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)


def load_entries(category: str) -> list[Entry]:
    """Every entry of a multi-turn category, in BFCL's order, with its ground truth (read once)."""
    return list(_entries(category))


@cache
def _entries(category: str) -> tuple[Entry, ...]:
    if category not in CATEGORIES:
        raise SuiteError(f"unknown BFCL category {category!r}; choose one of: {', '.join(CATEGORIES)}")
    name = f"BFCL_v4_{category}.json"
    truth = {row["id"]: row["ground_truth"] for row in _lines(_data("possible_answer", name))}
    entries = []
    for row in _lines(_data(name)):
        turns = [" ".join(m["content"] for m in turn if m.get("role") == "user") for turn in row["question"]]
        entries.append(
            Entry(
                id=row["id"],
                turns=turns,
                initial_config=row.get("initial_config") or {},
                involved_classes=row["involved_classes"],
                ground_truth=truth[row["id"]],
                missed_function={str(k): v for k, v in (row.get("missed_function") or {}).items()},
                raw=row,
            )
        )
    return tuple(entries)


@cache
def function_docs(class_name: str) -> tuple[dict[str, Any], ...]:
    """The function docs of one backend class (name, description, parameters, response)."""
    if class_name not in CLASSES:
        raise SuiteError(f"no BFCL backend class {class_name!r}")
    return tuple(_lines(_data("multi_turn_func_doc", f"{CLASSES[class_name]}.json")))


def server_name(class_name: str) -> str:
    """The MCP server a backend class is served as (its function-doc file's name)."""
    return CLASSES[class_name]


def input_schema(parameters: dict[str, Any]) -> dict[str, Any]:
    """A BFCL parameter schema as JSON Schema: `dict` is an object, `float` a number, `tuple` an array,
    `any` no type at all."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: convert(value) for key, value in node.items() if key != "type"}
        kind = node.get("type")
        if isinstance(kind, str) and kind != "any":
            out["type"] = _TYPES.get(kind, kind)
        return out

    schema: dict[str, Any] = convert(parameters)
    schema["type"] = "object"
    schema.setdefault("properties", {})
    return schema


def call_text(tool: str, arguments: dict[str, Any]) -> str:
    """A call in BFCL's syntax, keyword arguments as Python literals: what its checker executes."""
    args = ", ".join(f"{key}={value!r}" for key, value in arguments.items())
    return f"{tool}({args})"


def parse_call(text: str, docs: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """A BFCL call (`sort('a.pdf')`, `cd(folder='x')`) as the function's name and keyword arguments,
    positional ones named from the function's doc in `docs` (name -> doc)."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"not a call: {text!r}") from e
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ValueError(f"not a call of a named function: {text!r}")
    name = call.func.id
    if name not in docs:
        raise ValueError(f"no function {name!r} in the docs")
    order = list(docs[name]["parameters"].get("properties", {}))
    if len(call.args) > len(order):
        raise ValueError(f"{text!r} passes more positional arguments than {name} has parameters")
    arguments = {order[i]: ast.literal_eval(arg) for i, arg in enumerate(call.args)}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise ValueError(f"{text!r} unpacks a mapping")
        arguments[keyword.arg] = ast.literal_eval(keyword.value)
    return name, arguments
