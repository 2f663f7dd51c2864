"""Benchmark: one tick of every shipped flow, a segment preview and a segment refresh, on a
demo store of N persons (issue 16).

    PYTHONPATH=src python bench/bench_flows.py --persons 200000 --repeats 3

(``--persons`` defaults to 1,000,000; the store is built once and cached in ``--dir``.
``--scale-from 200000`` builds the 1M store as five renamed replicas of the built
200,000-person store (:func:`replicate`, about 3 minutes) instead of generating it.)

The store is the demo generator's (:func:`tenure.demo.generate_demo`), unchanged: buyers plus
the demo's prospects (about 0.35 per buyer, so ``--persons`` N asks for N / 1.35 buyers), their
orders, consents, feedback and the demo's own event model (sessions with product views,
carts, checkouts, newsletter sign-ups: about 70 events per buyer over its 730 days, i.e. about
51 per person: 200,000 persons give about 10M events, 1M persons about 51M). The route is the
slowest of the possible ones to build (about 20 s per 20,000 buyers, then the pipeline), but
the honest one: every trigger of the shipped flows (``Checkout Started``, ``Order Completed``,
``Newsletter Subscribed``, the ``develop`` journey stage, the ``lapsed`` status) and every
field of the shipped segments (RFM, statuses, journey, predictions, recommendations, feedback,
consents) reads what a real store would hold. After generating, ``tenure.pipeline.run`` brings
every step up to ``segments`` (identity, facts, RFM, statuses, stages, journey, predictions,
recommendations, segment membership), then one tick of every flow runs at the day before the
store's clock (:func:`tenure.engage.flows.tick_clock`), so the measured tick finds stays in
progress, as a daily tick does. Build times are recorded in ``--dir/flows_<N>.json``.

Each step runs in a fresh process (store opened first, not timed), best of ``--repeats``, with
its wall time and own peak RSS (:func:`measure.own_peak_mb`, reset after the store is open):

* ``tick``: :func:`tenure.engage.flows.run_tick` with every shipped flow (and the send policy,
  as the ``flows`` step of ``tenure run`` does) at the store's clock, on a fresh copy of the
  built store (copied before each run, not timed): the entries, the steps due, the messages
  decided and written;
* ``preview:<segment>``: :func:`tenure.engage.segments.preview_segment` (what ``tenure segments
  preview`` calls: size, a sample of 10, entering and leaving against the last refresh), for
  each segment of ``--segments`` (default: every shipped one);
* ``refresh``: :func:`tenure.engage.segments.refresh_segments` of every shipped segment at the
  store's clock (the refresh of the build at the same clock before it: nobody enters or
  leaves, but every segment is evaluated and the history rewritten).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from measure import in_child, own_peak_mb  # noqa: E402

#: Persons per demo buyer: the demo adds about 0.35 prospects per buyer (27,000 at 20,000).
PERSONS_PER_BUYER = 1.35


def _store(path: Path) -> Any:
    from tenure import Store

    return Store(f"duckdb://{path}")


def _flows(store: Any) -> tuple[list[Any], Any]:
    """The flows and send policy the ``flows`` step of ``tenure run`` ticks with."""
    from tenure.engage.flow_spec import flow_paths, load_flows
    from tenure.engage.settings import load_policy

    folder = Path(store.settings.flows_dir)
    return load_flows(flow_paths(folder)), load_policy(folder)


def build(path: Path) -> dict[str, Any]:
    """The demo store of ``path``'s size, the pipeline up to ``segments``, a tick a day early."""
    from tenure.demo import generate_demo
    from tenure.engage.flows import run_tick, tick_clock
    from tenure.pipeline import run

    persons = int(path.stem.split("_")[1])
    info: dict[str, Any] = {"persons_asked": persons}
    with _store(path) as store:
        start = time.perf_counter()
        demo = generate_demo(store, customers=round(persons / PERSONS_PER_BUYER))
        info.update(generate_s=round(time.perf_counter() - start, 1), tables=demo.tables)
        start = time.perf_counter()
        run(store, steps=["segments"])
        info["pipeline_s"] = round(time.perf_counter() - start, 1)
        info["persons"] = int(store.read("customer_status").count().execute())
        flows, policy = _flows(store)
        start = time.perf_counter()
        first = run_tick(store, flows, tick_clock(store) - timedelta(days=1), policy=policy)
        info["first_tick_s"] = round(time.perf_counter() - start, 1)
        info["first_tick_entered"] = sum(f.entered for f in first.flows)
    path.with_suffix(".json").write_text(json.dumps(info))
    return info


#: Per table, the columns that name a person, an order, an event or another record, and how
#: a replica renames them: ``id`` appends ``~k``, ``mail`` prefixes the e-mail with ``rk.``,
#: ``kind`` renames by the row's ``identifier_kind`` (e-mails as mail, the rest as id).
REPLICATED: dict[str, dict[str, str]] = {
    "customers": {"customer_id": "id", "email": "mail", "referred_by": "id", "phone": "id"},
    "orders": {"order_id": "id", "customer_id": "id", "email": "mail", "referral_code": "id"},
    "order_items": {"order_id": "id"},
    "events": {"message_id": "id", "anonymous_id": "id", "user_id": "id", "previous_id": "id"},
    "consents": {"identifier": "kind"},
    "suppressions": {"identifier": "kind"},
    "feedback": {"feedback_id": "id", "customer_id": "id", "email": "mail", "anonymous_id": "id"},
    "referrals": {
        "referral_id": "id",
        "referrer_customer_id": "id",
        "referrer_email": "mail",
        "referred_customer_id": "id",
        "referred_email": "mail",
        "code": "id",
        "order_id": "id",
    },
    "identities": {"value": "kind2", "person_id": "id"},
    "customer_facts": {"person_id": "id", "first_order_id": "id"},
    "customer_predictions": {"person_id": "id"},
    "customer_rfm": {"person_id": "id"},
    "customer_status": {"person_id": "id"},
    "category_candidates": {"person_id": "id"},
    "journey_history": {"person_id": "id"},
    "stage_history": {"person_id": "id"},
    "product_recommendations": {"person_id": "id"},
    "purchase_gaps": {"person_id": "id"},
    "segment_membership": {"person_id": "id"},
    "flow_state": {"person_id": "id", "trigger_id": "trigger"},
    "messages": {"person_id": "id", "trigger_id": "trigger", "message_key": "key"},
}


def _renamed(column: str, how: str) -> str:
    """SQL (the bench's own constants only) renaming ``column`` in replica ``r_.rk``."""
    column = f'"{column}"'
    mail = f"'r' || r_.rk || '.' || {column}"
    ident = f"{column} || '~' || r_.rk"
    if how == "mail":
        return mail
    if how == "kind":
        return f"CASE WHEN lower(identifier_kind) = 'email' THEN {mail} ELSE {ident} END"
    if how == "kind2":
        return f"CASE WHEN kind = 'email' THEN {mail} ELSE {ident} END"
    if how == "trigger":  # event triggers name the event; the others carry no person
        return f"CASE WHEN {column} LIKE 'demo-%' THEN {ident} ELSE {column} END"
    if how == "key":  # the idempotency key of tenure.engage.steps, of the renamed parts
        return (
            "sha256(flow || '|' || step || '|' || (person_id || '~' || r_.rk) || '|' || "
            f"({_renamed('trigger_id', 'trigger')}))"
        )
    return ident


def replicate(source: Path, path: Path, copies: int) -> dict[str, Any]:
    """``path``: the built store ``source`` and ``copies - 1`` replicas of its persons and
    everything of theirs (records, orders, events, consents, feedback, the derived tables,
    flow state and messages), every id renamed per replica (:data:`REPLICATED`); the
    catalogue, settings and store facts once. DuckDB SQL of the bench's own constants."""
    import duckdb

    start = time.perf_counter()
    shutil.copyfile(source, path)
    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    for table, renamed in REPLICATED.items():
        if table not in present:
            continue
        cols = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
        exprs = ", ".join(_renamed(c, renamed[c]) if c in renamed else f'"{c}"' for c in cols)
        con.execute(
            f'INSERT INTO "{table}" SELECT {exprs} FROM "{table}", '
            f"(SELECT range AS rk FROM range(1, {copies})) r_"
        )
    con.execute("CHECKPOINT")
    counts = {
        t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # type: ignore[index]
        for t in (*base_tables(source), "customer_facts")
    }
    con.close()
    base = json.loads(source.with_suffix(".json").read_text())
    info = {
        **base,
        "replicated_from": source.name,
        "copies": copies,
        "replicate_s": round(time.perf_counter() - start, 1),
        "tables": {**base["tables"], **counts},
        "persons": counts["customer_facts"],
    }
    return info


def base_tables(source: Path) -> list[str]:
    """The tables the build info of ``source`` counts."""
    return list(json.loads(source.with_suffix(".json").read_text())["tables"])


def first_tick(path: Path, info: dict[str, Any]) -> dict[str, Any]:
    """The tick a day before the store's clock (as :func:`build` ends with)."""
    from tenure.engage.flows import run_tick, tick_clock

    with _store(path) as store:
        flows, policy = _flows(store)
        start = time.perf_counter()
        first = run_tick(store, flows, tick_clock(store) - timedelta(days=1), policy=policy)
        info["first_tick_s"] = round(time.perf_counter() - start, 1)
        info["first_tick_entered"] = sum(f.entered for f in first.flows)
    path.with_suffix(".json").write_text(json.dumps(info))
    return info


def run_step(step: str, path: Path) -> dict[str, Any]:
    from tenure.engage.flows import run_tick, tick_clock
    from tenure.engage.segments import preview_segment, refresh_segments

    with _store(path) as store:
        own_peak_mb(reset=True)
        if step == "tick":
            flows, policy = _flows(store)
            now = tick_clock(store)
            start = time.perf_counter()
            done = run_tick(store, flows, now, policy=policy)
            seconds = time.perf_counter() - start
            facts: dict[str, Any] = {
                "entered": sum(f.entered for f in done.flows),
                "messages": sum(sum(f.messages.values()) for f in done.flows),
                "flows": len(done.flows),
            }
        elif step.startswith("preview:"):
            start = time.perf_counter()
            preview = preview_segment(store, step.split(":", 1)[1])
            seconds = time.perf_counter() - start
            facts = {"size": preview.size, "entering": preview.entering}
        else:
            start = time.perf_counter()
            rows = refresh_segments(store)
            seconds = time.perf_counter() - start
            facts = {"membership_rows": sum(rows.values())}
    return {"seconds": seconds, **facts, "peak_rss_mb": own_peak_mb()}


def child(step: str, path: Path) -> None:
    result = build(path) if step == "build" else run_step(step, path)
    print(json.dumps(result))


def _shipped_segments() -> list[str]:
    from tenure.engage.segments import read_definitions

    return sorted(read_definitions())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=2, metavar=("STEP", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/bench_flows"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", default="tick,preview,refresh", help="comma-separated")
    parser.add_argument("--segments", help="segments to preview, comma-separated (default all)")
    parser.add_argument(
        "--scale-from",
        type=int,
        help="build the store as replicas of the built store of this many persons "
        "(--persons / this many copies, ids renamed) instead of generating it",
    )
    args = parser.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    path = args.dir / f"flows_{args.persons}.duckdb"
    if not path.with_suffix(".json").exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        if args.scale_from:
            source = args.dir / f"flows_{args.scale_from}.duckdb"
            info = first_tick(path, replicate(source, path, args.persons // args.scale_from))
            print("replicated", json.dumps(info), file=sys.stderr)
        else:
            print("build", json.dumps(in_child(__file__, "build", path)), file=sys.stderr)
    info = json.loads(path.with_suffix(".json").read_text())
    names = args.segments.split(",") if args.segments else _shipped_segments()
    steps: list[str] = []
    for step in args.steps.split(","):
        steps += [f"preview:{n}" for n in names] if step == "preview" else [step]
    runs: dict[str, list[dict[str, Any]]] = {step: [] for step in steps}
    copy = path.with_name(f"tick_{path.name}")
    for _ in range(args.repeats):  # interleaved: each round sees about the same load
        for step in steps:
            target = path
            if step == "tick":  # the tick writes: a fresh copy of the built store each time
                shutil.copyfile(path, copy)
                target = copy
            load = os.getloadavg()[0]
            result = in_child(__file__, step, target)
            result["load"] = (round(load, 2), round(os.getloadavg()[0], 2))
            runs[step].append(result)
            print(step, json.dumps(result), file=sys.stderr)
    copy.unlink(missing_ok=True)
    report(info, runs)


def report(info: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> None:
    events = info["tables"]["events"]
    print(f"persons {info['persons']:,}, events {events:,}, build: {json.dumps(info)}")
    print("| step | seconds, best (runs) | peak RSS MB | load | result |")
    print("|---|---|---|---|---|")
    for step, done in runs.items():
        best = min(done, key=lambda r: r["seconds"])
        times = ", ".join(f"{r['seconds']:.2f}" for r in done)
        shown = {k: v for k, v in best.items() if k not in ("seconds", "peak_rss_mb", "load")}
        load = f"{best['load'][0]:.1f}-{best['load'][1]:.1f}"
        print(
            f"| {step} | {best['seconds']:.2f} ({times}) | {best['peak_rss_mb']:,.0f} | {load} | "
            f"{json.dumps(shown)} |"
        )


if __name__ == "__main__":
    main()
