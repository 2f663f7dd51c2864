"""The goals' forecast backtest (docs/advisor.md, "Coverage"): the share of cut-offs whose
stated (calibrated) 80% interval holds the outcome, beside the model's own interval, for
monthly (30 days) and quarterly (91 days) goals on a demo store (two years), revenue and
customers on CDNOW, and, given a third store, the same daily metrics on it (a store the
calibration's settings were not chosen on).

    python bench/bench_goals.py DEMO.duckdb CDNOW.duckdb [HOLDOUT.duckdb]

DEMO: `tenure.pipeline.demo.demo(store, customers=4000, seed=7, start=2024-01-01, days=730)`;
CDNOW: CDNOW_master imported with `--preset cdnow`, its clock frozen at 1998-06-30;
HOLDOUT: the same demo with `customers=3000, seed=11, start=2023-03-01, days=900`.
"""

from __future__ import annotations

import json
import sys
import time

from tenure import Store
from tenure.advisor.goal_backtest import backtest_coverage

DAILY = [("revenue", 30), ("revenue", 91), ("orders", 30), ("orders", 91)]
SPAN = [("customers", 30), ("repeat_rate", 91), ("purchase_frequency", 91)]


def cases(demo: str, cdnow: str, holdout: str | None) -> list[tuple[str, str, str, int, int]]:
    out = [(demo, "demo", m, d, 14) for m, d in DAILY + SPAN]
    out += [(cdnow, "cdnow", "revenue", 30, 7), (cdnow, "cdnow", "revenue", 91, 7)]
    out += [(cdnow, "cdnow", "customers", 30, 7)]
    if holdout:
        out += [(holdout, "holdout", m, d, 14) for m, d in [*DAILY, ("aov", 30)]]
    return out


def main(demo: str, cdnow: str, holdout: str | None = None) -> None:
    total = covered = 0
    for url, name, metric, days, every in cases(demo, cdnow, holdout):
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
    main(*sys.argv[1:4])
