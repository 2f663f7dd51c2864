"""Benchmark: importing N order lines from CSV and Parquet, next to DuckDB's bare readers.

    python bench/bench_import.py --rows 10000000

For each format, in the same run and on the same file, each step in a fresh subprocess (so
peak RSS is its own):

* baseline: ``CREATE TABLE t AS SELECT * FROM read_csv/read_parquet(file)`` in a new DuckDB
  file: the physical limit of this path;
* tenure:   ``tenure.ingest.import_orders`` into a new store, validation and quarantine on.

Prints a Markdown table (rows/s, wall time, peak RSS, ratio to the baseline) for
docs/benchmarks.md. The generated files are cached in bench/data (gitignored).

    python bench/bench_import.py --rows 3000000 --against 622cbc2 --repeat 3

also imports the same file with the source of another revision (``git archive`` of its
``src/`` into bench/data, run with ``PYTHONPATH`` pointing at it), alternating with the
working tree's, ``--repeat`` times each, and prints the median times and their ratio: what
the checks added since that revision cost (issue 11: the date and amount checks).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from measure import in_child

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"


def generate(rows: int, fmt: str) -> Path:
    """Write `rows` order lines (Shopify-like: several lines per order) with DuckDB."""
    import duckdb

    path = DATA / f"order_lines_{rows}.{fmt}"
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    query = f"""
        SELECT
            'O' || (i // 3)::VARCHAR AS order_id,
            (i % 3 + 1)::BIGINT AS line,
            'C' || ((i // 3) % {max(rows // 10, 1)})::VARCHAR AS customer_id,
            'c' || ((i // 3) % {max(rows // 10, 1)})::VARCHAR || '@example.com' AS email,
            strftime(TIMESTAMP '2024-01-01' + to_seconds((i // 3) * 7 % 63072000),
                     '%Y-%m-%dT%H:%M:%S') AS ordered_at,
            'USD' AS currency,
            'P' || (i * 7919 % 5000)::VARCHAR AS product_id,
            'SKU-' || (i * 7919 % 5000)::VARCHAR AS sku,
            (1 + i % 4)::BIGINT AS quantity,
            round(5 + (i * 37 % 9000) / 100.0, 2)::DECIMAL(18,2) AS unit_price
        FROM range({rows}) t(i)
    """
    tmp = path.with_suffix(".tmp")
    option = "(FORMAT csv, HEADER)" if fmt == "csv" else "(FORMAT parquet)"
    con.execute(f"COPY ({query}) TO '{tmp}' {option}")
    tmp.rename(path)
    return path


def _baseline(path: Path, workdir: Path) -> dict[str, float]:
    import duckdb

    con = duckdb.connect(str(workdir / "bare.duckdb"))
    reader = "read_csv" if path.suffix == ".csv" else "read_parquet"
    start = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM {reader}(?)", [str(path)])
    seconds = time.perf_counter() - start
    n = con.execute("SELECT count(*) FROM t").fetchone()
    return {"seconds": seconds, "rows": float(n[0] if n else 0)}


def _tenure(path: Path, workdir: Path) -> dict[str, Any]:
    import tenure
    from tenure import Store
    from tenure.ingest import import_orders

    url = f"duckdb://{workdir / 'store.duckdb'}"
    with Store(url) as store:
        start = time.perf_counter()
        result = import_orders(store, [path])
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "rows": float(result.rows_read),
        "stored": float(result.stored),
        "source": str(Path(tenure.__file__).parents[1]),
    }


def _child(step: str, path: Path) -> None:
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        out = (_baseline if step == "baseline" else _tenure)(path, Path(tmp))
    print(json.dumps(out))


def _measure(step: str, path: Path, src: Path | None = None) -> dict[str, Any]:
    return in_child(__file__, step, path, env={"PYTHONPATH": str(src)} if src else None)


def _source_of(rev: str) -> Path:
    """The ``src/`` of revision ``rev``, extracted once into bench/data."""
    out = DATA / f"src-{rev}"
    if not (out / "src" / "tenure").is_dir():
        out.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(HERE.parent), "archive", rev, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out / "src"


def _against(fmt: str, path: Path, rev: str, repeat: int) -> None:
    """Alternate imports with ``rev``'s source and the working tree's; print the medians."""
    src = _source_of(rev)
    runs: dict[str, list[dict[str, Any]]] = {rev: [], "working tree": []}
    for _ in range(repeat):
        runs[rev].append(_measure("tenure", path, src))
        runs["working tree"].append(_measure("tenure", path))
    assert runs[rev][0]["source"] == str(src), runs[rev][0]["source"]
    medians = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
    for name, rs in runs.items():
        times = ", ".join(f"{r['seconds']:.2f}" for r in rs)
        peak = max(r["peak_rss_mb"] for r in rs)
        print(
            f"| {fmt} | tenure import ({name}) | {int(rs[0]['rows']):,} | {times} | "
            f"{medians[name]:.2f} | {peak:,.0f} |"
        )
    print(f"\n{fmt}: working tree / {rev} = {medians['working tree'] / medians[rev]:.3f}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--against", metavar="REV", help="also time REV's importer")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (with --against)")
    parser.add_argument("--child", nargs=2, metavar=("STEP", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    if args.against:
        print("| format | step | rows | seconds (each run) | median | peak RSS (MB) |")
        print("|---|---|---|---|---|---|")
        for fmt in args.formats.split(","):
            _against(fmt, generate(args.rows, fmt), args.against, args.repeat)
        return
    print("| format | step | rows | seconds | rows/s | peak RSS (MB) | throughput vs bare |")
    print("|---|---|---|---|---|---|---|")
    for fmt in args.formats.split(","):
        path = generate(args.rows, fmt)
        base = _measure("baseline", path)
        ours = _measure("tenure", path)
        for name, r in (("bare DuckDB", base), ("tenure import", ours)):
            ratio = base["seconds"] / r["seconds"]
            print(
                f"| {fmt} | {name} | {int(r['rows']):,} | {r['seconds']:.2f} | "
                f"{r['rows'] / r['seconds']:,.0f} | {r['peak_rss_mb']:,.0f} | {ratio:.2f} |"
            )


if __name__ == "__main__":
    main()
