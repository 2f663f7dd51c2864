"""``tenure advise budget``: the budget proposal (docs/advisor.md, "Channels and budget"):
parse the bounds, call :func:`tenure.advisor.budget.propose_budget`, print it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tenure.cli.common import JsonOpt, StoreOpt, advise_app, console, open_store, print_json, say
from tenure.cli.output import AsOfOpt, parse_day
from tenure.cli.render import plain
from tenure.errors import ConfigError


def parse_bounds(values: list[str] | None, option: str) -> dict[str, float]:
    """``["paid_search=2000", ...]`` as ``{"paid_search": 2000.0}``; a ConfigError naming
    the bad value otherwise."""
    out: dict[str, float] = {}
    for text in values or []:
        channel, sep, amount = text.partition("=")
        try:
            value = float(amount.replace(",", "").replace("_", ""))
        except ValueError:
            value = None
        if not sep or not channel.strip() or value is None:
            raise ConfigError(
                f"{option} {text!r}: expected CHANNEL=AMOUNT.",
                hint=f"For example {option} paid_search=2000.",
            )
        out[channel.strip()] = value
    return out


@advise_app.command("budget")
def advise_budget(
    total: Annotated[float, typer.Option("--total", help="The budget for the next --days days.")],
    minimum: Annotated[
        list[str] | None,
        typer.Option("--min", help="CHANNEL=AMOUNT, the least a channel gets; repeatable."),
    ] = None,
    maximum: Annotated[
        list[str] | None,
        typer.Option("--max", help="CHANNEL=AMOUNT, the most a channel gets; repeatable."),
    ] = None,
    days: Annotated[int, typer.Option("--days", min=7, help="Days the budget is for.")] = 30,
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A budget proposal toward the channels whose customers are worth most per unit of
    spend, within your bounds, with the expected new customers, value and an 80% interval."""
    from tenure.advisor.budget import BudgetRules, propose_budget

    low = parse_bounds(minimum, "--min")
    high = parse_bounds(maximum, "--max")
    with open_store(store) as st:
        result = propose_budget(
            st,
            total,
            minimum=low,
            maximum=high,
            as_of=parse_day(as_of),
            rules=BudgetRules(days=days),
        )
    data = result.to_dict()
    if as_json:
        print_json(data)
        return
    _print(data)


def _money(value: Any) -> str:
    return "unknown" if value is None else f"{value:,.2f}"


def _number(value: Any, digits: int = 1) -> str:
    return "unknown" if value is None else f"{value:,.{digits}f}"


def _print(data: dict[str, Any]) -> None:
    currency = data["currency"]
    table = Table(
        title=plain(f"Budget for the next {data['days']} days ({currency}, as of {data['as_of']})"),
        title_justify="left",
    )
    heads = ("channel", "current", "proposed", "min", "max", "curve", "CLV", "marginal CAC")
    for head in (*heads, "new now", "new proposed"):
        table.add_column(head, justify="left" if head in ("channel", "curve") else "right")
    for row in data["channels"]:
        if not row["paid"]:
            table.add_row(row["channel"], "-", "no budget", "-", "-", "no spend",
                          _money(row["clv"]), "-", "-", "-")  # fmt: skip
            continue
        table.add_row(
            row["channel"],
            _money(row["current_spend"]),
            _money(row["proposed_spend"]),
            _money(row["min"]),
            _money(row["max"]),
            row["curve"] or "unknown",
            _money(row["clv"]),
            _money(row["cac"]),
            _number(row["current_new"]),
            _number(row["proposed_new"]),
        )
    console.print(table)
    for line in data["missing"]:
        say(("Missing:", "bold red"), " ", line)
    if not data["missing"]:
        _print_expected(data)
    for line in data["notes"]:
        say(("Note:", "bold"), " ", line)
    for line in data["assumptions"]:
        say("- ", line)


def _print_expected(data: dict[str, Any]) -> None:
    e = data["expected"]
    level = f"{data['level']:.0%}"
    rows = [
        ("new customers now", _number(e["current_new"])),
        ("new customers proposed", _number(e["proposed_new"])),
        (f"  {level} interval", f"{_number(e['proposed_new_low'])} to "
         f"{_number(e['proposed_new_high'])}"),
        ("12-month value now", _money(e["current_value"])),
        ("12-month value proposed", _money(e["proposed_value"])),
        (f"  {level} interval", f"{_money(e['proposed_value_low'])} to "
         f"{_money(e['proposed_value_high'])}"),
        ("gain in value", _money(e["gain"])),
        (f"  {level} interval", f"{_money(e['gain_low'])} to {_money(e['gain_high'])}"),
        ("unallocated", _money(data["unallocated"])),
    ]  # fmt: skip
    table = Table(title=plain("Expected"), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
