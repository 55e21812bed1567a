"""Benchmarks: task suites with checkable outcomes, scoring, and a resumable runner (local or Ray)."""

from evoflux.bench.mcpbench import load_mcpbench
from evoflux.bench.ray_executor import run_bench_ray
from evoflux.bench.runner import BenchSettings, run_bench, summarize
from evoflux.bench.score import Score, score_result
from evoflux.bench.suite import load_tasks
from evoflux.bench.tasks import BenchTask, Checks

__all__ = [
    "BenchSettings",
    "BenchTask",
    "Checks",
    "Score",
    "load_mcpbench",
    "load_tasks",
    "run_bench",
    "run_bench_ray",
    "score_result",
    "summarize",
]
