"""Run, or resume, the four-method comparison on the dev suite at one fixed commit.

    .venv/bin/python scripts/bench_compare.py COMMIT [--out runs/dev-4m-COMMIT] [--seeds 3]
        [--methods zero-shot,self-repair,react,evoflux] [--unseen-only] [--heldout]

The comparison takes about twelve hours on two cores, longer than one sitting, so it is built to be
resumed: the code under test is a git worktree checked out at COMMIT (created beside the checkout on
first use), so work on the checkout does not change what is measured, and `evoflux bench` skips every
(task, method, seed) line already in `OUT/results.jsonl`. Run the same command again to go on.

Tasks run in a fixed interleaved order (the unseen tasks first, chains, dependencies and multi-server
tasks in turn; then the seen ones), every method and seed of a task before the next task, so that a
stop leaves whole tasks measured. Nothing else should use the CPU meanwhile: the budget includes a
wall-clock limit. The rows measured so far are committed under `docs/bench-4m-COMMIT/` (a session's
machine does not outlive it); when `OUT/results.jsonl` does not exist yet, the run starts from that
file, so a later session, on another machine, goes on where the last one stopped. A narrower run
(`--methods evoflux --seeds 1 --unseen-only`, one method's first seed on the unseen tasks) writes into
the same results file, so the full comparison later resumes from it. `--heldout` measures the held-out
suite (benchmarks/heldout.jsonl) instead, into `runs/heldout-COMMIT`, going on from
`docs/bench-heldout-COMMIT/`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEN = ["s01", "s02", "s03", "s04", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08"]
METHODS = "zero-shot,self-repair,react,evoflux"
BUDGET = "lm_calls=20,wall_s=180"


def ordered(suite: Path) -> list[str]:
    """The suite's lines, unseen tasks first with kinds (by id letter) interleaved, then the seen ones."""
    lines = [line for line in suite.read_text().splitlines() if line.strip()]
    ids = [json.loads(line)["id"] for line in lines]
    unseen = [(i, line) for i, line in zip(ids, lines, strict=True) if i[:3] not in SEEN]
    kinds: dict[str, list[str]] = {}
    for task_id, line in unseen:
        kinds.setdefault(task_id[0], []).append(line)
    mixed = [line for row in itertools.zip_longest(*kinds.values()) for line in row if line]
    return mixed + [line for i, line in zip(ids, lines, strict=True) if i[:3] in SEEN]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", help="the commit to measure")
    parser.add_argument("--out", type=Path, help="default: runs/dev-4m-COMMIT")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--suite", type=Path, default=ROOT / "benchmarks" / "dev.jsonl")
    parser.add_argument("--methods", default=METHODS, help=f"default: {METHODS}")
    parser.add_argument("--unseen-only", action="store_true", help="leave out the tasks seen in development")
    parser.add_argument("--heldout", action="store_true", help="measure benchmarks/heldout.jsonl instead")
    args = parser.parse_args()
    short = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", args.commit],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    label = "heldout" if args.heldout else "4m"
    suite = ROOT / "benchmarks" / "heldout.jsonl" if args.heldout else args.suite
    out = (args.out or ROOT / "runs" / f"{'heldout' if args.heldout else 'dev-4m'}-{short}").resolve()
    tree = ROOT.parent / f"evoflux-bench-{short}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), short], check=True)
    out.mkdir(parents=True, exist_ok=True)
    recorded = out / "COMMIT"
    if recorded.exists() and recorded.read_text().strip() != short:
        sys.exit(
            f"{out} holds runs of commit {recorded.read_text().strip()}, not {short}: pick another --out"
        )
    recorded.write_text(short + "\n")
    committed = ROOT / "docs" / f"bench-{label}-{short}" / "results.jsonl"
    if not (out / "results.jsonl").exists() and committed.is_file():
        shutil.copyfile(committed, out / "results.jsonl")
        print(f"going on from the {len(committed.read_text().splitlines())} rows of {committed}", flush=True)
    lines = ordered(suite)
    if args.unseen_only:
        lines = [line for line in lines if json.loads(line)["id"][:3] not in SEEN]
    tasks = out / ("tasks-unseen.jsonl" if args.unseen_only else "tasks.jsonl")
    tasks.write_text("\n".join(lines) + "\n")
    command = [sys.executable, "-m", "evoflux", "bench", "--tasks", str(tasks), "--methods", args.methods]
    command += ["--seeds", str(args.seeds), "--budget", BUDGET, "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    print(f"measuring {short} from {tree} into {out}", flush=True)
    return subprocess.run(command, cwd=tree, env=env).returncode


if __name__ == "__main__":
    raise SystemExit(main())
