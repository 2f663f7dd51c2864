"""The maturity stage of a store, from its age, sales pace and share of direct orders.

Heuristics, not laws: the maturity table of the source documents the project was created
from (docs/advisor.md), their rule of thumb for how much effort a store should put on keeping
customers rather than winning new ones::

    stage              typical signal                                     retention effort
    just started       no sales yet                                       0%
    gaining traction   first ~2 months, 1-5 sales a week                  at least 15%
    consistent         2-3 months, at least 1 sale a day                  at least 30%
    established        4-6 months, about 10 sales a day                   50%
    well established   about a year, 10+ sales a day, mostly direct       about 60%

A store is at the highest stage whose every signal it shows (a ladder: each stage also needs
the signals of the ones below). The numbers are :class:`Thresholds`, read from the settings
(``maturity_*``, docs/configuration.md). Pure functions: no store here.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenure.advisor.sentence import N_
from tenure.config import Settings
from tenure.errors import ConfigError

#: The stages, in order (index 0 to 4).
STAGES = ("just started", "gaining traction", "consistent", "established", "well established")
#: Where the rule comes from (said next to every figure it produces).
SOURCE = N_("heuristic of the source documents, docs/advisor.md")


@dataclass(frozen=True)
class Thresholds:
    """The heuristic thresholds of the stages (docs/advisor.md; settings ``maturity_*``)."""

    consistent_days: int = 60
    consistent_sales_per_day: float = 1.0
    established_days: int = 120
    established_sales_per_day: float = 8.0
    well_established_days: int = 330
    well_established_sales_per_day: float = 10.0
    direct_share: float = 0.5
    retention_shares: tuple[float, ...] = (0.0, 0.15, 0.30, 0.50, 0.60)

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        """The thresholds the settings give; a ConfigError when a later stage asks less
        than an earlier one (the ladder would skip a rung)."""
        t = cls(
            consistent_days=settings.maturity_consistent_days,
            consistent_sales_per_day=settings.maturity_consistent_sales_per_day,
            established_days=settings.maturity_established_days,
            established_sales_per_day=settings.maturity_established_sales_per_day,
            well_established_days=settings.maturity_well_established_days,
            well_established_sales_per_day=settings.maturity_well_established_sales_per_day,
            direct_share=settings.maturity_direct_share,
            retention_shares=tuple(settings.maturity_retention_shares),
        )
        days = (t.consistent_days, t.established_days, t.well_established_days)
        pace = (
            t.consistent_sales_per_day,
            t.established_sales_per_day,
            t.well_established_sales_per_day,
        )
        if list(days) != sorted(days) or list(pace) != sorted(pace):
            raise ConfigError(
                "The maturity thresholds must grow stage by stage: days "
                f"{days[0]} <= {days[1]} <= {days[2]} and sales per day "
                f"{pace[0]} <= {pace[1]} <= {pace[2]} (consistent, established, well "
                "established).",
                hint="Fix the maturity_* settings in tenure.toml or TENURE_MATURITY_*.",
            )
        return t


@dataclass(frozen=True)
class Signals:
    """What the stage is read from. ``None``: unknown (no sale yet, no touch recorded)."""

    purchases: int
    age_days: int | None
    sales_per_day: float | None
    direct_share: float | None


@dataclass(frozen=True)
class Requirement:
    """One signal a stage needs: its name, the least value, the store's (None: unknown)."""

    signal: str
    needed: float
    actual: float | None

    @property
    def met(self) -> bool:
        return self.actual is not None and self.actual >= self.needed


def requirements(stage: int, t: Thresholds) -> list[Requirement]:
    """The signals stage ``stage`` (1 to 4) needs, without the actual values (see
    :func:`gaps`)."""
    table: dict[int, list[tuple[str, float]]] = {
        1: [("purchases", 1.0)],
        2: [("age_days", t.consistent_days), ("sales_per_day", t.consistent_sales_per_day)],
        3: [("age_days", t.established_days), ("sales_per_day", t.established_sales_per_day)],
        4: [
            ("age_days", t.well_established_days),
            ("sales_per_day", t.well_established_sales_per_day),
            ("direct_share", t.direct_share),
        ],
    }
    return [Requirement(name, float(value), None) for name, value in table[stage]]


def gaps(stage: int, signals: Signals, t: Thresholds) -> list[Requirement]:
    """Every signal stage ``stage`` needs, with the store's value (met or not)."""
    values = {
        "purchases": float(signals.purchases),
        "age_days": None if signals.age_days is None else float(signals.age_days),
        "sales_per_day": signals.sales_per_day,
        "direct_share": signals.direct_share,
    }
    return [Requirement(r.signal, r.needed, values[r.signal]) for r in requirements(stage, t)]


def classify(signals: Signals, t: Thresholds) -> int:
    """The stage (index into :data:`STAGES`): the highest stage whose signals (and those of
    every stage below) are all met; 0 (just started) without a sale. An unknown signal is not
    met: a store whose direct share is unknown is at most established."""
    stage = 0
    for candidate in (1, 2, 3, 4):
        if not all(r.met for r in gaps(candidate, signals, t)):
            break
        stage = candidate
    return stage
