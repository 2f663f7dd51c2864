"""The maturity advisor's sentences: short, each with the figures behind it, and, where the
data cannot support a figure, what is missing instead (docs/advisor.md).

Each :class:`Advice` has a topic (``stage``, ``next stage``, ``effort split``, ``health``,
``missing data``), a level (``info``, ``watch``, ``alarm``) and its text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tenure.advisor.effort import EffortSplit
from tenure.advisor.health import ChannelHealth, Health
from tenure.advisor.signals import StoreSignals
from tenure.advisor.stage import SOURCE, STAGES, Requirement, Thresholds

#: How far (in share of effort) the actual split may stray from the recommended one before
#: the advisor says to move effort.
TOLERANCE = 0.05


@dataclass(frozen=True)
class Advice:
    """One sentence of advice."""

    topic: str
    level: str
    text: str


def money(value: float, currency: str) -> str:
    """``1,234.50 EUR``."""
    return f"{value:,.2f} {currency}"


def _need(r: Requirement) -> str:
    actual = "unknown" if r.actual is None else r.actual
    if r.signal == "purchases":
        return "a first sale"
    if r.signal == "age_days":
        return (
            f"{r.needed:.0f} days since the first sale (now {actual:.0f})"
            if isinstance(actual, float)
            else f"{r.needed:.0f} days since the first sale (now unknown)"
        )
    if r.signal == "sales_per_day":
        now = f"{actual:.1f}" if isinstance(actual, float) else actual
        return f"{r.needed:g} sales a day (now {now})"
    now = f"{actual:.0%}" if isinstance(actual, float) else actual
    return f"{r.needed:.0%} of orders direct (now {now})"


def _stage(index: int, s: StoreSignals, t: Thresholds) -> Advice:
    share = t.retention_shares[index]
    if index == 0:
        return Advice(
            "stage",
            "info",
            f"Stage: just started ({SOURCE}): no sale yet. Put all effort on acquisition "
            f"({share:.0%} on retention): there is no customer to keep yet.",
        )
    direct = (
        "direct share unknown"
        if s.direct_share is None
        else f"{s.direct_share:.0%} of {s.direct_basis} direct"
    )
    return Advice(
        "stage",
        "info",
        f"Stage: {STAGES[index]} ({SOURCE}): {s.age_days} days since the first sale, "
        f"{s.sales_per_day:.1f} sales a day ({s.sales_per_week:.1f} a week) over the last "
        f"{s.days_observed} days, {direct}. Recommended share of effort on retention: "
        f"{share:.0%}.",
    )


def _next(index: int, needs: list[Requirement]) -> list[Advice]:
    if index + 1 >= len(STAGES):
        return []
    missing = [_need(r) for r in needs if not r.met]
    if not missing:
        return []
    return [Advice("next stage", "info", f"Next, {STAGES[index + 1]}: needs {'; '.join(missing)}.")]


def _split(index: int, split: EffortSplit, t: Thresholds, window: int) -> list[Advice]:
    target = t.retention_shares[index]
    c = split.currency
    if split.retention_share is None:
        parts = "; ".join(split.unknown) or "no spend and no flow message in the window"
        bound = split.retention_share_at_least
        if bound is None:
            return [Advice("effort split", "info", f"The actual split is unknown: {parts}.")]
        return [
            Advice(
                "effort split",
                "watch" if bound < target - TOLERANCE else "info",
                f"At least {bound:.0%} of the last {window} days' effort went to retention "
                f"({money(split.retention_cost_known, c)} known, against "
                f"{money(split.acquisition_spend_known, c)} of acquisition spend); recommended "
                f"{target:.0%}. Unknown: {parts}.",
            )
        ]
    share = split.retention_share
    figures = (
        f"{share:.0%} of the last {window} days' effort went to retention: "
        f"{money(split.retention_cost or 0.0, c)} ({split.messages_sent:,} flow messages, "
        f"{money(split.discount_cost_known, c)} of flow discounts on "
        f"{split.discount_orders:,} orders) against {money(split.acquisition_spend or 0.0, c)} "
        f"of acquisition spend; recommended {target:.0%}."
    )
    if share < target - TOLERANCE:
        return [
            Advice(
                "effort split",
                "watch",
                f"{figures} Move effort toward keeping customers: the retention flows "
                "(welcome, post-purchase, reactivation, win-back).",
            )
        ]
    if share > target + 3 * TOLERANCE and index >= 1:
        return [
            Advice(
                "effort split",
                "watch",
                f"{figures} More goes to retention than the stage calls for: the store still "
                "needs new customers.",
            )
        ]
    return [Advice("effort split", "info", f"{figures} In line with the stage.")]


def _ratio(h: ChannelHealth, horizon: int, c: str) -> str:
    return (
        f"CLV:CAC {h.clv_cac:.1f}:1 (CLV {money(h.clv or 0.0, c)} over {horizon} days, "
        f"CAC {money(h.cac or 0.0, c)}, {h.new_customers:,} new customers)"
    )


def _health(
    health: Health, s: StoreSignals, t_after: int, alarm_ratio: float, c: str
) -> list[Advice]:
    out = []
    h = health.horizon_days
    for row in [*health.channels, health.overall]:
        if row.level == "alarm":
            out.append(
                Advice(
                    "health",
                    "alarm",
                    f"Alarm: {row.channel}: {_ratio(row, h, c)}, {s.age_days} days after the "
                    "first sale. About 1:1 or below past the first six months (heuristic, "
                    "docs/advisor.md): each customer costs about as much as they bring, "
                    "or more. Cut its spend or make its customers worth more.",
                )
            )
        elif row.level == "watch":
            young = (
                row.clv_cac is not None
                and row.clv_cac <= alarm_ratio
                and s.first_sale is not None
                and (s.age_days or 0) < t_after
            )
            until = (
                f" About 1:1 is an alarm from {s.first_sale + timedelta(days=t_after)}, six "  # type: ignore[operator]
                "months after the first sale."
                if young
                else ""
            )
            out.append(
                Advice(
                    "health",
                    "watch",
                    f"Watch: {row.channel}: {_ratio(row, h, c)}, below the healthy 3:1 "
                    f"(heuristic, docs/advisor.md).{until}",
                )
            )
    healthy = [r.channel for r in health.channels if r.level == "healthy"]
    if healthy:
        out.append(
            Advice("health", "info", f"Healthy (CLV:CAC 3:1 or more): {', '.join(healthy)}.")
        )
    if h != 365 and any(r.clv_cac is not None for r in [*health.channels, health.overall]):
        out.append(
            Advice(
                "health",
                "info",
                f"No customer is 365 days past the first purchase yet: CLV is over {h} days, "
                "a lower bound of the 12-month value, so the ratios err toward a warning.",
            )
        )
    return out


def _missing_spend(split: EffortSplit, health: Health) -> list[str]:
    out = []
    if split.latest_spend_day is None:
        out.append(
            "No marketing spend imported: CAC, CLV:CAC and the acquisition side of the effort "
            "split are unknown. Import it with `tenure import spend` (a day without spend is "
            "a row of cost 0)."
        )
    elif split.spend_rows == 0:
        out.append(
            f"No spend row since {split.start} (the latest is on {split.latest_spend_day}): "
            "the acquisition side of the effort split is unknown. Import the recent spend "
            "(a day without spend is a row of cost 0)."
        )
    paid = [r.channel for r in health.channels if r.spend is not None]
    if len(paid) == 1:
        out.append(
            f"Only one channel has spend ({paid[0]}): there is no other channel to compare "
            "its CLV:CAC with or to move budget to."
        )
    return out


def _missing(
    s: StoreSignals, split: EffortSplit, health: Health, t: Thresholds, window: int
) -> list[Advice]:
    if s.age_days is None:
        return [
            Advice(
                "missing data",
                "info",
                "No sale yet: sales pace, share of direct traffic, CLV and CLV:CAC cannot be "
                "measured until the first orders are in.",
            )
        ]
    out = []
    if s.age_days + 1 < window:
        out.append(
            f"Only {s.age_days + 1} day(s) of sales history: the pace is over those days, "
            f"not a full {window}-day window, and a stage past gaining traction needs "
            f"{t.consistent_days} days."
        )
    out += _missing_spend(split, health)
    for line in split.messages:
        if line.cost is None:
            out.append(
                f"The cost of a {line.channel} message is not set: {line.sent:,} were sent in "
                f"the window. Set it in `message_costs` (tenure.toml or TENURE_MESSAGE_COSTS)."
            )
    if split.discount_unknown_orders:
        out.append(
            f"{split.discount_unknown_orders:,} order(s) used a flow's discount code but carry "
            "no `discount`: their cost to retention is unknown."
        )
    spent = [r for r in health.channels if r.spend is not None]
    if spent and all(r.clv is None for r in spent):
        out.append(
            f"No customer is {health.horizon_days} days past the first purchase yet: CLV, and "
            "so CLV:CAC, is unknown for every channel."
        )
    if s.direct_share is None:
        out.append(
            "No order or visit carries a channel or a UTM: the share of direct traffic is "
            "unknown, so the store cannot be told well established."
        )
    return [Advice("missing data", "info", text) for text in out]


def advise(
    index: int,
    needs: list[Requirement],
    signals: StoreSignals,
    split: EffortSplit,
    health: Health,
    thresholds: Thresholds,
    alarm_after_days: int,
    alarm_ratio: float,
) -> list[Advice]:
    """The advice, in order: the stage, what the next one needs, the effort split, the
    health warnings, and what is missing."""
    window = (split.end - split.start).days + 1
    out = [_stage(index, signals, thresholds), *_next(index, needs)]
    if index > 0 or split.messages_sent or split.spend_rows:
        out += _split(index, split, thresholds, window)
    if signals.age_days is not None:
        out += _health(health, signals, alarm_after_days, alarm_ratio, split.currency)
    return out + _missing(signals, split, health, thresholds, window)
