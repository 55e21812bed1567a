"""Ctrl-C during `evoflux run`: say so, let the run unwind, and end the process within `GRACE_S`
seconds even when a model call is still busy in a worker thread."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType, TracebackType

from rich.console import Console

from evoflux.servers.stdio import marked_processes

__all__ = ["GRACE_S", "STOPPED_EXIT", "Interrupt"]

GRACE_S = 1.5
STOPPED_EXIT = 130
"""The exit code after Ctrl-C, as shells report a process ended by SIGINT."""


class Interrupt:
    """While entered, the first Ctrl-C prints a line and raises KeyboardInterrupt as usual; if the
    process has not ended `GRACE_S` later, the servers of `catalogs` are killed and it exits at once."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.catalogs: list[str] = []
        self._previous: signal.Handlers | object = signal.SIG_DFL
        self._timer: threading.Timer | None = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._timer is None:
            self.console.print(
                "\n[yellow]stopping (Ctrl-C): the servers are being shut down; the run store keeps the run "
                "as unfinished, with any write it sent[/]"
            )
            self._timer = threading.Timer(GRACE_S, self._force)
            self._timer.daemon = True
            self._timer.start()
        signal.default_int_handler(signum, frame)

    def _force(self) -> None:
        for catalog in self.catalogs:
            for pid in marked_processes(catalog):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    continue
        os._exit(STOPPED_EXIT)

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous)  # type: ignore[arg-type]
