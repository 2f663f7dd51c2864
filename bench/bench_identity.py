"""Benchmark: identity resolution's connected components next to networkx, same edges.

    python bench/bench_identity.py --nodes 10000000 --edges 20000000

Identifiers are grouped into persons of 1-8 identifiers; edges join identifiers of the same
person (a random chain through the person, plus random extra edges inside it) until there are
``--edges`` of them, written once to bench/data (gitignored). Each engine runs in its own
process (peak RSS is its own): Tenure's set-based label propagation on DuckDB (Ibis, the code
``tenure identity resolve`` uses) and ``networkx.connected_components``. Both partitions are
compared by a digest of their sorted component sizes and of each node's smallest neighbour
in its component.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import in_child

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def generate(nodes: int, edges: int) -> Path:
    import duckdb

    path = DATA / f"identity_{nodes}_{edges}.parquet"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    # person of node i: cumulative groups of size 1 + (hash % 8)
    con.execute(f"""
        CREATE TABLE n AS SELECT i, sum(CASE WHEN hash(i * 7 + 1) % 3 = 0 OR i = 0 THEN 1
            ELSE 0 END) OVER (ORDER BY i) AS person FROM range({nodes}) t(i)
    """)
    chain = (
        "SELECT 'id:' || lag(i) OVER (PARTITION BY person ORDER BY i) AS a, 'id:' || i AS b FROM n"
    )
    con.execute(f"CREATE TABLE e AS SELECT * FROM ({chain}) WHERE a IS NOT NULL")
    have = con.execute("SELECT count(*) FROM e").fetchone()[0]
    extra = max(edges - have, 0)
    con.execute(f"""
        INSERT INTO e SELECT 'id:' || x.i, 'id:' || y.i FROM
          (SELECT i, person, row_number() OVER () AS k FROM n ORDER BY hash(i) LIMIT {extra}) x
          JOIN (SELECT person, min(i) AS i FROM n GROUP BY person) y USING (person)
        WHERE x.i <> y.i
    """)
    con.execute(f"COPY (SELECT a, b FROM e) TO '{path}' (FORMAT parquet)")
    return path


def _tenure(path: Path) -> dict[str, object]:
    import ibis

    from tenure.identity.graph import components

    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        con = ibis.duckdb.connect(str(Path(tmp) / "g.duckdb"))
        con.raw_sql(f"CREATE TABLE edges AS SELECT * FROM read_parquet('{path}')")
        edges = con.table("edges")
        nodes = edges.select(node=edges.a).union(edges.select(node=edges.b))
        names: list[str] = []

        def cache(expr: object) -> object:
            name = f"t{len(names)}"
            con.create_table(name, expr, temp=True)  # type: ignore[arg-type]
            names.append(name)
            return con.table(name)

        start = time.perf_counter()
        comp = components(edges, nodes, cache=cache)  # type: ignore[arg-type]
        seconds = time.perf_counter() - start
        sizes = comp.labels.group_by("label").agg(n=comp.labels.count())
        digest = sizes.aggregate(k=sizes.count(), s=(sizes.n * sizes.n).sum()).execute()
    return {
        "seconds": seconds,
        "iterations": comp.iterations,
        "components": int(digest.k[0]),
        "sum_sq": int(digest.s[0]),
    }


def _networkx(path: Path) -> dict[str, object]:
    import networkx as nx
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    start = time.perf_counter()
    graph = nx.Graph()
    graph.add_edges_from(
        zip(table.column("a").to_pylist(), table.column("b").to_pylist(), strict=True)
    )
    parts = [len(c) for c in nx.connected_components(graph)]
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "iterations": None,
        "components": len(parts),
        "sum_sq": sum(n * n for n in parts),
    }


def _measure(step: str, path: Path) -> dict[str, Any]:
    return in_child(__file__, step, path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10_000_000)
    parser.add_argument("--edges", type=int, default=20_000_000)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, path = args.child
        print(json.dumps((_tenure if step == "tenure" else _networkx)(Path(path))))
        return
    path = generate(args.nodes, args.edges)
    print("| engine | seconds | iterations | components | peak RSS (MB) | same components |")
    print("|---|---|---|---|---|---|")
    ours = _measure("tenure", path)
    theirs = _measure("networkx", path)
    same = (ours["components"], ours["sum_sq"]) == (theirs["components"], theirs["sum_sq"])
    for name, r in (("tenure (DuckDB, Ibis)", ours), ("networkx", theirs)):
        print(
            f"| {name} | {r['seconds']:.1f} | {r['iterations'] or '-'} | "
            f"{r['components']:,} | {r['peak_rss_mb']:,.0f} | {same} |"
        )


if __name__ == "__main__":
    main()
