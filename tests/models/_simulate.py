"""Customers simulated from known BG/NBD, MBG/NBD and Gamma-Gamma parameters, and shops
whose customers never (or very slowly) leave."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd


def simulate_bgnbd(
    rng: np.random.Generator,
    n: int,
    params: dict[str, float],
    *,
    max_age: int = 78,
    fixed_age: float | None = None,
    leave_at_start: bool = False,
) -> pd.DataFrame:
    """(frequency, recency, T) of ``n`` customers aged ``fixed_age``, or with ages uniform on
    whole weeks 1..max_age.

    Poisson purchases at rate ``lambda ~ Gamma(r, alpha)``; after each purchase the customer
    leaves with probability ``p ~ Beta(a, b)`` (also at time 0 when ``leave_at_start``,
    which is MBG/NBD).
    """
    rate = rng.gamma(params["r"], 1.0 / params["alpha"], n)
    leave = rng.beta(params["a"], params["b"], n)
    if fixed_age is None:
        age = rng.integers(1, max_age + 1, n).astype(float)
    else:
        age = np.full(n, fixed_age)
    frequency = np.zeros(n)
    recency = np.zeros(n)
    clock = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    if leave_at_start:
        alive &= rng.random(n) >= leave
    while alive.any():
        idx = np.flatnonzero(alive)
        clock[idx] += rng.exponential(1.0, len(idx)) / rate[idx]
        inside = clock[idx] <= age[idx]
        alive[idx[~inside]] = False
        buyers = idx[inside]
        frequency[buyers] += 1
        recency[buyers] = clock[buyers]
        alive[buyers[rng.random(len(buyers)) < leave[buyers]]] = False
    return pd.DataFrame({"frequency": frequency, "recency": recency, "T": age})


def simulate_spend(
    rng: np.random.Generator, frequency: np.ndarray, params: dict[str, float]
) -> np.ndarray:
    """Mean of ``frequency`` transaction values, each ``Gamma(p, nu)``, ``nu ~ Gamma(q, gamma)``."""
    nu = rng.gamma(params["q"], 1.0 / params["gamma"], len(frequency))
    # The sum of x Gamma(p, nu) values is Gamma(p x, nu).
    return rng.gamma(params["p"] * frequency, 1.0 / nu) / frequency


def write_store_orders(
    path: Path,
    rng: np.random.Generator,
    n: int,
    *,
    r: float,
    alpha: float,
    lifetime_days: float | None = None,
    start: date = date(2024, 1, 1),
    days: int = 364,
    acquisition_days: int = 182,
    mean_amount: float = 40.0,
) -> None:
    """A one-year shop's orders in the CDNOW file layout (``id yyyymmdd cds dollars``).

    ``n`` customers make their first order on a day uniform in the first
    ``acquisition_days``, then order at a Poisson rate (per day) ``lambda ~ Gamma(r, alpha)``
    until the end of ``days``, or until they leave after an exponential lifetime of mean
    ``lifetime_days`` (None: nobody leaves). Amounts are Gamma(2, mean_amount / 2) dollars
    (0 for a shop of free orders).
    """
    first = rng.integers(0, acquisition_days, n)
    rate = rng.gamma(r, 1.0 / alpha, n)
    life = np.full(n, np.inf) if lifetime_days is None else rng.exponential(lifetime_days, n)
    lines = []
    for i in range(n):
        end = min(days - 1.0, first[i] + life[i])
        count = rng.poisson(rate[i] * max(end - first[i], 0.0))
        times = np.sort(first[i] + rng.uniform(0.0, max(end - first[i], 0.0), count))
        for t in [float(first[i]), *times]:
            day = start + timedelta(days=int(t))
            amount = rng.gamma(2.0, mean_amount / 2.0) if mean_amount > 0 else 0.0
            lines.append(f"{i + 1:05d} {day:%Y%m%d} 1 {amount:.2f}")
    path.write_text("\n".join(lines) + "\n")
