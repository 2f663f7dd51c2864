"""`tenure store info|set|migrate`."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
import typer

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
from tenure.cli.output import emit
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
    emit(runs_frame(info["last_runs"]), title="Last pipeline runs", limit=0, keys=["step"])
    for message in info["warnings"]:
        say(("Warning:", "bold yellow"), " ", message)


def runs_frame(runs: dict[str, Any]) -> pd.DataFrame:
    """The last run of each pipeline step: when, as of, outcome, mode, rows, error."""
    rows: list[dict[str, Any]] = []
    for step, last in runs.items():
        if last is None:
            rows.append({"step": step, "finished": "never"})
            continue
        rows.append(
            {
                "step": step,
                "finished": pd.Timestamp(last["finished_at"] or last["started_at"]),
                "as of": last["as_of"],
                "outcome": last["outcome"],
                "mode": last["mode"],
                "rows": last["rows"],
                "error": last["error"],
            }
        )
    columns = ["step", "finished", "as of", "outcome", "mode", "rows", "error"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["rows"] = frame["rows"].astype("Int64")
    return frame


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
