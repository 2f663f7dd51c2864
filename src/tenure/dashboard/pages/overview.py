"""Overview: the KPI cards of the window against the comparison period, the trends of the
last twelve months, and what changed most.

Every number is a row of :func:`tenure.analytics.periods.kpis` (``tenure kpis --json``) for
the window's calendar period, observed at the window's end; CLV:CAC is that row's CLV over its
CAC, coloured against the 3:1 benchmark of channel economics.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from tenure.analytics.channels import HEALTHY, WATCH
from tenure.analytics.cohorts import period_number_of, period_start
from tenure.analytics.periods import kpis
from tenure.config import Settings
from tenure.dashboard.model import (
    N_,
    Chart,
    Column,
    Health,
    Metric,
    Page,
    Section,
    Series,
    Table,
    Unit,
    Value,
    Window,
)
from tenure.dashboard.pages.common import (
    cell,
    moneys,
    observed_end,
    one_series_chart,
    value,
    values,
)
from tenure.store import Store, reporting_currency

#: The cards: kpis column, label, unit, definition anchor (docs/metrics.md).
CARDS: tuple[tuple[str, str, Unit, str], ...] = (
    ("revenue", N_("Revenue"), "money", "dash-revenue"),
    ("orders", N_("Orders"), "count", "dash-orders"),
    ("aov", N_("Average order value"), "money", "dash-aov"),
    ("repeat_purchase_rate", N_("Repeat purchase rate"), "share", "dash-repeat-rate"),
    ("retention_rate", N_("Retention rate"), "share", "dash-retention"),
    ("churn_rate", N_("Churn rate"), "share", "dash-churn"),
    ("new_customers", N_("New customers"), "count", "dash-new-customers"),
    ("cac", N_("Customer acquisition cost (CAC)"), "money", "dash-cac"),
    ("clv", N_("Customer lifetime value (CLV)"), "money", "dash-clv"),
)
#: The months of the trend charts.
TREND_MONTHS = 12
GRAINS = ("day", "week", "month", "quarter")


def period_grain(window: Window) -> str | None:
    """The calendar grain whose one period is the window (its end may cut the period, as
    ``as_of`` cuts the last period of ``tenure kpis``), else None."""
    for grain in GRAINS:
        if _start_of(window.end, grain) == window.start:
            return grain
    return None


def _start_of(day: date, grain: str) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return period_start(period_number_of(day, grain), grain)


def window_kpis(store: Store, window: Window) -> tuple[pd.DataFrame, str, list[str]]:
    """The kpis rows from the comparison period to the window's (``tenure kpis --grain G
    --start compare_start --end end --as-of end``), the grain, and notes."""
    notes = []
    end = observed_end(store, window)
    grain = period_grain(window)
    if grain is None:
        grain = "month"
        notes.append(
            N_(
                "KPIs are defined per calendar period: the cards show the calendar month "
                "holding the window's end."
            )
        )
    start = min(window.compare_start, _start_of(end, grain))
    if grain == "month":  # one query for the cards and the trends
        start = min(start, trend_start(end))
    frame = kpis(store, grain=grain, start=start, end=end, as_of=end)
    return frame, grain, notes


def trend_start(end: date) -> date:
    """The first day of the trends: the month :data:`TREND_MONTHS` - 1 months before
    ``end``'s."""
    return period_start(period_number_of(end, "month") - (TREND_MONTHS - 1), "month")


def _row(frame: pd.DataFrame, day: date) -> dict[str, object] | None:
    hit = frame[(frame["period_start"] <= day) & (frame["period_end"] >= day)]
    return None if hit.empty else dict(hit.iloc[-1])


def clv_cac_health(ratio: float | None) -> Health | None:
    """The colour of a CLV:CAC ratio against the 3:1 benchmark (channel economics' flags)."""
    if ratio is None:
        return None
    if ratio >= HEALTHY:
        return "good"
    return "warn" if ratio > WATCH else "alarm"


def _ratio(row: dict[str, object] | None) -> float | None:
    if row is None:
        return None
    clv, cac = value(row.get("clv")), value(row.get("cac"))
    if not isinstance(clv, float | int) or not isinstance(cac, float | int) or cac <= 0:
        return None
    return float(clv) / float(cac)


def cards(
    now: dict[str, object] | None, before: dict[str, object] | None, currency: str
) -> tuple[Metric, ...]:
    out = []
    for key, label, unit, anchor in CARDS:
        current = cell(now.get(key), unit, currency) if now else None
        previous = cell(before.get(key), unit, currency) if before else None
        out.append(Metric(key, label, current, unit, previous, anchor))
    ratio = _ratio(now)
    out.append(
        Metric(
            "clv_cac",
            N_("CLV:CAC"),
            ratio,
            "ratio",
            _ratio(before),
            "dash-clv-cac",
            clv_cac_health(ratio),
        )
    )
    return tuple(out)


def card_notes(now: dict[str, object] | None) -> list[str]:
    """Why a card is unknown."""
    if now is None:
        return [N_("No orders in the window yet.")]
    notes = []
    if value(now.get("spend")) is None:
        notes.append(N_("No marketing spend recorded for the period: CAC and CLV:CAC unknown."))
    if value(now.get("clv")) is None:
        notes.append(
            N_(
                "CLV unknown: it needs a previous year of buyers and some churn to measure "
                "(the store's first year, or no buyer of last year lost)."
            )
        )
    if value(now.get("retention_rate")) is None:
        notes.append(N_("Retention unknown: the previous period had no buyers."))
    return notes


def changes(metrics: tuple[Metric, ...]) -> Table:
    """The cards whose value moved most against the previous period, largest relative
    change first (unknown changes last)."""
    rows: list[tuple[Value, ...]] = []
    for m in metrics:
        if not isinstance(m.value, int | float) or not isinstance(m.previous, int | float):
            continue
        if m.previous == 0:
            continue
        change = (float(m.value) - float(m.previous)) / abs(float(m.previous))
        rows.append((m.key, m.label, m.value, m.previous, change))
    rows.sort(key=lambda r: -abs(float(r[4])))  # type: ignore[arg-type]
    columns = (
        Column("metric", N_("Metric"), "text"),
        Column("label", N_("Label"), "text"),
        Column("value", N_("This period"), "number"),
        Column("previous", N_("Previous period"), "number"),
        Column("change", N_("Change"), "share", "dash-change"),
    )
    return Table("changes", N_("What changed most"), columns, tuple(rows))


def trends(store: Store, end: date, monthly: pd.DataFrame | None, currency: str) -> Section:
    """Revenue, new customers and retention per month over the last twelve months
    (``monthly``: the window's monthly kpis rows when they cover them)."""
    first = trend_start(end)
    if monthly is None:
        monthly = kpis(store, grain="month", start=first, end=end, as_of=end)
    frame = monthly[monthly["period_start"] >= first]
    x = values(frame["period"])
    return Section(
        "trends",
        N_("Trends"),
        charts=(
            Chart(
                "revenue",
                N_("Revenue per month"),
                "line",
                x,
                (Series(N_("Revenue"), moneys(frame["revenue"], currency)),),
                "money",
            ),
            Chart(
                "customers",
                N_("New and returning customers per month"),
                "stacked_bar",
                x,
                (
                    Series(N_("New customers"), values(frame["new_customers"])),
                    Series(N_("Returning customers"), values(frame["returning_customers"])),
                ),
                "count",
            ),
            one_series_chart(
                "retention",
                N_("Retention rate per month"),
                "line",
                x,
                N_("Retention rate"),
                frame["retention_rate"],
                "share",
            ),
        ),
    )


def build(store: Store, settings: Settings, window: Window) -> Page:
    """The overview page of ``window``."""
    currency = reporting_currency(store)
    frame, grain, notes = window_kpis(store, window)
    end = observed_end(store, window)
    now = _row(frame, end)
    before = _row(frame, window.compare_end)
    if before is not None and now is not None and before["period"] == now["period"]:
        before = None
    metrics = cards(now, before, currency)
    kpi_section = Section(
        "kpis",
        N_("Key figures"),
        metrics=(
            Metric("period", N_("Period"), value(now["period"]) if now else None, "text"),
            Metric("grain", N_("Period length"), grain, "text"),
            *metrics,
        ),
        notes=tuple(notes + card_notes(now)),
    )
    return Page(
        "overview",
        N_("Overview"),
        window,
        currency,
        (
            kpi_section,
            trends(store, end, frame if grain == "month" else None, currency),
            Section("changes", N_("What changed most"), tables=(changes(metrics),)),
        ),
    )
