"""`tenure store info|set|migrate`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tenure.cli.common import (
    JsonOpt,
    StoreOpt,
    console,
    kv_table,
    open_store,
    print_json,
    say,
    store_app,
)
from tenure.cli.render import visible
from tenure.errors import ConfigError


@store_app.command("info")
def store_info(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show where the store is, its data-model version, reporting currency, row counts
    (derived tables too), the money warnings, and the last run of each pipeline step."""
    from tenure.pipeline import store_info as info_of

    with open_store(store) as st:
        info = info_of(st)
    if as_json:
        print_json(info)
        return
    rows: list[tuple[str, Any]] = [("Location", info["location"]), ("Backend", info["backend"])]
    rows.append(("Data-model version", info["version"]))
    rows.append(("Reporting currency", info["reporting_currency_text"]))
    rows += [(f"  {name}", count) for name, count in info["tables"].items()]
    rows += [
        (f"  {name} (derived)", "not built" if count is None else count)
        for name, count in info["derived_tables"].items()
    ]
    console.print(kv_table("Store", rows))
    console.print(_runs_table(info["last_runs"]))
    for message in info["warnings"]:
        say(("Warning:", "bold yellow"), " ", message)


def _runs_table(runs: dict[str, Any]) -> Table:
    """The last run of each pipeline step: when, as of, outcome, mode, rows, error."""
    table = Table(title="Last pipeline runs", title_justify="left")
    for column in ("step", "finished", "as of", "outcome", "mode", "rows", "error"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for step, last in runs.items():
        if last is None:
            table.add_row(step, "never", "", "", "", "", "")
            continue
        rows = last["rows"]
        table.add_row(
            step,
            str(last["finished_at"] or last["started_at"])[:19].replace("T", " "),
            str(last["as_of"] or ""),
            last["outcome"],
            last["mode"],
            "" if rows is None else f"{rows:,}",
            visible(str(last["error"] or "")),
        )
    return table


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
    with open_store(store) as st:
        code = set_reporting_currency(st, value)
        effective = resolve_reporting_currency(st)
    console.print(f"Reporting currency recorded in the store: {code}.")
    if effective.code != code:
        console.print(
            f"The reporting_currency setting ({effective.code}) wins over it: remove it from "
            "tenure.toml / TENURE_REPORTING_CURRENCY to report in the store's currency."
        )
    console.print("Run `tenure run` to rebuild the derived tables in it.")


@store_app.command("migrate")
def store_migrate(store: StoreOpt = None) -> None:
    """Apply pending data-model migrations (opening a store does this too)."""
    with open_store(store) as st:
        applied = st.migrations_applied
        version = st.version
    if applied:
        for migration in applied:
            console.print(f"Applied migration {migration.version}: {migration.name}")
    console.print(f"Store is at data-model version {version}.")
