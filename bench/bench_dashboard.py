"""Benchmark: the dashboard's pages and JSON twins on a store of about 1M buyers, and the
lifecycle report (issue 19: p95 of each page at most 300 ms; the report in at most 10 s).

    PYTHONPATH=src python bench/bench_dashboard.py --store /tmp/dashbench/store.duckdb \
        --dir /tmp/dashbench --requests 20

``--store`` is a built store (e.g. ``bench/bench_admin.py``'s 1M-buyer store); a page build
may write derived tables when they are stale and the report opens the store to write, so run
it on a copy. The run starts the real application (:func:`tenure.service.app.create_app`
under uvicorn, one process, the worker off, an admin token) over the store in a subprocess, on
a free loopback port; ``--warm`` asks it to build the pages of the default period in the
background at start (``create_app(warm=True)``, what ``tenure serve`` does with the
``dashboard_warm`` setting) and ``--settle`` waits that many seconds after the server answers
``/health`` before the first request; with ``--warm`` the client then waits (up to
``--warm-timeout``) until ``/health`` says the warm-up ended, and reports how long it took
(``warm_done_s``, from the server answering). A client (``httpx``, one request at a time) logs in as
a browser does (the login form's CSRF cookie and token, the admin token as the password: a
session cookie), then, with the default period:

* ``first``: the first request of each page after start, in menu order (the HTML page
  ``/dash/{page}``, then at once its JSON twin ``/dash/{page}.json``), and of one buyer's
  profile ``/dash/profile/{identifier}`` (``--pages``: some of them only);
* ``repeated``: ``--requests`` more of each, the HTML page and the JSON twin alternated (the
  JSON twins with ``Authorization: Bearer <admin token>``, as a script fetches them), until
  ``--page-budget`` seconds have passed on that page (the count is reported);
* ``profiles``: the profile pages (HTML) of ``--profiles`` other random buyers, once each
  (new to the server: each is built, reading the person's rows cold).

``--events-every S`` sends, from another thread of the client, a batch of ``--events-batch``
tracking events to the collector (``/v1/batch``, a write key) every ``S`` seconds while the
pages are asked for, as a live store's visitors do: the loader stores them in ``events``
between pipeline runs (the worker is off), and the pages are served as computed meanwhile
(docs/dashboard.md, "Events between runs"). The batches acknowledged and their latency are
reported with the pages.

Every request is timed from send to the whole answer read and must be a 200; a request that
takes over ``--page-timeout`` seconds stops the HTTP part (the server is still building that
page and holds the store: later requests would time its build, not theirs) and is reported as
such. The server's peak RSS (VmHWM) is read before it stops. Then ``tenure report --store
STORE --out DIR/report.html`` runs in a fresh process, timed as a whole (its peak RSS from
``wait4``), stopped after ``--report-timeout`` seconds. The machine is shared: the load
average is recorded before and after each part. The result is one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import shutil
import signal
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
from bench_admin import TOKEN, quantiles  # noqa: E402
from measure import free_port, served_settings, wait_healthy  # noqa: E402

#: The pages of the menu (:data:`tenure.dashboard.pages.PAGES`), in menu order.
PAGES = (
    "overview",
    "customers",
    "cohorts",
    "channels",
    "predictions",
    "flows",
    "advisor",
    "health",
)
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
#: The collector's write key of the benchmarked server (``--events-every``).
WRITE_KEY = "bench-dash-key"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    return kb / 1024


def facts(store: Path, seed: int, profiles: int = 0) -> tuple[dict[str, Any], list[str]]:
    """The store's counts (persons and buyers from ``customer_facts`` when it is built, else
    the customers and the distinct customer ids of the orders), and ``1 + profiles`` random
    buyers' identifiers (``customer_id:...``, from ``identities``): the first for the
    profile, the others for the cold profiles."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)

    def one(sql: str, *params: Any) -> Any:
        row = con.execute(sql, list(params)).fetchone()
        return row[0] if row else None

    built = one("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'customer_facts'")
    out = {
        "persons": one("SELECT count(*) FROM customer_facts")
        if built
        else one("SELECT count(*) FROM customers"),
        "buyers": one("SELECT count(*) FROM customer_facts WHERE is_buyer")
        if built
        else one("SELECT count(DISTINCT customer_id) FROM orders"),
        "orders": one("SELECT count(*) FROM orders"),
        "events": one("SELECT count(*) FROM events"),
    }
    rows = con.execute(
        "SELECT value FROM identities WHERE kind = 'customer_id' AND value IN "
        "(SELECT customer_id FROM orders) ORDER BY hash(value || ?) LIMIT ?",
        [str(seed), 1 + profiles],
    ).fetchall()
    con.close()
    if not rows:
        raise SystemExit(f"{store}: no buyer with a resolved identity (run the identity step)")
    return out, [f"customer_id:{r[0]}" for r in rows]


# -- the server ----------------------------------------------------------------------------


def serve(store: str, port: int, collector: str, warm: bool) -> None:
    """The server subprocess: the application over ``store`` on ``port``, the worker off;
    ``warm``: the pages built at start (when this revision's ``create_app`` can)."""
    import uvicorn

    from tenure.service.app import create_app

    settings = served_settings(store, collector, TOKEN).model_copy(
        update={"write_keys": [WRITE_KEY]}
    )
    if warm and "warm" not in inspect.signature(create_app).parameters:
        raise SystemExit("this revision's create_app cannot warm the dashboard")
    app = create_app(settings, warm=True) if warm else create_app(settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- the client ----------------------------------------------------------------------------


class Stopped(Exception):
    """A request took over the page timeout (or did not answer 200)."""


class Client:
    """A logged-in dashboard reader: times each request, keeps the answers' sizes."""

    def __init__(self, url: str, timeout: float) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=timeout, follow_redirects=False)
        self.timeout = timeout
        self.bearer = {"Authorization": f"Bearer {TOKEN}"}

    def login(self) -> float:
        """Log in through the form (CSRF cookie + token, the admin token as the password);
        returns the seconds of the POST."""
        form = self.http.get("/dash/login")
        found = CSRF_FIELD.search(form.text)
        if form.status_code != 200 or found is None:
            raise SystemExit(f"/dash/login: {form.status_code}, no CSRF field")
        fields = {"csrf": found.group(1), "next": "/dash/", "lang": "", "user": ""}
        start = time.perf_counter()
        answer = self.http.post("/dash/login", data={**fields, "password": TOKEN})
        seconds = time.perf_counter() - start
        if answer.status_code != 303 or "tenure_dash" not in self.http.cookies:
            raise SystemExit(f"login: {answer.status_code} {answer.text[:300]}")
        return seconds

    def get_json(self, path: str) -> Any:
        """``GET path``'s JSON answer (with the admin token)."""
        return self.http.get(path, headers=self.bearer).json()

    def get(self, path: str) -> tuple[float, int]:
        """Seconds and bytes of ``GET path`` (a ``.json`` path with the bearer token, a page
        with the session cookie); :class:`Stopped` on a timeout or an answer other than 200."""
        import httpx

        headers = self.bearer if path.endswith(".json") else {}
        start = time.perf_counter()
        try:
            answer = self.http.get(path, headers=headers)
        except httpx.TimeoutException:
            raise Stopped(f"{path}: no answer in {self.timeout:.0f} s") from None
        seconds = time.perf_counter() - start
        if answer.status_code != 200:
            raise Stopped(f"{path}: {answer.status_code} {answer.text[:300]}")
        return seconds, len(answer.content)


def targets(profile: str, pages: list[str]) -> dict[str, tuple[str, str]]:
    """Each page's HTML and JSON paths (the profile's by its identifier), in menu order."""
    out = {key: (f"/dash/{key}", f"/dash/{key}.json") for key in PAGES if key in pages}
    if "profile" in pages:
        out["profile"] = (f"/dash/profile/{profile}", f"/dash/profile/{profile}.json")
    return out


def measure_pages(client: Client, plan: dict[str, Any], since: float) -> dict[str, Any]:
    """The first requests of every page, then the repeated ones (see the module's doc)."""
    paths = targets(plan["profile"], plan["pages"])
    first: dict[str, Any] = {}
    repeated: dict[str, Any] = {}
    out: dict[str, Any] = {"first": first, "repeated": repeated, "stopped": None}
    try:
        for key, (html, twin) in paths.items():
            html_s, html_bytes = client.get(html)
            json_s, json_bytes = client.get(twin)
            first[key] = {
                "html_ms": round(html_s * 1000),
                "json_ms": round(json_s * 1000),
                "html_bytes": html_bytes,
                "json_bytes": json_bytes,
                "answered_at_s": round(time.monotonic() - since, 1),
            }
            print("first", key, json.dumps(first[key]), file=sys.stderr, flush=True)
        for key, (html, twin) in paths.items():
            times: dict[str, list[float]] = {"html": [], "json": []}
            stop = time.monotonic() + plan["page_budget"]
            for k in range(plan["requests"]):
                kind = "json" if k % 2 == 0 else "html"
                times[kind].append(client.get(twin if kind == "json" else html)[0])
                if time.monotonic() > stop:
                    break
            both = times["html"] + times["json"]
            repeated[key] = {"all": quantiles(both), **{k: quantiles(v) for k, v in times.items()}}
            print("repeated", key, json.dumps(repeated[key]), file=sys.stderr, flush=True)
        cold = [client.get(f"/dash/profile/{ident}")[0] for ident in plan["profiles"]]
        if cold:
            out["profiles"] = quantiles(cold)
            print("profiles", json.dumps(out["profiles"]), file=sys.stderr, flush=True)
    except Stopped as exc:
        out["stopped"] = str(exc)
        print("stopped:", exc, file=sys.stderr, flush=True)
    return out


class Traffic:
    """Batches of tracking events posted to the collector every ``every`` seconds from a
    thread (:meth:`start`, :meth:`stop`), as visitors' browsers send them."""

    def __init__(self, url: str, every: float, batch: int) -> None:
        self.url, self.every, self.batch = url, every, batch
        self.latencies: list[float] = []
        self.acked = self.failed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        if self.every > 0:
            self._thread.start()

    def _run(self) -> None:
        import httpx

        n = 0
        with httpx.Client(base_url=self.url, auth=(WRITE_KEY, ""), timeout=30) as client:
            while not self._stop.wait(self.every):
                events = []
                for _ in range(self.batch):
                    n += 1
                    events.append(
                        {
                            "type": "track",
                            "event": "Product Viewed",
                            "anonymousId": f"bench-visitor-{n % 997}",
                            "messageId": uuid.uuid4().hex,
                            "properties": {"sku": f"P{n % 800}"},
                        }
                    )
                start = time.perf_counter()
                answer = client.post("/v1/batch", json={"batch": events})
                self.latencies.append(time.perf_counter() - start)
                if answer.status_code == 200:
                    self.acked += 1
                else:
                    self.failed += 1

    def stop(self) -> dict[str, Any] | None:
        if self.every <= 0:
            return None
        self._stop.set()
        self._thread.join(60)
        return {
            "every_s": self.every,
            "events_per_batch": self.batch,
            "batches_acked": self.acked,
            "batches_failed": self.failed,
            "post_ms": quantiles(self.latencies),
        }


def wait_warm(client: Client, since: float, timeout: float) -> float | None:
    """Seconds from ``since`` (the server answering) until its warm-up ended (``/health``:
    ``worker.warming`` false, at least one answer warmed); None past ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        worker = client.get_json("/health").get("worker", {})
        if not worker.get("warming") and worker.get("warmed"):
            done = round(time.monotonic() - since, 1)
            print("warmed", done, worker.get("warmed"), file=sys.stderr, flush=True)
            return done
        time.sleep(0.5)
    return None


# -- the report ----------------------------------------------------------------------------


def timed_report(store: Path, out: Path, timeout: float) -> dict[str, Any]:
    """``tenure report --store STORE --out OUT`` in a fresh process: seconds, peak RSS, file
    size; killed after ``timeout`` seconds."""
    tenure = Path(sys.executable).with_name("tenure")
    command = [str(tenure), "report", "--store", str(store), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    before = _load()
    start = time.perf_counter()
    log = out.with_suffix(".log")
    with log.open("wb") as sink:
        proc = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline and not killed:
            proc.kill()
            killed = True
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    text = log.read_text(errors="replace").strip()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "command": " ".join(command),
        "seconds": round(seconds, 1),
        "exit": proc.returncode,
        "killed_after_timeout": killed,
        "peak_rss_mb": round(usage.ru_maxrss / 1024),
        "bytes": out.stat().st_size if out.exists() and not killed else None,
        "output": text[-500:],
        "load_before": before,
        "load_after": _load(),
    }


# -- the run -------------------------------------------------------------------------------


def http_part(args: argparse.Namespace, plan: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The server, the login, the pages, the server's peak; the server stopped."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    collector = tempfile.mkdtemp(prefix="collector-", dir=folder)
    command = [sys.executable, str(HERE), "serve", str(args.store), str(port), collector]
    before = _load()
    started = time.monotonic()
    server = subprocess.Popen([*command, "warm" if args.warm else "cold"], env=env)
    try:
        wait_healthy(url, server)
        healthy = time.monotonic()
        client = Client(url, args.page_timeout)
        login_s = client.login()
        time.sleep(args.settle)
        warm_s = wait_warm(client, healthy, args.warm_timeout) if args.warm else None
        load_first = _load()
        traffic = Traffic(url, args.events_every, args.events_batch)
        traffic.start()
        try:
            pages = measure_pages(client, plan, healthy)
        finally:
            sent = traffic.stop()
        time.sleep(2 * args.events_every)  # the last batches loaded
        stored = client.get_json("/health").get("queue_depth") if sent else None
        peak = _peak_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return {
        "load_before": before,
        "load_at_first_request": load_first,
        "load_after": _load(),
        "server_start_s": round(healthy - started, 1),
        "warm_done_s": warm_s,
        "login_ms": round(login_s * 1000),
        "server_peak_rss_mb": round(peak),
        "events": sent and {**sent, "queue_depth_after": stored},
        "seconds": round(time.monotonic() - started, 1),
        **pages,
    }


def revision() -> dict[str, str]:
    """The checkout's last commit and whether its source differs from it."""

    def git(*words: str) -> str:
        done = subprocess.run(
            ["git", *words], cwd=HERE.parents[1], capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    return {"commit": git("log", "-1", "--format=%h %s"), "changed": git("status", "--short")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=False, help="a built store (a copy)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/dashbench"))
    parser.add_argument("--requests", type=int, default=20, help="repeated requests per page")
    parser.add_argument("--page-budget", type=float, default=60.0, help="seconds per page")
    parser.add_argument("--page-timeout", type=float, default=300.0, help="seconds a request")
    parser.add_argument("--warm", action="store_true", help="build the pages at start")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds before requests")
    parser.add_argument(
        "--warm-timeout", type=float, default=900.0, help="seconds to wait for the warm-up"
    )
    parser.add_argument(
        "--pages",
        default=",".join([*PAGES, "profile"]),
        help="the pages to request, comma-separated (default: every page and a profile)",
    )
    parser.add_argument("--no-report", action="store_true", help="skip `tenure report`")
    parser.add_argument("--report-timeout", type=float, default=600.0)
    parser.add_argument(
        "--profiles", type=int, default=0, help="then this many other buyers' profile pages"
    )
    parser.add_argument(
        "--events-every", type=float, default=0.0, help="seconds between collector batches"
    )
    parser.add_argument("--events-batch", type=int, default=20, help="events per batch")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("step", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        _, store, port, collector, mode = args.step
        serve(store, int(port), collector, mode == "warm")
        return
    if args.store is None:
        parser.error("--store is required")
    args.dir.mkdir(parents=True, exist_ok=True)
    counted, buyers = facts(args.store, args.seed, args.profiles)
    info = {**counted, "store": str(args.store)}
    print("store", json.dumps(info), file=sys.stderr, flush=True)
    plan = {
        "profile": buyers[0],
        "profiles": buyers[1:],
        "requests": args.requests,
        "page_budget": args.page_budget,
        "pages": [p for p in args.pages.split(",") if p],
    }
    unknown = set(plan["pages"]) - {*PAGES, "profile"}
    if unknown:
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}")
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=args.dir))
    try:
        result: dict[str, Any] = {
            "store": info,
            "revision": revision(),
            "argv": sys.argv[1:],
            "plan": plan,
            "warm": args.warm,
            "http": http_part(args, plan, folder),
        }
        if not args.no_report:
            out = args.dir / "report.html"
            result["report"] = timed_report(args.store, out, args.report_timeout)
            print("report", json.dumps(result["report"]), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
