"""End to end: the search turns an infeasible plan of a real small model (the lite model, embedded) into a
feasible one against real registry servers (unit converter and calculator, started with uvx offline)."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from evoflux.methods import visible_tools
from evoflux.models.embedded import EmbeddedModel
from evoflux.models.registry import MODELS, cache_dir
from evoflux.planner.planner import LMPlanner
from evoflux.search.budget import Budget
from evoflux.search.loop import SearchSettings, Switches, evolve
from evoflux.search.population import Evaluated
from evoflux.servers.catalog import open_catalog
from evoflux.servers.config import load_servers

LITE = cache_dir() / "models" / MODELS["lite"].filename
TASK = "Convert 25 degrees Celsius to Fahrenheit, then multiply the result by 2 with the calculator."

pytestmark = [
    pytest.mark.skipif(not LITE.is_file(), reason="the lite model is not installed: run scripts/setup.sh"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def lite() -> Iterator[EmbeddedModel]:
    model = EmbeddedModel(LITE, name="lite", n_ctx=8192)
    yield model
    model.close()


@pytest.mark.anyio
async def test_the_search_repairs_a_real_models_infeasible_plan(
    lite: EmbeddedModel, tmp_path: object
) -> None:
    config = load_servers(workspace=str(tmp_path)).select(["unit_converter", "calculator"])
    seen: list[Evaluated] = []
    with anyio.fail_after(600):
        async with open_catalog(config) as catalog:
            planner = LMPlanner(lite)
            tools = visible_tools(TASK, catalog, 12)
            settings = SearchSettings(
                budget=Budget(generations=4, seeds=1, lm_calls=24), switches=Switches(stepwise=False), seed=0
            )
            out = await evolve(
                TASK, catalog, planner, tools, settings, on_candidate=lambda m, e, p: seen.append(e)
            )
    seed = seen[0]
    assert seed.candidate.origin == "seed"
    assert not seed.trace.feasible, "the lite model's greedy plan is expected to fail here; pick another task"
    assert out.best is not None and out.best.trace.feasible
    assert out.best.candidate.origin != "seed"
    outputs = [run.output for run in out.best.trace.runs.values()]
    assert any("154" in str(o) for o in outputs)  # 25 C = 77 F, times 2
