"""Pure parts of the stepwise seed and the typed step schema: the tools offered for a step, and what the
schema a step is decoded under admits. (The seed over a real server is in `test_search.py`; a real model
decoding under the typed schema in `test_lm_embedded.py`.)"""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator, ValidationError

from evoflux.planner.prompting import step_schema
from evoflux.search.seeding import named_values, step_tools
from helpers import AREA, CALC, LENGTH, converter

SPEED = converter("speed", ["feet per second", "meters per second"])
CATALOG = {t.name: t for t in (AREA, SPEED, LENGTH, CALC)}


def test_a_step_ranks_first_the_tool_whose_units_it_names() -> None:
    assert named_values("Convert 12 feet to meters", LENGTH) == 2  # foot (as feet) and meter
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


def test_a_tool_line_lists_repeated_values_once_and_cuts_a_very_long_enum_named_values_first() -> None:
    from evoflux.edits.model_guided import SHOWN_VALUES, signature

    assert "from_unit: foot|meter|inch, to_unit: same as from_unit" in signature(LENGTH)
    units = [f"unit{i:02d}" for i in range(60)] + ["foot", "meter", "yard"]
    line = signature(converter("length", units), "Convert 12 foot to meters")
    shown = line.split("from_unit: ")[1].split(", to_unit")[0].split("|")
    assert shown[:2] == ["foot", "meter"] and "yard" not in shown
    assert len(shown) == SHOWN_VALUES + 1 and shown[-1] == f"... {63 - SHOWN_VALUES} more"
    assert "unit00|unit01" in signature(converter("length", units))  # nothing named: the first values
