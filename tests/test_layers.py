"""The house rules of the package layout: imports point down the layers, and no module imports itself
through others. Imports under `if TYPE_CHECKING:` are for the type checker only and are not counted."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "evoflux"

LAYERS = [
    "cli",
    "bench",
    "store",
    "methods",
    "search",
    "planner",
    "edits",
    "scoring",
    "workflow",
    "servers",
    "models",
    "protocols",
    "errors",
]
"""Top to bottom: a module may import from its own layer and the layers below it, never above."""


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(path: Path) -> set[str]:
    """The evoflux modules a file imports when it runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(inner) for inner in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "evoflux":
            found.add(node.module)
            found |= {
                f"{node.module}.{a.name}"
                for a in node.names
                if (SRC.parent / node.module.replace(".", "/") / f"{a.name}.py").exists()
            }
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "evoflux"}
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(p): _runtime_imports(p) for p in sorted(SRC.rglob("*.py"))}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py")} - {"__init__", "__main__"}
    assert packages | modules == set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_down(layer: str) -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _layer(module) == LAYERS.index(layer)
        for target in sorted(targets)
        if (to := _layer(target)) is not None and to < LAYERS.index(layer)
    ]
    assert upward == [], f"imports that point up from {layer}: {upward}"


def test_protocols_import_nothing_at_run_time() -> None:
    assert _runtime_imports(SRC / "protocols.py") == set()


def test_nothing_imports_the_cli() -> None:
    importers = [
        m
        for m, targets in _graph().items()
        if not m.startswith("evoflux.cli") and any(t.startswith("evoflux.cli") for t in targets)
    ]
    assert importers == ["evoflux.__main__"]


def test_no_import_circles() -> None:
    graph = {
        m: {t for t in targets if t != m and not m.startswith(t + ".")} for m, targets in _graph().items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as e:  # pragma: no cover - the message is the point
        pytest.fail(f"import circle: {' -> '.join(e.args[1])}")


def test_modules_are_short() -> None:
    long = {_module(p): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert long == {}
