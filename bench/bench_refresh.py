"""Benchmark: ``tenure refresh`` on 1M customers / 10M orders, next to three other ways of
computing the per-customer summary (frequency, recency, T, monetary, revenue).

    python bench/bench_refresh.py --customers 1000000 --lifetimes-python /work/benchenv/bin/python

The store comes from the demo generator's own order process (``tenure.demo``: BG/NBD
purchases, gamma-gamma subtotals, baskets of catalogue products, coupons, refunds), with two
bench-only changes made here, not in the generator: every buyer's purchase rate is multiplied by
:data:`RATE` and drop-out probability by :data:`DROPOUT`, which gives ~10 orders per buyer
(the demo gives ~3), and only customers, products, orders and order lines are written (no
events, sessions, consents or spend: at 1M buyers the demo's 70M events take most of its
6 minutes and 7 GB). Identities are resolved once after generating, as a store would before
refreshing. The store and a Parquet copy of the orders are cached in bench/data (gitignored).

Each step runs in a fresh process (peak RSS is its own), in the same run:

* ``refresh``: ``tenure.pipeline.refresh`` (what ``tenure refresh`` calls), wall time and
  peak RSS of each of its steps (peak reset between steps through /proc/self/clear_refs);
* ``summary``: Tenure's Ibis code for the summary columns only, as a refresh runs it: the
  orders base written once (person, net revenue, margin, purchase flag), then the same-day
  merge, BTYD summary and revenue read from it and materialised;
* ``sql``: the same summary in hand-written DuckDB SQL on the same file: the physical
  reference;
* ``pandas``: a straightforward pandas implementation (groupby), from the orders in memory;
* ``lifetimes``: ``lifetimes.utils.summary_data_from_transaction_data`` on the purchases
  (``freq="D"``), run with ``--lifetimes-python`` (a bench-only environment: lifetimes is no
  dependency of Tenure).

pandas and lifetimes start from a DataFrame already in memory (reading the Parquet file is
reported apart); refresh and SQL read the DuckDB store. Every step returns a digest of its
result (buyers, sums of frequency, recency, T, monetary, revenue) checked against the SQL one.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench_data import DATA, HERE, generate_store
from measure import in_child, own_peak_mb

OUT = HERE / "out"
VOID = ("cancelled", "canceled", "failed", "voided", "void", "pending", "draft")
DIGEST = ("buyers", "frequency", "recency", "T", "monetary", "revenue")


# -- the store ---------------------------------------------------------------------------
def generate(customers: int) -> Path:
    """The bench store's path (:mod:`bench_data`), generated in a child process the first time
    (so this process stays small: a child inherits its parent's peak RSS in ``ru_maxrss``)."""
    path = DATA / f"refresh_{customers}.duckdb"
    if not path.with_suffix(".json").exists():
        print(json.dumps(in_child(__file__, "generate", path)), flush=True)
    if "persons" not in _meta(path):
        print(json.dumps(in_child(__file__, "identities", path)), flush=True)
    return path


def _identities(path: Path) -> dict[str, Any]:
    """Resolve identities (as a store would before refreshing); recorded in the meta file."""
    from tenure import Store
    from tenure.identity import resolve_identities

    url = f"duckdb://{path}"
    started = time.perf_counter()
    with Store(url) as store:
        found = resolve_identities(store)
    info = _meta(path)
    info.update(persons=found.persons, identities_seconds=round(time.perf_counter() - started, 1))
    path.with_suffix(".json").write_text(json.dumps(info))
    return info


def _meta(path: Path) -> dict[str, Any]:
    info: dict[str, Any] = json.loads(path.with_suffix(".json").read_text())
    return info


def _end(path: Path) -> date:
    return date.fromisoformat(_meta(path)["end"])


# -- the steps (each in its own process) ---------------------------------------------------
def _digest_sql(raw: Any, table: str, recency: str, t: str, where: str = "TRUE") -> list[float]:
    row = raw.execute(f"""SELECT count(*), sum(frequency), sum({recency}), sum({t}),
        sum(monetary), sum(revenue) FROM {table} WHERE {where}""").fetchone()
    return [float(v) for v in row]


def _refresh(path: Path) -> dict[str, Any]:
    from tenure import Store
    from tenure.pipeline import refresh

    url = f"duckdb://{path}"
    peaks: dict[str, float] = {}
    with Store(url) as store:

        def step_done(task: str, done: int, total: int) -> None:
            peaks[str(done)] = own_peak_mb(reset=True)

        own_peak_mb(reset=True)
        started = time.perf_counter()
        result = refresh(store, as_of=_end(path), progress=step_done)
        seconds = time.perf_counter() - started
        peaks["end"] = own_peak_mb()
        names = list(result.seconds)
        digest = _digest_sql(store.con.con, "customer_facts", "recency_days", "T_days", "is_buyer")
    return {
        "seconds": seconds,
        "steps": {
            n: {"seconds": result.seconds[n], "rows": result.rows[n], "peak_mb": peaks[str(i + 1)]}
            for i, n in enumerate(names)
        },
        "digest": digest,
        "peak_rss_mb": max(peaks.values()),
    }


def _summary(path: Path) -> dict[str, Any]:
    """Tenure's Ibis code for the summary columns, in two timed parts as a refresh runs them:
    the orders base written once, then the summary read from it."""
    from tenure import Store
    from tenure.analytics.facts import _buyers
    from tenure.pipeline.steps import SCRATCH_ORDERS, StepContext, shared_orders

    url = f"duckdb://{path}"
    end = _end(path)
    with Store(url) as store:
        started = time.perf_counter()
        orders = shared_orders(store, StepContext(as_of=end))
        base_seconds = time.perf_counter() - started
        # the code the customer_facts step runs for these columns (one window pass, one
        # aggregate over the orders base)
        b = _buyers(orders, end)
        expr = b.select("person_id", "frequency", "recency_days", "T_days", "monetary", "revenue")
        store.replace("bench_summary_tenure", expr)
        seconds = time.perf_counter() - started
        store.drop(SCRATCH_ORDERS)
        digest = _digest_sql(store.con.con, "bench_summary_tenure", "recency_days", "T_days")
    return {"seconds": seconds, "base_seconds": base_seconds, "digest": digest}


def _sql(path: Path) -> dict[str, Any]:
    import duckdb

    end = _end(path).isoformat()
    void = ", ".join(f"'{s}'" for s in VOID)
    raw = duckdb.connect(str(path))
    started = time.perf_counter()
    raw.execute(f"""
        CREATE OR REPLACE TABLE bench_summary_sql AS
        WITH o AS (
            SELECT customer_id AS person_id, ordered_at::DATE AS day,
                   coalesce(total, 0)::DOUBLE AS total, coalesce(refunded, 0)::DOUBLE AS refunded
            FROM orders
            WHERE customer_id IS NOT NULL AND ordered_at::DATE <= DATE '{end}'
              AND lower(coalesce(status, '')) NOT IN ({void})),
        daily AS (
            SELECT person_id, day, sum(total - refunded) AS value FROM o
            WHERE total >= 0 AND NOT (refunded > 0 AND refunded >= total)
            GROUP BY person_id, day),
        per AS (
            SELECT person_id, count(*) - 1 AS frequency, min(day) AS first_day,
                   max(day) AS last_day, sum(value) - arg_min(value, day) AS repeat_value
            FROM daily GROUP BY person_id),
        money AS (SELECT person_id, sum(total - refunded) AS revenue FROM o GROUP BY person_id)
        SELECT person_id, frequency, last_day - first_day AS recency,
               DATE '{end}' - first_day AS T,
               CASE WHEN frequency > 0 THEN repeat_value / frequency ELSE 0 END AS monetary,
               revenue
        FROM per JOIN money USING (person_id)
    """)
    seconds = time.perf_counter() - started
    digest = _digest_sql(raw, "bench_summary_sql", "recency", "T")
    raw.close()
    return {"seconds": seconds, "digest": digest}


def _load(path: Path) -> tuple[Any, float]:
    import pandas as pd

    started = time.perf_counter()
    orders = pd.read_parquet(path.with_suffix(".parquet"))
    return orders, time.perf_counter() - started


def _purchases(orders: Any) -> tuple[Any, Any]:
    """(non-void orders with their net revenue, purchase flag), pandas."""
    o = orders[~orders["status"].fillna("").str.lower().isin(VOID)].copy()
    total, refunded = o["total"].fillna(0.0), o["refunded"].fillna(0.0)
    o["revenue"] = total - refunded
    o["day"] = o["ordered_at"].dt.normalize()
    purchase = (total >= 0) & ~((refunded > 0) & (refunded >= total))
    return o, purchase


def _pandas(path: Path) -> dict[str, Any]:
    import pandas as pd

    orders, load = _load(path)
    end = pd.Timestamp(_end(path))
    started = time.perf_counter()
    o, purchase = _purchases(orders)
    daily = o[purchase].groupby(["customer_id", "day"], as_index=False)["revenue"].sum()
    g = daily.groupby("customer_id")
    first, last = g["day"].min(), g["day"].max()
    out = pd.DataFrame({"frequency": g.size() - 1})
    out["recency"] = (last - first).dt.days
    out["T"] = (end - first).dt.days
    daily["first"] = daily["customer_id"].map(first)
    repeat = daily[daily["day"] > daily["first"]].groupby("customer_id")["revenue"].mean()
    out["monetary"] = repeat.reindex(out.index).fillna(0.0)
    out["revenue"] = o.groupby("customer_id")["revenue"].sum().reindex(out.index)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "load_seconds": load, "digest": _digest_frame(out)}


def _lifetimes(path: Path) -> dict[str, Any]:
    import lifetimes
    from lifetimes.utils import summary_data_from_transaction_data

    orders, load = _load(path)
    started = time.perf_counter()
    o, purchase = _purchases(orders)
    out = summary_data_from_transaction_data(
        o[purchase],
        "customer_id",
        "ordered_at",
        monetary_value_col="revenue",
        observation_period_end=_end(path).isoformat(),
        freq="D",
    )
    seconds = time.perf_counter() - started
    out = out.rename(columns={"monetary_value": "monetary"})
    digest = _digest_frame(out.assign(revenue=0.0))
    digest[-1] = float("nan")  # lifetimes gives no revenue
    return {
        "seconds": seconds,
        "load_seconds": load,
        "digest": digest,
        "version": lifetimes.__version__,
    }


def _digest_frame(out: Any) -> list[float]:
    sums = [float(out[c].sum()) for c in DIGEST[1:]]
    return [float(len(out)), *sums]


STEPS = {
    "generate": generate_store,
    "identities": _identities,
    "refresh": _refresh,
    "summary": _summary,
    "sql": _sql,
    "pandas": _pandas,
    "lifetimes": _lifetimes,
}


# -- the report ----------------------------------------------------------------------------
def _same(digest: list[float], reference: list[float]) -> str:
    """'yes' when every digest value agrees with the SQL one (revenue: when computed)."""
    import math

    for name, a, b in zip(DIGEST, digest, reference, strict=True):
        if math.isnan(a):
            continue
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6):
            return f"no ({name}: {a:,.6f} vs {b:,.6f})"
    return "yes"


def _row(name: str, what: str, r: dict[str, Any], base: float, ref: list[float]) -> str:
    ratio = r["seconds"] / base
    same = _same(r["digest"], ref) if "digest" in r else ""
    peak = "-" if r["peak_rss_mb"] != r["peak_rss_mb"] else f"{r['peak_rss_mb']:,.0f}"
    return f"| {name} | {what} | {r['seconds']:.2f} | {peak} | {ratio:.2f} | {same} |"


def report(results: dict[str, dict[str, Any]], info: dict[str, Any], load: float) -> str:
    ref = results["sql"]["digest"]
    sql = results["sql"]["seconds"]
    refresh = results["refresh"]
    facts = refresh["steps"]["customer_facts"]["seconds"]
    own = results["summary"]["seconds"] - results["summary"]["base_seconds"]
    lines = [
        f"{info['customers']:,} customer records, {int(ref[0]):,} buyers, "
        f"{info['orders']:,} orders, {info['order_items']:,} order lines; as of {info['end']}.",
        "",
        "| step | computes | seconds | peak RSS (MB) | time / SQL | same summary as SQL |",
        "|---|---|---|---|---|---|",
        _row("tenure refresh (whole)", "every derived table", refresh, sql, ref),
    ]
    for name, step in refresh["steps"].items():
        r = {"seconds": step["seconds"], "peak_rss_mb": step["peak_mb"]}
        lines.append(_row(f"refresh step `{name}`", f"{step['rows']:,} rows", r, sql, ref))
    lines += [
        _row("tenure summary (Ibis)", "6 summary columns", results["summary"], sql, ref),
        _row(
            "... of which the orders base",
            "written once",
            {"seconds": results["summary"]["base_seconds"], "peak_rss_mb": float("nan")},
            sql,
            ref,
        ),
        _row("hand-written DuckDB SQL", "6 summary columns", results["sql"], sql, ref),
        _row("pandas", "6 summary columns", results["pandas"], sql, ref),
        _row("lifetimes", "frequency/recency/T/monetary", results["lifetimes"], sql, ref),
        "",
        f"Reading the orders' Parquet file into pandas (not counted above): {load:.1f} s.",
        "",
        f"- refresh's customer summary (`customer_facts` step) / SQL: {facts / sql:.2f}x "
        f"(Tenure's summary columns alone: {results['summary']['seconds'] / sql:.2f}x)",
        f"- pandas / `customer_facts` step: {results['pandas']['seconds'] / facts:.2f}x",
        f"- lifetimes / `customer_facts` step: {results['lifetimes']['seconds'] / facts:.2f}x",
        f"- like for like, the summary from prepared orders ({own:.2f} s: Tenure's summary "
        f"without its orders base, as pandas and lifetimes start from orders in memory): "
        f"/ SQL {own / sql:.2f}x, pandas / it {results['pandas']['seconds'] / own:.2f}x, "
        f"lifetimes / it {results['lifetimes']['seconds'] / own:.2f}x",
        f"- whole refresh: {refresh['seconds']:.1f} s, peak RSS {refresh['peak_rss_mb']:,.0f} MB",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lifetimes-python", default=os.environ.get("LIFETIMES_PYTHON"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, path = args.child
        result = STEPS[step](Path(path))
        result.setdefault("peak_rss_mb", own_peak_mb())
        print(json.dumps(result))
        return
    if not args.lifetimes_python:
        parser.error("--lifetimes-python: a Python with lifetimes, pandas and pyarrow installed")
    path = generate(args.customers)
    info = {"customers": args.customers, **_meta(path)}
    print(f"store: {path} ({info})", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for step in [s for s in STEPS if s not in ("generate", "identities")]:
        python = args.lifetimes_python if step == "lifetimes" else None
        extra = {"python": python} if python else {}
        results[step] = in_child(__file__, step, path, **extra)
        print(step, json.dumps(results[step]), flush=True)
    OUT.mkdir(exist_ok=True)
    stamp = date.today().isoformat()
    (OUT / f"refresh_{args.customers}_{stamp}.json").write_text(json.dumps(results, indent=1))
    print(report(results, info, results["pandas"]["load_seconds"]))


if __name__ == "__main__":
    main()
