"""Cohorts: retention and cumulative value heatmaps by acquisition month, by channel and by
first category, and the CLV curves of the acquisition cohorts.

The cells are :func:`tenure.analytics.cohorts.cohorts` as of the window's end (``tenure
cohorts --long --json``), pivoted as :func:`~tenure.analytics.cohorts.cohort_matrix` pivots
them (``tenure cohorts --metric ...``).
"""

from __future__ import annotations

import pandas as pd

from tenure.analytics.cohorts import GROUP_COLUMNS, METRICS, cohorts
from tenure.config import Settings
from tenure.dashboard.model import N_, Chart, Column, Page, Section, Series, Unit, Window
from tenure.dashboard.pages.common import cell, empty_note, frame_table, observed_end
from tenure.dashboard.stored import stored_table
from tenure.store import Store, reporting_currency

PERIOD = "month"
#: The splits shown: the cohort's group, the section title.
SPLITS = (
    ("acquisition", N_("By acquisition month")),
    ("channel", N_("By channel and acquisition month")),
    ("first_category", N_("By first category and acquisition month")),
)
#: The heatmaps: cohort metric, title, unit.
HEATMAPS: tuple[tuple[str, str, Unit], ...] = (
    ("retention", N_("Retention"), "share"),
    ("cumulative_margin", N_("Cumulative margin per customer"), "money"),
)
LONG_COLUMNS = (
    Column("cohort", N_("Cohort"), "text", "dash-cohort"),
    Column("period", N_("Months since acquisition"), "count", "dash-cohort"),
    Column("partial", N_("Partial"), "number"),
    Column("customers", N_("Customers"), "count", "dash-cohort"),
    Column("active", N_("Active"), "count", "dash-cohort-retention"),
    Column("retention", N_("Retention"), "share", "dash-cohort-retention"),
    Column("orders", N_("Orders"), "count", "dash-orders"),
    Column("revenue", N_("Revenue"), "money", "dash-revenue"),
    Column("margin", N_("Margin"), "money", "dash-margin"),
    Column(
        "cumulative_revenue_per_customer",
        N_("Cumulative revenue per customer"),
        "money",
        "dash-cohort-value",
    ),
    Column(
        "cumulative_margin_per_customer",
        N_("Cumulative margin per customer"),
        "money",
        "dash-cohort-value",
    ),
)


def row_names(long: pd.DataFrame, by: str) -> pd.Series:
    """Each cohort row's name: the acquisition month, after its group when split."""
    if by == "acquisition":
        return long["cohort"].astype(str)
    return long[GROUP_COLUMNS[by]].astype(str) + " · " + long["cohort"].astype(str)


def heatmap(long: pd.DataFrame, by: str, metric: str, title: str, unit: Unit, cur: str) -> Chart:
    """The cohort x period matrix of ``metric`` (the cells of ``tenure cohorts --metric``)
    as a heatmap: one series per cohort, one value per period since acquisition (unknown
    where the cohort has not reached it)."""
    if long.empty:
        return Chart(f"{by}_{metric}", title, "heatmap", (), (), unit)
    frame = long.assign(row=row_names(long, by))
    wide = frame.pivot_table(index="row", columns="period", values=METRICS[metric], sort=False)
    wide = wide.reindex(columns=range(int(long["period"].max()) + 1))
    series = tuple(
        Series(str(name), tuple(cell(v, unit, cur) for v in wide.loc[name])) for name in wide.index
    )
    return Chart(f"{by}_{metric}", title, "heatmap", tuple(wide.columns), series, unit)


def clv_curves(long: pd.DataFrame, currency: str) -> Chart:
    """The acquisition cohorts' cumulative margin per customer by month since acquisition."""
    chart = heatmap(
        long,
        "acquisition",
        "cumulative_margin",
        N_("CLV curves: cumulative margin per customer"),
        "money",
        currency,
    )
    return Chart("clv_curves", chart.title, "line", chart.x, chart.series, "money")


def build(store: Store, settings: Settings, window: Window) -> Page:
    """The cohorts page as of the window's end."""
    currency = reporting_currency(store)
    end = observed_end(store, window)
    sections = []
    facts = stored_table(store, "customer_facts", end)
    for by, title in SPLITS:
        long = cohorts(store, period=PERIOD, by=by, as_of=end, facts=facts)
        charts = [heatmap(long, by, m, t, unit, currency) for m, t, unit in HEATMAPS]
        if by == "acquisition":
            charts.append(clv_curves(long, currency))
        group = () if by == "acquisition" else (Column(GROUP_COLUMNS[by], N_("Group"), "text"),)
        table = frame_table(by, title, long, (*group, *LONG_COLUMNS), currency)
        notes = empty_note(long, N_("No purchases yet: no cohort to follow."))
        sections.append(Section(by, title, charts=tuple(charts), tables=(table,), notes=notes))
    return Page("cohorts", N_("Cohorts"), window, currency, tuple(sections))
