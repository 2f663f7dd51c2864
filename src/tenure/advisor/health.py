"""CLV:CAC health warnings of the maturity advisor, per acquisition channel and overall.

The channel economics are :func:`tenure.analytics.channels.channels` (spend, new customers,
CAC, historical CLV over ``horizon_days`` after the first order, CLV:CAC); the overall row is
the same :func:`tenure.analytics.channels.economics` over the whole store (blended: all spend
over all new customers, CLV the mean over every mature customer). The levels are heuristics
of the source documents (docs/advisor.md): "around 3:1 is the healthy benchmark; about 1:1 or
below means the store spends more to win customers than they bring, which is fatal past the
first six months":

* ``alarm``: CLV:CAC at or below ``maturity_alarm_ratio`` (about 1:1) once the store is
  ``maturity_alarm_after_days`` old (six months);
* ``watch``: below :data:`tenure.analytics.channels.HEALTHY` (3:1), or about 1:1 in a younger
  store (a young store commonly buys its first customers at a loss);
* ``healthy``: 3:1 or more;
* ``unknown``: no ratio (no spend, no new customers, or no customer old enough for the CLV).

A store too young for a 365-day CLV (no channel has a customer acquired 365 days before the
as-of day) is judged on a :data:`SHORT_HORIZON_DAYS`-day CLV, said so: a lower bound of the
12-month value, so its ratio errs on the side of a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pandas as pd

from tenure.analytics.channels import HEALTHY, channels, economics
from tenure.store import Store

#: The CLV horizon of the health warnings, and the one a young store falls back to.
HORIZON_DAYS, SHORT_HORIZON_DAYS = 365, 182


@dataclass(frozen=True)
class ChannelHealth:
    """One channel's (or ``all channels``') CLV:CAC and its level; None: unknown."""

    channel: str
    new_customers: int
    spend: float | None
    cac: float | None
    clv: float | None
    clv_cac: float | None
    level: str
    reason: str


@dataclass(frozen=True)
class Health:
    """The warnings: per channel, overall, and the CLV horizon they were judged on."""

    horizon_days: int
    channels: list[ChannelHealth]
    overall: ChannelHealth


def _num(value: object) -> float | None:
    """A float, or None for a missing or non-finite value."""
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def level(ratio: float | None, age_days: int | None, alarm_ratio: float, after_days: int) -> str:
    """The health level of a CLV:CAC ``ratio`` in a store ``age_days`` old (module doc)."""
    if ratio is None:
        return "unknown"
    if ratio <= alarm_ratio:
        return "alarm" if age_days is not None and age_days >= after_days else "watch"
    return "watch" if ratio < HEALTHY else "healthy"


def _row(
    channel: str, row: pd.Series, age_days: int | None, alarm_ratio: float, after: int
) -> ChannelHealth:
    ratio = _num(row["clv_cac"])
    return ChannelHealth(
        channel=channel,
        new_customers=int(row["new_customers"]),
        spend=_num(row["spend"]),
        cac=_num(row["cac"]),
        clv=_num(row["clv"]),
        clv_cac=ratio,
        level=level(ratio, age_days, alarm_ratio, after),
        reason=str(row["health"]),
    )


def _name(channel: object) -> str:
    """A channel's name; ``unknown`` for buyers without an acquisition channel."""
    return "unknown" if channel is None or pd.isna(channel) else str(channel)  # type: ignore[call-overload]


def _overall(frame: pd.DataFrame, horizon: int) -> pd.Series:
    mature = frame["mature_customers"].where(frame["clv"].notna(), 0)
    clv = (frame["clv"].fillna(0.0) * mature).sum() / mature.sum() if mature.sum() else None
    spent = frame["spend"].notna()
    one = pd.DataFrame(
        {
            "new_customers": [int(frame["new_customers"].sum())],
            "spend": [frame.loc[spent, "spend"].sum() if spent.any() else None],
            "clv": [clv],
        }
    ).astype({"spend": "float64", "clv": "float64"})
    return economics(one, horizon).iloc[0]


def health(
    store: Store, end: date, age_days: int | None, alarm_ratio: float, after_days: int
) -> Health:
    """The CLV:CAC warnings as of ``end`` of a store ``age_days`` old (module docstring)."""
    horizon = HORIZON_DAYS
    frame = channels(store, as_of=end, horizon_days=horizon)
    if frame["clv"].isna().all() and age_days is not None and age_days > SHORT_HORIZON_DAYS:
        horizon = SHORT_HORIZON_DAYS
        frame = channels(store, as_of=end, horizon_days=horizon)
    rows = [
        _row(_name(r["channel"]), r, age_days, alarm_ratio, after_days) for _, r in frame.iterrows()
    ]
    overall = _row("all channels", _overall(frame, horizon), age_days, alarm_ratio, after_days)
    return Health(horizon_days=horizon, channels=rows, overall=overall)
