"""Benchmark: the admin API's profile and KPI endpoints on a store of about 1M buyers (issue 18:
p95 of each at most 200 ms).

    PYTHONPATH=src python bench/bench_admin.py --requests 200 --kpi-requests 200 --repeats 2

The store: ``--copies`` (default 7) renamed replicas of the built demo store ``--source``
(``bench/bench_flows.py``'s 200,000-person store, 148,148 buyers: 7 copies hold about 1.04M
buyers) after resolving its identities (:func:`resolved`: a copy, the identity step, the
pipeline again), built once by :func:`bench_flows.replicate` into ``--dir`` (the source is
copied, never changed) and reused; ``--store`` names another built store instead.

Each run starts the real application (:func:`tenure.service.app.create_app` under uvicorn, one
process, the worker off, an admin token) over the store in a subprocess, on a free loopback
port, and a client in another (``httpx``, one request at a time, ``Authorization: Bearer``):

* ``profile``: ``GET /api/profiles/{identifier}`` (``timeline`` 20, the route's default), a
  different random buyer each time, named alternately by e-mail and by customer id;
* ``kpis``: ``GET /api/kpis`` with the route's defaults (monthly, whole history, first page).

The server starts as ``tenure serve`` does: it computes the KPI route's default answer at start
(:meth:`tenure.service.worker.ServiceWorker.warm`); the client waits for that (``warm_s``,
from the server answering ``/health``). ``--warmup`` profile requests come next (other buyers),
not timed; then ``--kpi-warmup`` KPI requests, timed apart (``kpis_first``: the first request
after the start, answered from what the warm-up kept, :mod:`tenure.store.cache`, as every
repeated one is until a table it read is written). Each request is timed from
send to the whole answer read; every answer must be a 200. The server's peak RSS (VmHWM) is
read before it stops. Then, in a fresh process over the same store, the library calls the
routes make are timed the same way (``profile`` + the JSON conversion, ``kpis`` + the first
page's records), so the HTTP part shows. ``--kpi-budget`` stops the KPI requests after that
many seconds (the count is reported). The machine is shared: the load average is recorded
before and after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from measure import free_port, served_settings, wait_healthy  # noqa: E402

TOKEN = "bench-admin-token"
#: The profile route's query: the route's default timeline, said out loud.
TIMELINE = 20


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- the store ------------------------------------------------------------------------------


def build(source: Path, path: Path, copies: int) -> dict[str, Any]:
    """``path``: ``copies`` renamed replicas of ``source`` (:func:`bench_flows.replicate`),
    its counts written next to it (``.json``); reused when already built."""
    info_path = path.with_suffix(".json")
    if path.exists() and info_path.exists():
        info: dict[str, Any] = json.loads(info_path.read_text())
        if "buyers" not in info:
            info.update(counts(path))
            info_path.write_text(json.dumps(info))
        return info
    from bench_flows import replicate

    partial = path.with_name(path.name + ".part")
    partial.unlink(missing_ok=True)
    info = replicate(source, partial, copies)
    partial.rename(path)
    info.update(counts(path))
    info_path.write_text(json.dumps(info))
    return info


def resolved(source: Path, path: Path) -> Path:
    """``path``: a copy of the built store ``source`` with its identities resolved and the
    pipeline run again up to ``segments`` (``bench_flows`` builds without the identity step, so
    its persons are their customer ids and a profile finds none of their orders or events;
    a served store is resolved, as ``tenure demo`` does), its build info next to it."""
    if path.exists() and path.with_suffix(".json").exists():
        return path
    from tenure.pipeline import run as pipeline
    from tenure.store import Store

    partial = path.with_name(path.name + ".part")
    shutil.copyfile(source, partial)
    info = json.loads(source.with_suffix(".json").read_text())
    with Store(f"duckdb://{partial}") as store:
        start = time.perf_counter()
        pipeline(store, steps=["identity"])
        info["identity_s"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        pipeline(store, steps=["segments"])
        info["resolved_pipeline_s"] = round(time.perf_counter() - start, 1)
    partial.rename(path)
    path.with_suffix(".json").write_text(json.dumps(info))
    return path


def counts(path: Path) -> dict[str, Any]:
    """Persons, buyers, orders, events and resolved identities of the store at ``path``."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)

    def one(sql: str) -> int:
        row = con.execute(sql).fetchone()
        return int(row[0]) if row else 0

    out = {
        "persons": one("SELECT count(*) FROM customer_facts"),
        "buyers": one("SELECT count(*) FROM customer_facts WHERE is_buyer"),
        "orders": one("SELECT count(*) FROM orders"),
        "events": one("SELECT count(*) FROM events"),
        "identities": one("SELECT count(*) FROM identities"),
    }
    con.close()
    return out


def identifiers(path: Path, n: int, seed: int) -> list[str]:
    """``n`` different random buyers of the store, each named by one of their identifiers:
    alternately an e-mail and a customer id (from ``identities``); before identity resolution
    (``identities`` empty) by customer id, a person's id then (an e-mail names nobody)."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    resolved = con.execute("SELECT count(*) FROM identities").fetchone()[0] > 0  # type: ignore[index]
    if resolved:
        sql = """
            SELECT f.person_id,
                   min(i.value) FILTER (WHERE i.kind = 'email') AS email,
                   min(i.value) FILTER (WHERE i.kind = 'customer_id') AS customer_id
            FROM customer_facts f JOIN identities i ON i.person_id = f.person_id
            WHERE f.is_buyer GROUP BY f.person_id
            HAVING count(DISTINCT i.value) FILTER (WHERE i.kind = 'email') <= 1
        """
    else:  # unresolved: the person id is the customer id, an e-mail names nobody
        sql = """
            SELECT f.person_id, NULL AS email, f.person_id AS customer_id
            FROM customer_facts f WHERE f.is_buyer
        """
    rows = con.execute(
        f"SELECT * FROM ({sql}) ORDER BY hash(person_id || ?) LIMIT ?", [str(seed), n]
    ).fetchall()
    con.close()
    rng = random.Random(seed)
    rng.shuffle(rows)
    out = []
    for k, (_, email, customer) in enumerate(rows):
        pick = email if (k % 2 == 0 and email) or not customer else customer
        out.append(f"email:{pick}" if pick == email else f"customer_id:{pick}")
    return out


# -- the processes --------------------------------------------------------------------------


def serve(store: str, port: int, collector: str) -> None:
    """The server subprocess: the application over ``store`` on ``port``, the worker's units
    off, started as ``tenure serve`` starts it (``warm``: the admin API's default answers are
    computed at start; the dashboard's pages are not, ``dashboard_warm`` off)."""
    import uvicorn

    from tenure.service.app import create_app

    settings = served_settings(store, collector, TOKEN).model_copy(update={"dashboard_warm": False})
    app = create_app(settings, warm=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _wait_warm(http: Any, limit: float = 3600.0) -> float:
    """Seconds until the server's start-up computations are done (``/health``'s
    ``worker.warming`` false), polled every 0.2 s."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        worker = http.get("/health").json().get("worker") or {}
        if not worker.get("warming"):
            return time.monotonic() - start
        time.sleep(0.2)
    raise SystemExit("the server's warm-up did not end")


def _timed(fn: Any, items: list[Any], budget: float) -> list[float]:
    """Seconds of ``fn(item)`` for each item, until ``budget`` seconds have passed."""
    out: list[float] = []
    stop = time.monotonic() + budget
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - start)
        if time.monotonic() > stop:
            break
    return out


def client(url: str, plan_path: str, out_path: str) -> None:
    """The client subprocess: the warm-up, then the timed requests of each endpoint."""
    import httpx

    plan = json.loads(Path(plan_path).read_text())
    sizes: dict[str, list[int]] = {"profile": [], "kpis": []}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=3600) as http:

        def get(path: str, params: dict[str, Any], kind: str) -> None:
            answer = http.get(path, params=params)
            if answer.status_code != 200:
                raise SystemExit(f"{path}: {answer.status_code} {answer.text[:300]}")
            sizes[kind].append(len(answer.content))

        def profile(ident: str) -> None:
            get(f"/api/profiles/{ident}", {"timeline": TIMELINE}, "profile")

        def kpis(_: int) -> None:
            get("/api/kpis", {}, "kpis")

        # the server computes the default KPIs at start (tenure serve does): waited for,
        # timed; then the first KPI requests, timed apart from the repeated ones
        warm = _wait_warm(http)
        for ident in plan["warmup"]:
            profile(ident)
        first = _timed(kpis, list(range(plan["kpi_warmup"])), float("inf"))
        result = {
            "warm_s": [warm],
            "kpis_first": first,
            "profile": _timed(profile, plan["profile"], float("inf")),
            "kpis": _timed(kpis, list(range(plan["kpi_requests"])), plan["kpi_budget"]),
        }
    result["bytes"] = {k: statistics.median(v) if v else 0 for k, v in sizes.items()}  # type: ignore[assignment]
    Path(out_path).write_text(json.dumps(result))


def inprocess(store: str, plan_path: str, out_path: str) -> None:
    """The library calls of the two routes, in one process over the store, timed the same way
    (after the same warm-up)."""
    from measure import own_peak_mb

    from tenure.analytics.periods import kpis
    from tenure.identity.profile import profile
    from tenure.service.pages import DEFAULT_LIMIT, plain, records
    from tenure.store import Store

    plan = json.loads(Path(plan_path).read_text())
    with Store(f"duckdb://{store}") as opened:

        def person(ident: str) -> None:
            json.dumps(plain(profile(opened, ident, timeline=TIMELINE)))

        def table(_: int) -> None:
            json.dumps(records(kpis(opened).iloc[:DEFAULT_LIMIT]))

        for ident in plan["warmup"]:
            person(ident)
        for k in range(plan["kpi_warmup"]):
            table(k)
        result: dict[str, Any] = {
            "profile": _timed(person, plan["profile"], float("inf")),
            "kpis": _timed(table, list(range(plan["kpi_requests"])), plan["kpi_budget"]),
        }
    result["peak_rss_mb"] = round(own_peak_mb())
    Path(out_path).write_text(json.dumps(result))


def breakdown(store: str, plan_path: str, out_path: str) -> None:
    """Where the time of the two library calls goes: each query of ``profile`` (its parts, as
    :func:`tenure.identity.profile.profile` runs them) for the first 5 buyers of the plan
    (median), and each part of ``kpis`` (as :func:`tenure.analytics.periods.kpis` runs them),
    once after a warm-up."""
    from tenure.analytics import periods as p
    from tenure.analytics.money import money_warnings
    from tenure.identity import profile as pr
    from tenure.identity.lookup import find_person
    from tenure.store import Store

    plan = json.loads(Path(plan_path).read_text())
    parts: dict[str, list[float]] = {}

    def timed(name: str, fn: Any) -> Any:
        start = time.perf_counter()
        value = fn()
        parts.setdefault(name, []).append(time.perf_counter() - start)
        return value

    with Store(f"duckdb://{store}") as s:
        pr.profile(s, plan["warmup"][0], timeline=TIMELINE)
        for ident in plan["profile"][:5]:
            person = timed("profile: find_person", lambda i=ident: find_person(s, i).person_id)
            rows = timed("profile: identifiers", lambda w=person: pr.identity_rows(s, w))
            ids = pr.by_kind(rows)
            cust, mail = ids.get("customer_id", []), ids.get("email", [])
            anon = ids.get("anonymous_id", [])
            timed(
                "profile: customers", lambda c=cust: s.rows_where_in("customers", "customer_id", c)
            )
            timed("profile: orders", lambda c=cust, m=mail: pr.person_orders(s, c, m))
            timed(
                "profile: events (all of theirs)", lambda a=anon, c=cust: pr.person_events(s, a, c)
            )
            held = mail + cust
            timed("profile: consents", lambda h=held: s.rows_where_in("consents", "identifier", h))
            timed("profile: labels", lambda w=person, r=rows: pr._labels(s, w, r))
            timed("profile: computed", lambda w=person: pr.computed_values(s, w))
        p.kpis(s)
        span = p._span(s, "month", None, None, None)
        tagged = timed("kpis: tagged orders (cached)", lambda: p._tagged_orders(s, None, span))
        with tagged.cache() as orders:
            timed("kpis: period cells", lambda: p._period_cells(orders).to_pandas())
            lapsed = s.settings.lapsed_days
            timed("kpis: trailing", lambda: p._trailing_events(orders, lapsed).to_pandas())
            timed("kpis: prospects", lambda: p._prospect_events(s, orders, span).to_pandas())
        timed("kpis: spend", lambda: p._spend_cells(s, None, span).to_pandas())
        timed("kpis: money warnings", lambda: money_warnings(s, as_of=span.as_of, spend=True))
        timed("kpis: whole", lambda: p.kpis(s))
    out = {name: round(statistics.median(v) * 1000) for name, v in parts.items()}
    Path(out_path).write_text(json.dumps(out))


def _peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    return kb / 1024


def quantiles(seconds: list[float]) -> dict[str, Any]:
    """n, p50, p95, p99, max in milliseconds (p95/p99: the nearest rank)."""
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        return {"n": 0}

    def rank(q: float) -> float:
        return ms[min(len(ms) - 1, max(0, int(-(-q * len(ms) // 1)) - 1))]

    return {
        "n": len(ms),
        "p50": round(statistics.median(ms), 1),
        "p95": round(rank(0.95), 1),
        "p99": round(rank(0.99), 1),
        "max": round(ms[-1], 1),
    }


def run(args: argparse.Namespace, store: Path, plan_path: Path, folder: Path) -> dict[str, Any]:
    """One run: the server, the client, the server's peak; then the library calls."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    me = [sys.executable, str(HERE)]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    before = _load()
    started = time.monotonic()
    collector = tempfile.mkdtemp(prefix="collector-", dir=folder)
    server = subprocess.Popen([*me, "serve", str(store), str(port), collector], env=env)
    try:
        wait_healthy(url, server)
        start_s = time.monotonic() - started
        out = folder / "http.json"
        subprocess.run([*me, "client", url, str(plan_path), str(out)], env=env, check=True)
        peak = _peak_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    after = _load()
    http = json.loads(out.read_text())
    lib_out = folder / "library.json"
    library = [*me, "inprocess", str(store), str(plan_path), str(lib_out)]
    subprocess.run(library, env=env, check=True)
    lib = json.loads(lib_out.read_text())
    return {
        "load_before": before,
        "load_after_http": after,
        "load_after": _load(),
        "server_start_s": round(start_s, 1),
        "server_peak_rss_mb": round(peak),
        "http": {k: quantiles(http[k]) for k in ("profile", "kpis", "kpis_first", "warm_s")},
        "answer_bytes": http["bytes"],
        "library": {k: quantiles(lib[k]) for k in ("profile", "kpis")},
        "library_peak_rss_mb": lib["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench_admin"))
    parser.add_argument("--source", type=Path, default=Path("/tmp/bench_flows/flows_200000.duckdb"))
    parser.add_argument("--copies", type=int, default=7)
    parser.add_argument("--store", type=Path, help="a built store instead of the replicas")
    parser.add_argument("--requests", type=int, default=200, help="timed profile requests")
    parser.add_argument("--kpi-requests", type=int, default=200, help="timed KPI requests")
    parser.add_argument("--kpi-budget", type=float, default=600.0, help="seconds of KPI requests")
    parser.add_argument("--warmup", type=int, default=10, help="untimed profile requests")
    parser.add_argument("--kpi-warmup", type=int, default=1, help="untimed KPI requests")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--build-only", action="store_true", help="build the store, stop")
    parser.add_argument("--breakdown", action="store_true", help="time the calls' parts too")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("step", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        name, *rest = args.step
        {"serve": lambda: serve(rest[0], int(rest[1]), rest[2]),
         "client": lambda: client(*rest),
         "inprocess": lambda: inprocess(*rest),
         "breakdown": lambda: breakdown(*rest)}[name]()  # fmt: skip
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.store is not None:
        store = args.store
        info = {**counts(store), "store": str(store)}
    else:
        size = args.source.stem.split("_")[-1]
        source = resolved(args.source, args.dir / f"resolved_{size}.duckdb")
        store = args.dir / f"admin_{args.copies}x{size}.duckdb"
        info = {**build(source, store, args.copies), "store": str(store)}
    print("store", json.dumps(info), file=sys.stderr)
    if args.build_only:
        return
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=args.dir))
    runs = []
    try:
        for k in range(args.repeats):
            picked = identifiers(store, args.warmup + args.requests, args.seed + k)
            plan = {
                "warmup": picked[: args.warmup],
                "profile": picked[args.warmup :],
                "kpi_warmup": args.kpi_warmup,
                "kpi_requests": args.kpi_requests,
                "kpi_budget": args.kpi_budget,
            }
            plan_path = folder / "plan.json"
            plan_path.write_text(json.dumps(plan))
            result = run(args, store, plan_path, folder)
            print(f"run {k + 1}", json.dumps(result), file=sys.stderr, flush=True)
            runs.append(result)
        if args.breakdown:
            env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
            out = folder / "breakdown.json"
            step = [sys.executable, str(HERE), "breakdown", str(store), str(plan_path), str(out)]
            subprocess.run(step, env=env, check=True)
            parts = json.loads(out.read_text())
            print("breakdown (ms)", json.dumps(parts), file=sys.stderr, flush=True)
            runs.append({"breakdown_ms": parts, "load": _load()})
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({"store": info, "runs": runs}))


if __name__ == "__main__":
    main()
