"""``tenure run``: bring every stale step up to date, in dependency order, each run recorded
in ``pipeline_runs`` (docs/pipeline.md).

A step is *stale* when it never ran successfully, when its last successful run was as of
another day, when a step it depends on ran since (or runs now), or when data arrived in the
canonical tables it reads after its watermark (:func:`tenure.pipeline.records.data_clock`).
A failed step keeps its previous tables (a step writes each table with one
:meth:`Store.replace`, which swaps only a complete table in), is recorded ``failed`` with the
error, and the steps after it are recorded ``skipped``; :func:`run` then raises
:class:`~tenure.errors.PipelineStepError` naming the step and why.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tenure.errors import PipelineStepError, TenureError
from tenure.pipeline.records import (
    FAILED,
    FULL,
    INCREMENTAL,
    OK,
    SKIPPED,
    DataClock,
    RunRecord,
    last_runs,
    now,
    record,
)
from tenure.pipeline.steps import STEPS, Step, StepContext, step
from tenure.progress import ProgressCallback, Steps
from tenure.store import Store

#: The outcome of a step a run left alone because it was current (never recorded).
CURRENT = "current"


@dataclass
class StepRun:
    """What became of one step in a run: ``outcome`` ok, failed, skipped or current; why it
    ran (``reason``: what made it stale) or why not; rows written per table; seconds."""

    step: str
    outcome: str
    mode: str | None = None
    reason: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    watermark: datetime | None = None
    error: str | None = None
    #: the library result the step left (e.g. a PredictResult), not serialised
    output: Any = None

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "outcome": self.outcome,
            "mode": self.mode,
            "reason": self.reason,
            "rows": dict(self.rows),
            "seconds": self.seconds,
            "watermark": None if self.watermark is None else self.watermark.isoformat(),
            "error": self.error,
        }


@dataclass
class RunResult:
    """One pipeline run: its id, the as-of day, and every selected step in order."""

    run_id: str
    as_of: date
    steps: list[StepRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.outcome in (OK, CURRENT) for s in self.steps)

    def get(self, name: str) -> StepRun | None:
        return next((s for s in self.steps if s.step == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "ok": self.ok,
            "steps": [s.to_dict() for s in self.steps],
        }


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def staleness(
    store: Store,
    s: Step,
    as_of: date,
    last: dict[str, Any] | None,
    ok: dict[str, dict[str, Any]],
    clock: DataClock | None = None,
) -> str | None:
    """Why step ``s`` is stale as of ``as_of`` (None: current). ``last``: its last
    successful run; ``ok``: the last successful run of every step; ``clock``: the run's
    data clock (default: read now)."""
    if last is None:
        return "never ran"
    if s.every_run:
        return "runs at every run"
    if s.derived and _as_date(last["as_of"]) != as_of:
        return f"last run as of {_as_date(last['as_of'])}, asked {as_of}"
    for up in s.after:
        before = ok.get(up)
        if before is not None and before["finished_at"] > last["started_at"]:
            return f"{up} ran since"
    latest = (clock or DataClock(store)).of(s.reads) if s.reads else None
    mark = last["watermark"]
    if latest is not None and (mark is None or latest > mark):
        return f"new data since {mark or 'its last run'} (latest {latest})"
    return None


def upstream(names: Sequence[str]) -> list[str]:
    """``names`` and every derived step they depend on, in dependency order."""
    wanted = set(names)
    for s in reversed(STEPS):
        if s.name in wanted:
            wanted.update(u for u in s.after if step(u).derived or u in names)
    return [s.name for s in STEPS if s.name in wanted]


def plan(
    store: Store,
    *,
    steps: Sequence[str] | None = None,
    as_of: date,
    full: bool = False,
    force: bool = False,
    ok: dict[str, dict[str, Any]] | None = None,
    clock: DataClock | None = None,
) -> list[tuple[Step, str | None]]:
    """Each step the run considers, in order, with why it runs (None: it is current).
    ``steps``: the named steps and the derived steps they depend on (default: every step);
    ``full``/``force``: the named steps run whether stale or not (``full``: every
    considered step); ``ok`` and ``clock``: the last successful runs and the data clock,
    when the caller has them (default: read here; the clock of every step in one query)."""
    named = list(steps) if steps is not None else [s.name for s in STEPS]
    for name in named:
        step(name)
    if ok is None:
        ok = last_runs(store, ok_only=True)
    considered = [step(name) for name in upstream(named)]
    clock = clock or DataClock(store)
    clock.read_ahead(s.reads for s in considered)
    out: list[tuple[Step, str | None]] = []
    running: set[str] = set()
    for s in considered:
        name = s.name
        why = staleness(store, s, as_of, ok.get(name), ok, clock)
        if why is None:
            why = next((f"{u} runs first" for u in s.after if u in running), None)
        if why is None and (full or (force and name in named)):
            why = "a full rebuild was asked for" if full else "asked for"
        if why is not None:
            running.add(name)
        out.append((s, why))
    return out


def run(
    store: Store,
    *,
    steps: Sequence[str] | None = None,
    as_of: date | None = None,
    full: bool = False,
    force: bool = False,
    options: dict[str, dict[str, Any]] | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Bring the steps ``steps`` (default: every step) and the derived steps they depend on
    up to date as of ``as_of`` (default: :func:`~tenure.analytics.base.store_end`), in
    dependency order, each run recorded in ``pipeline_runs``.

    A step runs when it is stale (:func:`staleness`), or always with ``full`` (every step
    considered, rebuilt in full) or ``force`` (the named steps). A step with an incremental
    function runs it from its last watermark unless ``full``. ``options``: step name -> the
    keyword arguments of its library function (e.g. ``{"predictions": {"model": ...}}``).
    Raises :class:`~tenure.errors.PipelineStepError` (with ``.result``) when a step failed.
    """
    from tenure.analytics.base import store_end

    end = as_of if as_of is not None else store_end(store)
    if full:  # the identity step resolves incrementally unless told otherwise
        options = {**(options or {}), "identity": {"incremental": False}}
    result = RunResult(run_id=uuid.uuid4().hex[:16], as_of=end)
    ok = last_runs(store, ok_only=True)
    clock = DataClock(store)  # read once per run (again after a step writing canonical tables)
    todo = plan(store, steps=steps, as_of=end, full=full, force=force, ok=ok, clock=clock)
    shared: dict[str, str] = {}
    current: set[str] = set()  # the derived tables current as of ``end`` so far
    report = Steps(progress, "Pipeline", sum(why is not None for _, why in todo))
    try:
        for s, why in todo:
            if why is None:
                result.steps.append(StepRun(s.name, CURRENT, reason="current"))
                current.update(s.builds if s.derived else ())
                continue
            report(s.name)
            broken = _broken_upstream(s, result)
            if broken is not None:
                result.steps.append(_skip(store, result, s, broken))
            else:
                ctx = _context(s, end, ok.get(s.name), full, shared, options)
                ctx.progress, ctx.current = progress, frozenset(current)
                done = _execute(store, result.run_id, s, ctx, why, clock)
                result.steps.append(done)
                if done.outcome == OK and s.derived:
                    current.update(s.builds)
                if not s.derived:
                    clock.forget()
        if report.current is not None:
            report.done()
    finally:
        for name in set(shared.values()):
            store.drop(name)
        store.compact_data_versions()
    failed = [r for r in result.steps if r.outcome == FAILED]
    if failed:
        raise _failure(failed[0], result)
    return result


def _context(
    s: Step,
    as_of: date,
    last: dict[str, Any] | None,
    full: bool,
    shared: dict[str, str],
    options: dict[str, dict[str, Any]] | None,
) -> StepContext:
    incremental = s.incremental is not None and not full and last is not None
    return StepContext(
        as_of=as_of,
        since=last["watermark"] if incremental and last is not None else None,
        shared=shared,
        last_as_of=_as_date(last["as_of"]) if last is not None else None,
        options=dict((options or {}).get(s.name, {})),
    )


def _broken_upstream(s: Step, result: RunResult) -> str | None:
    for up in s.after:
        done = result.get(up)
        if done is not None and done.outcome in (FAILED, SKIPPED):
            return f"{up} {done.outcome}"
    return None


def _execute(
    store: Store, run_id: str, s: Step, ctx: StepContext, why: str, clock: DataClock
) -> StepRun:
    """Run step ``s`` (its incremental function when ``ctx.since`` is set) and record it;
    its watermark is the run's data clock of what it reads (``clock``)."""
    mode = INCREMENTAL if ctx.since is not None and s.incremental is not None else FULL
    fn = s.incremental if mode == INCREMENTAL and s.incremental is not None else s.full
    started, timer = now(), time.perf_counter()
    watermark = clock.of(s.reads) if s.reads else None
    out = StepRun(s.name, OK, mode=mode, reason=why, watermark=watermark)
    try:
        out.rows = fn(store, ctx)
    except Exception as exc:  # recorded, then raised as PipelineStepError by run()
        out.outcome, out.error = FAILED, _describe(exc)
        out.output = exc
    out.seconds = round(time.perf_counter() - timer, 3)
    if out.outcome == OK:
        out.output = ctx.outputs.get("result")
        out.mode = mode = str(ctx.outputs.get("mode", mode))
    as_of = ctx.as_of if s.derived else None
    rows = out.total_rows if out.outcome == OK else None
    record(
        store,
        RunRecord(
            run_id, s.name, started, now(), as_of, rows, watermark, mode, out.outcome, out.error
        ),
    )
    return out


def _skip(store: Store, result: RunResult, s: Step, because: str) -> StepRun:
    error = f"not run: {because}"
    at = now()
    as_of = result.as_of if s.derived else None
    record(
        store, RunRecord(result.run_id, s.name, at, None, as_of, None, None, FULL, SKIPPED, error)
    )
    return StepRun(s.name, SKIPPED, reason=because, error=error)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TenureError):
        return exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
    return f"{type(exc).__name__}: {exc}"


def _failure(failed: StepRun, result: RunResult) -> PipelineStepError:
    skipped = [r.step for r in result.steps if r.outcome == SKIPPED]
    then = f"; skipped after it: {', '.join(skipped)}" if skipped else ""
    error = PipelineStepError(
        f"Pipeline step {failed.step!r} failed: {failed.error}{then}. Its previous tables "
        "are left in place.",
        hint="Fix the cause, then run `tenure run` again (it retries the stale steps); "
        "`tenure store info` shows the last run of each step.",
    )
    cause = failed.output if isinstance(failed.output, BaseException) else None
    error.transient = bool(getattr(cause, "transient", False))
    error.step, error.result = failed.step, result
    error.__cause__ = cause
    return error


def reader_day(store: Store, table: str, as_of: date | None = None) -> date:
    """The day a reader of derived ``table`` reads it as of: ``as_of`` when given, else the
    day its last successful build was as of (a ``tenure refresh --as-of`` is kept), else the
    store's as-of day (:func:`~tenure.analytics.base.store_end`)."""
    from tenure.analytics.base import store_end
    from tenure.pipeline.steps import builder_of

    if as_of is not None:
        return as_of
    last = last_runs(store, ok_only=True).get(builder_of(table).name)
    day = _as_date(last["as_of"]) if last is not None else None
    return day if day is not None else store_end(store)


def ensure_current(store: Store, *tables: str, as_of: date | None = None) -> RunResult:
    """Bring derived ``tables`` (and the derived tables they are built from) up to date as
    of ``as_of`` (default: :func:`reader_day` of the first table), running only the stale
    steps: what a reader calls before it reads them. Raises PipelineStepError when a step
    fails."""
    from tenure.pipeline.steps import builder_of

    names = list(dict.fromkeys(builder_of(t).name for t in tables))
    day = reader_day(store, tables[0], as_of) if tables else as_of
    return run(store, steps=names, as_of=day)


def why_stale(store: Store, table: str, *, as_of: date | None = None) -> str | None:
    """Why derived ``table`` is not current as of ``as_of`` (default: :func:`reader_day`)
    (None: it is): the first stale step it depends on and why, without running anything."""
    from tenure.pipeline.steps import builder_of

    day = reader_day(store, table, as_of)
    for s, why in plan(store, steps=[builder_of(table).name], as_of=day):
        if why is not None:
            return f"{s.name}: {why}"
    return None
