"""Evoflux: inference-time evolution of executable MCP tool workflows for compact language models.

The public API, for use from Python (the `evoflux` command wraps the same pieces):

```python
import anyio
from evoflux import LMPlanner, MethodSettings, load_model, load_servers, open_catalog, run_method

async def main() -> None:
    async with open_catalog(load_servers()) as catalog:
        planner = LMPlanner(load_model("default"))
        result = await run_method("evoflux", "Convert 100 F to C", catalog, planner, MethodSettings())
        print(result.status, result.answer, result.missing)  # answered | partial | failed

anyio.run(main)
```
"""

from evoflux.errors import ConfigError, EvofluxError, ServerStartError
from evoflux.methods import METHODS, MethodSettings, run_method
from evoflux.methods.result import EXIT_CODES, RunResult, RunUsage, Status
from evoflux.planner.planner import LMPlanner
from evoflux.planner.plans import PlanResult
from evoflux.planner.spec import load_model
from evoflux.protocols import Planner
from evoflux.scoring.coverage import Coverage, Part
from evoflux.scoring.fitness import Fitness, compute_fitness
from evoflux.search.budget import Budget
from evoflux.search.loop import SearchSettings, Switches, evolve
from evoflux.servers.catalog import Catalog, open_catalog
from evoflux.servers.config import ServersConfig, load_servers
from evoflux.servers.tools import ToolResult, ToolSpec
from evoflux.workflow.diagnostics import Diagnostic, Stage
from evoflux.workflow.execute import CallCache, ExecutionSettings, execute
from evoflux.workflow.graph import Answer, Node, Workflow
from evoflux.workflow.trace import Trace
from evoflux.workflow.validate import validate

__all__ = [
    "EXIT_CODES",
    "METHODS",
    "Answer",
    "Budget",
    "CallCache",
    "Catalog",
    "ConfigError",
    "Coverage",
    "Diagnostic",
    "EvofluxError",
    "ExecutionSettings",
    "Fitness",
    "LMPlanner",
    "MethodSettings",
    "Node",
    "Part",
    "PlanResult",
    "Planner",
    "RunResult",
    "RunUsage",
    "SearchSettings",
    "ServerStartError",
    "ServersConfig",
    "Stage",
    "Status",
    "Switches",
    "ToolResult",
    "ToolSpec",
    "Trace",
    "Workflow",
    "compute_fitness",
    "evolve",
    "execute",
    "load_model",
    "load_servers",
    "open_catalog",
    "run_method",
    "validate",
]
__version__ = "0.1.0"
