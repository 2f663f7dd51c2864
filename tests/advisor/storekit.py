"""Small synthetic stores for the advisor tests: orders, spend and events written as files
and imported with the real importers into a real DuckDB file."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tenure import Store
from tenure.ingest import import_events, import_orders, import_spend

ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "email",
    "ordered_at",
    "currency",
    "total",
    "discount",
    "status",
    "coupon",
    "channel",
)


def order(
    n: int,
    day: date,
    *,
    customer: str | None = None,
    total: float = 50.0,
    channel: str = "",
    coupon: str = "",
    discount: float | None = None,
    hour: int = 12,
) -> dict[str, Any]:
    """One order row (canonical columns)."""
    who = customer or f"C{n:06d}"
    return {
        "order_id": f"O{n:07d}",
        "customer_id": who,
        "email": f"{who.lower()}@example.com",
        "ordered_at": datetime.combine(day, datetime.min.time()).replace(hour=hour).isoformat(),
        "currency": "USD",
        "total": f"{total:.2f}",
        "discount": "" if discount is None else f"{discount:.2f}",
        "status": "paid",
        "coupon": coupon,
        "channel": channel,
    }


def daily_orders(
    first: date,
    end: date,
    per_day: float,
    *,
    seed: int,
    direct_share: float = 0.2,
    customers: int = 400,
) -> list[dict[str, Any]]:
    """Orders from ``first`` to ``end``: ``per_day`` a day on average (the whole part every
    day, the fraction by chance), ``direct_share`` of them direct, the rest paid_search;
    repeat buyers drawn from a pool of ``customers``."""
    rng = random.Random(seed)
    rows, n, day = [], 0, first
    whole, frac = int(per_day), per_day - int(per_day)
    while day <= end:
        count = whole + (1 if rng.random() < frac else 0)
        for _ in range(count):
            channel = "direct" if rng.random() < direct_share else "paid_search"
            cust = f"C{rng.randrange(customers):06d}"
            rows.append(order(n, day, customer=cust, channel=channel, hour=rng.randrange(24)))
            n += 1
        day += timedelta(days=1)
    return rows


def weekly_orders(first: date, end: date, per_week: Sequence[int], seed: int) -> list[dict]:
    """Orders from ``first`` to ``end``: ``per_week[i % len]`` in week i, on random days."""
    rng = random.Random(seed)
    rows, n, week = [], 0, 0
    start = first
    rows.append(order(n, first, channel="direct"))
    n += 1
    while start <= end:
        days = [start + timedelta(days=d) for d in range(7) if start + timedelta(days=d) <= end]
        for _ in range(per_week[week % len(per_week)]):
            rows.append(order(n, rng.choice(days), channel="organic_search"))
            n += 1
        start += timedelta(days=7)
        week += 1
    return rows


def spend_rows(first: date, end: date, per_day: dict[str, float]) -> list[dict[str, Any]]:
    """One spend row per day and channel."""
    rows, day = [], first
    while day <= end:
        for channel, cost in per_day.items():
            rows.append(
                {
                    "date": day.isoformat(),
                    "channel": channel,
                    "campaign": "",
                    "cost": f"{cost}",
                    "currency": "USD",
                }
            )
        day += timedelta(days=1)
    return rows


def _csv(path: Path, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def build(
    tmp_path: Path,
    orders: Sequence[dict[str, Any]] = (),
    spend: Sequence[dict[str, Any]] = (),
    events: Sequence[dict[str, Any]] = (),
    name: str = "store.duckdb",
) -> str:
    """A DuckDB store at ``tmp_path/name`` holding these rows, imported the real way."""
    url = f"duckdb://{tmp_path / name}"
    with Store(url) as store:
        if orders:
            path = _csv(tmp_path / f"{name}.orders.csv", orders, ORDER_COLUMNS)
            assert import_orders(store, [path], max_quarantine=0.0).quarantined == 0
        if spend:
            cols = ("date", "channel", "campaign", "cost", "currency")
            path = _csv(tmp_path / f"{name}.spend.csv", spend, cols)
            assert import_spend(store, [path], max_quarantine=0.0).quarantined == 0
        if events:
            path = tmp_path / f"{name}.events.jsonl"
            path.write_text("".join(json.dumps(e) + "\n" for e in events))
            assert import_events(store, [path], max_quarantine=0.0).quarantined == 0
    return url
