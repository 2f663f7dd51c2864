"""The indicators of each journey stage (docs/metrics.md, "Indicators per stage";
``tenure stages --indicators``).

One row per (stage, indicator): reach (visitors, visitors per first-touch source, identified
share), acquire (visitor and prospect conversion, blended CAC), develop (second-order rate
within the onboarding window and ever, median days to the second order, first-90-day value),
retain (yearly retention and churn, repeat rate, at-risk share), advocate (the advocacy
indicators of analytics/advocacy.py, and the historical CLV of referred and non-referred
buyers). Persons and stages are those of :func:`~tenure.analytics.journey.journey_stages`.
The engine part is Ibis (DuckDB and PySpark alike): a handful of aggregates, each one row or
a few; they are combined in pandas. Unknown is null (a ratio without a population, money
without data), never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from tenure.analytics.advocacy import advocacy_kpis
from tenure.analytics.base import orders_base, store_end
from tenure.analytics.channels import historic_clv, spend_rows
from tenure.analytics.facts import known_persons
from tenure.analytics.journey import JourneyRules, counted_referrals, journey_stages
from tenure.analytics.money import money_warnings
from tenure.analytics.status import purchase_day_gaps
from tenure.analytics.touch import attributed_events, first_touch
from tenure.store import Store, reporting_currency

#: The columns of :func:`stage_indicators`.
COLUMNS = ("stage", "indicator", "value", "unit", "basis")
#: The units of an indicator's value (shares are fractions 0-1; NPS is -100..100).
UNITS = ("persons", "count", "share", "days", "money", "score")
#: The window of the first-purchase value.
FIRST_VALUE_DAYS = 90
#: The days of a year in the yearly retention.
YEAR_DAYS = 365
#: The source of a visitor without any event by the day.
NO_EVENTS = "without_events"
#: The stages of buyers who have not lapsed (the at-risk share's population).
LIVE = ("develop", "retain", "advocate", "at_risk")


@dataclass
class _Rows:
    """The indicator rows, appended in order."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, stage: str, indicator: str, value: Any, unit: str, basis: str) -> None:
        known = value is not None and not (isinstance(value, float) and np.isnan(value))
        self.rows.append(
            {
                "stage": stage,
                "indicator": indicator,
                "value": float(value) if known else None,
                "unit": unit,
                "basis": basis,
            }
        )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _n(count: int, noun: str) -> str:
    """``1 buyer``, ``1,234 buyers``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


# --------------------------------------------------------------------------- engine part
def _people(store: Store, end: date, rules: JourneyRules, stages: ir.Table | None) -> pd.DataFrame:
    """stage, source, persons: the persons of each stage by their first-touch channel (the
    channel of their earliest event on or before ``end``; :data:`NO_EVENTS` without one)."""
    if stages is None:
        stages = journey_stages(store, end, rules=rules)
    events = attributed_events(store)
    events = events.filter(events.timestamp.date() <= ibis.literal(end))
    touch = first_touch(events).select(_t_person="person_id", _t_channel="ft_channel")
    j = stages.left_join(touch, stages.person_id == touch._t_person)
    tagged = j.select(
        "stage", source=ibis.coalesce(j._t_channel, ibis.literal(NO_EVENTS)).cast("string")
    )
    per = tagged.group_by(["stage", "source"]).agg(persons=tagged.count())
    return per.to_pandas()


def _buyers(orders: ir.Table, end: date) -> ir.Table:
    """One row per buyer: first and second purchase day, purchase days, purchase days in
    the last year and in the year before it."""
    days = purchase_day_gaps(orders)
    last_year = ibis.literal(end - timedelta(days=YEAR_DAYS))
    year_before = ibis.literal(end - timedelta(days=2 * YEAR_DAYS))
    return days.group_by("person_id").agg(
        first_day=days.day.min(),
        second_day=days.day.min(where=days.k == 2),
        purchase_days=days.count(),
        in_last=days.count(where=days.day > last_year),
        in_before=days.count(where=(days.day > year_before) & (days.day <= last_year)),
    )


def _buyer_counts(per: ir.Table, end: date, rules: JourneyRules, horizon_days: int) -> ir.Table:
    """The one-row aggregate of :func:`_buyers` behind the develop and retain indicators."""
    onboarding = rules.onboarding_days
    mature = per.first_day <= ibis.literal(end - timedelta(days=onboarding))
    gap = per.second_day.delta(per.first_day, unit="day")
    before = per.in_before > 0
    return per.aggregate(
        buyers=per.count(),
        repeat=per.count(where=per.purchase_days >= 2),
        mature=per.count(where=mature),
        second_within=per.count(where=mature & (gap < onboarding)),
        second_ever=per.count(where=mature & per.second_day.notnull()),
        new_in_horizon=per.count(
            where=per.first_day > ibis.literal(end - timedelta(days=horizon_days))
        ),
        year_before=per.count(where=before),
        retained=per.count(where=before & (per.in_last > 0)),
    )


def _gaps(per: ir.Table) -> ir.Table:
    """gap, buyers: the days from the first to the second purchase day, as a histogram."""
    two = per.filter(per.second_day.notnull())
    gaps = two.select(gap=two.second_day.delta(two.first_day, unit="day").cast("int64"))
    return gaps.group_by("gap").agg(buyers=gaps.count())


def _prospects(store: Store, per: ir.Table, end: date) -> ir.Table:
    """prospects, converted: the known persons identified on a day before their first
    purchase day (or who never bought), and those of them who bought by ``end``."""
    known = known_persons(store, end)
    known = known.filter(known.known_since.notnull())
    j = known.left_join(per, known.k_person == per.person_id)
    before = j.first_day.isnull() | (j.known_since.date() < j.first_day)
    return j.aggregate(
        prospects=j.count(where=before),
        converted=j.count(where=before & j.first_day.notnull()),
    )


def _spend(store: Store, end: date, horizon_days: int) -> ir.Table:
    """spend, rows, unconverted: the marketing spend of the ``horizon_days`` days to ``end``
    in the reporting currency (rows without an exchange rate left out and counted)."""
    s = spend_rows(store, end)
    s = s.filter(s.day > ibis.literal(end - timedelta(days=horizon_days)))
    return s.aggregate(
        spend=s.cost.sum(), rows=s.count(), unconverted=s.count(where=s.cost.isnull())
    )


def _referred_clv(store: Store, orders: ir.Table, per: ir.Table, end: date, days: int) -> ir.Table:
    """referred (bool), clv, mature_customers: the historical CLV (margin, ``days`` horizon)
    of the buyers (``per``) referred by a counted referral and of the others."""
    r = counted_referrals(store, end)
    referred = r.select(_r_person=r.dp).distinct()
    j = per.left_join(referred, per.person_id == referred._r_person)
    groups = j.select("person_id", referred=j._r_person.notnull())
    return historic_clv(store, groups, end, days, group="referred", orders=orders)


def _first_value(store: Store, orders: ir.Table, per: ir.Table, end: date) -> ir.Table:
    """group, clv, mature_customers: the mean revenue in the first :data:`FIRST_VALUE_DAYS`
    days of the buyers (``per``) whose first purchase day is at least that old."""
    groups = per.select("person_id", group=ibis.literal("all"))
    return historic_clv(store, groups, end, FIRST_VALUE_DAYS, value="revenue", orders=orders)


def _engine(store: Store, end: date, rules: JourneyRules, horizon_days: int) -> dict[str, Any]:
    """The aggregates behind the indicators, small frames and one-row dicts; the orders base
    and the per-buyer table are written once (temporary tables), read by several queries."""

    def row(expr: ir.Table) -> dict[str, Any]:
        return dict(expr.to_pyarrow().to_pylist()[0])

    with orders_base(store, as_of=end).cache() as orders, _buyers(orders, end).cache() as per:
        return {
            "buyers": row(_buyer_counts(per, end, rules, horizon_days)),
            "gaps": _gaps(per).to_pandas(),
            "prospects": row(_prospects(store, per, end)),
            "first": _first_value(store, orders, per, end).to_pandas(),
            "referred": _referred_clv(store, orders, per, end, horizon_days).to_pandas(),
            "spend": row(_spend(store, end, horizon_days)),
        }


# --------------------------------------------------------------------------- pandas part
def _median(hist: pd.DataFrame) -> float | None:
    """The median of a histogram (gap, buyers): the mean of the two middle values when the
    count is even."""
    if hist.empty:
        return None
    values = np.repeat(hist["gap"].to_numpy(dtype="int64"), hist["buyers"].to_numpy())
    return float(np.median(values))


def _reach(out: _Rows, people: pd.DataFrame, counts: dict[str, int]) -> int:
    visitors = int(people["persons"].sum())
    out.add("reach", "visitors", visitors, "persons", "persons seen by the day")
    sources = people.groupby("source")["persons"].sum()
    # the named sources, most visitors first, then the visitors without an event
    for source, persons in sorted(sources.items(), key=lambda kv: (kv[0] == NO_EVENTS, -kv[1])):
        out.add(
            "reach",
            f"visitors_from_{source}",
            int(persons),
            "persons",
            "the channel of their first event"
            if source != NO_EVENTS
            else "no event on or before the day",
        )
    identified = visitors - counts.get("reach", 0)
    out.add(
        "reach",
        "identified_share",
        _share(identified, visitors),
        "share",
        f"{identified:,} identified of {_n(visitors, 'visitor')}",
    )
    return visitors


def _acquire(
    out: _Rows,
    visitors: int,
    buyers: int,
    prospects: dict[str, Any],
    spend: dict[str, Any],
    new: int,
    horizon_days: int,
) -> None:
    out.add(
        "acquire",
        "visitor_conversion",
        _share(buyers, visitors),
        "share",
        f"{_n(buyers, 'buyer')} of {_n(visitors, 'visitor')}",
    )
    p, c = int(prospects["prospects"] or 0), int(prospects["converted"] or 0)
    out.add(
        "acquire",
        "prospect_conversion",
        _share(c, p),
        "share",
        f"{c:,} bought of {_n(p, 'person')} identified before buying",
    )
    rows, lost = int(spend["rows"] or 0), int(spend["unconverted"] or 0)
    amount = spend["spend"] if rows > lost else None
    cac = amount / new if amount is not None and new else None
    basis = f"spend of the {horizon_days} days to the day ({_n(rows, 'row')}"
    basis += f", {lost:,} without an exchange rate left out)" if lost else ")"
    out.add("acquire", "cac", cac, "money", f"{basis} / {_n(new, 'new buyer')}")


def _develop(
    out: _Rows, b: dict[str, Any], gaps: pd.DataFrame, first: pd.DataFrame, rules: JourneyRules
) -> None:
    mature, days = int(b["mature"] or 0), rules.onboarding_days
    whom = f"of {_n(mature, 'buyer')} whose first purchase is {days}+ days old"
    out.add(
        "develop",
        "second_order_rate",
        _share(int(b["second_within"] or 0), mature),
        "share",
        f"a second purchase day within {days} days, {whom}",
    )
    out.add(
        "develop",
        "second_order_rate_ever",
        _share(int(b["second_ever"] or 0), mature),
        "share",
        f"a second purchase day by the day, {whom}",
    )
    seconds = int(gaps["buyers"].sum()) if len(gaps) else 0
    out.add(
        "develop",
        "median_days_to_second_order",
        _median(gaps),
        "days",
        f"of {_n(seconds, 'buyer')} with a second purchase day",
    )
    value, n = _clv_of(first, "all")
    out.add(
        "develop",
        f"first_{FIRST_VALUE_DAYS}_day_value",
        value,
        "money",
        f"mean net revenue of {_n(n, 'buyer')} whose first purchase is "
        f"{FIRST_VALUE_DAYS}+ days old",
    )


def _retain(out: _Rows, b: dict[str, Any], counts: dict[str, int]) -> None:
    before, kept = int(b["year_before"] or 0), int(b["retained"] or 0)
    retention = _share(kept, before)
    basis = f"of {_n(before, 'buyer')} of the {YEAR_DAYS} days before the last {YEAR_DAYS}"
    out.add("retain", "retention", retention, "share", f"{kept:,} bought again, {basis}")
    churn = None if retention is None else 1.0 - retention
    out.add("retain", "churn", churn, "share", f"{before - kept:,} did not, {basis}")
    buyers, repeat = int(b["buyers"] or 0), int(b["repeat"] or 0)
    out.add(
        "retain",
        "repeat_rate",
        _share(repeat, buyers),
        "share",
        f"{repeat:,} with 2+ purchase days of {_n(buyers, 'buyer')}",
    )
    live = sum(counts.get(s, 0) for s in LIVE)
    risk = counts.get("at_risk", 0)
    out.add(
        "retain",
        "at_risk_share",
        _share(risk, live),
        "share",
        f"{risk:,} at risk of {_n(live, 'buyer')} not lapsed",
    )


def _clv_of(frame: pd.DataFrame, group: Any, column: str = "group") -> tuple[float | None, int]:
    """The clv and mature customers of ``group`` (in ``column``) in a :func:`historic_clv`
    result."""
    rows = frame[frame[column] == group]
    if rows.empty:
        return None, 0
    clv = rows["clv"].iloc[0]
    return (None if pd.isna(clv) else float(clv)), int(rows["mature_customers"].iloc[0])


def _advocate(out: _Rows, a: dict[str, Any], clv: pd.DataFrame, horizon_days: int) -> None:
    answered, buyers = a["nps_respondents"], a["buyers"]
    out.add(
        "advocate",
        "nps",
        a["nps"],
        "score",
        f"latest answer of {_n(answered, 'respondent')}: % promoters - % detractors",
    )
    out.add("advocate", "nps_respondents", answered, "persons", "persons with an NPS answer")
    out.add("advocate", "reviews", a["reviews"], "count", "scored reviews of known persons")
    out.add(
        "advocate",
        "average_rating",
        a["average_rating"],
        "score",
        f"mean of {_n(a['reviews'], 'review')} on the 1-5 scale",
    )
    out.add(
        "advocate",
        "referral_rate",
        a["referral_rate"],
        "share",
        f"{a['referrers']:,} referred a buyer, of {_n(buyers, 'buyer')}",
    )
    out.add(
        "advocate",
        "referred_conversion",
        a["referred_conversion"],
        "share",
        f"{a['referred_buyers']:,} bought of {_n(a['referred_persons'], 'referred person')}",
    )
    out.add(
        "advocate",
        "programme_cac",
        a["programme_cac"],
        "money",
        f"referral rewards / {_n(a['referred_buyers'], 'referred buyer')}",
    )
    for referred, name in ((True, "clv_referred"), (False, "clv_not_referred")):
        value, n = _clv_of(clv, referred, "referred")
        who = "referred" if referred else "non-referred"
        out.add(
            "advocate",
            name,
            value,
            "money",
            f"mean margin in the first {horizon_days} days of {_n(n, who + ' buyer')} "
            f"whose first purchase is {horizon_days}+ days old",
        )


def stage_indicators(
    store: Store,
    as_of: date | None = None,
    *,
    rules: JourneyRules | None = None,
    horizon_days: int = 365,
    stages: ir.Table | None = None,
) -> pd.DataFrame:
    """The indicators of each journey stage as of ``as_of`` (default: the as-of day): one
    row per (stage, indicator), :data:`COLUMNS`; ``value`` is a float, null when unknown
    (never 0 for lack of data), in its ``unit`` (:data:`UNITS`; money in the reporting
    currency), ``basis`` its population or denominator. ``rules``: the journey's
    (:class:`JourneyRules`; its ``onboarding_days`` is the develop window). ``horizon_days``:
    the CAC's spend window and the CLV's horizon. ``attrs``: ``as_of``, ``currency``,
    ``warnings`` (the money warnings, and rewards not in the reporting currency). See
    docs/metrics.md, "Indicators per stage". ``stages``: the journey stages (person_id,
    stage) as of that day when the caller has them (as :func:`journey_counts`)."""
    rules = rules if rules is not None else JourneyRules()
    end = as_of if as_of is not None else store_end(store)
    people = _people(store, end, rules, stages)
    counts = {str(k): int(v) for k, v in people.groupby("stage")["persons"].sum().items()}
    e = _engine(store, end, rules, horizon_days)
    advocacy = advocacy_kpis(store, end)
    out = _Rows()
    visitors = _reach(out, people, counts)
    buyers = sum(counts.get(s, 0) for s in (*LIVE, "lapsed"))
    new = int(e["buyers"]["new_in_horizon"] or 0)
    _acquire(out, visitors, buyers, e["prospects"], e["spend"], new, horizon_days)
    _develop(out, e["buyers"], e["gaps"], e["first"], rules)
    _retain(out, e["buyers"], counts)
    _advocate(out, advocacy, e["referred"], horizon_days)
    frame = pd.DataFrame(out.rows, columns=list(COLUMNS))
    frame["value"] = frame["value"].astype("float64")
    code = reporting_currency(store)
    warnings = list(money_warnings(store, as_of=end, spend=True))
    if advocacy["rewards_other_currency"]:
        warnings.append(
            f"{advocacy['rewards_other_currency']} referral rewards are not in {code}: left "
            "out of the programme CAC."
        )
    frame.attrs.update(as_of=end, currency=code, warnings=warnings)
    return frame
