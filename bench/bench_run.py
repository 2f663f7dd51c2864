"""Benchmark: the full daily run on the bench store, then one appended day run incrementally.

    python bench/bench_run.py --customers 1000000
    python bench/bench_run.py --customers 200000 --compare

On a copy of the bench store (:mod:`bench_data`: identities resolved, no derived table yet):

1. **full run**: ``tenure run`` when the CLI has it (else ``tenure refresh`` then
   ``tenure predict``, the run before the pipeline existed), each command a process of its
   own: wall time, CPU time and peak RSS (the largest single process);
2. **one more day**: :func:`bench_data.append_day` adds ~10k orders and ~50k events dated the
   day after the end, then ``tenure run --as-of <that day>`` (the incremental run) is timed
   the same way (skipped, and said so, when the CLI has no ``tenure run``);
3. with ``--compare``: the derived tables the incremental run wrote (facts, RFM, statuses,
   stage history) are kept aside, rebuilt in full (``tenure run --full``), and compared
   row for row (``EXCEPT ALL`` both ways; predictions are left out: a full rebuild refits).

The machine's load (``/proc/loadavg``) is recorded next to each figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench_data import DATA, append_day
from bench_refresh import generate

SRC = Path(__file__).resolve().parents[1] / "src"
COMPARED = ("customer_facts", "customer_rfm", "customer_status", "stage_history")


def _load() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def timed(args: list[str]) -> dict[str, Any]:
    """Run ``args`` (a process), return wall and CPU seconds, peak RSS (MB), exit status and
    the last line it printed."""
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    load = _load()
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    return {
        "command": " ".join(args[1:]),
        "seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "status": status,
        "load_before": load,
        "output": output[-3000:],
    }


def _tenure(*args: str) -> list[str]:
    """The ``tenure`` command of this interpreter's environment (this tree's source first)."""
    return [str(Path(sys.executable).parent / "tenure"), *args]


def has_run_command() -> bool:
    """Whether this revision's CLI has ``tenure run`` (the pipeline)."""
    return timed(_tenure("run", "--help"))["status"] == 0


def full_run(url: str, end: date) -> dict[str, Any]:
    if has_run_command():
        steps = [timed(_tenure("run", "--store", url, "--as-of", str(end), "--json"))]
    else:
        steps = [
            timed(_tenure("refresh", "--store", url, "--as-of", str(end), "--no-progress")),
            timed(_tenure("predict", "--store", url, "--as-of", str(end), "--top", "0")),
        ]
    return {
        "steps": steps,
        "seconds": round(sum(s["seconds"] for s in steps), 2),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in steps),
        "ok": all(s["status"] == 0 for s in steps),
    }


def _append(path: Path, day: date) -> dict[str, Any]:
    from tenure import Store

    url = f"duckdb://{path}"
    started = time.perf_counter()
    with Store(url) as store:
        added = append_day(store, day)
    return {**added, "seconds": round(time.perf_counter() - started, 2)}


def _compare(path: Path, day: date) -> dict[str, Any]:
    """Keep the incremental tables aside, rebuild in full, count the rows that differ."""
    import duckdb

    raw = duckdb.connect(str(path))
    for name in COMPARED:
        raw.execute(f"CREATE OR REPLACE TABLE bench_inc_{name} AS SELECT * FROM {name}")
    raw.close()
    rebuilt = timed(_tenure("run", "--store", f"duckdb://{path}", "--as-of", str(day), "--full"))
    raw = duckdb.connect(str(path))
    out: dict[str, Any] = {"full_rebuild": {k: rebuilt[k] for k in ("seconds", "status")}}
    for name in COMPARED:
        cols = ", ".join(f'"{c}"' for c in raw.execute(f"SELECT * FROM {name} LIMIT 0").columns)
        a, b = f"SELECT {cols} FROM bench_inc_{name}", f"SELECT {cols} FROM {name}"
        only_inc = raw.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()
        only_full = raw.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone()
        out[name] = {"only_incremental": only_inc[0], "only_full": only_full[0]}
        raw.execute(f"DROP TABLE bench_inc_{name}")
    raw.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--compare", action="store_true", help="incremental vs full rebuild")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step, where, day = args.child
        fn = {"append": _append, "compare": _compare}[step]
        print(json.dumps(fn(Path(where), date.fromisoformat(day))))
        return
    base = generate(args.customers)
    info = json.loads(base.with_suffix(".json").read_text())
    end = date.fromisoformat(info["end"])
    work = DATA / f"run_{args.customers}.duckdb"
    work.with_suffix(".duckdb.wal").unlink(missing_ok=True)
    shutil.copyfile(base, work)
    url = f"duckdb://{work}"
    results: dict[str, Any] = {"store": info, "full": full_run(url, end)}
    print("full", json.dumps({k: v for k, v in results["full"].items() if k != "steps"}))
    if has_run_command():
        day = end + timedelta(days=1)
        results["append"] = _child("append", work, day)
        inc = timed(_tenure("run", "--store", url, "--as-of", str(day), "--json"))
        results["incremental"] = inc
        print("incremental", json.dumps({k: v for k, v in inc.items() if k != "output"}))
        if args.compare:
            results["compare"] = _child("compare", work, day)
            print("compare", json.dumps(results["compare"]))
    else:
        results["incremental"] = "skipped: this revision's CLI has no `tenure run`"
    out = DATA.parent / "out"
    out.mkdir(exist_ok=True)
    (out / f"run_{args.customers}_{date.today()}.json").write_text(json.dumps(results, indent=1))
    for s in results["full"]["steps"]:
        print(
            f"{s['command']}: {s['seconds']} s, {s['cpu_seconds']} CPU-s, "
            f"{s['peak_rss_mb']} MB, load {s['load_before']}"
        )
        print(s["output"][-1500:])


def _child(step: str, path: Path, day: date) -> dict[str, Any]:
    r = timed([sys.executable, __file__, "--child", step, str(path), str(day)])
    if r["status"] != 0:
        raise SystemExit(f"{step} failed: {r['output']}")
    result: dict[str, Any] = json.loads(r["output"].strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
