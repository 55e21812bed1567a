"""The Ray executor of the benchmark: each (task, method, seed) run is a Ray task, so that a cluster
spreads a large benchmark over its machines."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache, partial
from itertools import islice
from pathlib import Path
from typing import Any

import anyio

from evoflux.bench.runner import (
    BenchSettings,
    Progress,
    Run,
    append_row,
    open_results,
    pending,
    read_rows,
    run_one,
)
from evoflux.bench.tasks import BenchTask
from evoflux.errors import EvofluxError
from evoflux.planner.spec import PlannerFactory

__all__ = ["run_bench_ray"]


def import_ray() -> Any:
    """The `ray` module, or an `EvofluxError` saying how to install it."""
    try:
        import ray
    except ImportError as e:
        raise EvofluxError(
            f"the ray executor needs Ray ({e}): pip install 'evoflux[ray]', or use --executor local"
        ) from e
    return ray


@cache
def _factory(spec: str) -> PlannerFactory:
    return PlannerFactory(spec)  # kept for the worker process's lifetime


def _run_remote(
    task: BenchTask, method: str, seed: int, servers: str | None, settings: BenchSettings
) -> dict[str, Any]:
    """What a Ray worker runs: one run, with its own planner, servers and event loop."""
    make = _factory(settings.planner)
    return anyio.run(run_one, task, method, seed, servers, make, settings, None)


async def run_bench_ray(
    tasks: Sequence[BenchTask],
    out: Path,
    settings: BenchSettings,
    *,
    servers: str | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
    address: str | None = None,
    cpus_per_run: float = 1.0,
) -> list[dict[str, Any]]:
    """`run_bench` over Ray: at most `jobs` runs in flight, each asking Ray for `cpus_per_run` CPUs.

    Uses the Ray instance this process is connected to; otherwise connects to `address` (or
    `$RAY_ADDRESS`), or starts a local instance, and disconnects at the end. `servers` is the path of the
    servers config (None: the example config). A run that fails in Ray (not in evoflux, which records a
    skipped row) stops the benchmark with an `EvofluxError`; the rows written so far are kept.
    """
    if jobs < 1:
        raise EvofluxError(f"jobs must be at least 1, not {jobs}")
    ray = import_ray()
    results = open_results(out)
    runs = pending(tasks, settings, results)
    if not runs:
        return read_rows(results)
    todo = iter(runs)
    connected = ray.is_initialized()
    if not connected:
        _connect(ray, address or os.environ.get("RAY_ADDRESS") or None)
    remote = ray.remote(_run_remote).options(num_cpus=cpus_per_run)
    flying: dict[Any, Run] = {}
    try:
        while True:
            for task, method, seed in islice(todo, jobs - len(flying)):
                flying[remote.remote(task, method, seed, servers, settings)] = (task, method, seed)
            if not flying:
                break
            wait = partial(ray.wait, list(flying), num_returns=1, timeout=1.0)
            ready, _ = await anyio.to_thread.run_sync(wait, abandon_on_cancel=True)
            for ref in ready:
                task, method, seed = flying.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayError as e:
                    cause = getattr(e, "cause", None)
                    detail = cause if isinstance(cause, EvofluxError) else e
                    raise EvofluxError(
                        f"Ray run of task {task.id}, method {method}, seed {seed} failed: {detail}"
                    ) from e
                append_row(results, row)
                if progress is not None:
                    progress(row)
    finally:
        for ref in flying:
            ray.cancel(ref)
        if not connected:
            ray.shutdown()
    return read_rows(results)


def _connect(ray: Any, address: str | None) -> None:
    """`ray.init`, with the two ways it commonly fails on a cluster turned into clear errors."""
    try:
        ray.init(address=address)
    except (ConnectionError, RuntimeError) as e:
        where = address or "a new local instance"
        chain = " ".join(str(x) for x in (e, e.__cause__, e.__context__) if x is not None)
        if "authentication" in chain.lower() or "auth_token" in chain.lower():
            raise EvofluxError(
                f"the Ray cluster at {where} wants an authentication token: set RAY_AUTH_MODE=token and "
                "give this process the cluster's token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or "
                "~/.ray/auth_token, the file `ray start` read on the head node)"
            ) from e
        raise EvofluxError(
            f"cannot connect to Ray at {where} ({e}): start the cluster with `ray start --head` and "
            "pass its GCS address, HOST:PORT, as --ray-address (or RAY_ADDRESS)"
        ) from e
