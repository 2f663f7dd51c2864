"""Channel and campaign economics for the advisor: what each acquisition channel and campaign
costs and what the customers it brought are worth in their first 12 months.

Per channel and per campaign (docs/advisor.md, "Channels and budget"): spend, new customers,
CAC (spend / new customers, :func:`tenure.analytics.channels.economics`), the 12-month value
of a new customer, CLV:CAC, the payback in months, and the same per acquisition cohort
(month or quarter of the first purchase) for the trend.

**The 12-month value of a customer** (the CLV of this module) is the margin of their first
``horizon_days`` (365) from their first purchase: what they have already spent in that window
(realised margin, :func:`tenure.analytics.base.orders_base`) plus, for the part of the window
still ahead of the as-of day, the stored prediction (``customer_predictions``' CLV column, the
expected margin of the next 12 months) pro rata: ``clv_12m x days_left / 365``. A customer
acquired a year ago or earlier is all realised; one acquired today is the first order plus
the whole prediction. Without stored predictions it falls back to the historical CLV of
:func:`tenure.analytics.channels.historic_clv` (only customers acquired at least
``horizon_days`` ago count) and every result says so (``clv_source``). A buyer without a
prediction (acquired after the last ``tenure predict``) is left out of the mean and counted.

**Payback** is read off the cumulative value curve: the mean value of the group's customers
after 0, 1, ..., 12 months (month k = the first ``max(1, k x 30.4375)`` days), the first point
where it reaches the CAC, interpolated linearly between months; None when the curve does not
reach the CAC within the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from tenure.advisor.sentence import N_, Sentence
from tenure.analytics.base import F64, orders_base, store_end
from tenure.analytics.channels import economics, spend_rows
from tenure.analytics.facts import customer_facts
from tenure.predictions.results import clv_column
from tenure.store import Store, reporting_currency

HORIZON_DAYS = 365
MONTH_DAYS = 30.4375
MONTHS = 12
#: The campaign of a customer or a spend row that names none.
NO_CAMPAIGN = "(none)"
PREDICTED, HISTORIC = "predicted", "historic"
PERIODS = ("month", "quarter")
_CUM = [f"cum_{k}" for k in range(MONTHS + 1)]
GROUP_COLUMNS = [
    "spend",
    "new_customers",
    "cac",
    "clv",
    "valued_customers",
    "clv_cac",
    "health",
    "payback_months",
]


@dataclass
class ChannelEconomics:
    """The advisor's channel economics (:func:`channel_economics`).

    Fields: ``as_of``; ``currency`` (the reporting currency of every money figure);
    ``clv_source`` ("predicted": realised margin plus the stored predictions, "historic":
    only customers with the whole horizon behind them, ``None``: no value known);
    ``horizon_days``; ``channels`` and ``campaigns``: one row per channel (per channel and
    campaign) with ``spend``, ``new_customers``, ``cac``, ``clv`` (mean 12-month value of a
    new customer), ``valued_customers`` (those whose value is known), ``clv_cac``,
    ``health`` and ``payback_months`` (None: not within the horizon, or unknown);
    ``trend``: the same per channel and acquisition cohort (``cohort``, the first day of the
    month or quarter); ``weekly``: per channel and week (Monday) of acquisition and spend,
    ``spend``, ``new_customers``, ``valued_customers``, ``value`` (their summed 12-month
    value), the input of :func:`tenure.advisor.budget.propose_budget`; ``notes``: what the
    reader should know; ``missing``: what is missing for numbers that are not shown.
    Unknown numbers are None (null in JSON), never 0."""

    as_of: date
    currency: str
    clv_source: str | None
    horizon_days: int
    channels: pd.DataFrame
    campaigns: pd.DataFrame
    trend: pd.DataFrame
    weekly: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able numbers (unknown: None); the weekly rows are left out."""
        return {
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "clv_source": self.clv_source,
            "horizon_days": self.horizon_days,
            "channels": frame_records(self.channels),
            "campaigns": frame_records(self.campaigns),
            "trend": frame_records(self.trend),
            "notes": list(self.notes),
            "missing": list(self.missing),
        }


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of plain Python values (NaN: None, days: ISO text)."""
    return [{str(k): plain_value(v) for k, v in row.items()} for row in frame.to_dict("records")]


def plain_value(value: Any) -> Any:
    """A JSON-able Python value: None for NaN/NA, int/float/bool/str for numpy scalars."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, date):
        return value.isoformat()
    return value


def channel_economics(
    store: Store,
    *,
    as_of: date | None = None,
    period: str = "quarter",
    facts: ir.Table | None = None,
) -> ChannelEconomics:
    """Spend, new customers, CAC, 12-month value, CLV:CAC and payback per acquisition channel,
    per campaign and per channel and acquisition cohort (``period``: month or quarter), as
    of ``as_of`` (default: the stored predictions' day, else the store's as-of day)."""
    if period not in PERIODS:
        from tenure.errors import ConfigError

        raise ConfigError(
            f"Unknown cohort period {period!r}.", hint=f"Use one of: {', '.join(PERIODS)}."
        )
    column = clv_column(store)
    end = as_of if as_of is not None else _predicted_day(store, column) or store_end(store)
    if facts is None:
        facts = customer_facts(store, as_of=end)
    source = PREDICTED if column is not None else HISTORIC
    customers = _customer_values(store, facts, end, column)
    acquired = _acquired(customers)
    spent = _spent(store, end)
    weekly = _weekly(acquired, spent)
    notes, missing = _notes(acquired, spent, source, column, end)
    known = acquired["valued_customers"].sum() > 0
    return ChannelEconomics(
        as_of=end,
        currency=reporting_currency(store),
        clv_source=source if known else None,
        horizon_days=HORIZON_DAYS,
        channels=_grouped(acquired, spent, ["channel"]),
        campaigns=_grouped(acquired, spent, ["channel", "campaign"]),
        trend=_trend(acquired, spent, period),
        weekly=weekly,
        notes=notes,
        missing=missing,
    )


def _predicted_day(store: Store, column: str | None) -> date | None:
    if column is None:
        return None
    p = store.read("customer_predictions")
    if "predicted_as_of" not in p.columns:
        return None
    day = p.predicted_as_of.max().to_pandas()
    return None if day is None or pd.isna(day) else pd.Timestamp(day).date()


def _customer_values(store: Store, facts: ir.Table, end: date, column: str | None) -> ir.Table:
    """Per buyer: channel, campaign, first day and the cumulative value after 0..12 months
    (``cum_k``; null when unknown: no prediction, or too recent for the historic value)."""
    b = facts.filter(facts.is_buyer & facts.first_order_at.notnull())
    b = b.select(
        _v_person=b.person_id,
        channel=ibis.coalesce(b.acquisition_channel, ibis.literal("direct")),
        campaign=ibis.coalesce(b.acquisition_campaign, ibis.literal(NO_CAMPAIGN)),
        first_day=b.first_order_at.date(),
    )
    o = orders_base(store, as_of=end)
    j = o.join(b, o.person_id == b._v_person)
    since = j.day.delta(j.first_day, unit="day")
    sums = {
        f"_r{k}": j.margin.sum(where=(since >= 0) & (since < _days(k))) for k in range(MONTHS + 1)
    }
    realised = j.group_by(_r_person=j._v_person).agg(**sums)
    c = b.left_join(realised, b._v_person == realised._r_person)
    age = ibis.literal(end).delta(c.first_day, unit="day") + 1  # days observed, first included
    if column is not None:
        p = store.read("customer_predictions")
        p = p.select(_p_person=p.person_id, _p_clv=p[column].cast(F64))
        c = c.left_join(p, c._v_person == p._p_person)
    cums = {}
    for k in range(MONTHS + 1):
        got = ibis.coalesce(c[f"_r{k}"], ibis.literal(0.0))
        if column is not None:
            left = (ibis.literal(_days(k)) - age.cast(F64)).clip(lower=0.0)
            cums[f"cum_{k}"] = got + c._p_clv * left / HORIZON_DAYS
        else:  # historic: only customers with the whole horizon behind them
            cums[f"cum_{k}"] = ibis.ifelse(age > HORIZON_DAYS, got, ibis.null(F64))
    return c.select("channel", "campaign", "first_day", **cums)


def _days(k: int) -> float:
    """The days month ``k`` of the curve covers: the first day for k = 0."""
    return max(1.0, k * MONTH_DAYS)


def _acquired(customers: ir.Table) -> pd.DataFrame:
    """Per channel, campaign, week and month of the first purchase: new customers, valued
    customers and the sums of their cumulative values."""
    c = customers.mutate(
        week=customers.first_day.truncate("W"), month=customers.first_day.truncate("M")
    )
    valued = c.cum_12.notnull()
    aggs: dict[str, ir.Value] = {
        "new_customers": c.count(),
        "valued_customers": valued.cast("int64").sum(),
    }
    aggs.update({name: c[name].sum(where=valued) for name in _CUM})
    frame = c.group_by(["channel", "campaign", "week", "month"]).agg(**aggs).to_pandas()
    return _dated(frame)


def _spent(store: Store, end: date) -> pd.DataFrame:
    """Spend per channel, campaign, week and month (reporting currency)."""
    s = spend_rows(store, end)
    s = s.mutate(
        campaign=ibis.coalesce(s.campaign, ibis.literal(NO_CAMPAIGN)),
        week=s.day.truncate("W"),
        month=s.day.truncate("M"),
    )
    frame = s.group_by(["channel", "campaign", "week", "month"]).agg(spend=s.cost.sum())
    return _dated(frame.to_pandas())


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    for name in ("week", "month"):
        frame[name] = pd.to_datetime(frame[name]).dt.date
    return frame


def _grouped(acquired: pd.DataFrame, spent: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Economics per ``keys``: spend, new customers, CAC, CLV, CLV:CAC, health, payback."""
    a = acquired.groupby(keys, as_index=False)[["new_customers", "valued_customers", *_CUM]].sum()
    s = spent.groupby(keys, as_index=False)["spend"].sum()
    out = a.merge(s, on=keys, how="outer")
    out = out.fillna({"new_customers": 0, "valued_customers": 0})
    out = out.astype({"new_customers": "int64", "valued_customers": "int64"})
    curve = out[_CUM].div(out["valued_customers"].where(out["valued_customers"] > 0), axis=0)
    out["clv"] = curve["cum_12"]
    out = economics(out, HORIZON_DAYS)
    out["payback_months"] = [
        payback_months(row, cac) for row, cac in zip(curve.to_numpy(), out["cac"], strict=True)
    ]
    return out[[*keys, *GROUP_COLUMNS]].sort_values(keys).reset_index(drop=True)


def payback_months(curve: np.ndarray, cac: float) -> float | None:
    """Months until the cumulative value ``curve`` (after 0..12 months) reaches ``cac``,
    linear between months; None when it never does or either is unknown."""
    if cac is None or pd.isna(cac) or np.isnan(curve).any():
        return None
    if curve[0] >= cac:
        return 0.0
    for k in range(1, len(curve)):
        if curve[k] >= cac:
            step = curve[k] - curve[k - 1]
            return float(k - 1 + (cac - curve[k - 1]) / step)
    return None


def _trend(acquired: pd.DataFrame, spent: pd.DataFrame, period: str) -> pd.DataFrame:
    """Economics per channel and acquisition cohort (``period`` of the first purchase)."""
    a, s = acquired.copy(), spent.copy()
    for frame in (a, s):
        frame["cohort"] = [_cohort(day, period) for day in frame["month"]]
    return _grouped(a, s, ["channel", "cohort"])


def _cohort(day: date, period: str) -> date:
    if period == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return day


def _weekly(acquired: pd.DataFrame, spent: pd.DataFrame) -> pd.DataFrame:
    """Per channel and week: spend, new customers, valued customers and their value."""
    keys = ["channel", "week"]
    a = acquired.groupby(keys, as_index=False)[
        ["new_customers", "valued_customers", "cum_12"]
    ].sum()
    s = spent.groupby(keys, as_index=False)["spend"].sum()
    out = a.merge(s, on=keys, how="outer").rename(columns={"cum_12": "value"})
    out = out.fillna({"new_customers": 0, "valued_customers": 0, "value": 0.0})
    out = out.astype({"new_customers": "int64", "valued_customers": "int64"})
    return out.sort_values(keys).reset_index(drop=True)


#: The horizon in days, a count in a sentence.
DAYS = {"days": "count"}


def _notes(
    acquired: pd.DataFrame,
    spent: pd.DataFrame,
    source: str,
    column: str | None,
    end: date,
) -> tuple[list[str], list[str]]:
    notes: list[str] = []
    missing: list[str] = []
    if spent.empty:
        missing.append(
            Sentence(
                N_(
                    "No marketing spend recorded (table marketing_spend): CAC, CLV:CAC and "
                    "payback are unknown. Import the spend per channel and day (`tenure "
                    "import spend`)."
                )
            )
        )
    if acquired.empty:
        missing.append(Sentence(N_("No customers yet: no channel has brought a buyer.")))
    unvalued = int((acquired["new_customers"] - acquired["valued_customers"]).sum())
    if source == PREDICTED:
        message = N_(
            "CLV is the 12-month value of a new customer: realised margin of their first "
            "%(days)s days plus the stored prediction (%(column)s) for the part still ahead, "
            "pro rata."
        )
        notes.append(Sentence(message, {"days": HORIZON_DAYS, "column": column}, DAYS))
        if unvalued:
            message = N_(
                "%(buyers)s buyers have no prediction (acquired after the last `tenure "
                "predict`): left out of the CLV."
            )
            notes.append(Sentence(message, {"buyers": unvalued}, {"buyers": "count"}))
    else:
        since = end - timedelta(days=HORIZON_DAYS)
        message = N_(
            "No predictions stored: CLV is the historical value (margin of the first %(days)s "
            "days) of customers acquired on or before %(since)s. Run `tenure predict` for the "
            "predicted CLV of recent customers too."
        )
        params = {"days": HORIZON_DAYS, "since": since}
        notes.append(Sentence(message, params, {**DAYS, "since": "date"}))
        if not acquired.empty and acquired["valued_customers"].sum() == 0:
            message = N_(
                "No customer has had %(days)s days yet and there are no predictions: CLV, "
                "CLV:CAC and payback are unknown. Run `tenure predict`."
            )
            missing.append(Sentence(message, {"days": HORIZON_DAYS}, DAYS))
    return notes, missing
