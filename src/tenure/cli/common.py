"""What every command shares: the app and its command groups, the error handling of the
root group, the common options, opening the store, progress bars and JSON/key-value output."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from typer._click.core import Context as ClickContext
from typer._click.globals import get_current_context
from typer.core import TyperGroup
from typer.exceptions import TyperException

from tenure.cli.render import plain, visible
from tenure.errors import TenureError
from tenure.store import Store

#: stdout and stderr. Markup, emoji codes and highlighting are off: what is printed is the
#: data as it is (a channel named "[/]" or ":smile:" prints so); styled words go through
#: :func:`say` (or a Rich Text).
console = Console(markup=False, emoji=False, highlight=False)
err_console = Console(stderr=True, markup=False, emoji=False, highlight=False)

#: A part of a :func:`say` message: plain text, or (text, Rich style).
Part = str | tuple[str, str]


def say(*parts: Part, err: bool = False, soft: bool = False) -> None:
    """Print one message made of ``parts`` (text, or (text, style) pairs), never read as
    markup, control characters shown as escapes; on stderr with ``err``; wrapped at the
    console's width unless ``soft`` (one line, the terminal wraps it)."""
    text = Text()
    for part in parts:
        words, style = (part, "") if isinstance(part, str) else part
        text.append(visible(words, newlines=True), style=style)
    (err_console if err else console).print(text, soft_wrap=soft)


def raw_csv() -> bool:
    """Whether ``tenure --raw-csv`` asked for CSV cells exactly as stored (formula-leading
    cells not neutralised)."""
    ctx = get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("raw_csv"))


def report_error(exc: TenureError) -> None:
    say(("Error:", "bold red"), " ", exc.message, err=True)
    if exc.hint:
        say(("Hint:", "bold"), " ", exc.hint, err=True)


#: Exit code of an unexpected failure (a bug: every failure should be a TenureError).
INTERNAL_ERROR_EXIT = 1


def debug_enabled() -> bool:
    """Whether ``TENURE_DEBUG`` asks for the traceback of an unexpected failure."""
    return os.environ.get("TENURE_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def report_internal(exc: Exception) -> None:
    """The last line of defence: one line naming the failure, not a traceback."""
    message = " ".join(str(exc).split())
    if len(message) > 300:
        message = message[:297] + "..."
    say(("Internal error:", "bold red"), f" {type(exc).__name__}: {message}", err=True, soft=True)
    say(
        ("Hint:", "bold"),
        " this is a bug in Tenure. Run the command again with "
        "`tenure --debug ...` (or TENURE_DEBUG=1) for the traceback, and report it.",
        err=True,
    )


def quiet_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone (a closed pipe), so that Python's
    last flush at exit does not fail again (the Python documentation's recipe, "Note on
    SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (a test's captured output)


class TenureGroup(TyperGroup):
    """The root command group: turns a TenureError into its message and exit code, and any
    other exception into one "Internal error" line (the traceback only with ``--debug``)."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except TenureError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # the command line's own exits, usage errors and aborts
        except BrokenPipeError:  # `tenure rfm --customers --csv | head`: the reader left
            quiet_stdout()
            raise typer.Exit(1) from None
        except Exception as exc:
            if ctx.params.get("debug") or debug_enabled():
                raise
            report_internal(exc)
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None


app = typer.Typer(
    cls=TenureGroup,
    name="tenure",
    help="Tenure: the customer lifecycle engine for online stores.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
import_app = typer.Typer(
    help="Import orders, customers, events, products, spend or fx_rates, losing nothing.",
    no_args_is_help=True,
)
store_app = typer.Typer(help="Inspect and upgrade the store.", no_args_is_help=True)
identity_app = typer.Typer(help="Resolve identifiers to persons.", no_args_is_help=True)
profile_app = typer.Typer(help="The 360-degree profile of a person.", no_args_is_help=True)
privacy_app = typer.Typer(
    help="Export or delete everything held on a person.", no_args_is_help=True
)


@app.callback()
def _root(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the Python traceback of an unexpected failure (also TENURE_DEBUG=1).",
        ),
    ] = False,
    raw_csv: Annotated[
        bool,
        typer.Option(
            "--raw-csv",
            help="Write --csv cells exactly as stored: cells starting with = + - @ (a "
            "spreadsheet formula) are not prefixed with '. For machines, not spreadsheets.",
        ),
    ] = False,
) -> None:
    """Tenure: the customer lifecycle engine for online stores."""


app.add_typer(import_app, name="import")
app.add_typer(store_app, name="store")
app.add_typer(identity_app, name="identity")
app.add_typer(profile_app, name="profile")
app.add_typer(privacy_app, name="privacy")


StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL or DuckDB file (default: TENURE_STORE_URL, tenure.toml, "
        "or ./tenure.duckdb).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def open_store(url: str | None) -> Store:
    """The store ``--store`` names (a URL or a bare DuckDB file path, as :class:`Store`
    reads it), else the one the settings name."""
    return Store(url)


class RichProgress:
    """A :class:`~tenure.progress.ProgressCallback` drawing one Rich bar per task."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, task: str, completed: int, total: int | None) -> None:
        if task not in self._tasks:
            self._tasks[task] = self._progress.add_task(task, total=total)
        self._progress.update(self._tasks[task], completed=completed, total=total)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[RichProgress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed:>12,}/{task.total:,}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        yield RichProgress(progress)


def print_json(payload: Any) -> None:
    """``payload`` as indented JSON on stdout, exact: control characters escaped the JSON
    way, never read as markup."""
    text = json.dumps(payload, default=str, ensure_ascii=False, indent=2)
    console.file.write(text + "\n")


def kv_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    """A two-column table of names and values (plain text, folded to the terminal's width,
    never cut)."""
    table = Table(title=plain(title), show_header=False, title_justify="left")
    table.add_column(style="bold", overflow="fold")
    table.add_column(justify="right", overflow="fold")
    for key, value in rows:
        shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else value
        table.add_row(plain(key), plain("" if shown is None else shown))
    return table
