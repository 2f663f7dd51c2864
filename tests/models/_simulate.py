"""Customers simulated from known BG/NBD, MBG/NBD and Gamma-Gamma parameters."""

from __future__ import annotations

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
