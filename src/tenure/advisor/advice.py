"""The maturity advisor's sentences: short, each with the figures behind it, and, where the
data cannot support a figure, what is missing instead (docs/advisor.md).

Each :class:`Advice` has a topic (``stage``, ``next stage``, ``effort split``, ``health``,
``missing data``), a level (``info``, ``watch``, ``alarm``) and its text, a
:class:`~tenure.advisor.sentence.Sentence`: English as written here, translated with its
numbers drawn for the reader on the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tenure.advisor.effort import EffortSplit
from tenure.advisor.health import ChannelHealth, Health
from tenure.advisor.sentence import N_, Sentence
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
    text: Sentence


def money(value: float, currency: str) -> str:
    """``1,234.50 EUR``."""
    return f"{value:,.2f} {currency}"


def _need(r: Requirement) -> Sentence:
    actual = r.actual if isinstance(r.actual, float) else None
    if r.signal == "purchases":
        return Sentence(N_("a first sale"))
    if r.signal == "age_days":
        return Sentence(
            N_("%(needed)s days since the first sale (now %(now)s)"),
            {"needed": r.needed, "now": actual},
            {"needed": "count", "now": "count"},
            formats={"needed": ".0f", "now": ".0f"},
        )
    if r.signal == "sales_per_day":
        return Sentence(
            N_("%(needed)s sales a day (now %(now)s)"),
            {"needed": r.needed, "now": actual},
            {"needed": "number", "now": "number"},
            formats={"now": ".1f"},
        )
    return Sentence(
        N_("%(needed)s of orders direct (now %(now)s)"),
        {"needed": r.needed, "now": actual},
        {"needed": "share", "now": "share"},
    )


def _direct(s: StoreSignals) -> Sentence:
    if s.direct_share is None:
        return Sentence(N_("direct share unknown"))
    if s.direct_basis == "visits":
        message = N_("%(share)s of visits direct")
    else:
        message = N_("%(share)s of orders direct")
    return Sentence(message, {"share": s.direct_share}, {"share": "share"})


def _stage(index: int, s: StoreSignals, t: Thresholds) -> Advice:
    share = t.retention_shares[index]
    if index == 0:
        said = Sentence(
            N_(
                "Stage: just started (%(source)s): no sale yet. Put all effort on acquisition "
                "(%(share)s on retention): there is no customer to keep yet."
            ),
            {"source": SOURCE, "share": share},
            {"share": "share"},
        )
        return Advice("stage", "info", said)
    said = Sentence(
        N_(
            "Stage: %(stage)s (%(source)s): %(age)s days since the first sale, %(pace)s sales "
            "a day (%(weekly)s a week) over the last %(observed)s days, %(direct)s. "
            "Recommended share of effort on retention: %(share)s."
        ),
        {
            "stage": STAGES[index],
            "source": SOURCE,
            "age": s.age_days,
            "pace": s.sales_per_day,
            "weekly": s.sales_per_week,
            "observed": s.days_observed,
            "direct": _direct(s),
            "share": share,
        },
        {"age": "count", "pace": "number", "weekly": "number", "observed": "count"}
        | {"share": "share"},
        formats={"age": "", "pace": ".1f", "weekly": ".1f", "observed": ""},
    )
    return Advice("stage", "info", said)


def _next(index: int, needs: list[Requirement]) -> list[Advice]:
    if index + 1 >= len(STAGES):
        return []
    missing = tuple(_need(r) for r in needs if not r.met)
    if not missing:
        return []
    said = Sentence(
        N_("Next, %(stage)s: needs %(needs)s."), {"stage": STAGES[index + 1], "needs": missing}
    )
    return [Advice("next stage", "info", said)]


def _unknown_split(index: int, split: EffortSplit, t: Thresholds, window: int) -> Advice:
    target = t.retention_shares[index]
    parts = tuple(split.unknown) or Sentence(N_("no spend and no flow message in the window"))
    bound = split.retention_share_at_least
    if bound is None:
        said = Sentence(N_("The actual split is unknown: %(parts)s."), {"parts": parts})
        return Advice("effort split", "info", said)
    said = Sentence(
        N_(
            "At least %(bound)s of the last %(window)s days' effort went to retention "
            "(%(retention)s known, against %(acquisition)s of acquisition spend); "
            "recommended %(target)s. Unknown: %(parts)s."
        ),
        {
            "bound": bound,
            "window": window,
            "retention": split.retention_cost_known,
            "acquisition": split.acquisition_spend_known,
            "target": target,
            "parts": parts,
        },
        {"bound": "share", "window": "count", "target": "share"}
        | {"retention": "money", "acquisition": "money"},
        formats={"window": ""},
        currency=split.currency,
    )
    return Advice("effort split", "watch" if bound < target - TOLERANCE else "info", said)


#: What follows the effort split's figures: too little on retention, too much, in line.
SPLIT_TOO_LOW = N_(
    "%(share)s of the last %(window)s days' effort went to retention: %(retention)s "
    "(%(messages)s flow messages, %(discounts)s of flow discounts on %(orders)s orders) "
    "against %(acquisition)s of acquisition spend; recommended %(target)s. Move effort "
    "toward keeping customers: the retention flows (welcome, post-purchase, reactivation, "
    "win-back)."
)
SPLIT_TOO_HIGH = N_(
    "%(share)s of the last %(window)s days' effort went to retention: %(retention)s "
    "(%(messages)s flow messages, %(discounts)s of flow discounts on %(orders)s orders) "
    "against %(acquisition)s of acquisition spend; recommended %(target)s. More goes to "
    "retention than the stage calls for: the store still needs new customers."
)
SPLIT_IN_LINE = N_(
    "%(share)s of the last %(window)s days' effort went to retention: %(retention)s "
    "(%(messages)s flow messages, %(discounts)s of flow discounts on %(orders)s orders) "
    "against %(acquisition)s of acquisition spend; recommended %(target)s. In line with the "
    "stage."
)


def _split(index: int, split: EffortSplit, t: Thresholds, window: int) -> list[Advice]:
    target = t.retention_shares[index]
    if split.retention_share is None:
        return [_unknown_split(index, split, t, window)]
    share = split.retention_share
    if share < target - TOLERANCE:
        level, message = "watch", SPLIT_TOO_LOW
    elif share > target + 3 * TOLERANCE and index >= 1:
        level, message = "watch", SPLIT_TOO_HIGH
    else:
        level, message = "info", SPLIT_IN_LINE
    said = Sentence(
        message,
        {
            "share": share,
            "window": window,
            "retention": split.retention_cost or 0.0,
            "messages": split.messages_sent,
            "discounts": split.discount_cost_known,
            "orders": split.discount_orders,
            "acquisition": split.acquisition_spend or 0.0,
            "target": target,
        },
        {"share": "share", "window": "count", "messages": "count", "orders": "count"}
        | {"retention": "money", "discounts": "money", "acquisition": "money"}
        | {"target": "share"},
        formats={"window": ""},
        currency=split.currency,
    )
    return [Advice("effort split", level, said)]


def _ratio(h: ChannelHealth, horizon: int, c: str) -> Sentence:
    return Sentence(
        N_(
            "CLV:CAC %(ratio)s (CLV %(clv)s over %(horizon)s days, CAC %(cac)s, %(new)s new "
            "customers)"
        ),
        {
            "ratio": h.clv_cac,
            "clv": h.clv or 0.0,
            "horizon": horizon,
            "cac": h.cac or 0.0,
            "new": h.new_customers,
        },
        {"ratio": "ratio", "clv": "money", "horizon": "count", "cac": "money", "new": "count"},
        formats={"horizon": ""},
        currency=c,
    )


def _alarm(row: ChannelHealth, s: StoreSignals, h: int, c: str) -> Advice:
    said = Sentence(
        N_(
            "Alarm: %(channel)s: %(ratio)s, %(age)s days after the first sale. About 1:1 or "
            "below past the first six months (heuristic, docs/advisor.md): each customer "
            "costs about as much as they bring, or more. Cut its spend or make its customers "
            "worth more."
        ),
        {"channel": row.channel, "ratio": _ratio(row, h, c), "age": s.age_days},
        {"age": "count"},
        formats={"age": ""},
    )
    return Advice("health", "alarm", said)


def _watch(row: ChannelHealth, s: StoreSignals, h: int, c: str, young: bool, after: int) -> Advice:
    params = {"channel": row.channel, "ratio": _ratio(row, h, c)}
    if not young:
        message = N_(
            "Watch: %(channel)s: %(ratio)s, below the healthy 3:1 (heuristic, docs/advisor.md)."
        )
        return Advice("health", "watch", Sentence(message, params))
    message = N_(
        "Watch: %(channel)s: %(ratio)s, below the healthy 3:1 (heuristic, docs/advisor.md). "
        "About 1:1 is an alarm from %(day)s, six months after the first sale."
    )
    day = s.first_sale + timedelta(days=after)  # type: ignore[operator]
    return Advice("health", "watch", Sentence(message, params | {"day": day}, {"day": "date"}))


def _health(
    health: Health, s: StoreSignals, t_after: int, alarm_ratio: float, c: str
) -> list[Advice]:
    out = []
    h = health.horizon_days
    for row in [*health.channels, health.overall]:
        if row.level == "alarm":
            out.append(_alarm(row, s, h, c))
        elif row.level == "watch":
            young = (
                row.clv_cac is not None
                and row.clv_cac <= alarm_ratio
                and s.first_sale is not None
                and (s.age_days or 0) < t_after
            )
            out.append(_watch(row, s, h, c, young, t_after))
    healthy = [r.channel for r in health.channels if r.level == "healthy"]
    if healthy:
        said = Sentence(
            N_("Healthy (CLV:CAC 3:1 or more): %(channels)s."), {"channels": ", ".join(healthy)}
        )
        out.append(Advice("health", "info", said))
    if h != 365 and any(r.clv_cac is not None for r in [*health.channels, health.overall]):
        said = Sentence(
            N_(
                "No customer is 365 days past the first purchase yet: CLV is over %(days)s "
                "days, a lower bound of the 12-month value, so the ratios err toward a warning."
            ),
            {"days": h},
            {"days": "count"},
            formats={"days": ""},
        )
        out.append(Advice("health", "info", said))
    return out


def _missing_spend(split: EffortSplit, health: Health) -> list[Sentence]:
    out = []
    if split.latest_spend_day is None:
        out.append(
            Sentence(
                N_(
                    "No marketing spend imported: CAC, CLV:CAC and the acquisition side of the "
                    "effort split are unknown. Import it with `tenure import spend` (a day "
                    "without spend is a row of cost 0)."
                )
            )
        )
    elif split.spend_rows == 0:
        message = N_(
            "No spend row since %(start)s (the latest is on %(latest)s): the acquisition side "
            "of the effort split is unknown. Import the recent spend (a day without spend is a "
            "row of cost 0)."
        )
        params = {"start": split.start, "latest": split.latest_spend_day}
        out.append(Sentence(message, params, {"start": "date", "latest": "date"}))
    paid = [r.channel for r in health.channels if r.spend is not None]
    if len(paid) == 1:
        message = N_(
            "Only one channel has spend (%(channel)s): there is no other channel to compare "
            "its CLV:CAC with or to move budget to."
        )
        out.append(Sentence(message, {"channel": paid[0]}))
    return out


def _history(s: StoreSignals, t: Thresholds, window: int) -> Sentence:
    message = N_(
        "Only %(days)s day(s) of sales history: the pace is over those days, not a full "
        "%(window)s-day window, and a stage past gaining traction needs %(needed)s days."
    )
    params = {"days": (s.age_days or 0) + 1, "window": window, "needed": t.consistent_days}
    units = {"days": "count", "window": "count", "needed": "count"}
    return Sentence(message, params, units, formats=dict.fromkeys(units, ""))


def _missing(
    s: StoreSignals, split: EffortSplit, health: Health, t: Thresholds, window: int
) -> list[Advice]:
    if s.age_days is None:
        said = Sentence(
            N_(
                "No sale yet: sales pace, share of direct traffic, CLV and CLV:CAC cannot be "
                "measured until the first orders are in."
            )
        )
        return [Advice("missing data", "info", said)]
    out = []
    if s.age_days + 1 < window:
        out.append(_history(s, t, window))
    out += _missing_spend(split, health)
    for line in split.messages:
        if line.cost is None:
            message = N_(
                "The cost of a %(channel)s message is not set: %(sent)s were sent in the "
                "window. Set it in `message_costs` (tenure.toml or TENURE_MESSAGE_COSTS)."
            )
            params = {"channel": line.channel, "sent": line.sent}
            out.append(Sentence(message, params, {"sent": "count"}))
    if split.discount_unknown_orders:
        message = N_(
            "%(orders)s order(s) used a flow's discount code but carry no `discount`: their "
            "cost to retention is unknown."
        )
        params = {"orders": split.discount_unknown_orders}
        out.append(Sentence(message, params, {"orders": "count"}))
    spent = [r for r in health.channels if r.spend is not None]
    if spent and all(r.clv is None for r in spent):
        message = N_(
            "No customer is %(days)s days past the first purchase yet: CLV, and so CLV:CAC, "
            "is unknown for every channel."
        )
        params = {"days": health.horizon_days}
        out.append(Sentence(message, params, {"days": "count"}, formats={"days": ""}))
    if s.direct_share is None:
        message = N_(
            "No order or visit carries a channel or a UTM: the share of direct traffic is "
            "unknown, so the store cannot be told well established."
        )
        out.append(Sentence(message))
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
