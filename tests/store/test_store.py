"""The run store: schema, round trips, duplicates, training exports, redaction, crash safety, threads."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from evoflux.methods.result import RunResult, RunUsage
from evoflux.scoring.coverage import Coverage
from evoflux.scoring.fitness import ANSWERED, Fitness
from evoflux.search.population import Candidate
from evoflux.store.redaction import REDACTED, redact
from evoflux.store.runs import MAX_OUTPUTS_BYTES, SCHEMA_VERSION, RunStore, plan_json
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.graph import Answer, Node, Workflow

SRC = Path(__file__).resolve().parents[2] / "src"
PROMPT = [{"role": "system", "content": "You plan workflows."}, {"role": "user", "content": "Task?"}]
SECRET = "hunter2-very-secret"
SK_KEY = "sk-proj-abcdefghijklmnop0123456789"


def _workflow(*tools: str, literal: str = "x") -> Workflow:
    nodes = [Node(id="n1", tool=tools[0], args={"q": literal}, why="a note")]
    nodes += [
        Node(id=f"n{i + 1}", tool=tool, args={"input": {"$ref": f"n{i}.out"}})
        for i, tool in enumerate(tools[1:], start=1)
    ]
    return Workflow(nodes=nodes, answer=Answer(uses=[f"n{len(tools)}"], template="It is {{n1.out}}."))


def _candidate(workflow: Workflow, reached: int = ANSWERED, coverage: float = 1.0, **kw: Any) -> Candidate:
    executed = 1.0 if reached == ANSWERED else 0.0
    fitness = Fitness(reached=reached, executed=executed, coverage=coverage, size=len(workflow.nodes))
    return Candidate.new(workflow, fitness, **kw)


def _failure(stage: Stage, message: str = "broken") -> list[Diagnostic]:
    return [Diagnostic(stage=stage, node="n1", message=message, hint="fix it")]


def _add(store: RunStore, run: int, candidate: Candidate, stage: Stage | None = None, **kw: Any) -> None:
    store.add_candidate(
        run,
        candidate,
        diagnostics=[] if stage is None else _failure(stage),
        coverage=None,
        feasible=stage is None,
        tool_calls=len(candidate.workflow.nodes),
        **kw,
    )


def _start(store: RunStore, task: str = "What is the weather?", **kw: Any) -> int:
    prompt = kw.pop("prompt", PROMPT)
    return store.start_run(task=task, method="evolve", planner="tiny", seed=0, settings={}, prompt=prompt)


def _finish(store: RunStore, run: int, status: str = "answered") -> None:
    result = RunResult(method="evolve", task="t", feasible=status != "failed", status=status)  # type: ignore[arg-type]
    store.finish_run(run, result)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- schema ------------------------------------------------------------------------------------------


def test_schema_is_created_with_pragmas_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "runs.db"
    with RunStore(path) as store:
        run = _start(store)
    assert path.exists()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"runs", "candidates", "edits"} <= tables
    finally:
        db.close()
    with RunStore(path) as again:
        assert [r["id"] for r in again.runs()] == [run]
        assert _start(again) == run + 1


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    RunStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="schema version"):
        RunStore(path)


# -- round trip --------------------------------------------------------------------------------------


def test_start_add_finish_round_trip(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        run = store.start_run(
            task="Weather in Paris?",
            method="evolve",
            planner="qwen",
            seed=7,
            settings={"budget": 3},
            prompt=PROMPT,
        )
        seed = _candidate(_workflow("w.search"), reached=int(Stage.SCHEMA))
        child = _candidate(
            _workflow("w.search", "w.fetch"),
            generation=1,
            origin="exploit",
            parent=seed.id,
            edits=["add_step"],
        )
        store.add_candidate(
            run, seed, diagnostics=_failure(Stage.SCHEMA), coverage=None, feasible=False, tool_calls=0
        )
        store.add_candidate(
            run,
            child,
            diagnostics=[],
            coverage=Coverage(score=0.5, missing=["humidity"]),
            feasible=True,
            tool_calls=2,
            outputs={"n1": {"out": "sunny"}, "n2": [1, 2]},
        )
        store.add_edit(
            run, generation=1, parent=seed.id, child=child.id, operators=["add_step"], mode="exploit"
        )
        result = RunResult(
            method="evolve",
            task="Weather in Paris?",
            feasible=True,
            answer="sunny",
            usage=RunUsage(
                lm_calls=3, prompt_tokens=100, completion_tokens=20, cached_tokens=5, tool_calls=2, wall_s=1.5
            ),
            search={"stopped_because": "converged", "generations": 1},
        )
        store.finish_run(run, result)

        [row] = store.runs()
        assert row["task"] == "Weather in Paris?" and row["seed"] == 7 and row["settings"] == {"budget": 3}
        assert row["prompt"] == PROMPT and row["feasible"] is True and row["candidates"] == 2
        assert row["stopped_because"] == "converged" and row["finished_at"]
        assert (row["lm_calls"], row["prompt_tokens"], row["completion_tokens"]) == (3, 100, 20)
        assert (row["cached_tokens"], row["tool_calls"], row["wall_s"]) == (5, 2, 1.5)
        assert row["result"] == result.to_json()

        first, second = store.candidates(run)
        assert first["id"] == seed.id and first["feasible"] is False and first["stage"] == "schema"
        assert first["diagnostics"][0]["stage"] == "schema" and first["outputs"] is None
        assert Workflow.model_validate(second["workflow"]).digest() == child.id
        assert second["fitness_value"] == child.fitness.value
        assert Fitness.model_validate(second["fitness"]) == child.fitness
        assert (second["generation"], second["origin"], second["parent"]) == (1, "exploit", seed.id)
        assert second["edits"] == ["add_step"] and second["coverage"] == {
            "score": 0.5,
            "missing": ["humidity"],
            "checklist": [],
            "dimensions": None,
        }
        assert second["outputs"] == {"n1": {"out": "sunny"}, "n2": [1, 2]} and second["tool_calls"] == 2
        assert second["stage"] is None and second["outputs_truncated"] is False

        [edit] = store.edits(run)
        assert (edit["parent"], edit["child"], edit["operators"], edit["mode"]) == (
            seed.id,
            child.id,
            ["add_step"],
            "exploit",
        )


def test_a_duplicate_candidate_is_ignored(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        run, other = _start(store), _start(store)
        workflow = _workflow("w.search")
        _add(store, run, _candidate(workflow, coverage=0.2))
        _add(store, run, _candidate(workflow, coverage=0.9, generation=3))
        _add(store, other, _candidate(workflow, coverage=0.9))
        [only] = store.candidates(run)
        assert only["fitness"]["coverage"] == 0.2 and only["generation"] == 0
        assert len(store.candidates(other)) == 1


def test_unknown_runs_are_errors(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        with pytest.raises(KeyError):
            store.finish_run(42, RunResult(method="m", task="t", feasible=False))
        with pytest.raises(sqlite3.IntegrityError):
            _add(store, 42, _candidate(_workflow("w.search")))


def test_large_outputs_are_truncated(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        run = _start(store)
        _add(store, run, _candidate(_workflow("w.search")), outputs={"n1": "é" * (MAX_OUTPUTS_BYTES)})
        [row] = store.candidates(run)
        assert row["outputs_truncated"] is True and isinstance(row["outputs"], str)
        assert len(row["outputs"].encode()) <= MAX_OUTPUTS_BYTES
        assert row["outputs"].startswith('{"n1":"éé')


# -- exports -----------------------------------------------------------------------------------------


def test_sft_export_takes_the_best_feasible_plan_per_task(tmp_path: Path) -> None:
    other_prompt = [{"role": "system", "content": "Plan."}, {"role": "user", "content": "Weather, please."}]
    best = _workflow("w.search", "w.fetch", literal="Paris")
    with RunStore(tmp_path / "runs.db") as store:
        first = _start(store, "weather")
        _add(store, first, _candidate(_workflow("w.search"), coverage=0.4))
        _add(store, first, _candidate(_workflow("w.fetch"), reached=int(Stage.EXECUTE)), Stage.EXECUTE)
        second = _start(store, "weather", prompt=other_prompt)
        _add(store, second, _candidate(best, coverage=0.9))
        _add(store, second, _candidate(_workflow("w.other"), coverage=1.0), Stage.ANSWER)  # not feasible
        hopeless = _start(store, "no feasible plan")
        _add(store, hopeless, _candidate(_workflow("w.search"), reached=int(Stage.RESOLVE)), Stage.RESOLVE)
        for run in (first, second, hopeless):
            _finish(store, run)
        assert store.export_sft(tmp_path / "out" / "sft.jsonl") == 1

    [line] = _lines(tmp_path / "out" / "sft.jsonl")
    assert list(line) == ["messages"]
    assert line["messages"][:-1] == other_prompt
    answer = line["messages"][-1]
    assert answer["role"] == "assistant" and answer["content"] == plan_json(best)
    plan = json.loads(answer["content"])
    assert list(plan) == ["nodes", "answer"]
    assert plan["nodes"][0] == {"id": "n1", "why": "a note", "tool": "w.search", "args": {"q": "Paris"}}
    assert plan["answer"] == {"uses": ["n2"], "template": "It is {{n1.out}}."}
    assert ", " not in answer["content"]


def test_dpo_export_pairs_the_best_plan_with_diverse_failures(tmp_path: Path) -> None:
    best = _workflow("w.search", "w.fetch")
    failing = [
        (_workflow("w.a"), Stage.SCHEMA),
        (_workflow("w.a", literal="y"), Stage.SCHEMA),  # same design as the one above, other literal
        (_workflow("w.b"), Stage.SCHEMA),
        (_workflow("w.c"), Stage.RESOLVE),
        (_workflow("w.d"), Stage.EXECUTE),
    ]
    with RunStore(tmp_path / "runs.db") as store:
        run = _start(store, "weather")
        _add(store, run, _candidate(_workflow("w.search"), coverage=0.3))
        _add(store, run, _candidate(best))
        for workflow, stage in failing:
            _add(store, run, _candidate(workflow, reached=int(stage)), stage)
        _add(store, _start(store, "no feasible plan"), _candidate(_workflow("w.z"), reached=0), Stage.PARSE)
        _finish(store, run)
        assert store.export_dpo(tmp_path / "dpo.jsonl", max_pairs_per_task=3) == 3
        assert store.export_dpo(tmp_path / "all.jsonl") == 4
        assert store.export_dpo(tmp_path / "again.jsonl") == 4

    lines = _lines(tmp_path / "dpo.jsonl")
    for line in lines:
        assert list(line) == ["prompt", "chosen", "rejected"] and line["prompt"] == PROMPT
        assert line["chosen"] == [{"role": "assistant", "content": plan_json(best)}]
        [rejected] = line["rejected"]
        assert rejected["role"] == "assistant" and json.loads(rejected["content"])["nodes"]
    tools = [json.loads(line["rejected"][0]["content"])["nodes"][0]["tool"] for line in lines]
    assert tools == ["w.d", "w.a", "w.c"]  # one per stage, the fittest stage first
    all_tools = [
        json.loads(line["rejected"][0]["content"])["nodes"][0]["tool"]
        for line in _lines(tmp_path / "all.jsonl")
    ]
    assert all_tools == ["w.d", "w.a", "w.c", "w.b"]  # a new design before a literal variant
    assert (tmp_path / "all.jsonl").read_bytes() == (tmp_path / "again.jsonl").read_bytes()


def test_exports_skip_runs_that_did_not_answer_unless_asked(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        for task, status in [("a", "answered"), ("b", "partial"), ("c", "failed"), ("d", None)]:
            run = _start(store, task)
            _add(store, run, _candidate(_workflow("w.search"), coverage=0.5))
            if status is not None:  # "d" never finished
                _finish(store, run, status)
        assert store.export_sft(tmp_path / "sft.jsonl") == 1
        assert store.export_sft(tmp_path / "two.jsonl", statuses=["answered", "partial"]) == 2
        assert store.export_sft(tmp_path / "all.jsonl", statuses=None) == 4
        assert [r["status"] for r in store.runs()] == ["answered", "partial", "failed", None]


def test_a_version_2_store_gains_the_status_column_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, result TEXT);"
        "INSERT INTO runs (task) VALUES ('kept'); PRAGMA user_version=2;"
    )
    old.close()
    with RunStore(path) as store:
        assert [(r["task"], r["status"]) for r in store.runs()] == [("kept", None)]


# -- redaction ---------------------------------------------------------------------------------------


def test_redact_replaces_secrets_and_key_patterns() -> None:
    assert redact(f"a {SECRET} b {SECRET}", [SECRET, "short"]) == f"a {REDACTED} b {REDACTED}"
    assert redact("short stays", ["short"]) == "short stays"
    assert redact(f"key={SK_KEY}.") == f"key={REDACTED}."
    assert redact("Authorization: Bearer abc.DEF-123_x==") == f"Authorization: Bearer {REDACTED}"
    assert redact("token ghp_" + "A1" * 18) == f"token {REDACTED}"
    assert redact("task-abcdefghijklmnopqrstu and sk-learn") == "task-abcdefghijklmnopqrstu and sk-learn"


def test_the_store_redacts_everything_it_writes(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with RunStore(path, secrets=[SECRET, "abc"]) as store:
        prompt = [{"role": "user", "content": f"use key {SECRET}"}]
        run = store.start_run(
            task=f"task with {SECRET}",
            method="evolve",
            planner="p",
            seed=0,
            settings={"api_key": SK_KEY},
            prompt=prompt,
        )
        workflow = _workflow("w.search", literal=SECRET)
        store.add_candidate(
            run,
            _candidate(workflow),
            diagnostics=[Diagnostic(stage=Stage.EXECUTE, message=f"401 for {SK_KEY}")],
            coverage=None,
            feasible=True,
            tool_calls=1,
            outputs={"n1": f"header Bearer {SECRET}", SK_KEY: 1},
        )
        store.finish_run(
            run,
            RunResult(
                method="evolve", task="t", feasible=True, status="answered", answer=f"{SECRET} {SK_KEY}"
            ),
        )
        [cand] = store.candidates(run)
        assert cand["diagnostics"][0]["message"] == f"401 for {REDACTED}"
        assert cand["outputs"] == {"n1": f"header Bearer {REDACTED}", REDACTED: 1}
        assert cand["workflow"]["nodes"][0]["args"] == {"q": REDACTED}
        assert store.runs()[0]["task"] == f"task with {REDACTED}"
        store.export_sft(tmp_path / "sft.jsonl")
    db = sqlite3.connect(path)
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    exported = (tmp_path / "sft.jsonl").read_text(encoding="utf-8")
    for text in (dump, exported):
        assert SECRET not in text and SK_KEY not in text and REDACTED in text


# -- crash safety and threads ------------------------------------------------------------------------


def test_rows_committed_before_a_kill_survive(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    script = textwrap.dedent(
        f"""
        import os, signal
        from evoflux.scoring.fitness import Fitness
        from evoflux.workflow.graph import Node, Workflow
        from evoflux.search.population import Candidate
        from evoflux.store.runs import RunStore
        store = RunStore({str(path)!r})
        run = store.start_run(task="t", method="m", planner="p", seed=1, settings={{}}, prompt=[])
        for i in range(5):
            workflow = Workflow(nodes=[Node(id="n1", tool="w.search", args={{"i": i}})])
            store.add_candidate(run, Candidate.new(workflow, Fitness(reached=6, executed=1.0)),
                                diagnostics=[], coverage=None, feasible=True, tool_calls=1)
        store.add_edit(run, generation=1, parent=None, child="c", operators=["x"], mode="explore")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    with RunStore(path) as store:
        [run] = store.runs()
        assert run["finished_at"] is None
        assert [c["workflow"]["nodes"][0]["args"]["i"] for c in store.candidates(run["id"])] == list(range(5))
        assert len(store.edits(run["id"])) == 1
        store.finish_run(run["id"], RunResult(method="m", task="t", feasible=True))
        assert store.runs()[0]["feasible"] is True


def test_writes_from_many_threads(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        run = _start(store)

        def work(worker: int) -> None:
            for i in range(25):
                _add(store, run, _candidate(_workflow("w.search", literal=f"{worker}-{i}")))
                store.add_edit(
                    run, generation=i, parent=None, child=f"{worker}-{i}", operators=[], mode="explore"
                )

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert len(store.candidates(run)) == 200 and len(store.edits(run)) == 200


def test_a_version_1_store_gains_the_writes_table_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL); PRAGMA user_version=1;"
    )
    old.close()
    with RunStore(path) as store:
        assert store.writes(1) == []
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
