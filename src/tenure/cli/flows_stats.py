"""``tenure flows stats [FLOW]``: what each flow earned against its holdout (docs/delivery.md,
"Measurement"). It parses, calls :func:`tenure.deliver.measure.flow_stats` and prints a
table per flow (its steps, its groups) and the uplift lines, or JSON."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from tenure.cli.common import JsonOpt, StoreOpt, console, kv_table, open_store, print_json, say
from tenure.cli.flows import flows_app
from tenure.cli.output import emit

if TYPE_CHECKING:
    from tenure.deliver.measure import FlowReport
    from tenure.deliver.uplift import Estimate


@flows_app.command("stats")
def stats_command(
    name: Annotated[
        str | None, typer.Argument(help="The flow's name (default: every flow measured).")
    ] = None,
    window_days: Annotated[
        int,
        typer.Option(
            "--window-days",
            min=1,
            help="Attribution window: a purchase within N days after entering (after the "
            "send, per step) counts.",
        ),
    ] = 7,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The clock, an ISO time in UTC (default: the flows' clock: the store's "
            "frozen day, else the time now).",
        ),
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per flow and step: entered, sent, failed, bounced, unsubscribed, clicked, clicks,
    conversions, revenue, discount cost; treated against holdout with the uplift and its 95%
    interval; A/B variants; incremental revenue and the discount likely wasted."""
    from tenure.cli.flows import parse_now
    from tenure.deliver.measure import flow_stats

    with open_store(store) as st:
        result = flow_stats(st, name, now=parse_now(now), window_days=window_days)
    if as_json:
        print_json(result.to_dict())
        return
    if not result.flows:
        say(("No flow has entered anyone yet.", "dim"))
        return
    for report in result.flows:
        print_report(report, result.now, result.window_days)


def print_report(report: FlowReport, now: datetime, window_days: int) -> None:
    """One flow's summary, steps, groups and uplift lines."""
    import pandas as pd

    data = report.to_dict()
    summary = [
        ("entered (stays)", report.entered),
        ("persons", report.persons),
        ("held out (stays)", report.held_out),
        (f"measured (window of {window_days} days closed)", report.measured),
        ("maturing", report.entered - report.measured),
        ("messages", ", ".join(f"{k} {v:,}" for k, v in sorted(report.messages.items()))),
        ("clicked (messages with a click)", report.clicked),
        ("clicks", report.clicks),
    ]
    console.print(kv_table(f"Flow {report.flow} at {now:%Y-%m-%d %H:%M}", summary))
    if not report.steps.empty:
        emit(report.steps, title="Steps", limit=0, money=("revenue", "discount_cost"))
    groups = pd.DataFrame([data["treated"], data["holdout"], *data["variants"]])
    emit(
        groups,
        title="Treated vs holdout, and the variants (measured persons)",
        percent=("conversion",),
        money=("revenue", "revenue_per_person", "discount_cost"),
        limit=0,
    )
    for line in uplift_lines(report):
        say((line, ""))


def _interval(e: Estimate | None, points: bool) -> str:
    if e is None:
        return "unknown"
    scale, unit = (100.0, " pts") if points else (1.0, "")
    text = f"{e.estimate * scale:+.2f}{unit}"
    if e.low is None or e.high is None:
        return f"{text} (no interval: too few persons)"
    level = round(e.confidence * 100)
    return f"{text} ({level}% CI {e.low * scale:+.2f} to {e.high * scale:+.2f})"


def uplift_lines(report: FlowReport) -> list[str]:
    """The uplift, incremental and A/B lines of one flow."""
    if report.conversion_uplift is None:
        return ["Uplift: unknown (no measured holdout to compare with)."]
    lines = [
        f"Conversion uplift: {_interval(report.conversion_uplift, True)}.",
        f"Revenue per person uplift: {_interval(report.revenue_uplift, False)}.",
    ]
    inc = report.incremental
    if inc is not None:
        wasted = ""
        if inc.wasted_discount is not None and inc.wasted_share is not None:
            wasted = (
                f", of which {inc.wasted_discount:.2f} went to persons who would have bought "
                f"anyway ({inc.wasted_share:.0%} of the treated converters)"
            )
        lines.append(
            f"Incremental: {_interval(inc.conversions, False)} conversions, "
            f"{_interval(inc.revenue, False)} revenue (net of discounts); "
            f"discount cost {inc.discount_cost:.2f}{wasted}."
        )
    if report.verdict is not None:
        v = report.verdict
        lines.append(f"A/B: {'winner ' + v.winner if v.winner else 'no winner'}: {v.reason}.")
    return lines
