"""The `tenure` command (Typer + Rich): every command parses, calls one library function and
prints. ``common.py`` the app and what commands share, ``output.py`` tables/JSON/CSV, one
module per command group, ``main.py`` the entry point."""

from tenure.cli.common import app, console, err_console
from tenure.cli.main import main

__all__ = ["app", "console", "err_console", "main"]
