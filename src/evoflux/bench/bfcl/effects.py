"""Which BFCL functions change their backend's state, found by running BFCL's own ground-truth calls:
a function is a read when no call of it, in any entry of the four multi-turn categories, changed any
attribute of its backend (private ones included: `cd` changes what later calls see). A function the
ground truth never calls is not classed (the MCP default then says it may write).

    python -m evoflux.bench.bfcl.effects   # rewrites effects.json beside this file
"""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

from evoflux.bench.bfcl.data import CATEGORIES, CLASSES, function_docs, load_entries, parse_call

__all__ = ["EFFECTS_FILE", "backend", "derive_effects", "load_effects"]

EFFECTS_FILE = Path(__file__).with_name("effects.json")
_MODULE = "bfcl_eval.eval_checker.multi_turn_eval.func_source_code"


def backend(class_name: str, scenario: dict[str, Any], long_context: bool = False) -> Any:
    """A fresh instance of a BFCL backend class, loaded with its scenario as BFCL's checker loads it."""
    module = importlib.import_module(f"{_MODULE}.{CLASSES[class_name]}")
    instance = getattr(module, class_name)()
    if hasattr(instance, "_load_scenario"):
        instance._load_scenario(copy.deepcopy(scenario), long_context=long_context)
    return instance


def _snapshot(instance: Any) -> dict[str, Any]:
    """The attributes of an instance that can be compared (a copy equals another copy)."""
    first, second = copy.deepcopy(vars(instance)), copy.deepcopy(vars(instance))
    return {key: value for key, value in first.items() if value == second.get(key)}


def derive_effects() -> dict[str, str]:
    """function name -> "read" or "write", over every ground-truth call of the multi-turn categories."""
    effects: dict[str, str] = {}
    for category in CATEGORIES:
        for entry in load_entries(category):
            long_context = "long_context" in category
            instances = {
                name: backend(name, entry.initial_config.get(name, {}), long_context)
                for name in entry.involved_classes
            }
            owner = {doc["name"]: name for name in entry.involved_classes for doc in function_docs(name)}
            docs = {doc["name"]: doc for name in entry.involved_classes for doc in function_docs(name)}
            for call in (c for turn in entry.ground_truth for c in turn):
                tool, arguments = parse_call(call, docs)
                instance = instances[owner[tool]]
                before = _snapshot(instance)
                try:
                    getattr(instance, tool)(**arguments)
                except Exception:  # a failing call changes nothing it can be blamed for
                    continue
                after = _snapshot(instance)
                changed = any(after.get(key) != value for key, value in before.items())
                effects[tool] = "write" if changed or effects.get(tool) == "write" else "read"
    return dict(sorted(effects.items()))


def load_effects() -> dict[str, str]:
    """The classes recorded in effects.json (function name -> "read" or "write")."""
    data: dict[str, str] = json.loads(EFFECTS_FILE.read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    EFFECTS_FILE.write_text(json.dumps(derive_effects(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {EFFECTS_FILE}")
