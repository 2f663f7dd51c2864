"""Benchmark: the collector's sustained ingest (issue 18): events/s through ``/v1/batch`` and
the requests' p50/p99 latency, with zero events lost.

    PYTHONPATH=src python bench/bench_collector.py --seconds 30 --clients 4 --batch 100 --repeats 3

The server (:func:`tenure.service.app.create_app` under uvicorn, one worker, over a new
DuckDB file, the write-ahead log next to it) runs in a subprocess; the load generator in
another (``--clients`` threads, each sending batches of ``--batch`` track events with unique
messageIds and waiting for the answer before the next: a closed loop). Both share the
machine's cores with the server. Each request's latency is timed from send to answer; a
request not answered 200 is counted (and its events are not counted as acknowledged).

When the load stops the server is sent SIGTERM: it stops taking requests and loads what is
still in its log (timed: the backlog the loader had left). Then the store is opened and its
events counted: every acknowledged event must be there exactly once (zero lost, zero
duplicated). Target (issue 18): at least 5,000 events/s with p99 at most 100 ms. The machine
is shared: each run prints the load average before it; the report gives the median and range.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from measure import free_port, wait_healthy  # noqa: E402

KEY = "bench-key"


def serve(store: str, wal: str, port: int) -> None:
    """The server subprocess: the collector over ``store`` on ``port``."""
    import uvicorn

    from tenure.config import load_settings
    from tenure.service.app import create_app

    settings = load_settings(
        store_url=f"duckdb://{store}", write_keys=[KEY], collector_dir=Path(wal)
    )
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def _client(url: str, stop: float, batch: int, out: dict[str, Any]) -> None:
    import httpx

    latencies, acked, failed = [], 0, 0
    with httpx.Client(base_url=url, auth=(KEY, ""), timeout=30) as client:
        while time.monotonic() < stop:
            events = [
                {
                    "type": "track",
                    "event": "Product Viewed",
                    "userId": f"u{n % 5000}",
                    "messageId": uuid.uuid4().hex,
                    "properties": {"sku": f"P{n % 800}", "price": 19.99, "n": n},
                    "context": {"page": {"url": "https://shop.example/p"}},
                }
                for n in range(batch)
            ]
            start = time.perf_counter()
            sent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            answer = client.post("/v1/batch", json={"batch": events, "sentAt": sent})
            latencies.append(time.perf_counter() - start)
            if answer.status_code == 200 and answer.json()["accepted"] == batch:
                acked += batch
            else:
                failed += 1
    out.setdefault("latencies", []).extend(latencies)
    out["acked"] = out.get("acked", 0) + acked
    out["failed"] = out.get("failed", 0) + failed


def load(url: str, seconds: float, clients: int, batch: int, path: str) -> None:
    """The load generator subprocess: ``clients`` threads for ``seconds``; results to ``path``."""
    out: dict[str, Any] = {}
    started = time.monotonic()
    stop = started + seconds
    threads = [
        threading.Thread(target=_client, args=(url, stop, batch, out)) for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out["elapsed"] = time.monotonic() - started
    Path(path).write_text(json.dumps(out))


def _stored(store: Path) -> tuple[int, int]:
    from tenure.store import Store

    opened = Store(f"duckdb://{store}")
    events = opened.table("events")
    rows, distinct = int(events.count().execute()), int(events.message_id.nunique().execute())
    opened.close()
    return rows, distinct


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """One benchmark run; its figures."""
    folder = Path(tempfile.mkdtemp(prefix="bench-collector-", dir=args.dir))
    store, port = folder / "s.duckdb", free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    me = [sys.executable, str(HERE)]
    server = subprocess.Popen([*me, "serve", str(store), str(folder / "wal"), str(port)], env=env)
    wait_healthy(url, server)
    result = folder / "load.json"
    loader = [*me, "load", url, str(args.seconds), str(args.clients), str(args.batch), str(result)]
    subprocess.run(loader, env=env, check=True)
    started = time.monotonic()
    server.send_signal(signal.SIGTERM)
    server.wait()
    drain = time.monotonic() - started
    out = json.loads(result.read_text())
    rows, distinct = _stored(store)
    shutil.rmtree(folder, ignore_errors=True)
    lat = sorted(out["latencies"])
    return {
        "events_acked": out["acked"],
        "requests": len(lat),
        "failed_requests": out["failed"],
        "events_per_s": out["acked"] / out["elapsed"],
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * _quantile(lat, 0.99),
        "max_ms": 1000 * lat[-1],
        "shutdown_drain_s": drain,
        "stored": rows,
        "lost": out["acked"] - distinct,
        "duplicates": rows - distinct,
    }


def main(argv: list[str]) -> None:
    if argv and argv[0] == "serve":
        serve(argv[1], argv[2], int(argv[3]))
        return
    if argv and argv[0] == "load":
        load(argv[1], float(argv[2]), int(argv[3]), int(argv[4]), argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1, help="runs (a new store each)")
    parser.add_argument("--dir", default=None, help="where the store and log go (a temp dir)")
    args = parser.parse_args(argv)
    runs = []
    for k in range(args.repeats):
        print(f"run {k + 1}: load average {os.getloadavg()[0]:.2f}", flush=True)
        runs.append(run(args))
        print(json.dumps(runs[-1]), flush=True)
    for name in ("events_per_s", "p50_ms", "p99_ms", "shutdown_drain_s"):
        values = [r[name] for r in runs]
        print(
            f"{name}: median {statistics.median(values):.1f}, {min(values):.1f}-{max(values):.1f}"
        )
    met = [r["events_per_s"] >= 5000 and r["p99_ms"] <= 100 and not r["lost"] for r in runs]
    print(f"lost: {sum(r['lost'] for r in runs)}, duplicates: {sum(r['duplicates'] for r in runs)}")
    print(f"target (>= 5,000 events/s, p99 <= 100 ms, zero lost) met in {sum(met)} of {len(met)}")


if __name__ == "__main__":
    main(sys.argv[1:])
