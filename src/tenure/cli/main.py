"""The `tenure` entry point: importing the command modules registers their commands, in the
order `tenure --help` lists them."""

from __future__ import annotations

import importlib

from tenure import __version__
from tenure.cli.common import app, console

#: The command modules, in help order.
COMMAND_MODULES = (
    "demo",
    "ingest",
    "quarantine",
    "store",
    "identity",
    "run",
    "analytics",
    "stages",
    "advocacy",
    "predict",
    "recommend",
    "flows",
    "segments",
    "flows_backtest",
    "flows_preview",
    "bounces",
    "flows_stats",
    "deliver",
    "serve",
    "report",
    "models",
    "advise",
    "advise_budget",
    "goals",
)
for _name in COMMAND_MODULES:
    importlib.import_module(f"tenure.cli.{_name}")


@app.command()
def version() -> None:
    """Print Tenure's version."""
    console.print(f"tenure {__version__}")


def main() -> None:
    """Entry point of the `tenure` command."""
    app()
