"""`tenure advise`: the maturity advisor (docs/advisor.md). The budget proposal is the
`tenure advise budget` subcommand of the same group."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from tenure.cli.common import (
    JsonOpt,
    StoreOpt,
    advise_app,
    console,
    kv_table,
    open_store,
    print_json,
    say,
)
from tenure.cli.output import AsOfOpt, note_as_of, parse_day
from tenure.cli.render import plain

if TYPE_CHECKING:
    from tenure.advisor.maturity import MaturityAdvice

LEVEL_STYLE = {"alarm": "bold red", "watch": "yellow", "info": ""}


def _known(value: float | None, fmt: str = "{:,.2f}") -> str:
    """A number as text; ``unknown`` for None (never 0)."""
    return "unknown" if value is None else fmt.format(value)


def _summary(r: MaturityAdvice) -> Table:
    s, sp = r.signals, r.split
    return kv_table(
        f"Maturity as of {r.as_of} ({r.source})",
        [
            ("stage", r.stage),
            ("recommended retention share", _known(r.recommended_retention_share, "{:.0%}")),
            ("days since the first sale", _known(s.age_days, "{:,}")),
            (
                f"sales a day (last {s.days_observed or r.window_days} days)",
                _known(s.sales_per_day, "{:.1f}"),
            ),
            (
                f"direct share ({s.direct_basis or 'no touch data'})",
                _known(s.direct_share, "{:.0%}"),
            ),
            (
                f"acquisition spend ({r.currency}, {sp.start} to {sp.end})",
                _known(sp.acquisition_spend),
            ),
            ("flow messages sent", f"{sp.messages_sent:,}"),
            (f"retention cost ({r.currency})", _known(sp.retention_cost)),
            ("actual retention share", _known(sp.retention_share, "{:.0%}")),
        ],
    )


def _health_table(r: MaturityAdvice) -> Table:
    table = Table(title=f"CLV:CAC health (CLV over {r.health.horizon_days} days, {r.currency})")
    for name in ("channel", "new customers", "spend", "CAC", "CLV", "CLV:CAC", "level"):
        justify = "left" if name in ("channel", "level") else "right"
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for h in [*r.health.channels, r.health.overall]:
        level = h.level if h.level != "unknown" else f"unknown ({h.reason})"
        table.add_row(
            plain(h.channel),
            f"{h.new_customers:,}",
            _known(h.spend),
            _known(h.cac),
            _known(h.clv),
            _known(h.clv_cac, "{:.2f}"),
            plain(level),
        )
    return table


@advise_app.callback(invoke_without_command=True)
def advise(
    ctx: typer.Context,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The maturity stage, the recommended and actual effort split, CLV:CAC health and advice."""
    if ctx.invoked_subcommand is not None:
        return
    day = parse_day(as_of)
    with open_store(store) as st:
        from tenure.advisor.maturity import maturity

        result = maturity(st, as_of=day)
        note_as_of(st, day)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(_summary(result))
    if result.signals.age_days is not None:
        console.print(_health_table(result))
    for advice in result.advice:
        say((f"{advice.topic}: ", "bold"), (advice.text, LEVEL_STYLE.get(advice.level, "")))
