"""Soak (not a test): a long fault-injected search, then what it left behind. Prints one JSON object.

    .venv/bin/python scripts/soak.py [--seconds 120] [--calls 2000] [--seed 0] [--fault-rate 0.25]

It loops `evolve` rounds (each with its own catalog, planner script and run-store record) against
tests/fixtures/faulty.py in `--chaos` mode, which injects a random fault into a share of its calls (crash,
hang past the call timeout, garbage on stdout, huge output, `isError`, an error payload, slow answers,
an orphaned child process), until `--seconds` or `--calls` is reached. `ScriptedPlanner` stands in for the
model: seed plans with broken steps (so edits happen), node rewrites and appended steps with fresh
arguments (so calls keep being sent), and a judge that never calls the task solved.

The server gets a secret in its configured `env` and quotes it in some error texts. Everything the run
produces is scanned for it: the RunResult JSON (redacted as `evoflux run --json` prints it), the log
output (captured by a handler, after `install_log_redaction`), and the run store (written with the
config's secrets), as a file and row by row. Fragments of the secret (its first and last 16
characters) count too: a text cut inside a secret before redaction would leak part of it.

Figures: calls made (and how they failed), faults injected by kind (the server's fault log), faults
survived (failed calls that came back as an `execute` diagnostic on their node, in a round that ran to
its end), processes left behind after each catalog closed (live processes carrying the catalog's
EVOFLUX_CATALOG_ID, and live descendants of this process), and peak memory (this process, and the
sampled RSS of its descendants). Exit status 1 when a process was left behind, a secret (or a fragment)
was found, or a round raised; else 0.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import secrets as secrets_module
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import anyio

from evoflux.methods.result import RunResult, RunUsage, workflow_json
from evoflux.planner.scripted import ScriptedPlanner
from evoflux.scoring.fitness import Coverage
from evoflux.search.budget import Budget
from evoflux.search.loop import SearchSettings, evolve
from evoflux.search.population import Evaluated
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import ServersConfig, parse_servers
from evoflux.servers.stdio import marked_processes
from evoflux.servers.tools import ToolResult, ToolSpec, tool_failure
from evoflux.store.recording import RecordingObserver, config_secrets
from evoflux.store.redaction import REDACTED, install_log_redaction, redact
from evoflux.store.runs import RunStore
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.evaluate import evaluate
from evoflux.workflow.execute import ExecutionSettings
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Trace

ROOT = Path(__file__).resolve().parent.parent
FAULTY = ROOT / "tests" / "fixtures" / "faulty.py"
TASK = "Echo every soak tag through the faulty server and report what came back."
EXPOSED = ("f.echo", "f.sleepy", "f.target", "f.pid")  # the tools the search may use
ROUND_CALLS = 150  # tool calls per round at most
ROUND_SECONDS = 60.0  # wall-clock seconds per round at most
MIB = 1024 * 1024


# -- processes and memory ------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def descendants(root: int) -> list[int]:
    """Live (not zombie) descendants of process `root`."""
    children: dict[int, list[int]] = {}
    states: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                states[int(entry.name)] = stat[0]
                children.setdefault(stat[1], []).append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if states.get(pid) != "Z":
            found.append(pid)
        todo += children.get(pid, [])
    return found


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemorySampler:
    """Peak RSS of this process's descendants, sampled every half second (a shorter peak can be missed);
    this process's own peak from the kernel (VmHWM)."""

    def __init__(self) -> None:
        self.children_total_kib = 0
        self.largest_child_kib = 0

    def sample(self) -> None:
        sizes = [rss_kib(pid) for pid in descendants(os.getpid())]
        self.children_total_kib = max(self.children_total_kib, sum(sizes))
        self.largest_child_kib = max([self.largest_child_kib, *sizes])

    async def run(self, every: float = 0.5) -> None:
        while True:
            self.sample()
            await anyio.sleep(every)

    def report(self) -> dict[str, float]:
        # not RUSAGE_CHILDREN: a child's maxrss counts the copy of this process it was before its exec
        return {
            "self": round(rss_kib(os.getpid(), "VmHWM") / 1024, 1),
            "children_total": round(self.children_total_kib / 1024, 1),
            "largest_child": round(self.largest_child_kib / 1024, 1),
        }


# -- the caller and the observer --------------------------------------------------------------------------


class CountingCaller:
    """The catalog, restricted to `EXPOSED`, counting every call and keeping failed results to match."""

    def __init__(self, secret: str) -> None:
        self.catalog: Any = None
        self.secret = secret
        self.calls = 0
        self.ok = 0
        self.failed: dict[int, ToolResult] = {}  # id(result) -> result, until matched to a diagnostic
        self.failed_by_kind: Counter[str] = Counter()
        self.slowest = 0.0
        self.raw_exposures = 0  # results that quoted the secret before any redaction

    @property
    def tools(self) -> Mapping[str, ToolSpec]:
        return {k: v for k, v in self.catalog.tools.items() if k in EXPOSED}

    async def call_tool(self, name: str, arguments: dict[str, Any], *, timeout: float) -> ToolResult:
        result: ToolResult = await self.catalog.call_tool(name, arguments, timeout=timeout)
        self.calls += 1
        self.slowest = max(self.slowest, result.elapsed_s)
        self.raw_exposures += self.secret in result.text
        if tool_failure(result) is None:
            self.ok += 1
        else:
            self.failed[id(result)] = result
            self.failed_by_kind[result.error_kind or "tool_payload"] += 1
        return result


class Tally:
    """Matches failed calls to the execute diagnostics of the traces they ended in."""

    def __init__(self, caller: CountingCaller) -> None:
        self.caller = caller
        self.diagnosed: list[ToolResult] = []
        self.candidates = 0

    def note(self, trace: Trace) -> None:
        blamed = {d.node for d in trace.diagnostics if d.stage == Stage.EXECUTE}
        for run in trace.runs.values():
            result = run.result
            if result is not None and run.node in blamed and id(result) in self.caller.failed:
                self.diagnosed.append(self.caller.failed.pop(id(result)))

    # the Observer protocol (RecordingObserver passes everything on to it)
    def planned(self, workflow: Workflow | None, diagnostics: list[Diagnostic]) -> None:
        return None

    def event(self, event: Any) -> None:
        return None

    def generation(self, summary: dict[str, Any]) -> None:
        return None

    def candidate(self, mode: str, item: Evaluated, parent: str) -> None:
        self.candidates += 1
        self.note(item.trace)


# -- the scripted "model" ---------------------------------------------------------------------------------


def _plan(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"nodes": list(nodes), "answer": {"uses": [nodes[-1]["id"]], "template": ""}}


def _echo(node: str, text: Any) -> dict[str, Any]:
    return {"id": node, "tool": "f.echo", "args": {"text": text}}


def planner_for(round_no: int) -> ScriptedPlanner:
    """Plans with broken steps (edits follow), wide plans (calls at once), rewrites with fresh arguments."""
    tag = f"r{round_no}"
    broken = _plan(
        {"id": "n1", "tool": "f.ecoh", "args": {"text": f"{tag}-gamma"}},  # no such tool
        {"id": "n2", "tool": "f.sleepy", "args": {"seconds": "soon", "tag": f"{tag}-delta"}},  # a type
        _echo("n3", {"$ref": "n7.text"}),  # no such node
    )
    good = _plan(
        _echo("n1", f"{tag}-alpha"),
        {"id": "n2", "tool": "f.sleepy", "args": {"seconds": 0.05, "tag": f"{tag}-beta"}},
        _echo("n3", "{{n1}} + {{n2}}"),
    )
    wide = _plan(*[_echo(f"n{i}", f"{tag}-wide{i}") for i in range(1, 6)], _echo("n6", "{{n1}} {{n5}}"))
    counter = iter(range(1_000_000))

    def rewrite(context: str) -> dict[str, Any] | None:
        k = next(counter)
        if k % 7 == 3:
            return None  # no usable reply
        if k % 7 == 5:
            return {"tool": "f.echoes", "args": {"text": k}}  # a bad reply: unknown tool, wrong type
        if k % 3 == 0:
            return {"tool": "f.sleepy", "args": {"seconds": 0.02, "tag": f"{tag}-s{k}"}}
        return {"tool": "f.echo", "args": {"text": f"{tag}-rewrite{k}"}}

    def judge(task: str, evidence: str, answer: str) -> Coverage:
        covered = min(0.9, 0.3 + 0.05 * evidence.count(tag))
        return Coverage(score=covered, missing=[f"the soak tag {tag}-{len(evidence) % 5}"])

    return ScriptedPlanner([broken, good], redesigns=[wide, good], rewrite=rewrite, judge_fn=judge)


# -- one round --------------------------------------------------------------------------------------------


def faulty_config(seed: int, rate: float, log: Path, secret: str) -> ServersConfig:
    args = [str(FAULTY), "--chaos", str(seed), "--fault-rate", str(rate), "--fault-log", str(log)]
    entry = {"command": sys.executable, "args": args, "env": {"FAULTY_SECRET": secret}}
    return parse_servers({"mcpServers": {"f": entry}}, environ={})


class Soak:
    def __init__(self, opts: argparse.Namespace, workdir: Path) -> None:
        self.opts = opts
        self.secret = f"FaultySecret{secrets_module.token_hex(16)}"
        self.fault_log = workdir / "faults.log"
        self.config = faulty_config(opts.seed, opts.fault_rate, self.fault_log, self.secret)
        self.secrets = config_secrets(self.config)
        self.store = RunStore(workdir / "runs.sqlite", secrets=self.secrets)
        self.store_path = workdir / "runs.sqlite"
        self.results: list[str] = []  # each round's RunResult JSON, as `evoflux run --json` prints it
        self.raw_result_exposures = 0
        self.calls = self.ok = self.survived = self.undiagnosed = self.candidates = 0
        self.failed_by_kind: Counter[str] = Counter()
        self.stopped: Counter[str] = Counter()
        self.slowest = 0.0
        self.raw_exposures = 0
        self.restarts = 0
        self.catalog_ids: list[str] = []
        self.left_behind: list[dict[str, Any]] = []
        self.round_errors: list[str] = []
        self.rounds = 0
        self.elapsed = 0.0

    async def round(self, round_no: int, seconds_left: float, calls_left: int) -> None:
        opts = self.opts
        execution = ExecutionSettings(call_timeout_s=opts.call_timeout, deadline_s=20.0, max_parallel=8)
        budget = Budget(
            generations=1000,
            population=6,
            seeds=2,
            offspring=3,
            lm_calls=400,
            tokens=10_000_000,
            tool_calls=min(ROUND_CALLS, calls_left),
            wall_s=max(1.0, min(ROUND_SECONDS, seconds_left)),
        )
        search = SearchSettings(budget=budget, execution=execution, seed=opts.seed * 10_000 + round_no)
        caller = CountingCaller(self.secret)
        tally = Tally(caller)
        restarts: dict[str, int] = {}
        try:
            async with open_catalog(
                self.config, call_timeout=opts.call_timeout, connect_timeout=30, max_restarts=1000
            ) as catalog:
                self.catalog_ids.append(catalog.catalog_id)
                caller.catalog, restarts = catalog, catalog.restarts
                await self.search(round_no, search, caller, tally)
            self.survived += len(tally.diagnosed)  # the round ran to its end
        except Exception as e:  # the search must never raise for a fault: record it
            self.round_errors.append(f"round {round_no}: {type(e).__name__}: {e}"[:500])
        if self.catalog_ids:
            left = {"marked": marked_processes(self.catalog_ids[-1]), "descendants": descendants(os.getpid())}
            if left["marked"] or left["descendants"]:
                self.left_behind.append({"round": round_no, **left})
        self.calls += caller.calls
        self.ok += caller.ok
        self.failed_by_kind += caller.failed_by_kind
        self.undiagnosed += len(caller.failed)
        self.candidates += tally.candidates
        self.slowest = max(self.slowest, caller.slowest)
        self.raw_exposures += caller.raw_exposures
        self.restarts += sum(restarts.values())
        self.rounds += 1
        print(
            f"soak: round {round_no}: {caller.calls} calls, {sum(caller.failed_by_kind.values())} failed, "
            f"{tally.candidates} candidates, {sum(restarts.values())} restarts",
            file=sys.stderr,
            flush=True,
        )

    async def search(
        self, round_no: int, search: SearchSettings, caller: CountingCaller, tally: Tally
    ) -> None:
        """One `evolve` run, its best workflow evaluated and answered, recorded in the store."""
        planner = planner_for(round_no)
        run_id = self.store.start_run(
            task=TASK,
            method="evoflux",
            planner="scripted-soak",
            seed=search.seed,
            settings=search.model_dump(mode="json"),
            prompt=[],
        )
        observer = RecordingObserver(tally, self.store, run_id)
        started = time.monotonic()
        tools = list(caller.tools.values())
        outcome = await evolve(
            TASK, caller, planner, tools, search, judge=planner, on_candidate=observer.candidate
        )
        best = outcome.best
        workflow = best.candidate.workflow if best else None
        if workflow is not None:
            trace = await evaluate(
                TASK, workflow, caller, writer=planner, settings=search.execution, cache=outcome.cache
            )
        else:
            trace = Trace(diagnostics=[Diagnostic(stage=Stage.PARSE, message="no plan parsed")])
        tally.note(trace)
        result = RunResult(
            method="evoflux",
            task=TASK,
            feasible=trace.feasible,
            answer=trace.answer or "",
            workflow=workflow_json(workflow, trace),
            diagnostics=trace.diagnostics,
            usage=RunUsage.of(
                planner.usage, outcome.tool_calls + trace.tool_calls, time.monotonic() - started
            ),
            seed=search.seed,
            planner="scripted-soak",
            search=outcome.summary(),
        )
        self.store.finish_run(run_id, result)
        raw = json.dumps(result.to_json(), ensure_ascii=False)
        self.raw_result_exposures += raw.count(self.secret)
        self.results.append(redact(raw, self.secrets))  # what `evoflux run --json` prints
        self.stopped[outcome.stopped_because] += 1

    async def run(self) -> None:
        started = time.monotonic()
        while True:
            seconds_left = self.opts.seconds - (time.monotonic() - started)
            calls_left = self.opts.calls - self.calls
            if seconds_left <= 0 or calls_left <= 0:
                break
            await self.round(self.rounds + 1, seconds_left, calls_left)
        self.elapsed = time.monotonic() - started


# -- scanning for the secret ------------------------------------------------------------------------------


def count_in(text: str, needles: list[str]) -> int:
    return sum(text.count(n) for n in needles)


def scan_store(path: Path, needles: list[str], *, files: bool = True) -> int:
    """Occurrences in the store's files (bytes) and in every text cell (rows, whatever the page layout)."""
    found = 0
    for file in path.parent.glob(path.name + "*") if files else ():  # the database, a -wal or -shm
        data = file.read_bytes()
        found += sum(data.count(n.encode()) for n in needles)
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f"SELECT * FROM {table}"):
                found += sum(count_in(cell, needles) for cell in row if isinstance(cell, str))
    finally:
        conn.close()
    return found


def fault_counts(log: Path) -> tuple[int, Counter[str]]:
    """Server starts and injected faults by kind, from the server's fault log."""
    lines = log.read_text().splitlines() if log.exists() else []
    starts = sum(line == "start" for line in lines)
    return starts, Counter(line.split()[0] for line in lines if line != "start" and line.strip())


async def main(opts: argparse.Namespace) -> dict[str, Any]:
    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    memory = MemorySampler()
    folder: AbstractContextManager[str] = (
        nullcontext(tempfile.mkdtemp(prefix="evoflux-soak-"))
        if opts.keep
        else tempfile.TemporaryDirectory(prefix="evoflux-soak-")
    )
    with folder as tmp:
        soak = Soak(opts, Path(tmp))
        install_log_redaction(soak.secrets)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(memory.run)
                await soak.run()
                tg.cancel_scope.cancel()
        finally:
            soak.store.close()
        memory.sample()
        starts, faults = fault_counts(soak.fault_log)
        whole, head, tail = soak.secret, soak.secret[:16], soak.secret[-16:]
        found = {
            "result_json": sum(count_in(r, [whole]) for r in soak.results),
            "logs": count_in(logs.getvalue(), [whole]),
            "run_store": scan_store(soak.store_path, [whole]),
        }
        fragments = {
            "result_json": sum(count_in(r, [head, tail]) for r in soak.results),
            "logs": count_in(logs.getvalue(), [head, tail]),
            "run_store": scan_store(soak.store_path, [head, tail]),
        }
        store_markers = scan_store(soak.store_path, [REDACTED], files=False)
    leftover_marked = sorted({p for cid in soak.catalog_ids for p in marked_processes(cid)})
    leftover_children = descendants(os.getpid())
    left_behind = sum(len(r["marked"]) + len(r["descendants"]) for r in soak.left_behind)
    left_behind += len(leftover_marked) + len(leftover_children)
    secrets_found = sum(found.values()) + sum(fragments.values())
    return {
        "seconds": round(soak.elapsed, 1),
        "seed": opts.seed,
        "fault_rate": opts.fault_rate,
        "call_timeout_s": opts.call_timeout,
        "rounds": soak.rounds,
        "candidates": soak.candidates,
        "stopped_because": dict(soak.stopped),
        "calls": soak.calls,
        "calls_ok": soak.ok,
        "calls_failed": dict(soak.failed_by_kind),
        "slowest_call_s": round(soak.slowest, 2),
        "faults_injected": {"total": sum(faults.values()), "by_kind": dict(sorted(faults.items()))},
        "faults_survived": soak.survived,
        "failed_without_diagnostic": soak.undiagnosed,
        "server_starts": starts,
        "restarts": soak.restarts,
        "round_errors": soak.round_errors,
        "processes_left_behind": left_behind,
        "left_behind_detail": soak.left_behind
        + (
            [{"after_all": leftover_marked + leftover_children}]
            if leftover_marked or leftover_children
            else []
        ),
        "peak_memory_mib": memory.report(),
        "secret_exposures_before_redaction": {
            "tool_results": soak.raw_exposures,
            "result_json": soak.raw_result_exposures,
        },
        "secrets_found": secrets_found,
        "secrets_found_by_place": {"whole": found, "fragments": fragments},
        "redaction_markers": {
            "logs": logs.getvalue().count(REDACTED),
            "run_store": store_markers,
            "result_json": sum(r.count(REDACTED) for r in soak.results),
        },
        "log_records": len(logs.getvalue().splitlines()),
        **({"kept": tmp} if opts.keep else {}),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=120.0, help="stop after this long (default 120)")
    parser.add_argument("--calls", type=int, default=2000, help="stop after this many tool calls (2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the faults and the search (0)")
    parser.add_argument("--fault-rate", type=float, default=0.25, help="share of calls given a fault")
    parser.add_argument("--call-timeout", type=float, default=2.0, help="seconds per tool call (2)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (run store, fault log)")
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    report = anyio.run(main, opts)
    bad = report["processes_left_behind"] or report["secrets_found"] or report["round_errors"]
    report["ok"] = not bad
    print(json.dumps(report, indent=2))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(run())
