"""The offline evaluation of the recommendations (docs/recommendations.md, "Measured"):
groceries hide-one, and a demo store's time split and companion recovery, printed as the
markdown tables of the docs.

    python bench/eval_recommendations.py                      # 5,000 customers x 2 years
    python bench/eval_recommendations.py --customers 800 --days 365

The demo store is generated (seed fixed) into a temporary DuckDB file unless ``--store``
names one that already holds it. Same arguments, same figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from tenure import Store
from tenure.demo import generate_demo
from tenure.recommend import evaluate as E

GROCERIES = Path(__file__).parents[1] / "tests" / "fixtures" / "groceries" / "groceries.csv"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--holdout-days", type=int, default=90)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--store", help="a DuckDB file for the demo store (default: temporary)")
    parser.add_argument("--groceries", type=Path, default=GROCERIES)
    return parser.parse_args()


def _demo(store: Store, args: argparse.Namespace) -> tuple[list[E.Evaluation], E.Recovery]:
    if store.count("orders") == 0:
        generate_demo(
            store, customers=args.customers, seed=args.seed, start=date(2024, 1, 1), days=args.days
        )
    split = E.time_split(store, holdout_days=args.holdout_days)
    evaluations = [
        E.demo_next_product(store, split=split, holdout_days=args.holdout_days, seed=args.seed),
        E.demo_hide_one(store, split=split, holdout_days=args.holdout_days, seed=args.seed),
        E.next_category(store, split, k=3, name="demo: cross-category candidates", seed=args.seed),
    ]
    return evaluations, E.companion_recovery(store)


def main() -> None:
    args = _args()
    started = time.perf_counter()
    groceries = E.groceries_hide_one(E.read_baskets(args.groceries), folds=args.folds, seed=0)
    took = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or str(Path(tmp) / "demo.duckdb")
        with Store(f"duckdb://{path}") as store:
            started = time.perf_counter()
            demo, recovery = _demo(store, args)
            took_demo = time.perf_counter() - started
    print(
        f"Groceries ({groceries.note}; {took:.0f} s), demo store ({args.customers:,} customers, "
        f"{args.days} days, seed {args.seed}; {demo[0].note}; {took_demo:.0f} s), k = 10 "
        "(categories: 3), 95% intervals (bootstrap over cases, 2,000 resamples; difference "
        "paired):\n"
    )
    print(E.markdown_table([groceries, *demo]))
    print()
    print(E.recovery_table(recovery))


if __name__ == "__main__":
    main()
