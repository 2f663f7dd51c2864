"""The Advisor page's budget section: the channel economics the advisor reads (12-month CLV,
CLV:CAC, payback) and a budget proposal (docs/advisor.md, "Channels and budget").

The page offers no bounds, so its proposal spreads the store's current paid spend anew: the
total is the sum of the paid channels' current spend as the proposal counts it
(:func:`tenure.advisor.budget.current_spend`: the last 13 full weeks' spend scaled to 30
days), with no minimum or maximum per channel; ``tenure advise budget`` takes a total and
bounds of your own. The proposal is :func:`tenure.advisor.budget.propose_budget` unchanged
(``tenure advise budget --total T --json`` for the same T).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tenure.advisor.budget import BudgetProposal, BudgetRules, current_spend, propose_budget
from tenure.advisor.channels import ChannelEconomics, channel_economics
from tenure.dashboard.model import N_, Chart, Column, Metric, Section, Series, Table
from tenure.dashboard.pages.common import card, frame_table, money, moneys, value, values
from tenure.errors import ConfigError
from tenure.store import Store

ECONOMICS_COLUMNS = (
    Column("channel", N_("Channel"), "text"),
    Column("spend", N_("Spend"), "money", "dash-spend"),
    Column("new_customers", N_("New customers"), "count", "dash-new-customers"),
    Column("cac", N_("CAC"), "money", "dash-cac"),
    Column("clv", N_("12-month CLV"), "money", "dash-advisor-clv"),
    Column("clv_cac", N_("CLV:CAC"), "ratio", "dash-clv-cac"),
    Column("health", N_("Health"), "text", "dash-channel-health"),
    Column("payback_months", N_("Payback (months)"), "number", "dash-payback"),
)
BUDGET_COLUMNS = (
    Column("channel", N_("Channel"), "text"),
    Column("current_spend", N_("Current spend"), "money", "dash-advisor-budget"),
    Column("proposed_spend", N_("Proposed spend"), "money", "dash-advisor-budget"),
    Column("max", N_("Most allowed"), "money", "dash-advisor-budget"),
    Column("curve", N_("Response"), "text", "dash-advisor-budget"),
    Column("clv", N_("12-month CLV"), "money", "dash-advisor-clv"),
    Column("cac", N_("Marginal CAC"), "money", "dash-advisor-budget"),
    Column("current_new", N_("New customers now"), "number", "dash-advisor-expected"),
    Column("proposed_new", N_("New customers proposed"), "number", "dash-advisor-expected"),
)
TOTAL_NOTE = N_(
    "The budget is the store's current paid spend (the last 13 full weeks' spend scaled to "
    "30 days), spread anew with no minimum or maximum per channel: `tenure advise budget` "
    "takes your own total and bounds (--total, --min, --max)."
)
NO_TOTAL = N_("No paid spend in the last 13 full weeks: no budget to spread.")
VS_CURRENT = N_("vs the current split")


def _economics(econ: ChannelEconomics, currency: str) -> Table:
    return frame_table(
        "economics", N_("Channel economics (12-month value)"), econ.channels, ECONOMICS_COLUMNS,
        currency,
    )  # fmt: skip


def _interval_cards(e: dict[str, Any], currency: str) -> list[Metric]:
    def m(raw: Any) -> float | None:
        return money(raw, currency)

    return [
        Metric(
            "proposed_new",
            N_("Expected new customers"),
            value(e.get("proposed_new")),
            "number",
            value(e.get("current_new")),
            "dash-advisor-expected",
            versus=VS_CURRENT,
        ),
        card("proposed_new_low", N_("New customers, 80% low"), value(e.get("proposed_new_low")),
             "number", "dash-advisor-expected"),
        card("proposed_new_high", N_("New customers, 80% high"),
             value(e.get("proposed_new_high")), "number", "dash-advisor-expected"),
        Metric(
            "proposed_value",
            N_("Expected 12-month value"),
            m(e.get("proposed_value")),
            "money",
            m(e.get("current_value")),
            "dash-advisor-expected",
            versus=VS_CURRENT,
        ),
        card("proposed_value_low", N_("Value, 80% low"), m(e.get("proposed_value_low")),
             "money", "dash-advisor-expected"),
        card("proposed_value_high", N_("Value, 80% high"), m(e.get("proposed_value_high")),
             "money", "dash-advisor-expected"),
        card("gain", N_("Gain in value"), m(e.get("gain")), "money", "dash-advisor-expected"),
        card("gain_low", N_("Gain, 80% low"), m(e.get("gain_low")), "money",
             "dash-advisor-expected"),
        card("gain_high", N_("Gain, 80% high"), m(e.get("gain_high")), "money",
             "dash-advisor-expected"),
    ]  # fmt: skip


def _proposal(p: BudgetProposal, currency: str) -> tuple[list[Metric], tuple[Chart, ...], Table]:
    paid = p.channels[p.channels["paid"].astype(bool)]
    metrics = [card("total", N_("Budget, next 30 days"), money(p.total, currency), "money",
                    "dash-advisor-budget")]  # fmt: skip
    charts: tuple[Chart, ...] = ()
    if not p.missing:
        metrics += _interval_cards(p.expected, currency)
        metrics.append(card("unallocated", N_("Unallocated"), money(p.unallocated, currency),
                            "money", "dash-advisor-budget"))  # fmt: skip
        charts = (
            Chart(
                "spend",
                N_("Current and proposed spend per channel"),
                "bar",
                values(paid["channel"]),
                (
                    Series(N_("Current spend"), moneys(paid["current_spend"], currency)),
                    Series(N_("Proposed spend"), moneys(paid["proposed_spend"], currency)),
                ),
                "money",
            ),
        )
    table = frame_table("budget", N_("Budget per paid channel"), paid, BUDGET_COLUMNS, currency)
    return metrics, charts, table


def section(store: Store, end: date, currency: str) -> Section:
    """The budget section as of ``end`` (module docstring)."""
    rules = BudgetRules()
    econ = channel_economics(store, as_of=end)
    total = sum(current_spend(econ, rules).values())
    tables = [_economics(econ, currency)]
    notes = [*econ.notes]
    metrics: list[Metric] = []
    charts: tuple[Chart, ...] = ()
    if total <= 0:
        notes = [NO_TOTAL, *econ.missing, *notes]
    else:
        try:
            proposal = propose_budget(store, total, as_of=end, rules=rules, economics=econ)
        except ConfigError as exc:  # bounds the store's own spend cannot meet
            notes = [exc.message, *notes]
        else:
            metrics, charts, table = _proposal(proposal, currency)
            tables.append(table)
            notes = [TOTAL_NOTE, *proposal.missing, *proposal.notes]
            notes += proposal.assumptions
    return Section(
        "budget",
        N_("Budget proposal"),
        tuple(metrics),
        charts,
        tuple(tables),
        tuple(dict.fromkeys(notes)),
    )


__all__ = ["section"]
