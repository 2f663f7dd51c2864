"""Benchmark: product pairs and association rules on 10M order lines, side by side.

    python -m venv /tmp/benchenv
    /tmp/benchenv/bin/pip install mlxtend==0.25.0 "pandas<3" pyarrow
    PYTHONPATH=src python bench/bench_pairs.py --lines 10000000 \
        --baseline-python /tmp/benchenv/bin/python --steps tenure,sql,apriori --repeats 3

(The bench-only environment holds mlxtend; it is never a dependency of Tenure.)

The lines come from the demo generator's catalogue and baskets (:func:`tenure.demo.catalog.
make_catalog`, :func:`tenure.demo.catalog.basket`), with gamma-gamma subtotals drawn as the
demo draws them (a spend rate per buyer; here one order per buyer), written once to
``--dir/lines_<n>.parquet`` (``order_id, product_id``, one row per order line).

Each contender runs in a fresh process, which loads the lines into memory first (not timed)
and reports its wall time and own peak RSS:

* ``tenure``: :func:`tenure.recommend.rules.counted_baskets` (the counted baskets and the
  pairs inside them, written once to two temporary tables), then
  :func:`~tenure.recommend.rules.product_pairs` (min_together 2) and
  :func:`~tenure.recommend.rules.association_rules` (itemsets up to 3) reading them, on an
  in-memory DuckDB table of the lines, results fetched as Arrow.
* ``tenure_alone``: the same two functions each given the lines (each counts the baskets
  and their pairs itself), as when only one of them is wanted.
* ``sql``: hand-written DuckDB SQL doing the same work the same way (two temporary tables:
  distinct lines of baskets within the cap, and the pairs a < b inside each basket; then
  the pairs in both directions, and the frequent pairs, triples of frequent pairs, rules).
* ``apriori`` / ``fpgrowth``: mlxtend's frequent itemsets (max_len 3) and
  ``association_rules`` on the one-hot basket matrix (a boolean frame, baskets x products,
  made from the lines with ``pd.factorize`` and numpy: faster than ``pd.crosstab`` or
  mlxtend's ``TransactionEncoder``; timed with it, reported as ``encode``), in the
  bench-only environment.

The rule sets are compared: every mlxtend rule with one consequent must be one of Tenure's
(mlxtend also gives rules such as {a} -> {b, c}, which Tenure does not make).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import in_child, own_peak_mb  # noqa: E402

#: The environment variable that carries --threads to the contenders' processes.
THREADS_ENV = "BENCH_PAIRS_THREADS"
MIN_SUPPORT = 0.002
MIN_CONFIDENCE = 0.05
MAX_BASKET = 50
SEED = 14


def make_lines(n_lines: int, path: Path, seed: int = SEED) -> None:
    """About ``n_lines`` demo order lines (whole orders) as parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tenure.demo import params as P
    from tenure.demo.catalog import basket, make_catalog

    rng = np.random.default_rng(seed)
    cat = make_catalog(rng)
    ids = np.array(cat.ids.to_pylist())
    chunks, total, first = [], 0, 0
    while total < n_lines:
        n = 500_000
        nu = rng.gamma(P.GG_Q, 1.0 / P.GG_GAMMA, size=n)  # per buyer, as the demo draws
        z = rng.gamma(P.GG_P, 1.0 / nu)
        cents = np.maximum(np.round(z * 100), P.MIN_SUBTOTAL_CENTS).astype(np.int64)
        lines = basket(rng, cat, cents)
        orders = np.char.add("O", np.char.zfill((lines.order + first).astype(str), 9))
        chunks.append(pa.table({"order_id": orders, "product_id": ids[lines.product]}))
        total += len(lines)
        first += n
    table = pa.concat_tables(chunks).slice(0, n_lines)
    # whole orders only: drop the last order if the cut split it
    last = table.column("order_id")[-1].as_py()
    keep = pa.compute.not_equal(table.column("order_id"), last)
    table = table.filter(keep) if total > n_lines else table
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _duck(path: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    threads = os.environ.get(THREADS_ENV)
    if threads:  # --threads: the engine's threads, as for a single-threaded mlxtend
        con.execute(f"SET threads = {int(threads)}")
    con.execute(f"CREATE TABLE lines AS SELECT * FROM read_parquet('{path}')")
    return con


def _keys(antecedents: list[list[str]], consequents: list[str]) -> list[tuple[Any, str]]:
    """The rules as sorted (antecedent tuple, consequent) keys, to compare contenders."""
    return sorted((tuple(a), c) for a, c in zip(antecedents, consequents, strict=True))


def _result(times: tuple[float, float, float], pairs: Any, rules: Any) -> dict[str, Any]:
    """The result of a DuckDB contender: ``times`` (start, pairs done, rules done), the
    pairs and rules as Arrow tables."""
    start, mid, end = times
    return {
        "pairs_s": mid - start,
        "rules_s": end - mid,
        "total_s": end - start,
        "pairs": pairs.num_rows,
        "rules": rules.num_rows,
        "rule_keys": _keys(
            rules.column("antecedent").to_pylist(), rules.column("consequent").to_pylist()
        ),
        "support_sum": round(sum(rules.column("support").to_pylist()), 9),
        "peak_rss_mb": own_peak_mb(),
    }


def run_tenure(path: Path, *, once: bool = True) -> dict[str, Any]:
    """Tenure's pairs and rules; ``once``: from :func:`counted_baskets` (else each function
    counts the baskets of the lines itself, as when only one of them is wanted)."""
    import ibis

    from tenure.recommend.rules import association_rules, counted_baskets, product_pairs

    raw = _duck(path)
    con = ibis.duckdb.from_connection(raw)
    lines = con.table("lines")
    own_peak_mb(reset=True)
    start = time.perf_counter()
    with ExitStack() as stack:
        source = (
            stack.enter_context(counted_baskets(lines, max_basket=MAX_BASKET)) if once else lines
        )
        pairs = product_pairs(source, min_together=2, max_basket=MAX_BASKET).to_pyarrow()
        mid = time.perf_counter()
        rules = association_rules(
            source, min_support=MIN_SUPPORT, min_confidence=MIN_CONFIDENCE, max_basket=MAX_BASKET
        ).to_pyarrow()
    end = time.perf_counter()
    return _result((start, mid, end), pairs, rules)


# the counted baskets (``first``: one product of each basket, to count N) and the pairs
# inside them, written once; the pairs and the rules read them
SQL_BASKETS = """
CREATE TEMP TABLE b AS
WITH d AS (SELECT DISTINCT order_id, product_id FROM lines
           WHERE order_id IS NOT NULL AND product_id IS NOT NULL),
sizes AS (SELECT order_id, min(product_id) AS first FROM d GROUP BY order_id
          HAVING count(*) <= {cap})
SELECT d.order_id, d.product_id, d.product_id = sizes.first AS first
FROM d JOIN sizes USING (order_id);
CREATE TEMP TABLE inst AS
SELECT x.order_id, x.product_id AS a, y.product_id AS z
FROM b x JOIN b y ON x.order_id = y.order_id AND x.product_id < y.product_id;
"""

SQL_PAIRS = """
WITH items AS (SELECT product_id, count(*) AS orders FROM b GROUP BY product_id),
n AS (SELECT count(*) AS n FROM b WHERE first),
p AS (SELECT a, z, count(*) AS together FROM inst GROUP BY 1, 2 HAVING count(*) >= 2),
d AS (SELECT a AS product_id, z AS other_id, together FROM p
      UNION ALL SELECT z, a, together FROM p)
SELECT d.product_id, d.other_id, d.together, i.orders AS product_orders,
       o.orders AS other_orders, n.n AS baskets, d.together / n.n AS support,
       d.together / i.orders AS confidence,
       d.together * n.n / (i.orders::DOUBLE * o.orders) AS lift
FROM d JOIN items i ON d.product_id = i.product_id
JOIN items o ON d.other_id = o.product_id CROSS JOIN n
"""

SQL_RULES = """
WITH n AS (SELECT count(*)::DOUBLE AS n FROM b WHERE first),
items AS (SELECT product_id, count(*) AS orders FROM b GROUP BY product_id),
fp AS (SELECT a, z, count(*) AS together FROM inst GROUP BY 1, 2
       HAVING count(*) / (SELECT n FROM n) >= {sup}::DOUBLE),
cand AS (SELECT p.a, p.z AS m, q.z FROM fp p JOIN fp q ON p.a = q.a AND p.z < q.z
         SEMI JOIN fp r ON r.a = p.z AND r.z = q.z),
finst AS (SELECT i.* FROM inst i SEMI JOIN fp USING (a, z)),
ft AS (SELECT x.a, x.z AS m, y.z, count(*) AS together
       FROM finst x JOIN finst y ON x.order_id = y.order_id AND x.a = y.a AND x.z < y.z
       SEMI JOIN cand c ON c.a = x.a AND c.m = x.z AND c.z = y.z
       GROUP BY 1, 2, 3 HAVING count(*) / (SELECT n FROM n) >= {sup}::DOUBLE),
r AS (
  SELECT [a] AS antecedent, z AS consequent, together, a AS k1, NULL AS k2 FROM fp
  UNION ALL SELECT [z], a, together, z, NULL FROM fp
  UNION ALL SELECT [a, m], z, together, a, m FROM ft
  UNION ALL SELECT [a, z], m, together, a, z FROM ft
  UNION ALL SELECT [m, z], a, together, m, z FROM ft)
SELECT r.antecedent, r.consequent, r.together, n.n AS baskets, r.together / n.n AS support,
       r.together / coalesce(pa.together, ia.orders) AS confidence,
       r.together / coalesce(pa.together, ia.orders) * n.n / c.orders AS lift
FROM r CROSS JOIN n
JOIN items c ON c.product_id = r.consequent
LEFT JOIN items ia ON r.k2 IS NULL AND ia.product_id = r.k1
LEFT JOIN fp pa ON pa.a = r.k1 AND pa.z = r.k2
WHERE r.together / coalesce(pa.together, ia.orders) >= {conf}::DOUBLE
"""


def run_sql(path: Path) -> dict[str, Any]:
    con = _duck(path)
    own_peak_mb(reset=True)
    start = time.perf_counter()
    con.execute(SQL_BASKETS.format(cap=MAX_BASKET))
    pairs = con.execute(SQL_PAIRS).to_arrow_table()
    mid = time.perf_counter()
    sql = SQL_RULES.format(sup=MIN_SUPPORT, conf=MIN_CONFIDENCE)
    rules = con.execute(sql).to_arrow_table()
    con.execute("DROP TABLE b; DROP TABLE inst")
    end = time.perf_counter()
    return _result((start, mid, end), pairs, rules)


def run_mlxtend(path: Path, how: str) -> dict[str, Any]:
    """mlxtend's apriori or fpgrowth + association_rules (bench-only environment)."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq
    from mlxtend.frequent_patterns import apriori, association_rules, fpgrowth

    lines = pq.read_table(path).to_pandas()
    own_peak_mb(reset=True)
    start = time.perf_counter()
    b = lines.drop_duplicates()
    sizes = b.groupby("order_id")["product_id"].transform("size")
    b = b[sizes <= MAX_BASKET]
    rows, _ = pd.factorize(b["order_id"])
    cols, products = pd.factorize(b["product_id"])
    matrix = np.zeros((int(rows.max()) + 1, len(products)), dtype=bool)
    matrix[rows, cols] = True
    onehot = pd.DataFrame(matrix, columns=list(products))
    encoded = time.perf_counter()
    find = apriori if how == "apriori" else fpgrowth
    kw: dict[str, Any] = {"low_memory": True} if how == "apriori" else {}
    itemsets = find(onehot, min_support=MIN_SUPPORT, use_colnames=True, max_len=3, **kw)
    found = time.perf_counter()
    rules = association_rules(itemsets, metric="confidence", min_threshold=MIN_CONFIDENCE)
    end = time.perf_counter()
    single = rules[rules["consequents"].map(len) == 1]
    keys = _keys(
        [sorted(a) for a in single["antecedents"]], [next(iter(c)) for c in single["consequents"]]
    )
    return {
        "encode_s": encoded - start,
        "itemsets_s": found - encoded,
        "rules_s": end - found,
        "total_s": end - start,
        "rules": len(rules),
        "rules_one_consequent": len(single),
        "rule_keys": keys,
        "support_sum": round(float(single["support"].sum()), 9),
        "peak_rss_mb": own_peak_mb(),
    }


def child(step: str, path: Path) -> None:
    runs = {
        "tenure": run_tenure,
        "tenure_alone": lambda p: run_tenure(p, once=False),
        "sql": run_sql,
        "apriori": lambda p: run_mlxtend(p, "apriori"),
        "fpgrowth": lambda p: run_mlxtend(p, "fpgrowth"),
    }
    print(json.dumps(runs[step](path)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench_pairs"))
    parser.add_argument("--baseline-python", help="interpreter of the bench-only env (mlxtend)")
    parser.add_argument("--mlxtend-lines", type=int, help="lines for mlxtend (default --lines)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--steps", default="tenure,sql,apriori,fpgrowth", help="contenders, comma-separated"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="DuckDB threads of the Tenure and SQL contenders (default: all cores); 1 compares "
        "them core for core with mlxtend, and is less sensitive to the machine's load",
    )
    args = parser.parse_args()
    if args.threads:
        os.environ[THREADS_ENV] = str(args.threads)
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    sizes = {args.lines, args.mlxtend_lines or args.lines}
    for n in sizes:
        path = args.dir / f"lines_{n}.parquet"
        if not path.exists():
            start = time.perf_counter()
            make_lines(n, path)
            print(f"made {path} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    steps = [
        step
        for step in args.steps.split(",")
        if args.baseline_python or step not in ("apriori", "fpgrowth")
    ]
    runs: dict[str, list[dict[str, Any]]] = {step: [] for step in steps}
    for _ in range(args.repeats):  # interleaved: each round sees about the same load
        for step in steps:
            mlx = step in ("apriori", "fpgrowth")
            n = (args.mlxtend_lines or args.lines) if mlx else args.lines
            path = args.dir / f"lines_{n}.parquet"
            python = args.baseline_python if mlx else sys.executable
            load = os.getloadavg()[0]
            result = in_child(__file__, step, path, python=python)
            result["lines"] = n
            result["load"] = (load, os.getloadavg()[0])
            runs[step].append(result)
            shown = {k: v for k, v in result.items() if k != "rule_keys"}
            print(step, json.dumps(shown), file=sys.stderr)
    results: dict[str, dict[str, Any]] = {}
    for step, done in runs.items():
        best = min(done, key=lambda r: r["total_s"])
        best["runs"] = [round(r["total_s"], 2) for r in done]
        results[step] = best
    report(results)


def _versus(step: str, r: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    """How ``step`` compares with Tenure (``tenure``'s total time)."""
    ten = results["tenure"]
    if step in ("sql", "tenure_alone"):
        return f"Tenure / {step}: {ten['total_s'] / r['total_s']:.2f}x the time"
    versus = f"{step} / Tenure: {r['total_s'] / ten['total_s']:.2f}x Tenure's pairs + rules"
    if "tenure_alone" in results:  # association_rules from the lines: the like-for-like work
        alone = results["tenure_alone"]["rules_s"]
        versus += f", {r['total_s'] / alone:.2f}x its rules alone (from the lines)"
    return versus


def report(results: dict[str, dict[str, Any]]) -> None:
    print("| contender | lines | pairs s | rules s | total s (runs) | peak RSS MB | rules |")
    print("|---|---|---|---|---|---|---|")
    for step, r in results.items():
        pairs = f"{r['pairs_s']:.2f}" if "pairs_s" in r else "-"
        rules = (
            f"{r['rules_s']:.2f}"
            if "pairs_s" in r
            else (f"{r['itemsets_s'] + r['rules_s']:.2f} (encode {r['encode_s']:.2f})")
        )
        runs = ", ".join(f"{x:.2f}" for x in r["runs"])
        print(
            f"| {step} | {r['lines']:,} | {pairs} | {rules} | {r['total_s']:.2f} ({runs}) | "
            f"{r['peak_rss_mb']:,.0f} | {r['rules']:,} |"
        )
    ten = results.get("tenure")
    if ten is None:
        return
    for step, r in results.items():
        if step == "tenure":
            continue
        equal = [tuple(x) for x in r["rule_keys"]] == [tuple(x) for x in ten["rule_keys"]]
        print(
            f"{_versus(step, r, results)}; peak RSS {r['peak_rss_mb'] / ten['peak_rss_mb']:.2f}x "
            f"Tenure's; same single-consequent rules as Tenure: {equal} "
            f"(support sum {r['support_sum']} vs {ten['support_sum']})"
        )


if __name__ == "__main__":
    main()
