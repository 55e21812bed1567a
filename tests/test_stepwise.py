"""The stepwise seed and the typed step schema: tool choice per step, decoding shapes, and the seed built
over a real MCP server (the toy server, over stdio) with `ScriptedPlanner` as the test double for the
model, plus the typed schema under the real lite model."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from jsonschema import Draft202012Validator, ValidationError

from evoflux.budget import Budget
from evoflux.catalog import Catalog, open_catalog
from evoflux.config import parse_servers
from evoflux.fitness import Coverage
from evoflux.models import MODELS, cache_dir
from evoflux.planners.embedded import EmbeddedModel
from evoflux.planners.lm import Message
from evoflux.planners.prompting import step_schema
from evoflux.planners.scripted import ScriptedPlanner
from evoflux.search import Evaluated, SearchSettings, Switches, evolve
from evoflux.stepwise import named_values, step_tools
from evoflux.tools import ToolSpec

TOY = str(Path(__file__).parent / "servers" / "toy.py")
TASK = "Add 2 and 3, then echo the sum."
STEPS = ["Add 2 and 3", "Echo the sum from step 1"]
UNITS = ["foot", "meter", "square foot", "square meter", "feet per second"]


def _converter(name: str, units: list[str]) -> ToolSpec:
    schema = {
        "type": "object",
        "properties": {
            "value": {"type": "number"},
            "from_unit": {"type": "string", "enum": units},
            "to_unit": {"type": "string", "enum": units},
        },
        "required": ["value", "from_unit", "to_unit"],
    }
    return ToolSpec(
        name=f"conv.{name}", server="conv", tool=name, description="Convert a value.", input_schema=schema
    )


CALC = ToolSpec(
    name="calc.calculate",
    server="calc",
    tool="calculate",
    description="Evaluate a math expression.",
    input_schema={
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
)
LENGTH = _converter("length", ["foot", "meter", "inch"])
AREA = _converter("area", ["square foot", "square meter", "acre"])
SPEED = _converter("speed", ["feet per second", "meters per second"])
CATALOG = {t.name: t for t in (AREA, SPEED, LENGTH, CALC)}


def test_a_step_ranks_first_the_tool_whose_units_it_names() -> None:
    assert named_values("Convert 12 feet to meters", LENGTH) == 1  # meter (feet is no plural of foot)
    assert named_values("Convert 12 feet to meters", AREA) == 0  # `square meter` needs both words
    assert named_values("Convert 12 feet to meters", SPEED) == 0  # `feet` does not abbreviate a speed
    assert named_values("Convert 70 inches to meters", LENGTH) == 2
    tools = step_tools("Convert 70 inches to meters", CATALOG)
    assert tools[0] == LENGTH
    assert CALC in tools  # the other server's tool is never crowded out


def test_the_typed_step_schema_admits_only_the_tools_own_arguments() -> None:
    schema = step_schema([LENGTH, CALC], "Convert 12 feet to meters")
    check = Draft202012Validator(schema)
    good = {
        "id": "n1",
        "why": "Convert 12 feet to meters",
        "tool": "conv.length",
        "args": {"value": 12, "from_unit": "foot", "to_unit": "meter"},
    }
    check.validate(good)
    check.validate({**good, "id": "n2", "args": {**good["args"], "value": "$n1.converted_value"}})  # a ref
    check.validate({**good, "tool": "calc.calculate", "args": {"expression": "{{n1.x}} * 2"}})
    for bad_args in (
        {"value": 12, "from_unit": "feet", "to_unit": "meter"},  # not in the enum
        {"value": 12, "from": "foot", "to_unit": "meter"},  # misnamed
        {"value": "twelve", "from_unit": "foot", "to_unit": "meter"},  # wrong type, not a reference
        {"value": 12, "from_unit": "foot"},  # a required argument left out
    ):
        with pytest.raises(ValidationError):
            check.validate({**good, "args": bad_args})
    with pytest.raises(ValidationError):  # the arguments of one tool under the name of another
        check.validate({**good, "tool": "calc.calculate"})
    with pytest.raises(ValidationError):  # the purpose is fixed
        check.validate({**good, "why": "something else"})
    untyped = Draft202012Validator(step_schema([LENGTH, CALC], "", typed=False))
    untyped.validate({**good, "args": {"anything": 1}})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def catalog() -> AsyncIterator[Catalog]:
    config = parse_servers({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}, environ={})
    with anyio.fail_after(30):
        async with open_catalog(config, call_timeout=10) as live:
            yield live


def echo_judge(task: str, evidence: str, answer: str) -> Coverage:
    if "toy.echo" in evidence and "returned: 5" in evidence:
        return Coverage(score=1.0)
    return Coverage(score=0.4, missing=["the echoed sum"])


def _settings(**switches: bool) -> SearchSettings:
    return SearchSettings(budget=Budget(generations=2, seeds=2), switches=Switches(**switches))


WRONG_PLAN = {
    "nodes": [{"id": "n1", "tool": "toy.echo", "args": {"text": "2 + 3"}}],
    "answer": {"uses": ["n1"]},
}


@pytest.mark.anyio
async def test_the_first_seed_is_built_step_by_step_from_executed_outputs(catalog: Catalog) -> None:
    contexts: list[str] = []

    def write(context: str) -> dict[str, Any]:
        contexts.append(context)
        if "Add 2 and 3 <- write this one" in context:
            return {"tool": "toy.add", "args": {"a": 2, "bb": 3}}  # misnamed: repaired before step 2
        return {"tool": "toy.echo", "args": {"text": "{{n1.sum}}"}}

    planner = ScriptedPlanner([WRONG_PLAN], rewrite=write, judge_fn=echo_judge, steps=STEPS)
    seen: list[Evaluated] = []
    with anyio.fail_after(60):
        out = await evolve(
            TASK,
            catalog,
            planner,
            list(catalog.tools.values()),
            _settings(),
            on_candidate=lambda mode, e, parent: seen.append(e),
        )
    assert [e.candidate.origin for e in seen] == ["stepwise"]  # solved: no plan was needed
    assert planner.calls == ["decompose", "rewrite", "rewrite", "judge"]
    assert len(contexts) == 2
    assert "1. Add 2 and 3 <- write this one" in contexts[0] and "toy.add" in contexts[0]
    # step 2 sees step 1 as repaired and run: its real output value, and step 1 marked done
    assert "1. Add 2 and 3 (done: n1)" in contexts[1] and "n1.sum=5" in contexts[1]
    stepwise = seen[0]
    assert [n.why for n in stepwise.candidate.workflow.nodes] == STEPS
    assert stepwise.trace.feasible
    assert out.stopped_because == "solved" and out.best is not None
    assert out.best.candidate.origin == "stepwise"


@pytest.mark.anyio
async def test_no_stepwise_seed_when_switched_off_without_feedback_or_without_steps(catalog: Catalog) -> None:
    def never(context: str) -> dict[str, Any]:
        raise AssertionError("no step should be written")

    for planner, switches in (
        (ScriptedPlanner([WRONG_PLAN], rewrite=never, steps=STEPS), {"stepwise": False}),
        (ScriptedPlanner([WRONG_PLAN], rewrite=never, steps=STEPS), {"feedback": False}),
        (ScriptedPlanner([WRONG_PLAN], rewrite=never), {}),  # the model gave no steps: a second plan
    ):
        with anyio.fail_after(60):
            out = await evolve(
                TASK, catalog, planner, list(catalog.tools.values()), _settings(model_edits=False, **switches)
            )
        assert out.best is not None and out.best.candidate.origin != "stepwise"
        assert "decompose" not in planner.calls
        assert planner.calls.count("plan") == 2


def _lite_path() -> Path:
    path = cache_dir() / "models" / MODELS["lite"].filename
    if not path.is_file():
        pytest.skip("the lite model is not in the cache: run ensure_model('lite') once")
    return path


@pytest.fixture(scope="module")
def lite() -> Iterator[EmbeddedModel]:
    model = EmbeddedModel(_lite_path(), name="lite", n_ctx=4096)
    model.load()
    yield model
    model.close()


def test_a_real_model_decodes_a_step_that_fits_its_tools_schema(lite: EmbeddedModel) -> None:
    purpose = "Convert 12 feet to meters"
    schema = step_schema([LENGTH, AREA, CALC], purpose)
    ask = Message(role="user", content=f'Write the step "{purpose}" as {{"id", "why", "tool", "args"}}.')
    completion = lite.complete([ask], schema=schema, max_tokens=120)
    node = json.loads(completion.text)
    Draft202012Validator(schema).validate(node)
    spec = CATALOG[node["tool"]]
    Draft202012Validator(spec.input_schema).validate(node["args"])  # what the server will check
