"""The goals' forecast backtest (docs/advisor.md, "Coverage"): the share of cut-offs whose
80% interval holds the outcome, for monthly (30 days) and quarterly (91 days) revenue and
orders goals on a demo store (two years) and revenue on CDNOW.

    python bench/bench_goals.py DEMO.duckdb CDNOW.duckdb

DEMO: `tenure demo --customers 4000 --days 730` (any two-year demo); CDNOW: CDNOW_master
imported with `--preset cdnow`, its clock frozen at 1998-06-30.
"""

from __future__ import annotations

import json
import sys
import time

from tenure import Store
from tenure.advisor.goal_backtest import backtest_coverage


def main(demo: str, cdnow: str) -> None:
    cases = [
        (demo, "demo", "revenue", 30, 14),
        (demo, "demo", "revenue", 91, 14),
        (demo, "demo", "orders", 30, 14),
        (demo, "demo", "orders", 91, 14),
        (cdnow, "cdnow", "revenue", 30, 7),
        (cdnow, "cdnow", "revenue", 91, 7),
    ]
    total = covered = 0
    for url, name, metric, days, every in cases:
        started = time.perf_counter()
        with Store(url, read_only=True) as store:
            result = backtest_coverage(store, metric, days, every=every)
        total += result.cutoffs
        covered += result.covered
        row = {
            "store": name,
            **result.to_dict(),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(json.dumps(row), flush=True)
    print(
        json.dumps(
            {"store": "all", "cutoffs": total, "covered": covered, "coverage": covered / total}
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
