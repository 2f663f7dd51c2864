"""Uplift of a flow against its holdout, and A/B variants compared the same way: pure numpy
and scipy, no store (docs/delivery.md, "Measurement").

* **Conversion**: the difference of two proportions ``k1/n1 - k0/n0`` with Newcombe's hybrid
  score interval, built from the Wilson score interval of each proportion (Newcombe 1998,
  "Interval estimation for the difference between independent proportions: comparison of
  eleven methods", Statistics in Medicine 17:873-890, method 10). Unlike the Wald interval,
  whose coverage collapses for small samples and rates near 0 (the case of conversions), it
  keeps close to its nominal coverage from a few dozen persons per arm, and never leaves
  [-1, 1].
* **Revenue per person**: the difference of two means with Welch's t interval (unequal
  variances, Welch-Satterthwaite degrees of freedom), from each arm's count, sum and sum of
  squares, so the engine aggregates and only six numbers come back.
* **A/B**: every variant needs at least ``min_per_arm`` persons (:data:`MIN_PER_ARM`) before
  a winner is named; the winner is then the variant of highest conversion whose difference
  with every other variant has an interval above 0, at the confidence adjusted for the
  ``k - 1`` comparisons (Bonferroni). Otherwise no winner, with the reason.

Every function takes scalars or numpy arrays (the coverage simulation runs thousands of
stores at once); an estimate with an empty arm is unknown (NaN here, ``None`` in
:class:`Estimate`), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from tenure.errors import ConfigError

#: The persons every A/B variant needs before a winner is named.
MIN_PER_ARM = 100
#: The default confidence of every interval.
CONFIDENCE = 0.95

Floats = NDArray[np.float64]


def check_confidence(confidence: object) -> float:
    """``confidence`` as a float in (0, 1), or a ConfigError."""
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 < confidence < 1
    ):
        raise ConfigError(
            f"The 'confidence' parameter must be a number in the range (0, 1). Got {confidence!r}.",
            hint="0.95 gives 95% intervals.",
        )
    return float(confidence)


def _counts(name: str, value: ArrayLike) -> Floats:
    arr = np.asarray(value, dtype=np.float64)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.floor(arr)):
        raise ConfigError(
            f"The {name!r} parameter must be a whole number in the range [0, inf). Got {value!r}.",
            hint="Pass counts of persons.",
        )
    return arr


def _proportion(k: ArrayLike, n: ArrayLike, names: tuple[str, str]) -> tuple[Floats, Floats]:
    k_, n_ = _counts(names[0], k), _counts(names[1], n)
    if np.any(k_ > n_):
        raise ConfigError(
            f"The {names[0]!r} parameter must be at most {names[1]!r}. Got {k!r} and {n!r}.",
            hint=f"{names[0]} counts the converted persons among the {names[1]}.",
        )
    return k_, n_


def _wilson(k: Floats, n: Floats, z: float) -> tuple[Floats, Floats, Floats]:
    """(p, low, high) of the Wilson score interval (NaN where ``n`` is 0)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return p, centre - half, centre + half


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + check_confidence(confidence) / 2))


def wilson(k: ArrayLike, n: ArrayLike, confidence: float = CONFIDENCE) -> tuple[Floats, Floats]:
    """The Wilson score interval of the proportion ``k / n`` (NaN where ``n`` is 0)."""
    _, low, high = _wilson(*_proportion(k, n, ("k", "n")), _z(confidence))
    return low, high


def rate_difference(
    k1: ArrayLike, n1: ArrayLike, k0: ArrayLike, n0: ArrayLike, confidence: float = CONFIDENCE
) -> tuple[Floats, Floats, Floats]:
    """``k1/n1 - k0/n0`` and its Newcombe hybrid score interval (method 10): (estimate,
    low, high), NaN where an arm is empty."""
    z = _z(confidence)
    p1, l1, u1 = _wilson(*_proportion(k1, n1, ("k1", "n1")), z)
    p0, l0, u0 = _wilson(*_proportion(k0, n0, ("k0", "n0")), z)
    d = p1 - p0
    low = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return d, low, high


def welch(
    n1: ArrayLike,
    mean1: ArrayLike,
    var1: ArrayLike,
    n0: ArrayLike,
    mean0: ArrayLike,
    var0: ArrayLike,
    confidence: float = CONFIDENCE,
) -> tuple[Floats, Floats, Floats]:
    """``mean1 - mean0`` and Welch's t interval from each arm's size, mean and sample
    variance: (estimate, low, high), NaN where an arm has fewer than 2 persons."""
    level = check_confidence(confidence)
    a, b = _counts("n1", n1), _counts("n0", n0)
    m1, m0 = np.asarray(mean1, np.float64), np.asarray(mean0, np.float64)
    v1, v0 = np.asarray(var1, np.float64), np.asarray(var0, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        s1, s0 = v1 / a, v0 / b
        se = np.sqrt(s1 + s0)
        dof = (s1 + s0) ** 2 / (s1**2 / (a - 1) + s0**2 / (b - 1))
        t = stats.t.ppf(0.5 + level / 2, np.where(se > 0, dof, 1.0))
        d = m1 - m0
        half = np.where(se > 0, t * se, 0.0)
        small = (a < 2) | (b < 2)
    return (
        np.where((a < 1) | (b < 1), np.nan, d),
        np.where(small, np.nan, d - half),
        np.where(small, np.nan, d + half),
    )


@dataclass(frozen=True)
class Arm:
    """One group's figures: persons, converted persons, and the sum and sum of squares of
    their revenue (each person's revenue in the window, 0 when they did not buy)."""

    persons: int
    converted: int
    revenue: float
    revenue_squares: float

    @property
    def conversion(self) -> float | None:
        return self.converted / self.persons if self.persons else None

    @property
    def revenue_per_person(self) -> float | None:
        return self.revenue / self.persons if self.persons else None

    @property
    def revenue_variance(self) -> float:
        """The sample variance of the persons' revenue (NaN below 2 persons)."""
        n = self.persons
        if n < 2:
            return math.nan
        mean = self.revenue / n
        return max(0.0, (self.revenue_squares - n * mean * mean) / (n - 1))


@dataclass(frozen=True)
class Estimate:
    """A difference and its interval; ``low`` / ``high`` are None when it cannot be bounded."""

    estimate: float
    low: float | None
    high: float | None
    confidence: float

    def to_dict(self) -> dict[str, float | None]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high}


def _estimate(parts: tuple[Floats, Floats, Floats], confidence: float) -> Estimate | None:
    d, lo, hi = (float(x) for x in parts)
    if math.isnan(d):
        return None
    return Estimate(d, None if math.isnan(lo) else lo, None if math.isnan(hi) else hi, confidence)


def conversion_uplift(
    treated: Arm, control: Arm, confidence: float = CONFIDENCE
) -> Estimate | None:
    """Treated minus control conversion with its Newcombe interval; None (unknown) when an
    arm has nobody."""
    got = rate_difference(
        treated.converted, treated.persons, control.converted, control.persons, confidence
    )
    return _estimate(got, confidence)


def revenue_uplift(treated: Arm, control: Arm, confidence: float = CONFIDENCE) -> Estimate | None:
    """Treated minus control revenue per person with Welch's interval; None (unknown) when an
    arm has nobody, no interval below 2 persons per arm."""
    got = welch(
        treated.persons,
        treated.revenue_per_person or 0.0,
        treated.revenue_variance,
        control.persons,
        control.revenue_per_person or 0.0,
        control.revenue_variance,
        confidence,
    )
    return _estimate(got, confidence)


@dataclass(frozen=True)
class Comparison:
    """One variant against the variant of highest conversion."""

    variant: str
    against: str
    conversion: Estimate | None
    revenue: Estimate | None


@dataclass(frozen=True)
class Verdict:
    """The A/B outcome: the winner (None when none is named), why, and the comparisons."""

    winner: str | None
    reason: str
    comparisons: tuple[Comparison, ...]
    min_per_arm: int


def compare_variants(
    arms: Mapping[str, Arm],
    *,
    min_per_arm: int = MIN_PER_ARM,
    confidence: float = CONFIDENCE,
) -> Verdict:
    """Each variant against the one of highest conversion, and the winner by the rule of
    the module docstring (enough persons in every arm, then an interval above 0 against
    every other variant at the Bonferroni-adjusted confidence)."""
    if isinstance(min_per_arm, bool) or not isinstance(min_per_arm, int) or min_per_arm < 1:
        raise ConfigError(
            "The 'min_per_arm' parameter must be an int in the range [1, inf). "
            f"Got {min_per_arm!r}.",
            hint=f"The default is {MIN_PER_ARM} persons per variant.",
        )
    level = check_confidence(confidence)
    names = sorted(arms)
    if len(names) < 2:
        return Verdict(None, "fewer than two variants", (), min_per_arm)
    best = max(names, key=lambda v: (arms[v].conversion or 0.0, -names.index(v)))
    adjusted = 1 - (1 - level) / (len(names) - 1)
    comparisons = tuple(
        Comparison(
            v,
            best,
            conversion_uplift(arms[best], arms[v], adjusted),
            revenue_uplift(arms[best], arms[v], adjusted),
        )
        for v in names
        if v != best
    )
    short = [v for v in names if arms[v].persons < min_per_arm]
    if short:
        few = ", ".join(f"{v} has {arms[v].persons}" for v in short)
        return Verdict(
            None, f"too few persons ({few} of {min_per_arm} needed)", comparisons, min_per_arm
        )
    if all(
        c.conversion and c.conversion.low is not None and c.conversion.low > 0 for c in comparisons
    ):
        return Verdict(
            best, f"{best} converts better than every other variant", comparisons, min_per_arm
        )
    return Verdict(None, "no variant converts significantly better", comparisons, min_per_arm)


def wasted_share(treated: float | None, control: float | None) -> float | None:
    """The share of the treated converters expected to have bought anyway:
    ``min(1, control / treated)`` of the conversion rates (None when unknown)."""
    if treated is None or control is None:
        return None
    if treated <= 0:
        return 1.0 if control >= 0 else None
    return min(1.0, control / treated)


def arm_of(
    revenues: Sequence[float] | Floats, converted: Sequence[bool] | NDArray[np.bool_]
) -> Arm:
    """An :class:`Arm` from per-person rows (tests, small stores)."""
    r = np.asarray(revenues, dtype=np.float64)
    c = np.asarray(converted, dtype=bool)
    return Arm(int(r.size), int(c.sum()), float(r.sum()), float((r * r).sum()))
