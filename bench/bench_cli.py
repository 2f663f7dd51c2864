"""Benchmark: the first screen of the `--customers` tables on a large store (issue 13).

    python bench/bench_cli.py                      # the 200k-buyer run store, copied to /tmp
    python bench/bench_cli.py --store PATH --repeat 3 --predict

On a copy (in a temporary directory, never the bench data folder) of a store after
`tenure run` (default ``bench/data/run_200000.duckdb`` of the main tree, made by
bench_run.py), as of the day that run was as of (``--as-of``: the derived tables are
current, as after the daily run), each command is run as a process of its own, as a person
types it in an 120x40 terminal (``COLUMNS=120 LINES=40``, ``--limit 30``, a screenful):

* ``first_row_s``: seconds from the start until the first person's row is printed;
* ``seconds``: until the process ends (the first screen and its notes printed);
* ``peak_rss_mb``: the process's peak memory.

``tenure version`` is timed too: the process start and the imports every command pays.

The same command with ``--csv`` (every row, streamed) is timed for comparison. ``--predict``
adds ``predict --customers`` (it fits the models first: that time is the fit's, not the
table's). The machine's load (``/proc/loadavg``) is recorded next to each figure; the best
of ``--repeat`` runs is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
DEFAULT_STORE = Path("/work/main/bench/data/run_200000.duckdb")
COMMANDS = (("rfm", "--customers"), ("status", "--customers"))


def tenure(*args: str) -> list[str]:
    """The ``tenure`` command of this interpreter's environment."""
    return [str(Path(sys.executable).parent / "tenure"), *args]


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def run(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``args``; the seconds to the first line holding a person id and to the end, the
    peak RSS, the exit status and the last lines printed."""
    before = load()
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    first: float | None = None
    tail: list[str] = []
    for raw in proc.stdout:
        if first is None and b"P-" in raw:
            first = time.perf_counter() - started
        tail = [*tail[-3:], raw.decode(errors="replace").rstrip()]
    _, status, usage = os.wait4(proc.pid, 0)
    return {
        "command": " ".join(args[1:]),
        "first_row_s": None if first is None else round(first, 2),
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "status": status,
        "load_before": before,
        "tail": tail,
    }


def best(args: list[str], env: dict[str, str], repeat: int) -> dict[str, Any]:
    """The fastest of ``repeat`` runs (the machine is shared: timings are noisy)."""
    runs = [run(args, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r["seconds"])


def last_run_day(path: Path) -> str:
    """The day the store's last run was as of."""
    sys.path.insert(0, str(SRC))
    from tenure import Store
    from tenure.pipeline.runner import reader_day

    with Store(f"duckdb://{path}") as store:
        return reader_day(store, "customer_rfm").isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--predict", action="store_true", help="also predict --customers")
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "COLUMNS": "120",
        "LINES": "40",
    }
    commands = [*COMMANDS, *([("predict", "--customers")] if args.predict else [])]
    with tempfile.TemporaryDirectory(prefix="bench_cli_") as folder:
        copy = Path(folder) / args.store.name
        shutil.copyfile(args.store, copy)
        day = last_run_day(copy)
        results: dict[str, Any] = {"store": str(args.store), "as_of": day, "commands": []}
        start_up = best(tenure("version"), env, args.repeat)
        results["start_up"] = start_up
        print(f"tenure version (Python and the imports): {start_up['seconds']} s")
        for command in commands:
            base = tenure(*command, "--store", str(copy), "--as-of", day)
            screen = best([*base, "--limit", "30"], env, args.repeat)
            csv = best([*base, "--csv"], env, 1)
            results["commands"].append({"screen": screen, "csv": csv})
            print(
                f"{' '.join(command)}: first row {screen['first_row_s']} s, screen "
                f"{screen['seconds']} s, {screen['peak_rss_mb']} MB (load "
                f"{screen['load_before']}); --csv {csv['seconds']} s, {csv['peak_rss_mb']} MB"
            )
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / f"cli_{time.strftime('%Y-%m-%d')}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
