"""A page of every kind of block, built by hand (the drawing is tested on it, independently
of the page builders)."""

from __future__ import annotations

from datetime import date

from tenure.dashboard.model import (
    Chart,
    Column,
    Metric,
    Page,
    Section,
    Series,
    Table,
    Window,
)

WINDOW = Window.trailing(date(2025, 12, 30), 30)


def sample_page(key: str = "overview") -> Page:
    """An overview-like page: cards (one unknown, one with health), every chart kind, a table
    with a link and an unknown cell."""
    metrics = (
        Metric("revenue", "Revenue", 12345.5, "money", 10000.0, "revenue"),
        Metric("orders", "Orders", 321, "count", 300, "orders"),
        Metric("repeat_rate", "Repeat purchase rate", 0.25, "share", 0.2, "repeat_purchase_rate"),
        Metric("cac", "CAC", None, "money", 12.0, "cac"),
        Metric("clv_cac", "CLV:CAC", 3.4, "ratio", 2.9, "clv_cac", "good"),
    )
    x = ("2025-10", "2025-11", "2025-12")
    charts = (
        Chart("trend", "Revenue", "line", x, (Series("Revenue", (100.0, 120.5, None)),), "money"),
        Chart("orders", "Orders", "bar", x, (Series("Orders", (3, 4, 5)),), "count"),
        Chart(
            "stack",
            "New customers",
            "stacked_bar",
            x,
            (Series("direct", (1, 2, 3)), Series("email", (2, 2, 1))),
            "count",
        ),
        Chart(
            "heat",
            "Retention",
            "heatmap",
            ("0", "1", "2"),
            (Series("2025-10", (1.0, 0.4, 0.3)), Series("2025-11", (1.0, 0.35, None))),
            "share",
        ),
        Chart(
            "funnel",
            "Journey stages",
            "funnel",
            ("reach", "acquire", "develop"),
            (Series("Customers", (100, 40, 10)),),
            "count",
        ),
        Chart(
            "hist",
            "Predicted CLV",
            "histogram",
            ("0-10", "10-20"),
            (Series("Customers", (5, 2)),),
            "count",
        ),
    )
    table = Table(
        "channels",
        "Channels",
        (
            Column("channel", "Channel", "text"),
            Column("new_customers", "New customers", "count", "new_customers"),
            Column("cac", "CAC", "money", "cac"),
            Column("first", "First order", "date"),
        ),
        (("direct", 10, None, "2025-12-01"), ("email", 4, 12.25, None)),
        link="/dash/profile?q={0}",
    )
    return Page(
        key,
        "Overview",
        WINDOW,
        "EUR",
        (
            Section("kpis", "Key figures", metrics=metrics),
            Section(
                "trends", "Trends", charts=charts, tables=(table,), notes=("No spend recorded.",)
            ),
        ),
    )
