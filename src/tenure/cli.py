"""The `tenure` command: one verb, two faces.

Each command parses its options, calls one library function, and prints the result (a Rich
table, or JSON with ``--json``). A :class:`~tenure.errors.TenureError` becomes a clean exit
with its message, hint and exit code; nothing here holds business logic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer._click.core import Context as ClickContext
from typer.core import TyperGroup
from typer.exceptions import TyperException

from tenure import __version__
from tenure.config import load_settings
from tenure.errors import ConfigError, QuarantineThresholdError, TenureError
from tenure.store import Store

console = Console()
err_console = Console(stderr=True)


def _report(exc: TenureError) -> None:
    err_console.print(f"[bold red]Error:[/bold red] {exc.message}", highlight=False)
    if exc.hint:
        err_console.print(f"[bold]Hint:[/bold] {exc.hint}", highlight=False)


#: Exit code of an unexpected failure (a bug: every failure should be a TenureError).
INTERNAL_ERROR_EXIT = 1


def debug_enabled() -> bool:
    """Whether ``TENURE_DEBUG`` asks for the traceback of an unexpected failure."""
    return os.environ.get("TENURE_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def _report_internal(exc: Exception) -> None:
    """The last line of defence: one line naming the failure, not a traceback."""
    message = " ".join(str(exc).split())
    if len(message) > 300:
        message = message[:297] + "..."
    err_console.print(
        f"[bold red]Internal error:[/bold red] {type(exc).__name__}: {escape(message)}",
        highlight=False,
        soft_wrap=True,
    )
    err_console.print(
        "[bold]Hint:[/bold] this is a bug in Tenure. Run the command again with "
        "`tenure --debug ...` (or TENURE_DEBUG=1) for the traceback, and report it.",
        highlight=False,
    )


class _TenureGroup(TyperGroup):
    """The root command group: turns a TenureError into its message and exit code, and any
    other exception into one "Internal error" line (the traceback only with ``--debug``)."""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except TenureError as exc:
            _report(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, TyperException):
            raise  # the command line's own exits, usage errors and aborts
        except Exception as exc:
            if ctx.params.get("debug") or debug_enabled():
                raise
            _report_internal(exc)
            raise typer.Exit(INTERNAL_ERROR_EXIT) from None


app = typer.Typer(
    cls=_TenureGroup,
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


def _open_store(url: str | None) -> Store:
    settings = load_settings(store_url=_as_url(url) if url else None)
    return Store(settings=settings)


def _as_url(value: str) -> str:
    """Accept a bare file path as well as a URL."""
    return value if "://" in value else f"duckdb://{value}"


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
def _progress(enabled: bool) -> Iterator[RichProgress | None]:
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


def _print_json(payload: Any) -> None:
    console.print_json(json.dumps(payload, default=str))


def _kv_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in rows:
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    return table


# --------------------------------------------------------------------------- demo
@app.command()
def demo(
    store: StoreOpt = None,
    customers: Annotated[int, typer.Option(min=1, help="Customers to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same store.")] = 7,
    start: Annotated[str, typer.Option(help="First day of the store (YYYY-MM-DD).")] = "2024-01-01",
    days: Annotated[int, typer.Option(min=30, help="Days of history.")] = 730,
    replace: Annotated[bool, typer.Option(help="Overwrite a store that holds other data.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Generate a realistic synthetic store (customers, events, orders, spend) to explore."""
    from tenure.demo import generate_demo

    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        raise typer.BadParameter(
            f"{start!r} is not a date (YYYY-MM-DD).", param_hint="--start"
        ) from None
    with _open_store(store) as st, _progress(not as_json) as bar:
        summary = generate_demo(
            st,
            customers=customers,
            seed=seed,
            start=first_day,
            days=days,
            replace=replace,
            progress=bar,
        )
    if as_json:
        _print_json(summary.to_dict())
        return
    rows = [
        ("Customers", summary.customers),
        ("Prospects (no order)", summary.prospects),
        ("Orders", summary.orders),
        ("Revenue", f"{summary.revenue:,.2f} {summary.currency}"),
        ("Average order value", f"{summary.aov:,.2f} {summary.currency}"),
        ("Repeat purchase rate", f"{summary.repeat_rate:.1%}"),
        ("Sessions", summary.sessions),
        ("Events", summary.events),
        ("Ad spend", f"{summary.spend:,.2f} {summary.currency}"),
    ]
    console.print(_kv_table(f"Demo store (seed {summary.seed})", rows))
    _print_channels(store)
    _print_kpis(store)
    console.print(f"Store: [bold]{summary.location}[/bold]")


def _print_channels(store: str | None) -> None:
    """The headline acquisition economics of the store: CAC and CLV:CAC per channel."""
    from tenure.analytics.kpis import channel_economics
    from tenure.cli_analytics import emit

    with _open_store(store) as st:
        eco = channel_economics(st)
    shown = eco[["channel", "new_customers", "cac", "clv", "clv_cac", "health"]]
    emit(shown, title="Acquisition channels: CAC and 12-month CLV:CAC")


#: The headline KPIs `tenure demo` prints for the last twelve months.
DEMO_KPIS = [
    "period",
    "revenue",
    "orders",
    "aov",
    "customers",
    "repeat_purchase_rate",
    "retention_rate",
]


def _print_kpis(store: str | None) -> None:
    """The store's last twelve months: revenue, orders, AOV, buyers, repeat rate, retention."""
    from tenure.analytics.periods import kpis
    from tenure.cli_analytics import emit, kpi_table

    with _open_store(store) as st:
        monthly = kpis(st, grain="month").tail(12)
    title = f"Last 12 months, as of {monthly.attrs['as_of']}"
    if monthly["partial"].any():
        title += " (the last month is partial)"
    emit(kpi_table(monthly, DEMO_KPIS), title=title)


# --------------------------------------------------------------------------- import
FilesArg = Annotated[
    list[Path], typer.Argument(help="CSV, Parquet or JSON Lines files.", show_default=False)
]
PresetOpt = Annotated[
    str | None,
    typer.Option(help="A known file format: cdnow, shopify, online_retail."),
]
MappingOpt = Annotated[
    Path | None, typer.Option(help="YAML column mapping (see docs/import-mapping.md).")
]
MaxQuarantineOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Largest quarantined share accepted before exiting with code 3 "
        "(default: the quarantine_threshold setting, 0.01).",
    ),
]
UpdateOpt = Annotated[
    bool,
    typer.Option(
        "--update",
        help="Apply newer versions of stored rows (same key, other content) instead of "
        "quarantining them; the previous versions go to row_history. Not for events.",
    ),
]


def _run_import(
    entity: str,
    files: list[Path],
    store: str | None,
    preset: str | None,
    mapping: Path | None,
    max_quarantine: float | None,
    as_json: bool,
    update: bool = False,
) -> None:
    from tenure.ingest import import_file

    with _open_store(store) as st, _progress(not as_json) as bar:
        result = import_file(
            st,
            entity,
            files,
            preset=preset,
            mapping=mapping,
            max_quarantine=max_quarantine,
            progress=bar,
            update=update,
        )
    if as_json:
        _print_json(result.to_dict())
    else:
        rows = [("Read", result.rows_read), ("Stored", result.stored)]
        rows += [("  of them flagged", result.flagged)] if result.flagged else []
        rows += [("Updated", result.updated)] if update else []
        rows += [
            ("Already present", result.already_present),
            ("Suppressed", result.suppressed),
            ("Quarantined", result.quarantined),
        ]
        rows += [(f"  {reason}", count) for reason, count in sorted(result.by_reason.items())]
        console.print(_kv_table(f"Import of {entity}", rows))
        console.print(f"Import id: {result.import_id}")
        if result.currency_note:
            console.print(result.currency_note, markup=False, highlight=False)
        if result.ignored_columns:
            console.print(
                "Columns not imported (no canonical column): "
                + ", ".join(result.ignored_columns)
                + ". Map them with --mapping to keep them."
            )
        if result.updated:
            console.print(
                "Updated rows replaced the stored ones; the previous versions are in the "
                "[bold]row_history[/bold] table. Run `tenure refresh` to rebuild the analytics."
            )
        if result.suppressed:
            console.print(
                "Suppressed: rows of persons deleted with `tenure privacy delete` (not stored)."
            )
        if result.flagged:
            one = result.flagged == 1
            console.print(
                f"Flagged: {result.flagged:,} stored value{'' if one else 's'} "
                f"look{'s' if one else ''} implausible (far beyond the store's usual "
                "amounts); they are in the [bold]flagged_values[/bold] table "
                f"(import_id = '{result.import_id}') with their line, key and reason, and "
                "`tenure store info` counts them."
            )
        if result.quarantined:
            console.print(
                "Quarantined rows are in the [bold]quarantine[/bold] table "
                f"(import_id = '{result.import_id}') with their line and reason."
            )
    if result.over_threshold:
        raise QuarantineThresholdError(
            f"{result.quarantined_share:.2%} of the rows were quarantined, more than the "
            f"{result.threshold:.2%} allowed. The good rows were stored.",
            hint="Look at the quarantine table, fix the file and import it again "
            "(stored rows are not duplicated), or raise --max-quarantine."
            + _update_hint(result.by_reason, update),
        )


def _update_hint(by_reason: dict[str, int], update: bool) -> str:
    """A pointer to --update when rows were quarantined for holding a stored key."""
    from tenure.ingest.pipeline import CONFLICT

    n = by_reason.get(CONFLICT, 0)
    if not n or update:
        return ""
    return (
        f" {n:,} of them: a stored key with other content ({CONFLICT!r}); if they are newer "
        "versions (a later export), import again with --update to apply them."
    )


def _import_command(entity: str) -> None:
    def command(
        files: FilesArg,
        store: StoreOpt = None,
        preset: PresetOpt = None,
        mapping: MappingOpt = None,
        max_quarantine: MaxQuarantineOpt = None,
        as_json: JsonOpt = False,
        update: UpdateOpt = False,
    ) -> None:
        _run_import(entity, files, store, preset, mapping, max_quarantine, as_json, update)

    command.__doc__ = f"Import {entity} from files; bad rows go to the quarantine table."
    import_app.command(name=entity)(command)


for _entity in ("orders", "customers", "events", "products", "spend", "fx_rates"):
    _import_command(_entity)


# --------------------------------------------------------------------------- store
@store_app.command("info")
def store_info(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show where the store is, its data-model version, reporting currency, row counts, and
    the money warnings (unconvertible orders, flagged values)."""
    from tenure.analytics.money import money_warnings
    from tenure.store.currency import resolve_reporting_currency

    with _open_store(store) as st:
        currency = resolve_reporting_currency(st)
        info: dict[str, Any] = {
            "url": st.url,
            "location": st.location,
            "backend": st.backend_name,
            "version": st.version,
            "reporting_currency": currency.code,
            "reporting_currency_source": currency.source,
            "tables": st.counts(),
            "warnings": money_warnings(st, spend=False),
        }
    if as_json:
        _print_json(info)
        return
    rows = [("Location", info["location"]), ("Backend", info["backend"])]
    rows.append(("Data-model version", info["version"]))
    rows.append(("Reporting currency", currency.describe()))
    rows += [(f"  {name}", count) for name, count in info["tables"].items()]
    console.print(_kv_table("Store", rows))
    for message in info["warnings"]:
        console.print(f"[bold yellow]Warning:[/bold yellow] {escape(message)}", highlight=False)


@store_app.command("set")
def store_set(
    name: Annotated[str, typer.Argument(help="The store fact: reporting-currency.")],
    value: Annotated[str, typer.Argument(help="Its value, e.g. GBP.")],
    store: StoreOpt = None,
) -> None:
    """Record a fact about the store: `reporting-currency GBP` (the setting still wins)."""
    from tenure.store.currency import resolve_reporting_currency, set_reporting_currency

    if name.replace("_", "-") != "reporting-currency":
        raise ConfigError(
            f"Unknown store fact {name!r}.", hint="Known: reporting-currency (e.g. GBP)."
        )
    with _open_store(store) as st:
        code = set_reporting_currency(st, value)
        effective = resolve_reporting_currency(st)
    console.print(f"Reporting currency recorded in the store: {code}.")
    if effective.code != code:
        console.print(
            f"The reporting_currency setting ({effective.code}) wins over it: remove it from "
            "tenure.toml / TENURE_REPORTING_CURRENCY to report in the store's currency."
        )
    console.print("Run `tenure refresh` to rebuild the derived tables in it.")


@store_app.command("migrate")
def store_migrate(store: StoreOpt = None) -> None:
    """Apply pending data-model migrations (opening a store does this too)."""
    with _open_store(store) as st:
        applied = st.migrations_applied
        version = st.version
    if applied:
        for migration in applied:
            console.print(f"Applied migration {migration.version}: {migration.name}")
    console.print(f"Store is at data-model version {version}.")


# --------------------------------------------------------------------------- identity
IdentifierArg = Annotated[
    str,
    typer.Argument(
        help="kind:value (email:ann@x.com, anonymous_id:..., customer_id:...) "
        "or a bare email or id."
    ),
]


@identity_app.command("resolve")
def identity_resolve(
    store: StoreOpt = None,
    max_customers: Annotated[
        int, typer.Option(min=1, help="An identifier linking more customer ids is flagged.")
    ] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Build the identity graph and (re)assign every identifier to its person."""
    from tenure.identity import resolve_identities

    with _open_store(store) as st, _progress(not as_json) as bar:
        if bar:
            bar("resolve identities", 0, 1)
        result = resolve_identities(st, max_customers=max_customers)
    if as_json:
        _print_json(result.to_dict())
        return
    rows = [
        ("Identifiers", result.identifiers),
        ("Persons", result.persons),
        ("Flagged (not merged)", result.flagged),
        ("Merges", result.merges),
        ("Iterations", result.iterations),
    ]
    console.print(_kv_table("Identity resolution", rows))


@identity_app.command("unmerge")
def identity_unmerge(
    a: Annotated[str, typer.Argument(help="One end of the wrong edge, kind:value.")],
    b: Annotated[str, typer.Argument(help="The other end, kind:value.")],
    store: StoreOpt = None,
    reason: Annotated[str, typer.Option(help="Why the merge is wrong.")] = "wrong merge",
    max_customers: Annotated[
        int, typer.Option(min=1, help="As for `tenure identity resolve`.")
    ] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Split a wrong merge along the edge A ~ B, and never use that edge again."""
    from tenure.identity import unmerge

    with _open_store(store) as st:
        result = unmerge(st, a, b, reason=reason, max_customers=max_customers)
    if as_json:
        _print_json(result.to_dict())
        return
    console.print(f"Blocked {a} ~ {b}; {result.persons:,} persons after resolving again.")


@profile_app.command("show")
def profile_show(
    identifier: IdentifierArg, store: StoreOpt = None, as_json: JsonOpt = False
) -> None:
    """Show a person's identities, traits, consents, orders and latest events."""
    from tenure.identity.profile import profile

    with _open_store(store) as st:
        doc = profile(st, identifier, timeline=20)
    if as_json:
        _print_json(doc)
        return
    from rich.panel import Panel

    ids = "\n".join(f"{k}: {', '.join(v)}" for k, v in doc["identities"].items())
    traits = "\n".join(f"{k}: {v}" for k, v in doc["traits"].items() if k != "demo_truth")
    orders = "\n".join(
        f"{o['ordered_at']}  {o['order_id']}  {o['total']} {o['currency']}" for o in doc["orders"]
    )
    timeline = "\n".join(
        f"{e['timestamp']}  {e['type']}  {e['event'] or ''}" for e in doc["timeline"]
    )
    body = (
        f"[bold]Identities[/bold]\n{ids}\n\n[bold]Traits[/bold]\n{traits}\n\n"
        f"[bold]Orders[/bold] ({len(doc['orders'])})\n{orders}\n\n"
        f"[bold]Latest events[/bold]\n{timeline}"
    )
    console.print(Panel(body, title=f"Person {doc['person_id']}", expand=False))


@privacy_app.command("export")
def privacy_export(
    identifier: IdentifierArg,
    store: StoreOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write the JSON here (default: stdout).")] = None,
) -> None:
    """Write everything held on the person as JSON."""
    from tenure.identity.privacy import export_person

    with _open_store(store) as st:
        doc = export_person(st, identifier)
    text = json.dumps(doc, indent=2, default=str)
    if out is None:
        console.print_json(text)
    else:
        out.write_text(text)
        console.print(f"Wrote {out}")


@privacy_app.command("delete")
def privacy_delete(
    identifier: IdentifierArg,
    store: StoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete every row of the person in every table; keep only a suppression digest."""
    from tenure.identity.privacy import delete_person

    if not yes:
        typer.confirm(f"Delete every row of the person holding {identifier}?", abort=True)
    with _open_store(store) as st:
        result = delete_person(st, identifier)
    if as_json:
        _print_json(result)
        return
    rows = [(f"  {t}", n) for t, n in result["rows_deleted"].items()]
    console.print(_kv_table(f"Deleted person {result['person_id']}", rows))
    console.print(f"Audit id: {result['audit_id']}")


@app.command()
def version() -> None:
    """Print Tenure's version."""
    console.print(f"tenure {__version__}")


def main() -> None:
    """Entry point of the `tenure` command."""
    app()


# The analytics commands live in their own module; importing it registers them on `app`.
from tenure import cli_analytics as _cli_analytics  # noqa: E402,F401
from tenure import cli_models as _cli_models  # noqa: E402,F401
from tenure import cli_predict as _cli_predict  # noqa: E402,F401
from tenure import cli_stages as _cli_stages  # noqa: E402,F401
