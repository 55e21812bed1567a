"""Task suites: Evoflux's own JSONL format, one task per line (and MCP-Bench's runner-format `.json`, read
by `mcpbench.py`)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

from pydantic import ValidationError

from evoflux.bench.bfcl.row import BFCL_PREFIX, bfcl_tasks
from evoflux.bench.mcpbench import is_runner_format, parse_mcpbench
from evoflux.bench.tasks import BenchTask, SuiteError

__all__ = ["load_tasks", "pick_tasks"]


def load_tasks(paths: Iterable[str | Path]) -> list[BenchTask]:
    """Every task of the given files, in order; ids must be unique across them. A `.json` file is read as
    MCP-Bench's runner format (see `mcpbench.py`), `bfcl:CATEGORY` as BFCL's multi-turn entries
    (`bfcl/row.py`), any other as Evoflux's JSONL."""
    tasks: list[BenchTask] = []
    seen: set[str] = set()
    for name in map(str, paths):
        path = Path(name)
        if name.startswith(BFCL_PREFIX):
            found: Iterable[tuple[str, BenchTask]] = ((f"{name} ({t.id})", t) for t in bfcl_tasks(name))
        elif not path.is_file():
            raise SuiteError(f"task file {path} not found")
        else:
            found = _mcpbench(path) if path.suffix.lower() == ".json" else _jsonl(path)
        for where, task in found:
            if task.id in seen:
                raise SuiteError(f"{where}: task id {task.id!r} appears twice")
            seen.add(task.id)
            tasks.append(task)
    return tasks


def _jsonl(path: Path) -> Iterator[tuple[str, BenchTask]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            task = BenchTask.model_validate(json.loads(line))
        except (ValueError, ValidationError) as e:
            raise SuiteError(f"{path}:{number}: not a task ({str(e).splitlines()[0]})") from e
        yield f"{path}:{number}", task


def _mcpbench(path: Path) -> Iterator[tuple[str, BenchTask]]:

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise SuiteError(f"{path}: not JSON ({e})") from e
    if not is_runner_format(data):
        raise SuiteError(
            f"{path}: a .json task file must be in MCP-Bench's runner format (a 'server_tasks' list); "
            "write Evoflux's own tasks one per line in a .jsonl file"
        )
    for task in parse_mcpbench(data, str(path)):
        yield f"{path} ({task.id})", task


def pick_tasks(tasks: list[BenchTask], *, only: str = "", sample: int = 0, seed: int = 0) -> list[BenchTask]:
    """The tasks a run covers: those named in `only` (comma-separated ids), then a seeded sample of
    `sample` of them (0: all), in suite order, so the same seed always picks the same subset."""
    if only:
        wanted = [i.strip() for i in only.split(",") if i.strip()]
        unknown = sorted(set(wanted) - {t.id for t in tasks})
        if unknown:
            raise SuiteError(f"no task with id {', '.join(unknown)} in the suite")
        tasks = [t for t in tasks if t.id in wanted]
    if 0 < sample < len(tasks):
        chosen = set(random.Random(seed).sample(range(len(tasks)), sample))
        tasks = [t for i, t in enumerate(tasks) if i in chosen]
    return tasks
