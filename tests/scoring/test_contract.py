"""The task contract (`scoring.contract`): its typed form and bounds, the prompt that asks for it, the
`evoflux contract` command (a scripted test-double planner), and the lite model stating one for real."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evoflux.models.embedded import EmbeddedModel
from evoflux.models.registry import MODELS, cache_dir
from evoflux.planner.planner import LMPlanner
from evoflux.planner.prompting import prompt
from evoflux.scoring.contract import CONTRACT_SCHEMA, TaskContract, parse_contract

LITE = cache_dir() / "models" / MODELS["lite"].filename
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
