"""`tenure store info|set|migrate`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from tenure.cli.common import (
    JsonOpt,
    StoreOpt,
    console,
    kv_table,
    open_store,
    print_json,
    store_app,
)
from tenure.errors import ConfigError


@store_app.command("info")
def store_info(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Show where the store is, its data-model version, reporting currency, row counts, and
    the money warnings (unconvertible orders, flagged values)."""
    from tenure.analytics.money import money_warnings
    from tenure.store.currency import resolve_reporting_currency

    with open_store(store) as st:
        currency = resolve_reporting_currency(st)
        info: dict[str, Any] = {
            "url": st.url,
            "location": st.location,
            "backend": st.backend_name,
            "version": st.version,
            "reporting_currency": currency.code,
            "reporting_currency_source": currency.source,
            "tables": st.counts(),
            "derived": st.derived_counts(),
            "warnings": money_warnings(st, spend=False),
        }
    if as_json:
        print_json(info)
        return
    rows = [("Location", info["location"]), ("Backend", info["backend"])]
    rows.append(("Data-model version", info["version"]))
    rows.append(("Reporting currency", currency.describe()))
    rows += [(f"  {name}", count) for name, count in info["tables"].items()]
    rows.append(("Derived tables", ""))
    rows += [
        (f"  {name}", "not built" if count is None else count)
        for name, count in info["derived"].items()
    ]
    console.print(kv_table("Store", rows))
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
    with open_store(store) as st:
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
    with open_store(store) as st:
        applied = st.migrations_applied
        version = st.version
    if applied:
        for migration in applied:
            console.print(f"Applied migration {migration.version}: {migration.name}")
    console.print(f"Store is at data-model version {version}.")
