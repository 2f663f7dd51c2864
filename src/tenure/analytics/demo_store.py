"""`tenure demo` in one call: generate the demo store, then read its headline figures.

The generator (:mod:`tenure.demo`) sits below analytics; the figures (channel economics,
KPIs) are analytics; so the function that combines them lives here, not in the generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from tenure.analytics.channels import channels
from tenure.analytics.periods import kpis
from tenure.demo import DEFAULT_TASTE, DemoSummary, generate_demo
from tenure.progress import ProgressCallback, no_progress, step_task
from tenure.store import Store

#: Months of KPIs a demo report holds (the last ones, up to the store's as-of day).
DEMO_MONTHS = 12
#: The progress step after the generation (whose step is ``Demo: customers``).
FIGURES_TASK = step_task("Demo", "monthly KPIs and channel figures")


@dataclass(frozen=True)
class DemoReport:
    """What `tenure demo` prints: the generated store's ``summary``, its acquisition
    ``channels`` (:func:`~tenure.analytics.channels.channels`) and the ``kpis`` of its last
    :data:`DEMO_MONTHS` months (:func:`~tenure.analytics.periods.kpis`, monthly; the
    frames keep their ``attrs``: ``as_of``, ``currency``, ``money``, ``warnings``)."""

    summary: DemoSummary
    channels: pd.DataFrame
    kpis: pd.DataFrame


def demo(
    store: Store,
    *,
    customers: int = 20_000,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    days: int = 730,
    replace: bool = False,
    progress: ProgressCallback | None = None,
    taste: float = DEFAULT_TASTE,
) -> DemoReport:
    """Write the demo store into ``store`` (:func:`tenure.demo.generate_demo`, same
    arguments) and return it with its headline figures, read from the same store.
    ``progress`` is told the customers generated (``Demo: customers``), then the figures."""
    summary = generate_demo(
        store,
        customers=customers,
        seed=seed,
        start=start,
        days=days,
        replace=replace,
        progress=progress,
        taste=taste,
    )
    report = progress or no_progress
    report(FIGURES_TASK, 0, 2)
    monthly = kpis(store, grain="month").tail(DEMO_MONTHS).reset_index(drop=True)
    report(FIGURES_TASK, 1, 2)
    by_channel = channels(store)
    report(FIGURES_TASK, 2, 2)
    return DemoReport(summary=summary, channels=by_channel, kpis=monthly)
