"""Benchmark: the daily predictions step (every buyer re-scored with the stored fit) and the
run's own bookkeeping, on a copy of a bench store with one day appended.

    python bench/bench_predictions.py bench/data/run_200000.duckdb 2026-01-01 --repeat 2

1. the store is copied (the bench file is never written), the day appended
   (:func:`bench_data.append_day`) and every step but predictions brought up to date;
2. ``--repeat`` times, each on a fresh copy of that: ``run(steps=["predictions"])``, the
   step's wall and CPU seconds, and the run's overhead (its seconds outside the step: the
   plan, the data clock, the run records);
3. in a fresh process, what importing the step's code costs after the CLI's imports (what
   ``tenure run`` pays for it inside the step).

The day is the one after the store's last run (2026-01-01 for run_200000, 2026-01-04 for
run_20000 as cached in bench/data on 2026-12-03).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench_data import append_day

from tenure import Store
from tenure.pipeline import run

IMPORTS = """
import time
import tenure.cli.main, tenure.pipeline, tenure.analytics.incremental
t = time.perf_counter()
import tenure.predictions.rescore
print(round(time.perf_counter() - t, 3))
"""


def prepare(source: Path, day: date, work: Path) -> Path:
    """A copy of ``source`` with ``day`` appended and every step but predictions current."""
    prepared = work / "prepared.duckdb"
    shutil.copy(source, prepared)
    with Store(f"duckdb://{prepared}") as store:
        added = append_day(store, day)
        steps = ["customer_facts", "customer_rfm", "customer_status", "stage_history"]
        run(store, steps=steps, as_of=day)
    print(f"appended {added}")
    return prepared


def time_step(prepared: Path, day: date, work: Path) -> dict[str, float]:
    """The predictions step run once on a fresh copy of ``prepared``."""
    copy = work / "run.duckdb"
    shutil.copy(prepared, copy)
    with Store(f"duckdb://{copy}") as store:
        wall, cpu = time.perf_counter(), time.process_time()
        result = run(store, steps=["predictions"], as_of=day)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    step = result.get("predictions")
    assert step is not None and step.mode == "incremental", step
    return {"step_s": step.seconds, "run_s": round(wall, 3), "cpu_s": round(cpu, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path, help="a DuckDB bench store after a full run")
    parser.add_argument("day", type=date.fromisoformat, help="the appended day, YYYY-MM-DD")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prepared = prepare(args.store, args.day, Path(tmp))
        for _ in range(args.repeat):
            timed = time_step(prepared, args.day, Path(tmp))
            overhead = timed["run_s"] - timed["step_s"]
            load = Path("/proc/loadavg").read_text().split()[0]
            print(f"predictions {timed} run overhead {overhead:.3f} s (load {load})")
    code = [sys.executable, "-c", IMPORTS]
    imported = subprocess.run(code, capture_output=True, text=True, check=True).stdout.strip()
    print(f"import of the step's code after the CLI's: {imported} s")


if __name__ == "__main__":
    main()
