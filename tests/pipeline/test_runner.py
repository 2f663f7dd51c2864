"""The runner: staleness, run records, failures that keep the previous tables, readers."""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from tenure import Store
from tenure.errors import ConfigError, PipelineStepError
from tenure.identity import resolve_identities
from tenure.pipeline import (
    ensure_current,
    last_runs,
    plan,
    predict,
    refresh,
    run,
    store_info,
    why_stale,
)
from tenure.pipeline.records import now
from tenure.pipeline.steps import SCRATCH_ORDERS, STEPS
from tenure.store.derived import DERIVED
from tests.pipeline.conftest import END

#: canonical tables whose rows carry their load time
STAMPED = ("customers", "orders", "order_items", "products", "events", "fx_rates")

ANALYTICS = ["customer_facts", "customer_rfm", "customer_status", "stage_history"]


def _outcomes(result: object) -> dict[str, str]:
    return {s.step: s.outcome for s in result.steps}  # type: ignore[attr-defined]


def _runs(store: Store) -> list[dict[str, object]]:
    t = store.table("pipeline_runs")
    return t.order_by("started_at").to_pyarrow().to_pylist()


def test_the_registry_builds_every_derived_table_once_in_dependency_order() -> None:
    names = [s.name for s in STEPS]
    assert names == [
        "identity",
        *ANALYTICS,
        "journey",
        "predictions",
        "recommendations",
        "segments",
        "flows",
        "goals",
        "dashboard",
    ]
    # identity, flows, goals and dashboard write canonical tables (identities; messages,
    # flow state, ticks; the goals' progress; the kept pages)
    built = [t for s in STEPS[1:-3] for t in s.builds]
    assert sorted(built) == sorted(DERIVED)
    assert all(not s.derived and s.every_run for s in STEPS[-3:])
    for s in STEPS:
        assert all(names.index(u) < names.index(s.name) for u in s.after)
        for table in s.builds if s.name not in ("identity", "flows", "goals", "dashboard") else ():
            assert DERIVED[table].step == s.name


def test_a_run_builds_what_is_stale_records_it_and_then_nothing_is_stale(demo: Store) -> None:
    first = run(demo, steps=ANALYTICS)
    assert first.as_of == END and first.ok
    assert _outcomes(first) == dict.fromkeys(ANALYTICS, "ok")
    assert first.get("customer_facts").reason == "never ran"  # type: ignore[union-attr]
    for s in first.steps:
        for table, rows in s.rows.items():
            assert demo.read(table).count().execute() == rows
    records = _runs(demo)
    assert [r["step"] for r in records] == ANALYTICS
    assert {r["run_id"] for r in records} == {first.run_id}
    assert all(r["outcome"] == "ok" and r["mode"] == "full" for r in records)
    # customer_facts: its 405 rows with the purchase gaps and the identifiers seen
    assert [r["rows"] for r in records] == [774, 297, 405, 405]
    assert all(r["as_of"] == END and r["error"] is None for r in records)
    # the demo has no import rows: its rows' load times and its store facts (frozen clock,
    # currency) date its data
    facts = records[0]
    reads = next(s for s in STEPS if s.name == "customer_facts").reads
    clocks = [demo.table("store_meta").set_at.max().execute()]
    clocks += [demo.table(t).imported_at.max().execute() for t in reads if t in STAMPED]
    assert facts["watermark"] == max(c for c in clocks if c is not None and c == c)
    assert SCRATCH_ORDERS not in demo.con.list_tables()

    again = run(demo, steps=ANALYTICS)
    assert _outcomes(again) == dict.fromkeys(ANALYTICS, "current")
    assert len(_runs(demo)) == 4  # a current step is not recorded
    assert why_stale(demo, "stage_history") is None


def test_new_data_another_day_and_an_upstream_run_make_steps_stale(demo: Store) -> None:
    run(demo, steps=ANALYTICS)
    assert why_stale(demo, "customer_rfm", as_of=END.replace(day=1)) == (
        "customer_facts: last run as of 2025-02-03, asked 2025-02-01"
    )
    # an import (here only its log row) after the watermark
    demo.insert(
        "imports",
        pa.Table.from_pylist(
            [{"import_id": "i1", "entity": "orders", "started_at": now(), "finished_at": now()}]
        ),
    )
    why = why_stale(demo, "customer_rfm")
    assert why is not None and why.startswith("customer_facts: new data since ")
    steps = [(s.name, reason) for s, reason in plan(demo, steps=["customer_rfm"], as_of=END)]
    assert [name for name, _ in steps] == ["customer_facts", "customer_rfm"]
    assert all(reason.startswith("new data since ") for _, reason in steps)
    assert _outcomes(ensure_current(demo, "customer_rfm")) == {
        "customer_facts": "ok",
        "customer_rfm": "ok",
    }
    # customer_status was not asked for: it is stale because its upstream ran since
    assert why_stale(demo, "customer_status") == "customer_status: customer_facts ran since"


@pytest.mark.slow  # a full run or a model fit: 10-20 s on the shared machine
def test_identity_resolution_outside_the_pipeline_makes_the_facts_stale(demo: Store) -> None:
    refresh(demo)
    assert demo.read("customer_facts").person_id.min().execute().startswith("C")
    resolve_identities(demo)
    why = why_stale(demo, "customer_facts")
    assert why is not None and "new data since" in why
    ensure_current(demo, "customer_facts")
    persons = demo.read("customer_facts").person_id
    assert persons.startswith("P-").all().execute()


def test_a_failed_step_keeps_its_previous_table_and_skips_what_comes_after(
    demo: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(demo, steps=ANALYTICS)
    before = {t: demo.read(t).to_pandas() for t in ANALYTICS}
    demo.set_meta("note", "something new", by="test")  # new data: every step is stale
    import tenure.analytics.facts as facts_module

    real = facts_module.customer_facts

    def broken(store: Store, **kw: object) -> ibis.Table:
        # fails while the engine writes the table, halfway through the step
        expr = real(store, **kw)  # type: ignore[arg-type]
        bad = ibis.ifelse(expr.orders > 1, ibis.literal("x"), ibis.literal("1"))
        return expr.mutate(orders=bad.cast("int64"))

    monkeypatch.setattr(facts_module, "customer_facts", broken)
    with pytest.raises(PipelineStepError) as info:
        run(demo, steps=ANALYTICS)
    message = str(info.value)
    assert message.startswith("Pipeline step 'customer_facts' failed: ConversionException")
    assert "skipped after it: customer_rfm, customer_status, stage_history" in message
    assert "Hint: Fix the cause" in message
    assert info.value.step == "customer_facts"
    assert _outcomes(info.value.result) == {
        "customer_facts": "failed",
        "customer_rfm": "skipped",
        "customer_status": "skipped",
        "stage_history": "skipped",
    }
    for table, frame in before.items():  # the previous good tables are in place
        assert demo.read(table).to_pandas().equals(frame), table
    assert SCRATCH_ORDERS not in demo.con.list_tables()
    last = last_runs(demo)
    assert last["customer_facts"]["outcome"] == "failed"
    assert last["customer_facts"]["error"].startswith("ConversionException")
    assert last["customer_rfm"]["error"] == "not run: customer_facts failed"
    assert last["stage_history"]["error"] == "not run: customer_status skipped"
    assert last["customer_rfm"]["rows"] is None and last["customer_rfm"]["finished_at"] is None
    # still stale: the next run retries it (and succeeds once the cause is gone)
    monkeypatch.setattr(facts_module, "customer_facts", real)
    assert _outcomes(run(demo, steps=ANALYTICS)) == dict.fromkeys(ANALYTICS, "ok")


@pytest.mark.slow  # a full run or a model fit: 10-20 s on the shared machine
def test_refresh_and_predict_are_recorded_runs_of_their_steps(demo: Store) -> None:
    result = refresh(demo)
    facts_tables = ["customer_facts", "purchase_gaps", "facts_identities"]
    assert result.as_of == END and list(result.rows) == facts_tables + ANALYTICS[1:]
    assert result.rows["customer_facts"] == 405 and result.rows["customer_rfm"] == 297
    assert result.rows["customer_status"] == result.rows["stage_history"] == 405
    again = refresh(demo)  # forced: runs although current
    assert again.run_id != result.run_id and again.rows == result.rows
    predicted = predict(demo, model="heuristic")
    assert predicted.rows == 405 and predicted.method == "heuristic"
    last = last_runs(demo)
    assert last["predictions"]["rows"] == 405 and last["predictions"]["outcome"] == "ok"
    assert last["customer_facts"]["run_id"] == again.run_id  # facts were current
    assert "clv_12m" not in demo.read("customer_facts").columns


def test_unknown_steps_and_tables_name_the_choices(demo: Store) -> None:
    with pytest.raises(ConfigError, match="No pipeline step named 'facts'") as info:
        run(demo, steps=["facts"])
    assert "customer_facts" in str(info.value)
    with pytest.raises(ConfigError, match="'orders' is not a derived table"):
        ensure_current(demo, "orders")


def test_store_info_counts_the_derived_tables_and_shows_the_last_runs(demo: Store) -> None:
    fresh = store_info(demo)
    assert fresh["derived_tables"] == dict.fromkeys(DERIVED)
    assert fresh["last_runs"] == dict.fromkeys(s.name for s in STEPS)
    assert fresh["tables"]["pipeline_runs"] == 0 and fresh["backend"] == "duckdb"
    run(demo, steps=["customer_rfm"])
    info = store_info(demo)
    assert info["derived_tables"]["customer_facts"] == 405
    assert info["derived_tables"]["customer_rfm"] == 297
    assert info["derived_tables"]["customer_predictions"] is None
    rfm = info["last_runs"]["customer_rfm"]
    assert rfm["outcome"] == "ok" and rfm["as_of"] == "2025-02-03" and rfm["rows"] == 297
    assert info["last_runs"]["identity"] is None and info["tables"]["pipeline_runs"] == 2


def test_rows_stored_without_an_import_make_their_readers_stale(demo: Store) -> None:
    """A loader writing with Store.insert (no `imports` row): the rows' own load time
    (imported_at, stamped by Store.insert) makes identity and the facts stale."""
    run(demo, steps=["identity", *ANALYTICS])
    assert why_stale(demo, "customer_facts") is None
    e = demo.table("events")
    row = e.filter(e.anonymous_id.notnull()).limit(1).to_pyarrow().to_pylist()[0]
    row["message_id"] = "loader-1"
    del row["imported_at"]  # Store.insert stamps it
    demo.insert("events", pa.Table.from_pylist([row]))
    stale = why_stale(demo, "customer_facts")
    assert stale is not None and stale.startswith("customer_facts: new data since")
    again = run(demo, steps=["identity", *ANALYTICS])
    assert again.get("identity").outcome == "ok"  # type: ignore[union-attr]
    assert why_stale(demo, "customer_facts") is None


def test_a_run_reads_the_data_clock_once(demo: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """One query for every step's clock sources (the identity step, which stamps its
    resolution, makes the steps after it read them again: not run here, it is slow)."""
    from tenure.pipeline import records

    queries: list[int] = []
    latest_times = records.latest_times

    def counted(store: Store, sources: object) -> object:
        found = latest_times(store, sources)  # type: ignore[arg-type]
        queries.append(len(found))
        return found

    monkeypatch.setattr(records, "latest_times", counted)
    first = run(demo, steps=ANALYTICS)
    assert _outcomes(first) == dict.fromkeys(ANALYTICS, "ok")
    assert [n for n in queries if n] == [len(records.clock_sources(STEPS[1].reads))]
    for s in first.steps:
        assert s.watermark is not None
        assert s.watermark == records.data_clock(demo, STEPS[1].reads)
