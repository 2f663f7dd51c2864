"""The Advisor page: the store's maturity stage and the retention share of effort it calls
for, the actual effort split, the CLV:CAC health warnings, a budget proposal and the goals
with their forecast (docs/advisor.md, "On the dashboard and in the report").

Every figure is the advisor library's, as of the window's end: :func:`tenure.advisor.maturity
.maturity` (``tenure advise --json``) for the stage, the split, the health and the advice;
:mod:`tenure.dashboard.pages.advisor_budget` for the budget; :mod:`tenure.dashboard.pages
.advisor_goals` for the goals. The advice sentences are the library's
(:class:`~tenure.advisor.sentence.Sentence`), drawn in the reader's language with their
numbers for the reader's locale, like every number beside them.
"""

from __future__ import annotations

from tenure.advisor.maturity import MaturityAdvice, maturity
from tenure.advisor.stage import STAGES, Thresholds, requirements
from tenure.config import Settings
from tenure.dashboard.model import (
    N_,
    Column,
    Health,
    Metric,
    Page,
    Section,
    Table,
    Window,
)
from tenure.dashboard.pages import advisor_budget, advisor_goals
from tenure.dashboard.pages.common import card, money, observed_end
from tenure.store import Store, reporting_currency

#: The maturity library's health levels as the cards colour them.
HEALTH: dict[str, Health] = {"healthy": "good", "watch": "warn", "alarm": "alarm"}
#: What the actual retention share is compared with on its card.
VS_RECOMMENDED = N_("vs recommended")
HEURISTIC = N_(
    "The stages, their thresholds and the retention shares are heuristics of the source "
    "documents (docs/advisor.md), set by the `maturity_*` settings."
)
NOT_COUNTED = N_("Staff time and tool subscriptions are not in the data: not counted.")
SHORT_HORIZON = N_(
    "No customer is 365 days past the first purchase yet: CLV is over 182 days, a lower "
    "bound of the 12-month value, so the ratios err toward a warning."
)
LEVELS = N_(
    "Health levels are heuristics of the source documents (docs/advisor.md): 3:1 or more is "
    "healthy; about 1:1 or below is an alarm past the first six months."
)
NO_SPEND = N_("No marketing spend recorded: CAC, CLV:CAC and payback unknown.")

STAGE_COLUMNS = (
    Column("stage", N_("Stage"), "text", "dash-advisor-stage"),
    Column("purchases", N_("Sales ever, at least"), "count", "dash-advisor-stage"),
    Column("age_days", N_("Days since the first sale, at least"), "days", "dash-advisor-stage"),
    Column("sales_per_day", N_("Sales per day, at least"), "number", "dash-advisor-stage"),
    Column("direct_share", N_("Direct share, at least"), "share", "dash-advisor-stage"),
    Column(
        "retention_share",
        N_("Recommended retention share"),
        "share",
        "dash-advisor-retention-share",
    ),
    Column("reached", N_("Reached"), "text", "dash-advisor-stage"),
)
MESSAGE_COLUMNS = (
    Column("channel", N_("Channel"), "text"),
    Column("sent", N_("Messages sent"), "count", "dash-advisor-effort"),
    Column("cost_per_message", N_("Cost per message"), "money", "dash-advisor-effort"),
    Column("cost", N_("Cost"), "money", "dash-advisor-effort"),
)
HEALTH_COLUMNS = (
    Column("channel", N_("Channel"), "text"),
    Column("new_customers", N_("New customers"), "count", "dash-new-customers"),
    Column("spend", N_("Spend"), "money", "dash-spend"),
    Column("cac", N_("CAC"), "money", "dash-cac"),
    Column("clv", N_("Historical CLV"), "money", "dash-advisor-health"),
    Column("clv_cac", N_("CLV:CAC"), "ratio", "dash-advisor-health"),
    Column("level", N_("Health"), "text", "dash-advisor-health"),
)
ADVICE_COLUMNS = (
    Column("topic", N_("Topic"), "text"),
    Column("level", N_("Level"), "text"),
    Column("advice", N_("Advice"), "text", "dash-advisor-advice"),
)


def _ladder(advice: MaturityAdvice, thresholds: Thresholds) -> Table:
    """Each stage's thresholds (each stage needs those below it too) and whether the store
    has reached it."""
    need = {"purchases": 0.0, "age_days": 0.0, "sales_per_day": 0.0, "direct_share": 0.0}
    rows = []
    for index, stage in enumerate(STAGES):
        if index:
            for r in requirements(index, thresholds):
                need[r.signal] = max(need[r.signal], r.needed)
        rows.append(
            (
                stage,
                int(need["purchases"]),
                int(need["age_days"]),
                need["sales_per_day"],
                need["direct_share"],
                thresholds.retention_shares[index],
                N_("yes") if index <= advice.stage_index else N_("no"),
            )
        )
    return Table("stages", N_("Stages and their thresholds"), STAGE_COLUMNS, tuple(rows))


def stage_section(advice: MaturityAdvice, settings: Settings) -> Section:
    """The stage, its signals, the recommended and the actual retention share, the ladder."""
    s, split = advice.signals, advice.split
    recommended = advice.recommended_retention_share
    metrics = [
        card("stage", N_("Stage"), advice.stage, "text", "dash-advisor-stage"),
        card(
            "recommended_retention_share",
            N_("Recommended retention share"),
            recommended,
            "share",
            "dash-advisor-retention-share",
        ),
        Metric(
            "retention_share",
            N_("Actual retention share"),
            split.retention_share,
            "share",
            recommended,
            "dash-advisor-effort",
            versus=VS_RECOMMENDED,
        ),
    ]
    if split.retention_share is None and split.retention_share_at_least is not None:
        metrics.append(
            Metric(
                "retention_share_at_least",
                N_("Actual retention share, at least"),
                split.retention_share_at_least,
                "share",
                recommended,
                "dash-advisor-effort",
                versus=VS_RECOMMENDED,
            )
        )
    metrics += [
        card("age_days", N_("Days since the first sale"), s.age_days, "days", "dash-advisor-stage"),
        card("sales_per_day", N_("Sales per day"), s.sales_per_day, "number", "dash-advisor-stage"),
        card("direct_share", N_("Direct share"), s.direct_share, "share", "dash-advisor-stage"),
    ]
    notes = [HEURISTIC]
    if s.age_days is None:
        notes.append(N_("No sale yet: the sales pace and the direct share are unknown."))
    elif s.direct_share is None:
        notes.append(
            N_(
                "No order or visit carries a channel or a UTM: the direct share is unknown, "
                "so the store cannot be told well established."
            )
        )
    ladder = _ladder(advice, Thresholds.from_settings(settings))
    return Section(
        "stage", N_("Maturity stage"), tuple(metrics), tables=(ladder,), notes=tuple(notes)
    )


def _effort_notes(advice: MaturityAdvice) -> tuple[str, ...]:
    split = advice.split
    notes = []
    if split.latest_spend_day is None:
        notes.append(N_("No marketing spend imported: the acquisition side is unknown."))
    elif split.spend_rows == 0:
        notes.append(N_("No spend row in these days: the acquisition side is unknown."))
    elif split.unconverted_spend_rows:
        notes.append(N_("Some spend rows have no exchange rate: the acquisition spend is unknown."))
    if any(line.cost is None for line in split.messages):
        notes.append(
            N_(
                "A message channel has no cost in `message_costs`: the retention cost is "
                "unknown (tenure.toml or TENURE_MESSAGE_COSTS)."
            )
        )
    if split.discount_unknown_orders:
        notes.append(
            N_("Some orders used a flow's discount code without a discount: their cost is unknown.")
        )
    return (*notes, NOT_COUNTED)


def effort_section(advice: MaturityAdvice, currency: str) -> Section:
    """What went to acquisition (spend) and to retention (flow messages and discounts) over
    the advisor's window, in money and counts."""
    split = advice.split
    metrics = (
        card("start", N_("From"), split.start.isoformat(), "date", "dash-advisor-effort"),
        card("end", N_("To"), split.end.isoformat(), "date", "dash-advisor-effort"),
        card(
            "acquisition_spend",
            N_("Acquisition spend"),
            money(split.acquisition_spend, currency),
            "money",
            "dash-advisor-effort",
        ),
        card(
            "retention_cost",
            N_("Retention cost"),
            money(split.retention_cost, currency),
            "money",
            "dash-advisor-effort",
        ),
        card(
            "messages_sent",
            N_("Flow messages sent"),
            split.messages_sent,
            "count",
            "dash-advisor-effort",
        ),
        card(
            "discount_orders",
            N_("Orders with a flow's discount"),
            split.discount_orders,
            "count",
            "dash-advisor-effort",
        ),
        card(
            "discount_cost",
            N_("Flow discounts"),
            money(split.discount_cost_known, currency),
            "money",
            "dash-advisor-effort",
        ),
    )
    rows = tuple(
        (
            line.channel,
            line.sent,
            money(line.cost_per_message, currency),
            money(line.cost, currency),
        )
        for line in split.messages
    )
    table = Table("messages", N_("Flow messages per channel"), MESSAGE_COLUMNS, rows)
    return Section(
        "effort", N_("Effort split"), metrics, tables=(table,), notes=_effort_notes(advice)
    )


def health_section(advice: MaturityAdvice, currency: str) -> Section:
    """CLV:CAC per acquisition channel and overall, coloured by the advisor's levels."""
    h = advice.health
    everyone = [*h.channels, h.overall]
    metrics = [
        card("horizon_days", N_("CLV horizon"), h.horizon_days, "days", "dash-advisor-health")
    ]
    for row in everyone:
        label = N_("All channels") if row is h.overall else row.channel
        metrics.append(
            Metric(
                f"clv_cac:{row.channel}",
                label,
                row.clv_cac,
                "ratio",
                None,
                "dash-advisor-health",
                HEALTH.get(row.level),
                versus=None,
            )
        )
    rows = tuple(
        (
            r.channel,
            r.new_customers,
            money(r.spend, currency),
            money(r.cac, currency),
            money(r.clv, currency),
            r.clv_cac,
            r.level,
        )
        for r in everyone
    )
    notes = [LEVELS]
    if h.horizon_days != 365:
        notes.append(SHORT_HORIZON)
    if all(r.spend is None for r in h.channels):
        notes.append(NO_SPEND)
    table = Table("health", N_("CLV:CAC per channel"), HEALTH_COLUMNS, rows)
    return Section(
        "health", N_("CLV:CAC health"), tuple(metrics), tables=(table,), notes=tuple(notes)
    )


def advice_section(advice: MaturityAdvice) -> Section:
    """The advisor's sentences, each with the figures behind it (``tenure advise``)."""
    rows = tuple((a.topic, a.level, a.text) for a in advice.advice)
    table = Table("advice", N_("What to do next"), ADVICE_COLUMNS, rows)
    return Section("advice", N_("Advice"), tables=(table,))


def build(store: Store, settings: Settings, window: Window) -> Page:
    """The Advisor page as of the window's end."""
    currency = reporting_currency(store)
    end = observed_end(store, window)
    advice = maturity(store, as_of=end)
    sections = (
        stage_section(advice, settings),
        advice_section(advice),
        effort_section(advice, currency),
        health_section(advice, currency),
        advisor_budget.section(store, end, currency),
        advisor_goals.section(store, end, currency),
    )
    return Page("advisor", N_("Advisor"), window, currency, sections)


__all__ = ["build"]
