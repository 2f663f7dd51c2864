"""Who buys when and how much: acquisition, BG/NBD repeat purchases, gamma-gamma subtotals.

Vectorised over buyers and orders with numpy; times are calendar days since the start
(floats) unless named ``op`` (operational days, see :mod:`tenure.demo.clock`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.clock import Clock


def acquisition_weights(cl: Clock) -> np.ndarray:
    """Probability of each calendar day being a new buyer's first-order day (sums to 1)."""
    growth = 1.0 + P.ACQUISITION_GROWTH * np.arange(cl.days) / cl.days
    weights = cl.day_factor * growth
    return weights / weights.sum()


@dataclass
class Buyers:
    """One entry per buyer: acquisition touch and time, and the true individual draws."""

    touch: np.ndarray  # acquisition touch index (channel = touches.CHANNEL_OF[touch])
    acquired: np.ndarray  # calendar day (float) of the first order
    op_start: np.ndarray  # operational day of the first order
    lam: np.ndarray  # repeat-purchase rate per operational day
    p: np.ndarray  # drop-out probability after each repeat purchase
    nu: np.ndarray  # gamma-gamma spend rate (mean subtotal = GG_P / nu)
    alive: np.ndarray  # still alive at the end of the period
    repeats: np.ndarray  # repeat purchases made

    @property
    def channel(self) -> np.ndarray:
        return T.CHANNEL_OF[self.touch]

    def __len__(self) -> int:
        return len(self.touch)


def draw_buyers(rng: np.random.Generator, n: int, cl: Clock) -> Buyers:
    """Draw ``n`` buyers: touch, first-order time, rate, drop-out probability, spend rate."""
    touch = T.draw(rng, T.ACQUISITION_P, n)
    day = rng.choice(cl.days, size=n, p=acquisition_weights(cl))
    acquired = cl.within_days(rng, day)
    channel = T.CHANNEL_OF[touch]

    def per_channel(name: str) -> np.ndarray:
        return np.array([getattr(c, name) for c in P.CHANNELS])[channel]

    lam = rng.gamma(per_channel("r"), 1.0 / per_channel("alpha"))
    p = rng.beta(per_channel("a"), per_channel("b"))
    nu = rng.gamma(P.GG_Q, 1.0 / P.GG_GAMMA, size=n)
    none = np.zeros(n, dtype=bool)
    return Buyers(
        touch, acquired, cl.to_operational(acquired), lam, p, nu, none, np.zeros(n, np.int64)
    )


@dataclass
class Purchases:
    """Every order, first ones included, sorted by buyer then time."""

    buyer: np.ndarray
    day: np.ndarray  # calendar day (float)
    subtotal_cents: np.ndarray
    first: np.ndarray  # True for a buyer's first order

    def __len__(self) -> int:
        return len(self.buyer)


def draw_purchases(rng: np.random.Generator, b: Buyers, cl: Clock) -> Purchases:
    """BG/NBD repeat purchases in operational time, mapped back to calendar time.

    In operational time a buyer's potential repeat purchases are a Poisson process with rate
    lambda from the first order to the end; the buyer drops out right after repeat purchase
    k ~ Geometric(p), so only the first k of them happen. Fills ``b.alive``/``b.repeats``.
    """
    n = len(b)
    window = cl.days - b.op_start  # the buyer's T, in operational days
    n_full = np.minimum(rng.poisson(b.lam * window), P.MAX_REPEAT)
    death_after = rng.geometric(b.p)
    made = np.minimum(n_full, death_after)
    b.repeats[:] = made
    b.alive[:] = n_full < death_after
    owner = np.repeat(np.arange(n), n_full)
    op = b.op_start[owner] + rng.uniform(size=len(owner)) * window[owner]
    order = np.lexsort((op, owner))
    owner, op = owner[order], op[order]
    first_index = np.concatenate([[0], np.cumsum(n_full)[:-1]])
    keep = np.arange(len(owner)) - first_index[owner] < made[owner]
    repeat_day = cl.to_calendar(op[keep])
    all_owner = np.concatenate([np.arange(n), owner[keep]])
    all_day = np.concatenate([b.acquired, repeat_day])
    first = np.concatenate([np.ones(n, dtype=bool), np.zeros(int(keep.sum()), dtype=bool)])
    order = np.lexsort((all_day, all_owner))
    z = rng.gamma(P.GG_P, 1.0 / b.nu[all_owner[order]])
    cents = np.maximum(np.round(z * 100), P.MIN_SUBTOTAL_CENTS).astype(np.int64)
    return Purchases(all_owner[order], all_day[order], cents, first[order])
