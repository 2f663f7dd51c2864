"""Who buys when: acquisition, BG/NBD repeat purchases and gamma-gamma order values.

Everything is vectorised over customers and orders with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from tenure.demo import params as P


@dataclass
class Calendar:
    """Days of the demo and their seasonal intensity (mean 1), with operational time."""

    start: date
    days: int
    intensity: np.ndarray
    cumulative: np.ndarray  # operational time at the start of each day, length days + 1

    def to_operational(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, np.arange(self.days + 1), self.cumulative)

    def to_calendar(self, op: np.ndarray) -> np.ndarray:
        return np.interp(op, self.cumulative, np.arange(self.days + 1))


def calendar(start: date, days: int) -> Calendar:
    """Weekly rhythm, a yearly wave peaking in winter, and a Black-Friday-to-Christmas peak."""
    day = np.arange(days)
    dates = np.datetime64(start) + day.astype("timedelta64[D]")
    weekday = (dates.astype("datetime64[D]").view("int64") - 4) % 7  # 1970-01-01 was a Thursday
    doy = (dates - dates.astype("datetime64[Y]")).astype(int)
    yearly = 1.0 + 0.15 * np.cos(2 * np.pi * (doy - 15) / 365.25)
    holiday = np.where((doy >= 327) & (doy <= 358), 1.6, 1.0)
    intensity = np.asarray(P.WEEKDAY)[weekday] * yearly * holiday
    intensity = intensity / intensity.mean()
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    return Calendar(start, days, intensity, cumulative)


@dataclass
class Buyers:
    """One entry per buyer: channel index, acquisition day, and the true individual draws."""

    channel: np.ndarray
    acquired: np.ndarray  # calendar day (float) of the first order
    lam: np.ndarray  # purchase rate per operational day
    p: np.ndarray  # drop-out probability after each repeat purchase
    nu: np.ndarray  # gamma-gamma spend rate (mean subtotal = p_gg / nu)
    alive: np.ndarray  # alive at the end of the demo
    repeats: np.ndarray  # repeat purchases made


def buyers(rng: np.random.Generator, n: int, cal: Calendar) -> Buyers:
    """Draw ``n`` buyers: channel, first-order day, rate, drop-out, spend rate."""
    shares = np.array([c.share for c in P.CHANNELS])
    channel = rng.choice(len(P.CHANNELS), size=n, p=shares / shares.sum())
    growth = 1.0 + 0.5 * np.arange(cal.days) / cal.days
    weights = cal.intensity * growth
    acquired = rng.choice(cal.days, size=n, p=weights / weights.sum()) + rng.uniform(size=n)
    r = np.array([c.r for c in P.CHANNELS])[channel]
    alpha = np.array([c.alpha for c in P.CHANNELS])[channel]
    a = np.array([c.a for c in P.CHANNELS])[channel]
    b = np.array([c.b for c in P.CHANNELS])[channel]
    lam = rng.gamma(r, 1.0 / alpha)
    p = rng.beta(a, b)
    nu = rng.gamma(P.GG_Q, 1.0 / P.GG_GAMMA, size=n)
    empty = np.zeros(n, dtype=bool)
    return Buyers(channel, acquired, lam, p, nu, empty, np.zeros(n, dtype=np.int64))


@dataclass
class Purchases:
    """All orders, first ones included, sorted by buyer then time."""

    buyer: np.ndarray
    day: np.ndarray  # calendar day (float)
    subtotal_cents: np.ndarray
    first: np.ndarray  # True for a buyer's first order


def purchases(rng: np.random.Generator, b: Buyers, cal: Calendar) -> Purchases:
    """BG/NBD repeat purchases in operational time, mapped back to calendar days."""
    n = len(b.channel)
    op_start = cal.to_operational(b.acquired)
    window = cal.cumulative[-1] - op_start
    n_full = np.minimum(rng.poisson(b.lam * window), P.MAX_REPEAT)
    death_after = rng.geometric(b.p)  # dies right after this repeat purchase
    made = np.minimum(n_full, death_after)
    b.repeats[:] = made
    b.alive[:] = n_full < death_after
    owner = np.repeat(np.arange(n), n_full)
    op = op_start[owner] + rng.uniform(size=len(owner)) * window[owner]
    order = np.lexsort((op, owner))
    owner, op = owner[order], op[order]
    first_index = np.concatenate([[0], np.cumsum(n_full)[:-1]])
    rank = np.arange(len(owner)) - first_index[owner]
    keep = rank < made[owner]
    rep_owner, rep_day = owner[keep], np.minimum(cal.to_calendar(op[keep]), cal.days - 1e-6)
    all_owner = np.concatenate([np.arange(n), rep_owner])
    all_day = np.concatenate([b.acquired, rep_day])
    first = np.concatenate([np.ones(n, dtype=bool), np.zeros(len(rep_owner), dtype=bool)])
    order = np.lexsort((all_day, all_owner))
    z = rng.gamma(P.GG_P, 1.0 / b.nu[all_owner[order]])
    cents = np.maximum(np.round(z * 100), 100).astype(np.int64)
    return Purchases(all_owner[order], all_day[order], cents, first[order])
