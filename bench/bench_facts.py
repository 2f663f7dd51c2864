"""Benchmark: the orders base and ``customer_facts`` end to end, next to hand-written DuckDB
SQL and pandas doing the same work.

    python bench/bench_facts.py --customers 200000

The same work, in each of the three: orders attributed to persons through ``identities``
(customer id, else e-mail), revenue converted to the reporting currency with the latest
``fx_rates`` rate on or before the order day, margin from the order lines and the products'
unit costs (default margin when a line has no cost), then one row per person: BTYD summary
(same-day purchases merged), gaps, totals, first order and its first line, acquisition
channel (the first order's channel, else its UTMs, else the last UTM-tagged event at or before
the first order, else the first event, else direct; events attributed through the device,
then the user id) and the prospects known from customer records and e-mails. The store is
the bench store of :mod:`bench_data` (events, foreign currencies, products without cost).

* ``tenure``: ``orders_base`` written once as the refresh's scratch table, then
  ``customer_facts`` from it (what the ``customer_facts`` step runs), timed apart;
* ``sql``: one hand-written DuckDB statement (ASOF join for the rates, ``arg_min`` over a
  (time, id) key for first and last rows, ``CASE`` rather than ``coalesce`` where a fallback is
  costly to compute: DuckDB computes every ``coalesce`` argument), on the same file;
* ``pandas``: idiomatic pandas (map, merge_asof, groupby, sort + drop_duplicates) from the
  tables already in memory (reading them is reported apart).

Each runs in its own process; each result's digest (rows, buyers, sums of the summary and
money columns, rows per acquisition and first-touch channel) is checked against the SQL one.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench_data import DATA, store_end_day, store_facts
from bench_refresh import generate
from measure import in_child

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
CHANNELS = ("acquisition_channel", "first_touch_channel")


def _digest_sql(raw: Any, table: str) -> dict[str, Any]:
    sums = ", ".join(f"sum({c})" for c in SUMS)
    row = raw.execute(f"SELECT count(*), count(*) FILTER (is_buyer), {sums} FROM {table}")
    values = [float(v) for v in row.fetchone()]
    out: dict[str, Any] = {
        "rows": values[0],
        "buyers": values[1],
        **dict(zip(SUMS, values[2:], strict=True)),
    }
    for c in CHANNELS:
        rows = raw.execute(f"SELECT {c}, count(*) FROM {table} WHERE is_buyer GROUP BY 1")
        out[c] = dict(sorted((str(k), int(n)) for k, n in rows.fetchall()))
    return out


# -- Tenure -------------------------------------------------------------------------------
def _tenure(path: Path) -> dict[str, Any]:
    from tenure import Store
    from tenure.analytics.base import orders_base
    from tenure.analytics.facts import customer_facts

    try:  # the columns the pipeline's scratch orders base holds
        from tenure.pipeline.steps import SCRATCH_COLUMNS
    except ImportError:  # a revision before the pipeline (--before)
        from tenure.analytics.refresh import SCRATCH_COLUMNS  # type: ignore[no-redef]

    url = f"duckdb://{path}"
    end = store_end_day(path)
    with Store(url) as store:
        started, cpu = time.perf_counter(), time.process_time()
        base = store.replace(
            "_bench_orders_base",
            orders_base(store, as_of=end).select(*SCRATCH_COLUMNS),
            scratch=True,
        )
        base_seconds = time.perf_counter() - started
        store.replace("bench_facts_tenure", customer_facts(store, as_of=end, orders=base))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        store.drop("_bench_orders_base")
        digest = _digest_sql(store.con.con, "bench_facts_tenure")
    return {"seconds": seconds, "cpu": cpu, "base_seconds": base_seconds, "digest": digest}


# -- hand-written DuckDB SQL ---------------------------------------------------------------
def _channel_sql(medium: str, source: str) -> str:
    from tenure.analytics.touch import MEDIUM_CHANNELS

    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in MEDIUM_CHANNELS.items())
    return (
        f"CASE WHEN {medium} IS NULL AND {source} IS NULL THEN 'direct' "
        f"ELSE CASE lower(trim({medium})) {whens} ELSE 'other' END END"
    )


def facts_sql(end: str, currency: str, default_margin: float) -> str:
    """The orders base and ``customer_facts`` (the columns compared) in DuckDB SQL."""
    void = ", ".join(f"'{s}'" for s in VOID)
    utm = "{'s': utm_source, 'm': utm_medium, 'c': utm_campaign}"
    return f"""
    WITH ids AS (SELECT kind, value, person_id, first_seen FROM identities),
    rates AS (SELECT upper(currency) AS cur, date, rate::DOUBLE AS rate FROM fx_rates),
    lines AS (
        SELECT i.order_id, sum(i.quantity * i.unit_price::DOUBLE) AS price,
               sum(coalesce(i.quantity * p.unit_cost::DOUBLE,
                            i.quantity * i.unit_price::DOUBLE * (1 - p.margin))) AS cost,
               count(*) AS n, count(coalesce(p.unit_cost, p.margin)) AS costed
        FROM order_items i LEFT JOIN products p USING (product_id) GROUP BY i.order_id),
    o AS (
        SELECT o.*, upper(o.currency) AS cur, o.ordered_at::DATE AS day,
               coalesce(lower(o.status), '') AS st,
               CASE WHEN c.person_id IS NOT NULL THEN c.person_id
                    WHEN m.person_id IS NOT NULL THEN m.person_id
                    WHEN nullif(trim(o.customer_id), '') IS NOT NULL THEN trim(o.customer_id)
                    ELSE nullif(lower(trim(o.email)), '') END AS person_id
        FROM orders o
        LEFT JOIN ids c ON c.kind = 'customer_id' AND c.value = o.customer_id
        LEFT JOIN ids m ON m.kind = 'email'
             AND m.value = CASE WHEN c.person_id IS NULL THEN lower(trim(o.email)) END),
    base AS (
        SELECT o.order_id, o.person_id, o.ordered_at, o.day,
               (o.total::DOUBLE - coalesce(o.refunded::DOUBLE, 0))
                 * CASE WHEN o.cur = '{currency}' THEN 1 ELSE r.rate END AS revenue,
               CASE WHEN l.costed = l.n AND l.price > 0 THEN 1 - l.cost / l.price
                    ELSE {default_margin} END AS m_rate,
               coalesce(o.total::DOUBLE, 0) >= 0 AND NOT (coalesce(o.refunded::DOUBLE, 0) > 0
                 AND coalesce(o.refunded::DOUBLE, 0) >= coalesce(o.total::DOUBLE, 0))
                 AS is_purchase
        FROM o ASOF LEFT JOIN rates r ON o.cur = r.cur AND o.day >= r.date
        LEFT JOIN lines l ON l.order_id = o.order_id
        WHERE o.st NOT IN ({void}) AND o.person_id IS NOT NULL AND o.day <= DATE '{end}'),
    days AS (
        SELECT person_id, day, sum(revenue) AS value,
               day - lag(day) OVER (PARTITION BY person_id ORDER BY day) AS gap
        FROM base WHERE is_purchase GROUP BY person_id, day),
    per_day AS (
        SELECT person_id, count(*) - 1 AS frequency, min(day) AS first_day,
               max(day) AS last_day, round(sum(value) FILTER (gap IS NOT NULL), 6) AS repeat,
               avg(gap) AS gap_mean, median(gap) AS gap_median, stddev_samp(gap) AS gap_std
        FROM days GROUP BY person_id),
    per_order AS (
        SELECT person_id, count(*) FILTER (is_purchase) AS orders,
               round(sum(revenue), 6) AS revenue, round(sum(revenue * m_rate), 6) AS margin,
               round(sum(revenue) FILTER (is_purchase), 6) AS purchase_revenue,
               min(ordered_at) FILTER (is_purchase) AS first_order_at,
               max(ordered_at) FILTER (is_purchase) AS last_order_at,
               arg_min(order_id, (ordered_at, order_id)) FILTER (is_purchase) AS first_order_id,
               arg_min_null(revenue, (ordered_at, order_id)) FILTER (is_purchase)
                 AS first_order_value
        FROM base GROUP BY person_id HAVING count(*) FILTER (is_purchase) > 0),
    buyers AS (
        SELECT * FROM per_order JOIN per_day USING (person_id)),
    ev AS (
        SELECT CASE WHEN a.person_id IS NOT NULL THEN a.person_id
                    WHEN u.person_id IS NOT NULL THEN u.person_id
                    ELSE nullif(trim(e.user_id), '') END AS person_id,
               e.timestamp, e.message_id, e.utm_source, e.utm_medium, e.utm_campaign
        FROM events e
        LEFT JOIN ids a ON a.kind = 'anonymous_id' AND a.value = e.anonymous_id
        LEFT JOIN ids u ON u.kind = 'customer_id' AND u.value = e.user_id
        WHERE e.timestamp::DATE <= DATE '{end}'),
    ft AS (
        SELECT person_id, arg_min({utm}, (timestamp, message_id)) AS u
        FROM ev WHERE person_id IS NOT NULL GROUP BY person_id),
    lt AS (
        SELECT ev.person_id, arg_max({utm}, (timestamp, message_id)) AS u
        FROM ev JOIN buyers b ON b.person_id = ev.person_id
        WHERE (utm_source IS NOT NULL OR utm_medium IS NOT NULL)
          AND ev.timestamp <= b.first_order_at
        GROUP BY ev.person_id),
    first_line AS (
        SELECT order_id, arg_min(product_id, line) AS first_product,
               arg_min(category, line) AS first_category
        FROM order_items SEMI JOIN buyers ON order_id = first_order_id GROUP BY order_id),
    acq AS (
        SELECT b.*, fl.first_product, fl.first_category,
               coalesce(fo.channel,
                        CASE WHEN fo.utm_source IS NOT NULL OR fo.utm_medium IS NOT NULL
                             THEN {_channel_sql("fo.utm_medium", "fo.utm_source")} END,
                        CASE WHEN lt.u IS NOT NULL THEN {_channel_sql("lt.u.m", "lt.u.s")} END,
                        CASE WHEN ft.u IS NOT NULL THEN {_channel_sql("ft.u.m", "ft.u.s")} END,
                        'direct') AS acquisition_channel,
               CASE WHEN fo.utm_source IS NOT NULL OR fo.utm_medium IS NOT NULL
                         OR fo.utm_campaign IS NOT NULL OR fo.channel IS NOT NULL
                    THEN fo.utm_campaign ELSE lt.u.c END AS acquisition_campaign,
               CASE WHEN ft.u IS NOT NULL THEN {_channel_sql("ft.u.m", "ft.u.s")} END AS ftc,
               ft.u.s AS first_touch_source, ft.u.m AS first_touch_medium,
               ft.u.c AS first_touch_campaign
        FROM buyers b
        LEFT JOIN orders fo ON fo.order_id = b.first_order_id
        LEFT JOIN first_line fl ON fl.order_id = b.first_order_id
        LEFT JOIN ft ON ft.person_id = b.person_id
        LEFT JOIN lt ON lt.person_id = b.person_id),
    known AS (
        SELECT k_person, min(seen) AS known_since FROM (
            SELECT coalesce(i.person_id, nullif(trim(c.customer_id), '')) AS k_person,
                   c.created_at AS seen
            FROM customers c LEFT JOIN ids i ON i.kind = 'customer_id' AND i.value = c.customer_id
            UNION ALL
            SELECT person_id, first_seen FROM ids WHERE kind = 'email' AND person_id IS NOT NULL)
        WHERE k_person IS NOT NULL AND (seen IS NULL OR seen::DATE <= DATE '{end}')
        GROUP BY k_person)
    SELECT coalesce(a.person_id, k.k_person) AS person_id, a.person_id IS NOT NULL AS is_buyer,
           coalesce(a.orders, 0) AS orders,
           CASE WHEN a.person_id IS NULL THEN 0 ELSE a.revenue END AS revenue,
           CASE WHEN a.person_id IS NULL THEN 0 ELSE a.margin END AS margin,
           a.purchase_revenue / a.orders AS aov, a.frequency,
           a.last_day - a.first_day AS recency_days, DATE '{end}' - a.first_day AS T_days,
           CASE WHEN a.frequency > 0 THEN a.repeat / a.frequency ELSE 0 END AS monetary,
           DATE '{end}' - a.last_day AS days_since_last_order,
           a.first_order_at, a.last_order_at, a.first_order_id, a.first_order_value,
           a.first_product, a.first_category, a.gap_mean, a.gap_median, a.gap_std,
           a.acquisition_channel, a.acquisition_campaign,
           coalesce(a.ftc, a.acquisition_channel) AS first_touch_channel,
           a.first_touch_source, a.first_touch_medium, a.first_touch_campaign,
           least(coalesce(k.known_since, a.first_order_at), a.first_order_at) AS known_since
    FROM acq a FULL JOIN known k ON a.person_id = k.k_person
    """


def _sql(path: Path) -> dict[str, Any]:
    import duckdb

    end, code, default_margin = store_facts(path)
    sql = facts_sql(end.isoformat(), code, default_margin)
    raw = duckdb.connect(str(path))
    started, cpu = time.perf_counter(), time.process_time()
    raw.execute("SET preserve_insertion_order = false")
    raw.execute(f"CREATE OR REPLACE TABLE bench_facts_sql AS {sql}")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    digest = _digest_sql(raw, "bench_facts_sql")
    raw.close()
    return {"seconds": seconds, "cpu": cpu, "digest": digest}


STEPS = {"tenure": _tenure, "sql": _sql}

if __name__ == "__main__":  # the pandas step, from its own module
    from bench_facts_pandas import pandas_facts

    STEPS["pandas"] = pandas_facts


def _same(digest: dict[str, Any], ref: dict[str, Any]) -> str:
    for key, b in ref.items():
        a = digest.get(key)
        if isinstance(b, dict):
            if a != b:
                return f"no ({key}: {a} vs {b})"
        elif not (
            (a is not None and math.isnan(a) and math.isnan(b))
            or (a is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6))
        ):
            return f"no ({key}: {a} vs {b})"
    return "yes"


def report(results: dict[str, dict[str, Any]], info: dict[str, Any]) -> str:
    ref = results["sql"]["digest"]
    sql = results["sql"]["seconds"]
    t = results["tenure"]
    lines = [
        f"{info['customers']:,} customer records, {int(ref['buyers']):,} buyers, "
        f"{info['orders']:,} orders, {info['order_items']:,} order lines, "
        f"{info['events']:,} events; as of {info['end']}.",
        "",
        "| implementation | seconds | / SQL | CPU-s | CPU / SQL | peak RSS (MB) | same facts "
        "as SQL | load after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("tenure", "Tenure (Ibis): orders base + customer_facts"),
        ("sql", "hand-written DuckDB SQL"),
        ("pandas", "pandas"),
        ("before", "Tenure before this issue's changes"),
    ):
        if name not in results:
            continue
        r = results[name]
        same = _same(r["digest"], ref)
        lines.append(
            f"| {label} | {r['seconds']:.2f} | {r['seconds'] / sql:.2f} | {r['cpu']:.2f} | "
            f"{r['cpu'] / results['sql']['cpu']:.2f} | {r['peak_rss_mb']:,.0f} | {same} | "
            f"{r['load']} |"
        )
    lines += [
        "",
        f"- of Tenure's time, the orders base: {t['base_seconds']:.2f} s, customer_facts "
        f"from it: {t['seconds'] - t['base_seconds']:.2f} s",
        f"- Tenure / SQL: {t['seconds'] / sql:.2f}x wall, "
        f"{t['cpu'] / results['sql']['cpu']:.2f}x CPU (target <= 2)",
    ]
    if "pandas" in results:
        p = results["pandas"]
        lines += [
            f"- pandas / Tenure: {p['seconds'] / t['seconds']:.2f}x wall, "
            f"{p['cpu'] / t['cpu']:.2f}x CPU (target >= 3); pandas read "
            f"its tables in {p['load_seconds']:.1f} s more (not counted)",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--no-pandas", action="store_true", help="skip pandas (large sizes)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, the best kept")
    parser.add_argument(
        "--before",
        metavar="SRC",
        help="also time Tenure from another revision's src/ (e.g. `git archive REV src`)",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, where = args.child
        print(json.dumps(STEPS[step](Path(where))))
        return
    path = generate(args.customers)
    info = {"customers": args.customers, **json.loads(path.with_suffix(".json").read_text())}
    names = ["sql", "tenure"] + ([] if args.no_pandas else ["pandas"])
    names += ["before"] if args.before else []
    results: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeat):
        for name in names:  # interleaved, so a noisy spell hits each alike
            env = {"PYTHONPATH": str(Path(args.before).resolve())} if name == "before" else None
            step = "tenure" if name == "before" else name
            r = in_child(__file__, step, path, env=env)
            r["load"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
            print(name, json.dumps(r), flush=True)
            if name not in results or r["seconds"] < results[name]["seconds"]:
                results[name] = r
    out = DATA.parent / "out"
    out.mkdir(exist_ok=True)
    (out / f"facts_{args.customers}_{date.today()}.json").write_text(json.dumps(results, indent=1))
    print(report(results, info))


if __name__ == "__main__":
    main()
