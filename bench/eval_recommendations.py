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
from tenure.demo import DEFAULT_TASTE, generate_demo
from tenure.recommend import evaluate as E

GROCERIES = Path(__file__).parents[1] / "tests" / "fixtures" / "groceries" / "groceries.csv"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--taste",
        type=float,
        action="append",
        help="demo tastes to evaluate, repeatable (default: the demo's, 0.6, and 0; docs/demo.md)",
    )
    parser.add_argument("--holdout-days", type=int, default=90)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--groceries", type=Path, default=GROCERIES)
    return parser.parse_args()


def _demo(
    store: Store, args: argparse.Namespace, taste: float
) -> tuple[list[E.Evaluation], E.Recovery]:
    generate_demo(
        store,
        customers=args.customers,
        seed=args.seed,
        start=date(2024, 1, 1),
        days=args.days,
        taste=taste,
    )
    split = E.time_split(store, holdout_days=args.holdout_days)
    name = "demo" if taste == DEFAULT_TASTE else f"demo, taste {taste:g}"
    evaluations = [
        E.next_product(
            split,
            products=store.table("products"),
            name=f"{name}: next product per person",
            seed=args.seed,
        ),
        E.demo_hide_one(
            store,
            split=split,
            seed=args.seed,
            name=f"{name}: frequently bought together, hide one item",
        ),
        E.next_category(
            store, split, k=3, name=f"{name}: cross-category candidates", seed=args.seed
        ),
    ]
    return evaluations, E.companion_recovery(store)


def main() -> None:
    args = _args()
    started = time.perf_counter()
    groceries = E.groceries_hide_one(E.read_baskets(args.groceries), folds=args.folds, seed=0)
    took = f"groceries {time.perf_counter() - started:.0f} s"
    evaluations, recoveries = [groceries], {}
    with tempfile.TemporaryDirectory() as tmp:
        for taste in args.taste or [DEFAULT_TASTE, 0.0]:
            started = time.perf_counter()
            with Store(f"duckdb://{Path(tmp) / f'demo_{taste:g}.duckdb'}") as store:
                name = "demo" if taste == DEFAULT_TASTE else f"demo, taste {taste:g}"
                demo, recoveries[name] = _demo(store, args, taste)
            evaluations += demo
            took += f", demo taste {taste:g} {time.perf_counter() - started:.0f} s"
    print(
        f"Groceries ({groceries.note}), demo stores ({args.customers:,} customers, {args.days} "
        f"days, seed {args.seed}; {demo[0].note}); {took}. k = 10 (categories: 3), 95% "
        "intervals (bootstrap over cases, 2,000 resamples; difference paired):\n"
    )
    print(E.markdown_table(evaluations))
    print()
    print(E.recovery_table(recoveries))


if __name__ == "__main__":
    main()
