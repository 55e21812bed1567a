"""A SQLite record of searches: runs, every candidate evaluated, every edit, and training exports."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from evoflux.methods.result import RunResult
from evoflux.scoring.coverage import Coverage
from evoflux.scoring.fitness import Fitness
from evoflux.search.population import Candidate, signature
from evoflux.store.redaction import MIN_SECRET, REDACTED, redact
from evoflux.workflow.diagnostics import Diagnostic, earliest_stage
from evoflux.workflow.graph import Workflow
from evoflux.workflow.writes import SentWrite

__all__ = ["ANSWERED", "MAX_OUTPUTS_BYTES", "REDACTED", "SCHEMA_VERSION", "RunStore", "plan_json", "redact"]

SCHEMA_VERSION = 3
"""2 added `writes`, 3 the run's `status`; an older store is upgraded in place when opened."""
MAX_OUTPUTS_BYTES = 16 * 1024
ANSWERED = ("answered",)
"""What the training exports take by default: runs whose every part was checked."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, method TEXT NOT NULL,
    planner TEXT NOT NULL, seed INTEGER NOT NULL, settings TEXT NOT NULL, prompt TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, feasible INTEGER, status TEXT, result TEXT,
    stopped_because TEXT,
    lm_calls INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER, cached_tokens INTEGER,
    tool_calls INTEGER, wall_s REAL);
CREATE TABLE IF NOT EXISTS candidates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, id TEXT NOT NULL,
    workflow TEXT NOT NULL, fitness TEXT NOT NULL, fitness_value REAL NOT NULL,
    generation INTEGER NOT NULL, origin TEXT NOT NULL, parent TEXT, edits TEXT NOT NULL,
    summary TEXT NOT NULL, diagnostics TEXT NOT NULL, stage TEXT, coverage TEXT,
    feasible INTEGER NOT NULL, tool_calls INTEGER NOT NULL, outputs TEXT,
    outputs_truncated INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, UNIQUE (run_id, id));
CREATE TABLE IF NOT EXISTS edits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, generation INTEGER NOT NULL,
    parent TEXT, child TEXT NOT NULL, operators TEXT NOT NULL, mode TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS writes (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
    node TEXT NOT NULL, tool TEXT NOT NULL, effect TEXT NOT NULL, arguments TEXT NOT NULL,
    status TEXT NOT NULL, reply TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (run_id, seq));
CREATE INDEX IF NOT EXISTS candidates_run ON candidates (run_id, seq);
CREATE INDEX IF NOT EXISTS edits_run ON edits (run_id, id);
CREATE INDEX IF NOT EXISTS runs_task ON runs (task);
"""
_JSON: tuple[str, ...] = ("settings", "prompt", "result", "workflow", "fitness", "edits")
_JSON += ("diagnostics", "coverage", "operators", "arguments")
_USAGE = ("lm_calls", "prompt_tokens", "completion_tokens", "cached_tokens", "tool_calls", "wall_s")


def plan_json(workflow: Workflow) -> str:
    """The compact plan a planner should write: nodes (id, why, tool, args) and the answer step."""
    data = {
        "nodes": [{"id": n.id, "why": n.why, "tool": n.tool, "args": n.args} for n in workflow.nodes],
        "answer": {"uses": list(workflow.answer.uses), "template": workflow.answer.template},
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RunStore:
    """Runs, candidates and edits in one SQLite file; safe to call from several threads."""

    def __init__(self, path: str | os.PathLike[str], *, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.path} has schema version {version}; this evoflux knows {SCHEMA_VERSION}"
                )
            if version < SCHEMA_VERSION:
                upgrade = "ALTER TABLE runs ADD COLUMN status TEXT;" if 0 < version < 3 else ""
                self._conn.executescript(
                    f"BEGIN IMMEDIATE;{_SCHEMA}{upgrade}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
                )
        except BaseException:
            self._conn.close()
            raise

    # -- lifecycle -----------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- redaction -----------------------------------------------------------------------------------

    def _text(self, text: str) -> str:
        return redact(text, self._secrets)

    def _clean(self, value: Any) -> Any:
        """A JSON-like value with every string (keys included) redacted."""
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, Mapping):
            return {self._text(str(k)): self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return value

    def _json(self, value: Any) -> str:
        cleaned = self._clean(json.loads(json.dumps(value, ensure_ascii=False, default=str)))
        return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))

    def _opt(self, text: str | None) -> str | None:
        return None if text is None else self._text(text)

    def _insert(self, table: str, row: dict[str, Any], suffix: str = "") -> int:
        marks = ", ".join("?" * len(row))
        sql = f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks}) {suffix}"
        with self._lock:
            return int(self._conn.execute(sql, tuple(row.values())).lastrowid or 0)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts: JSON columns parsed, flags as bools, `outputs` parsed unless truncated."""
        with self._lock:
            rows = [dict(r) for r in self._conn.execute(sql, params).fetchall()]
        for data in rows:
            for column in (*_JSON, *(("outputs",) if not data.get("outputs_truncated") else ())):
                if data.get(column) is not None:
                    data[column] = json.loads(data[column])
            for column in ("feasible", "outputs_truncated"):
                if data.get(column) is not None:
                    data[column] = bool(data[column])
        return rows

    # -- writing -------------------------------------------------------------------------------------

    def start_run(
        self,
        *,
        task: str,
        method: str,
        planner: str,
        seed: int,
        settings: dict[str, Any],
        prompt: list[dict[str, str]],
    ) -> int:
        """Record a run starting; returns its id."""
        texts = {"task": task, "method": method, "planner": planner}
        row = {k: self._text(v) for k, v in texts.items()} | {"seed": int(seed), "started_at": _now()}
        return self._insert("runs", row | {"settings": self._json(settings), "prompt": self._json(prompt)})

    def add_candidate(
        self,
        run_id: int,
        candidate: Candidate,
        *,
        diagnostics: Sequence[Diagnostic],
        coverage: Coverage | None,
        feasible: bool,
        tool_calls: int,
        outputs: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an evaluated candidate; a candidate id already recorded for the run is ignored."""
        stage = earliest_stage(list(diagnostics))
        text, truncated = None, False
        if outputs is not None:
            text = self._json(dict(outputs))
            raw = text.encode()
            if len(raw) > MAX_OUTPUTS_BYTES:
                text, truncated = raw[:MAX_OUTPUTS_BYTES].decode(errors="ignore"), True
        c = candidate
        row = {"run_id": run_id, "id": self._text(c.id), "generation": c.generation, "created_at": _now()}
        row |= {
            "origin": self._text(c.origin),
            "parent": self._opt(c.parent),
            "summary": self._text(c.summary),
        }
        row |= {"workflow": self._json(c.workflow.model_dump(mode="json")), "edits": self._json(c.edits)}
        row |= {"fitness": self._json(c.fitness.model_dump(mode="json")), "fitness_value": c.fitness.value}
        row |= {"diagnostics": self._json([d.model_dump(mode="json") for d in diagnostics])}
        row |= {"stage": None if stage is None else stage.label, "feasible": int(feasible)}
        row |= {"coverage": None if coverage is None else self._json(coverage.model_dump(mode="json"))}
        row |= {"tool_calls": int(tool_calls), "outputs": text, "outputs_truncated": int(truncated)}
        self._insert("candidates", row, "ON CONFLICT (run_id, id) DO NOTHING")

    def add_edit(
        self,
        run_id: int,
        *,
        generation: int,
        parent: str | None,
        child: str,
        operators: Sequence[str],
        mode: str,
    ) -> None:
        """Record one edit: which operators turned `parent` into `child`, in which mode."""
        row = {"run_id": run_id, "generation": int(generation), "parent": self._opt(parent)}
        row |= {"child": self._text(child), "operators": self._json(list(operators))}
        self._insert("edits", row | {"mode": self._text(mode), "created_at": _now()})

    def finish_run(self, run_id: int, result: RunResult) -> None:
        """Record a run's outcome and cost. Raises KeyError for an unknown run."""
        stopped = (result.search or {}).get("stopped_because")
        row = {
            "finished_at": _now(),
            "feasible": int(result.feasible),
            "status": result.status,
            "result": self._json(result.to_json()),
        }
        row |= {"stopped_because": self._opt(None if stopped is None else str(stopped))}
        row |= {k: getattr(result.usage, k) for k in _USAGE}
        sql = f"UPDATE runs SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?"
        with self._lock:
            if self._conn.execute(sql, (*row.values(), run_id)).rowcount == 0:
                raise KeyError(f"no run {run_id}")

    def record_write(self, run_id: int, entry: SentWrite) -> None:
        """Record a state-changing call as it goes out, and again when it returns (same `seq`)."""
        row = {
            "run_id": run_id,
            "seq": entry.seq,
            "node": self._text(entry.node),
            "tool": self._text(entry.tool),
        }
        row |= {"effect": entry.effect, "arguments": self._json(entry.arguments), "at": entry.at}
        row |= {"status": entry.status, "reply": self._text(entry.result)}
        self._insert(
            "writes",
            row,
            "ON CONFLICT (run_id, seq) DO UPDATE SET status = excluded.status, reply = excluded.reply",
        )

    # -- reading -------------------------------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        """One dict per run (JSON columns parsed, plus `candidates`: how many), oldest first."""
        count = "(SELECT count(*) FROM candidates c WHERE c.run_id = runs.id) AS candidates"
        return self._read(f"SELECT runs.*, {count} FROM runs ORDER BY id")

    def writes(self, run_id: int) -> list[dict[str, Any]]:
        """The state-changing calls the run sent (or was sending when it stopped), in order."""
        return self._read("SELECT * FROM writes WHERE run_id = ? ORDER BY seq", (run_id,))

    def candidates(self, run_id: int) -> list[dict[str, Any]]:
        """The run's candidates in the order recorded; `outputs` stays text when truncated."""
        return self._read("SELECT * FROM candidates WHERE run_id = ? ORDER BY seq", (run_id,))

    def edits(self, run_id: int) -> list[dict[str, Any]]:
        """The run's edits in the order recorded."""
        return self._read("SELECT * FROM edits WHERE run_id = ? ORDER BY id", (run_id,))

    # -- training exports ----------------------------------------------------------------------------

    def _by_task(
        self, statuses: Collection[str] | None
    ) -> list[tuple[dict[str, Any], list[tuple[dict[str, Any], Fitness]]]]:
        """Per task with a feasible candidate (first seen first): the best feasible candidate and its
        run's prompt, and every candidate of the task's runs, feasible then fittest first (ties: recorded
        first). Tasks with no feasible candidate are left out, and runs whose status is not in
        `statuses` (None: every run)."""
        runs = {r["id"]: r for r in self.runs() if statuses is None or r["status"] in statuses}
        rows = self._read(
            "SELECT c.*, r.task AS task FROM candidates c JOIN runs r ON r.id = c.run_id ORDER BY r.id, c.seq"
        )
        tasks: dict[str, list[tuple[dict[str, Any], Fitness]]] = {}
        for data in rows:
            if data["run_id"] in runs:
                tasks.setdefault(data["task"], []).append((data, Fitness.model_validate(data["fitness"])))
        out = []
        for group in tasks.values():
            group.sort(key=lambda pair: (pair[0]["feasible"], pair[1].key()), reverse=True)
            best = group[0][0]
            if best["feasible"]:
                out.append(({"prompt": runs[best["run_id"]]["prompt"], "best": best}, group))
        return out

    def export_sft(self, out: str | os.PathLike[str], *, statuses: Collection[str] | None = ANSWERED) -> int:
        """TRL conversational SFT JSONL: per task, its prompt and the best feasible plan of the runs whose
        status is in `statuses` (default: answered only). Returns lines."""
        lines = []
        for head, _ in self._by_task(statuses):
            plan = plan_json(Workflow.model_validate(head["best"]["workflow"]))
            lines.append({"messages": [*head["prompt"], {"role": "assistant", "content": plan}]})
        return _write_jsonl(out, lines)

    def export_dpo(
        self,
        out: str | os.PathLike[str],
        *,
        max_pairs_per_task: int = 4,
        statuses: Collection[str] | None = ANSWERED,
    ) -> int:
        """TRL conversational preference JSONL (runs filtered as in `export_sft`): per task, the best
        feasible plan against up to `max_pairs_per_task` failing ones, drawn in turn from each failing
        stage (the fittest failure's first), within a stage new designs before literal variants, fittest
        first. Returns lines."""
        lines = []
        for head, group in self._by_task(statuses):
            chosen = plan_json(Workflow.model_validate(head["best"]["workflow"]))
            stages: dict[str, list[tuple[str, str]]] = {}
            seen = {chosen}
            for data, fitness in group:
                workflow = Workflow.model_validate(data["workflow"])
                plan = plan_json(workflow)
                if data["feasible"] or plan in seen:
                    continue
                seen.add(plan)
                stage = data["stage"] or fitness.stage_label
                stages.setdefault(stage, []).append((signature(workflow), plan))
            queues = [_designs_first(items) for items in stages.values()]
            rejected: list[str] = []
            while queues and len(rejected) < max_pairs_per_task:
                rejected += [q.pop(0) for q in queues][: max_pairs_per_task - len(rejected)]
                queues = [q for q in queues if q]
            for plan in rejected:
                lines.append(
                    {
                        "prompt": head["prompt"],
                        "chosen": [{"role": "assistant", "content": chosen}],
                        "rejected": [{"role": "assistant", "content": plan}],
                    }
                )
        return _write_jsonl(out, lines)


def _designs_first(items: list[tuple[str, str]]) -> list[str]:
    """Plans, the first of each structural signature before the rest (order otherwise kept)."""
    seen: set[str] = set()
    firsts: list[str] = []
    rest: list[str] = []
    for sig, plan in items:
        (rest if sig in seen else firsts).append(plan)
        seen.add(sig)
    return firsts + rest


def _write_jsonl(out: str | os.PathLike[str], lines: list[dict[str, Any]]) -> int:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(lines)
