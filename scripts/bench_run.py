"""Benchmark (not a test): the cost of `evoflux run` with an embedded model, cold and warm.

Cold is a fresh process: servers start, the model loads, the first plan fills the prompt cache. Warm is
the same task again in that process: servers and model are up, the catalog prefix is cached. Prints one
JSON object with model load, plan, execution and total seconds, tokens, and peak memory (this process
plus its server subprocesses).

    .venv/bin/python scripts/bench_run.py [--planner default] [--task "..."] [--method zero-shot]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from typing import Any

import anyio

from evoflux import LMPlanner, MethodSettings, load_model, load_servers, open_catalog, run_method
from evoflux.models.embedded import EmbeddedModel

TASK = "Convert 25 degrees Celsius to Fahrenheit, then multiply the result by 2 with the calculator."


def peak_mib() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mib": round(own, 1), "peak_child_rss_mib": round(children, 1)}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    config = load_servers(args.servers).select(["unit_converter", "calculator"])
    model = load_model(args.planner)
    out: dict[str, Any] = {"planner": args.planner, "task": args.task, "method": args.method}
    async with open_catalog(config) as catalog:
        out["servers_start_s"] = round(time.perf_counter() - started, 2)
        if isinstance(model, EmbeddedModel):
            t = time.perf_counter()
            model.load()
            out["model_load_s"] = round(time.perf_counter() - t, 2)
        planner = LMPlanner(model)
        for label in ("cold", "warm"):
            t = time.perf_counter()
            calls0 = planner.usage
            result = await run_method(args.method, args.task, catalog, planner, MethodSettings(seed=0))
            used = planner.usage
            out[label] = {
                "wall_s": round(time.perf_counter() - t, 2),
                "feasible": result.feasible,
                "lm_calls": used.calls - calls0.calls,
                "prompt_tokens": used.prompt_tokens - calls0.prompt_tokens,
                "cached_tokens": used.cached_tokens - calls0.cached_tokens,
                "completion_tokens": used.completion_tokens - calls0.completion_tokens,
                "tool_calls": result.usage.tool_calls,
                "answer": result.answer[:200],
            }
    out["cold"]["total_with_startup_s"] = round(
        out["cold"]["wall_s"] + out["servers_start_s"] + out.get("model_load_s", 0.0), 2
    )
    out.update(peak_mib())
    out["machine"] = f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores"
    close = getattr(model, "close", None)
    if callable(close):
        close()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--planner", default="default")
    parser.add_argument("--task", default=TASK)
    parser.add_argument("--method", default="zero-shot")
    parser.add_argument("--servers", default=None)
    print(json.dumps(anyio.run(main, parser.parse_args()), indent=2))
