"""Benchmark: append one day to a bench store and bring it up to date with the pipeline,
printing each step's mode and seconds (where an incremental run spends its time).

    python bench/bench_day.py bench/data/run_20000.duckdb 2026-01-02

The store must have had a full run (``bench/bench_run.py`` leaves ``bench/data/run_N.duckdb``);
the day is the next one after its last run's as-of day.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from bench_data import append_day

from tenure import Store
from tenure.pipeline import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="a DuckDB bench store after a full run")
    parser.add_argument("day", type=date.fromisoformat, help="the appended day, YYYY-MM-DD")
    args = parser.parse_args()
    with Store(f"duckdb://{args.store}") as store:
        started = time.perf_counter()
        added = append_day(store, args.day)
        print(f"append {time.perf_counter() - started:.2f} s: {added}")
        started = time.perf_counter()
        result = run(store, as_of=args.day)
        print(f"run {time.perf_counter() - started:.2f} s")
        for s in result.steps:
            print(f"  {s.step:<16} {s.mode or '':<12} {s.seconds or 0:>7.2f} s  {s.reason or ''}")


if __name__ == "__main__":
    main()
