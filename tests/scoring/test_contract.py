"""The task contract (`scoring.contract`): its typed form and bounds, the prompt that asks for it, the
`evoflux contract` command (a scripted test-double planner), and the lite model stating one for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from evoflux.methods import MethodSettings, run_method
from evoflux.models.embedded import EmbeddedModel
from evoflux.models.registry import MODELS, cache_dir
from evoflux.planner.planner import LMPlanner
from evoflux.planner.prompting import prompt
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.scoring.contract import CONTRACT_SCHEMA, TaskContract, parse_contract
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import parse_servers

LITE = cache_dir() / "models" / MODELS["lite"].filename
TOY = str(Path(__file__).parents[1] / "fixtures" / "toy.py")
STATED = {
    "parts": [{"asks": "the price after the discount", "kind": "number"}],
    "values": [{"text": "fifteen percent", "value": "15%", "role": "discount"}],
    "changes": [],
}


def test_a_contract_parses_from_the_model_s_json_or_not_at_all() -> None:
    stated = parse_contract(STATED)
    assert isinstance(stated, TaskContract) and stated.source == "model"
    assert stated.values[0].value == "15%" and stated.changes == []
    assert stated.render().splitlines() == [
        "answer: the price after the discount (number)",
        "given: discount = 15%",
        "changes: none (only questions)",
    ]
    assert parse_contract({**STATED, "parts": [{"asks": "x", "kind": "colour"}]}) is None
    assert parse_contract({**STATED, "parts": [{"asks": "x", "kind": "number"}] * 7}) is None  # bounded
    assert parse_contract(["not", "an", "object"]) is None
    assert parse_contract(STATED, source="caller") is not None
    assert CONTRACT_SCHEMA["properties"]["parts"]["maxItems"] == 6


def test_the_contract_prompt_names_none_of_the_example_servers_domains() -> None:
    text = prompt("contract").lower()
    for word in (
        "convert",
        "celsius",
        "kilogram",
        "time zone",
        "timezone",
        "file",
        "folder",
        "memory",
        "entity",
    ):
        assert word not in text, word


def test_the_contract_command_prints_what_the_planner_states(tmp_path: Path) -> None:
    script = tmp_path / "script.json"  # test double: a canned contract instead of a model
    script.write_text(json.dumps({"plans": [{"nodes": []}], "contract": STATED}))
    command = ["contract", "What is 15% off 80?", "--planner", f"scripted:{script}", "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "evoflux", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["parts"] == STATED["parts"]


@pytest.mark.skipif(not LITE.is_file(), reason="the lite model is not installed: run scripts/setup.sh")
def test_the_lite_model_states_a_contract_for_a_request() -> None:
    model = EmbeddedModel(LITE, name="lite", n_ctx=4096)
    try:
        stated = LMPlanner(model).contract(
            "Book three tickets for the 8pm concert and tell me the total cost."
        )
    finally:
        model.close()
    assert stated is not None and stated.parts  # decoded under the schema: a typed contract
    assert all(len(part.asks) <= 120 for part in stated.parts)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_run_states_the_contract_once_or_takes_the_caller_s(tmp_path: Path) -> None:
    config = parse_servers({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}, environ={})
    plan = {"nodes": [{"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}], "answer": {"uses": ["n1"]}}
    stated = parse_contract(STATED)
    planner = ScriptedPlanner([plan], contract=stated)  # test double for the model
    with anyio.fail_after(60):
        async with open_catalog(config, call_timeout=10) as catalog:
            inferred = await run_method(
                "zero-shot", "Add 2 and 3.", catalog, planner, MethodSettings(infer_contract=True)
            )
            given = parse_contract(STATED, source="caller")
            other = ScriptedPlanner([plan], contract=stated)
            told = await run_method(
                "zero-shot", "Add 2 and 3.", catalog, other, MethodSettings(contract=given)
            )
            plain = await run_method(
                "zero-shot", "Add 2 and 3.", catalog, ScriptedPlanner([plan]), MethodSettings()
            )
    assert inferred.contract == stated and planner.calls.count("contract") == 1
    assert told.contract is not None and told.contract.source == "caller" and "contract" not in other.calls
    assert plain.contract is None  # off unless asked for
    assert inferred.to_json()["contract"]["parts"] == STATED["parts"]


def test_run_takes_a_contract_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    script = tmp_path / "script.json"  # test double: one plan, no model
    script.write_text(
        json.dumps({"plans": [{"nodes": [{"id": "n1", "tool": "toy.add", "args": {"a": 2, "b": 3}}]}]})
    )
    servers = tmp_path / "servers.json"
    servers.write_text(json.dumps({"mcpServers": {"toy": {"command": sys.executable, "args": [TOY]}}}))
    good, bad = tmp_path / "contract.json", tmp_path / "bad.json"
    good.write_text(json.dumps(STATED))
    bad.write_text(json.dumps({"parts": "the sum"}))
    common = [
        "run",
        "Add 2 and 3.",
        "--planner",
        f"scripted:{script}",
        "--servers",
        str(servers),
        "--no-store",
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evoflux",
            *common,
            "--method",
            "zero-shot",
            "--contract",
            str(good),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 3), done.stderr
    assert json.loads(done.stdout)["contract"]["source"] == "caller"
    done = subprocess.run(
        [sys.executable, "-m", "evoflux", *common, "--contract", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "is not a task contract" in done.stderr
