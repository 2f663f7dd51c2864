"""The orders base and ``customer_facts`` in idiomatic pandas: what an analyst with pandas
would write for the same work as Tenure and the hand-written SQL of :mod:`bench_facts`
(identity lookups with ``map``, rates with ``merge_asof``, lines with ``groupby``, first and
last rows with ``sort_values`` + ``drop_duplicates``). It starts from the tables in memory:
reading them from the store is timed apart (``load_seconds``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

VOID = ("cancelled", "canceled", "failed", "voided", "void", "pending", "draft")
SUMS = (
    "orders",
    "frequency",
    "recency_days",
    "T_days",
    "monetary",
    "revenue",
    "margin",
    "gap_mean",
    "first_order_value",
)
QUERIES = {
    "orders": "SELECT order_id, customer_id, email, ordered_at, currency, total::DOUBLE AS "
    "total, refunded::DOUBLE AS refunded, status, channel, utm_source, utm_medium, "
    "utm_campaign FROM orders",
    "items": "SELECT order_id, line, product_id, category, quantity, unit_price::DOUBLE AS "
    "unit_price FROM order_items",
    "products": "SELECT product_id, unit_cost::DOUBLE AS unit_cost, margin FROM products",
    "fx": "SELECT date, currency, rate::DOUBLE AS rate FROM fx_rates",
    "ids": "SELECT kind, value, person_id, first_seen FROM identities",
    "events": "SELECT message_id, anonymous_id, user_id, timestamp, utm_source, utm_medium, "
    "utm_campaign FROM events",
    "customers": "SELECT customer_id, created_at FROM customers",
}


def _load(path: Path) -> dict[str, pd.DataFrame]:
    import duckdb

    raw = duckdb.connect(str(path), read_only=True)
    frames = {name: raw.execute(sql).df() for name, sql in QUERIES.items()}
    raw.close()
    return frames


def _lookup(ids: pd.DataFrame, kind: str) -> pd.Series:
    chosen = ids[ids["kind"] == kind]
    return pd.Series(chosen["person_id"].to_numpy(), index=chosen["value"].to_numpy())


def _channel(medium: pd.Series, source: pd.Series) -> pd.Series:
    from tenure.analytics.touch import MEDIUM_CHANNELS

    named = medium.str.strip().str.lower().map(MEDIUM_CHANNELS).fillna("other")
    return named.where(medium.notna() | source.notna(), "direct")


def _blank(s: pd.Series) -> pd.Series:
    s = s.str.strip()
    return s.mask(s == "")


def _base(t: dict[str, pd.DataFrame], end: pd.Timestamp, code: str, dm: float) -> pd.DataFrame:
    """Orders with person, revenue in ``code``, margin rate and purchase flag."""
    o = t["orders"]
    o = o[~o["status"].str.lower().fillna("").isin(VOID)].copy()
    o["day"] = o["ordered_at"].dt.normalize()
    o = o[o["day"] <= end]
    by_id = o["customer_id"].map(_lookup(t["ids"], "customer_id"))
    mail = _blank(o["email"]).str.lower().where(by_id.isna())
    person = by_id.fillna(mail.map(_lookup(t["ids"], "email")))
    o["person_id"] = person.fillna(_blank(o["customer_id"])).fillna(mail)
    o = o[o["person_id"].notna()]
    o["cur"] = o["currency"].str.upper()
    fx = t["fx"].assign(
        cur=t["fx"]["currency"].str.upper(), date=lambda f: pd.to_datetime(f["date"])
    )
    o = pd.merge_asof(
        o.sort_values("day"),
        fx.sort_values("date")[["date", "cur", "rate"]],
        left_on="day",
        right_on="date",
        by="cur",
    )
    rate = o["rate"].where(o["cur"] != code, 1.0)
    refunded = o["refunded"].fillna(0.0)
    o["revenue"] = (o["total"] - refunded) * rate
    total = o["total"].fillna(0.0)
    o["is_purchase"] = (total >= 0) & ~((refunded > 0) & (refunded >= total))
    lines = t["items"].merge(t["products"], on="product_id", how="left")
    price = lines["quantity"] * lines["unit_price"]
    cost = (lines["quantity"] * lines["unit_cost"]).fillna(price * (1 - lines["margin"]))
    per = pd.DataFrame({"order_id": lines["order_id"], "price": price, "cost": cost})
    per = per.groupby("order_id").agg(
        price=("price", "sum"), cost=("cost", "sum"), n=("cost", "size"), costed=("cost", "count")
    )
    known = per[(per["costed"] == per["n"]) & (per["price"] > 0)]
    m_rate = o["order_id"].map(1 - known["cost"] / known["price"]).fillna(dm)
    o["margin"] = o["revenue"] * m_rate
    return o


def _buyers(o: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    p = o[o["is_purchase"]]
    days = p.groupby(["person_id", "day"], as_index=False)["revenue"].sum(min_count=1)
    days["gap"] = days.groupby("person_id")["day"].diff().dt.days
    g = days.groupby("person_id")
    out = g.agg(
        first_day=("day", "min"),
        last_day=("day", "max"),
        n_days=("day", "size"),
        gap_mean=("gap", "mean"),
        gap_median=("gap", "median"),
        gap_std=("gap", "std"),
    )
    repeat = days[days["gap"].notna()].groupby("person_id")["revenue"].sum()
    out["frequency"] = out["n_days"] - 1
    out["monetary"] = (repeat.reindex(out.index).fillna(0.0) / out["frequency"]).where(
        out["frequency"] > 0, 0.0
    )
    out["recency_days"] = (out["last_day"] - out["first_day"]).dt.days
    out["T_days"] = (end - out["first_day"]).dt.days
    first = p.sort_values(["person_id", "ordered_at", "order_id"]).drop_duplicates("person_id")
    out["first_order_id"] = first.set_index("person_id")["order_id"]
    out["first_order_value"] = first.set_index("person_id")["revenue"]
    out["first_order_at"] = first.set_index("person_id")["ordered_at"]
    out["orders"] = p.groupby("person_id").size()
    money = o.groupby("person_id")[["revenue", "margin"]].sum(min_count=1)
    out[["revenue", "margin"]] = money.reindex(out.index).round(6)
    return out


def _events(t: dict[str, pd.DataFrame], end: pd.Timestamp) -> pd.DataFrame:
    e = t["events"]
    e = e[e["timestamp"].dt.normalize() <= end]
    person = e["anonymous_id"].map(_lookup(t["ids"], "anonymous_id"))
    person = person.fillna(e["user_id"].map(_lookup(t["ids"], "customer_id")))
    e = e.assign(person_id=person.fillna(_blank(e["user_id"])))
    return e[e["person_id"].notna()]


def _acquisition(t: dict[str, pd.DataFrame], b: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    e = _events(t, end)
    keys = ["person_id", "timestamp", "message_id"]
    utm = ["utm_source", "utm_medium", "utm_campaign"]
    ft = e.sort_values(keys).drop_duplicates("person_id").set_index("person_id")[utm]
    ft = ft.assign(seen=True)
    tagged = e[e["utm_source"].notna() | e["utm_medium"].notna()]
    tagged = tagged.join(b["first_order_at"], on="person_id", how="inner")
    tagged = tagged[tagged["timestamp"] <= tagged["first_order_at"]]
    lt = tagged.sort_values(keys).drop_duplicates("person_id", keep="last")
    lt = lt.set_index("person_id")[utm].assign(seen=True)
    o = t["orders"].set_index("order_id")
    fo = o.reindex(b["first_order_id"].to_numpy()).set_index(b.index)
    has_utm = fo["utm_source"].notna() | fo["utm_medium"].notna()
    ft, lt = ft.reindex(b.index), lt.reindex(b.index)
    ft_channel = _channel(ft["utm_medium"], ft["utm_source"]).where(ft["seen"].notna())
    lt_channel = _channel(lt["utm_medium"], lt["utm_source"]).where(lt["seen"].notna())
    channel = fo["channel"].fillna(_channel(fo["utm_medium"], fo["utm_source"]).where(has_utm))
    b["acquisition_channel"] = channel.fillna(lt_channel).fillna(ft_channel).fillna("direct")
    b["first_touch_channel"] = ft_channel.fillna(b["acquisition_channel"])
    items = t["items"]
    items = items[items["order_id"].isin(b["first_order_id"])].sort_values(["order_id", "line"])
    first_line = items.drop_duplicates("order_id").set_index("order_id")
    b["first_product"] = b["first_order_id"].map(first_line["product_id"])
    return b


def _known(t: dict[str, pd.DataFrame], end: pd.Timestamp) -> pd.Series:
    c = t["customers"]
    person = c["customer_id"].map(_lookup(t["ids"], "customer_id")).fillna(_blank(c["customer_id"]))
    ids = t["ids"]
    mails = ids[(ids["kind"] == "email") & ids["person_id"].notna()]
    both = pd.concat(
        [
            pd.DataFrame({"k": person, "at": c["created_at"]}),
            pd.DataFrame({"k": mails["person_id"], "at": mails["first_seen"]}),
        ]
    )
    both = both[both["k"].notna() & (both["at"].isna() | (both["at"].dt.normalize() <= end))]
    return both.groupby("k")["at"].min()


def facts(t: dict[str, pd.DataFrame], end: pd.Timestamp, code: str, dm: float) -> pd.DataFrame:
    o = _base(t, end, code, dm)
    b = _acquisition(t, _buyers(o, end), end)
    known = _known(t, end)
    out = b.reindex(b.index.union(known.index))
    out["is_buyer"] = out.index.isin(b.index)
    out["orders"] = out["orders"].fillna(0)
    out[["revenue", "margin"]] = out[["revenue", "margin"]].where(out["is_buyer"], 0.0)
    return out


def pandas_facts(path: Path) -> dict[str, Any]:
    from bench_data import store_facts

    end, code, dm = store_facts(path)
    started = time.perf_counter()
    tables = _load(path)
    load = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    out = facts(tables, pd.Timestamp(end), code, dm)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    digest: dict[str, Any] = {"rows": float(len(out)), "buyers": float(out["is_buyer"].sum())}
    digest.update({c: float(np.nansum(out[c].to_numpy(dtype=float))) for c in SUMS})
    for c in ("acquisition_channel", "first_touch_channel"):
        counts = out.loc[out["is_buyer"], c].value_counts()
        digest[c] = dict(sorted((str(k), int(n)) for k, n in counts.items()))
    return {"seconds": seconds, "cpu": cpu, "load_seconds": load, "digest": digest}
