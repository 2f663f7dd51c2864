"""What every command shares: the app and its command groups, the error handling of the
root group, the common options, opening the store, progress bars and JSON/key-value output."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from typer._click.core import Context as ClickContext
from typer._click.globals import get_current_context
from typer.core import TyperGroup
from typer.exceptions import TyperException

from tenure.cli.render import plain, visible
from tenure.errors import StoreReadOnlyError, TenureError
from tenure.progress import split_task
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
            report_error(with_command(exc, ctx.meta.get(COMMAND_KEY)))
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


def _print_version(value: bool) -> None:
    if value:
        from tenure import __version__

        console.print(f"tenure {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
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
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only",
            help="Open the store read-only (also TENURE_READ_ONLY=1): query a store you cannot "
            "write, or read one store from several commands at once while none writes.",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print Tenure's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Tenure: the customer lifecycle engine for online stores."""
    if read_only:
        ctx.meta[READ_ONLY_KEY] = True


app.add_typer(import_app, name="import")
app.add_typer(store_app, name="store")
app.add_typer(identity_app, name="identity")
app.add_typer(profile_app, name="profile")
app.add_typer(privacy_app, name="privacy")
advise_app = typer.Typer(
    help="The growth advisor: maturity stage, effort split, budget (docs/advisor.md).",
    invoke_without_command=True,
)
app.add_typer(advise_app, name="advise")
goals_app = typer.Typer(
    help="Goals with their progress and forecast (docs/advisor.md).", no_args_is_help=True
)
app.add_typer(goals_app, name="goals")


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


#: ``ctx.meta`` keys (shared by every context of one command line): ``--read-only`` was
#: given; the command that opened the store (``tenure run``), for the read-only message.
READ_ONLY_KEY = "tenure.read_only"
COMMAND_KEY = "tenure.command"


def open_store(url: str | None) -> Store:
    """The store ``--store`` names (a URL or a bare DuckDB file path, as :class:`Store`
    reads it), else the one the settings name; read-only with ``tenure --read-only`` (else
    as the ``read_only`` setting, TENURE_READ_ONLY, says)."""
    ctx = get_current_context(silent=True)
    read_only = None
    if ctx is not None:
        ctx.meta[COMMAND_KEY] = ctx.command_path
        read_only = True if ctx.meta.get(READ_ONLY_KEY) else None
    return Store(url, read_only=read_only)


def with_command(exc: TenureError, command: str | None) -> TenureError:
    """A write refused by a read-only store, told as the command that tried it."""
    if not isinstance(exc, StoreReadOnlyError) or command is None:
        return exc
    return StoreReadOnlyError(
        f"`{command}` writes to the store ({exc.table}), and the store is open read-only "
        "(--read-only or TENURE_READ_ONLY).",
        hint=f"Run `{command}` without --read-only (and with TENURE_READ_ONLY unset) on a "
        "store you can write; read-only, only the commands that read work.",
    )


class RichProgress:
    """A :class:`~tenure.progress.ProgressCallback` drawing one Rich line per task group: a
    task ``"Group: step"`` (:func:`tenure.progress.split_task`) shows the group's current
    step and its count (``k/n`` steps); a plain task its units (rows, rounds, models)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, task: str, completed: int, total: int | None) -> None:
        group, _ = split_task(task)
        description = escape(task)  # a file name or a step: never markup
        if group not in self._tasks:
            self._tasks[group] = self._progress.add_task(description, total=total)
        self._progress.update(
            self._tasks[group], description=description, completed=completed, total=total
        )


class CountColumn(ProgressColumn):
    """``completed/total`` with thousands separators; ``completed`` alone when the total is
    unknown."""

    def render(self, task: Task) -> Text:
        done = f"{int(task.completed):,}"
        text = done if task.total is None else f"{done}/{int(task.total):,}"
        return Text(text, style="progress.download")


#: ``TENURE_PROGRESS=1`` draws progress even when stderr is not a terminal; ``0`` never.
PROGRESS_ENV = "TENURE_PROGRESS"

ProgressOpt = Annotated[
    bool | None,
    typer.Option(
        "--progress/--no-progress",
        help="Show what the command is doing and how far it is, on stderr (by default only "
        "when stderr is a terminal; TENURE_PROGRESS=1 or 0 forces it on or off).",
        show_default=False,
    ),
]


def progress_wanted(flag: bool | None) -> bool | None:
    """Whether to draw progress: ``--progress``/``--no-progress`` first, then
    ``TENURE_PROGRESS``; None: only when stderr is a terminal."""
    if flag is not None:
        return flag
    value = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    return None


@contextmanager
def progress_bar(enabled: bool | None = None) -> Iterator[RichProgress | None]:
    """A progress callback drawing on stderr, or None. ``enabled``: the ``--progress`` flag
    (None: not given, so ``TENURE_PROGRESS``, else only on a terminal); True forces it even
    when stderr is not a terminal (a log, a test)."""
    wanted = progress_wanted(enabled)
    if wanted is False or (wanted is None and not err_console.is_terminal):
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        CountColumn(),
        TimeElapsedColumn(),
    )
    target = Console(stderr=True, force_terminal=True) if wanted else err_console
    with Progress(*columns, console=target, transient=True) as progress:
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


class StopRequest(threading.Event):
    """Set by SIGINT or SIGTERM during :func:`stop_signals`; ``names`` the signals received."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []


@contextmanager
def stop_signals() -> Iterator[StopRequest]:
    """A :class:`StopRequest` set by SIGINT or SIGTERM for the block, in place of the
    handlers before (restored after): a long command stops cleanly instead of dying. Off the
    main thread (where handlers cannot be set) the request is only ever set by hand."""
    stop = StopRequest()

    def note(signum: int, frame: FrameType | None) -> None:
        stop.names.append(signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    before = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
