"""Recording a run into the run store while it happens: an observer that writes every candidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evoflux.protocols import Observer
from evoflux.search.population import Evaluated
from evoflux.servers.config import HttpServer, ServersConfig, StdioServer, evoflux_home
from evoflux.store import redaction
from evoflux.store.runs import RunStore
from evoflux.workflow.diagnostics import Diagnostic
from evoflux.workflow.graph import Workflow
from evoflux.workflow.trace import Event
from evoflux.workflow.writes import SentWrite

__all__ = ["RecordingObserver", "config_secrets", "default_store_path"]


def default_store_path() -> Path:
    """`$EVOFLUX_HOME/runs.sqlite` (see `config.evoflux_home`)."""
    return evoflux_home() / "runs.sqlite"


def config_secrets(config: ServersConfig) -> list[str]:
    """Values that must not be written anywhere: config env and header values, secret-named env vars."""
    env_values = [v for s in config.servers.values() if isinstance(s, StdioServer) for v in s.env.values()]
    headers = [v for s in config.servers.values() if isinstance(s, HttpServer) for v in s.headers.values()]
    return redaction.config_secrets(env_values, headers)


class RecordingObserver:
    """Passes everything on to `inner` and records each candidate and its edit in `store`."""

    def __init__(self, inner: Observer, store: RunStore, run_id: int) -> None:
        self.inner, self.store, self.run_id = inner, store, run_id

    def planned(self, workflow: Workflow | None, diagnostics: list[Diagnostic]) -> None:
        self.inner.planned(workflow, diagnostics)

    def event(self, event: Event) -> None:
        self.inner.event(event)

    def generation(self, summary: dict[str, Any]) -> None:
        self.inner.generation(summary)

    def write(self, entry: SentWrite) -> None:
        self.store.record_write(self.run_id, entry)  # at once: a run killed mid-call still leaves its record
        self.inner.write(entry)

    def candidate(self, mode: str, item: Evaluated, parent: str) -> None:
        c = item.candidate
        self.store.add_candidate(
            self.run_id,
            c,
            diagnostics=item.feedback,
            coverage=item.coverage,
            feasible=item.trace.feasible,
            tool_calls=item.trace.tool_calls,
            outputs=item.trace.outputs,
        )
        self.store.add_edit(
            self.run_id,
            generation=c.generation,
            parent=parent or None,
            child=c.id,
            operators=c.edits,
            mode=mode,
        )
        self.inner.candidate(mode, item, parent)
