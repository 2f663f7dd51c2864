"""The seasonal clock: calendar time <-> operational time.

The store's activity has an hourly intensity s(t) = day factor x hour factor (weekday,
yearly wave, Black Friday to Christmas, hour of day), normalised to mean 1. Operational time
is its integral S(t) = int_0^t s(u) du, in days, so S(days) = days. A process that is uniform
(Poisson) in operational time is seasonal in calendar time; mapping through S^-1 keeps the
BG/NBD truth exact in operational time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from tenure.demo import params as P


@dataclass(frozen=True)
class Clock:
    """Seasonal intensity per day and hour, and the operational-time mapping."""

    start: date
    days: int
    day_factor: np.ndarray  # mean 1, one per calendar day
    cumulative: np.ndarray  # operational days at each hour boundary (24 x days + 1)

    @property
    def hours(self) -> np.ndarray:
        return np.arange(24 * self.days + 1, dtype=np.float64)

    def to_operational(self, day: np.ndarray) -> np.ndarray:
        """Calendar days since the start -> operational days."""
        return np.interp(np.asarray(day) * 24.0, self.hours, self.cumulative)

    def to_calendar(self, op: np.ndarray) -> np.ndarray:
        """Operational days -> calendar days since the start (at most ``days``)."""
        return np.interp(op, self.cumulative, self.hours) / 24.0

    def uniform(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Calendar times drawn uniformly in operational time between calendar ``lo``, ``hi``."""
        a, b = self.to_operational(lo), self.to_operational(hi)
        return self.to_calendar(a + rng.uniform(size=len(a)) * (b - a))

    def within_days(self, rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
        """A calendar time within each whole ``day``, following the hour-of-day profile."""
        day = np.asarray(day, dtype=np.float64)
        return self.uniform(rng, day, np.minimum(day + 1.0, self.days))


def holiday_factor(dates: list[date]) -> np.ndarray:
    """Black Friday to Cyber Monday, the run-up to Christmas, Christmas Day, the last week."""
    out = np.ones(len(dates))
    for i, d in enumerate(dates):
        if d.month == 11:
            first = date(d.year, 11, 1)
            thanksgiving = first + timedelta(days=(3 - first.weekday()) % 7 + 21)
            black_friday = thanksgiving + timedelta(days=1)
            if black_friday <= d <= black_friday + timedelta(days=3):
                out[i] = P.BLACK_FRIDAY_TO_CYBER_MONDAY
            elif d > black_friday + timedelta(days=3):
                out[i] = P.CYBER_MONDAY_TO_DEC_20
        elif d.month == 12:
            if d.day <= 20:
                out[i] = P.CYBER_MONDAY_TO_DEC_20
            elif d.day <= 24:
                out[i] = P.DEC_21_TO_24
            else:
                out[i] = P.CHRISTMAS if d.day == 25 else P.DEC_26_TO_31
    return out


def clock(start: date, days: int) -> Clock:
    """The store's seasonal clock over ``days`` days from ``start`` (a per-day loop)."""
    dates = [start + timedelta(days=i) for i in range(days)]
    weekday = np.array([d.weekday() for d in dates])
    doy = np.array([d.timetuple().tm_yday for d in dates])
    yearly = 1.0 + P.YEARLY_AMPLITUDE * np.cos(2 * np.pi * (doy - 15) / 365.25)
    day_factor = np.asarray(P.WEEKDAY)[weekday] * yearly * holiday_factor(dates)
    day_factor = day_factor / day_factor.mean()
    hourly = np.roll(np.asarray(P.HOURLY_LOCAL), P.UTC_OFFSET_HOURS)
    hourly = hourly / hourly.mean()
    per_hour = (day_factor[:, None] * hourly[None, :]).ravel() / 24.0
    cumulative = np.concatenate([[0.0], np.cumsum(per_hour)])
    cumulative *= days / cumulative[-1]
    return Clock(start, days, day_factor, cumulative)
