"""The `evoflux` command and what it shows in a terminal. Nothing imports this package."""

from evoflux.cli.app import app, main

__all__ = ["app", "main"]
