"""The worker inside ``tenure serve``: the pipeline, the flows and the dispatcher on schedules.

One background thread runs three *units*, each on its own schedule (settings
``worker_pipeline_every``, ``worker_flows_every``, ``worker_dispatch_every``, in seconds; 0
disables one):

* ``pipeline``: :func:`tenure.pipeline.run`, every stale step brought up to date, then the
  kept results whose tables it wrote computed again (:func:`tenure.store.cache.refresh_cached`);
* ``flows``: one flow tick (:func:`tenure.engage.flows.run_tick`) of the shipped and the
  store's flows;
* ``dispatch``: one pass of the dispatcher (:func:`tenure.deliver.dispatcher.dispatch`) over
  the configured channels.

Each unit runs holding the store (``with state.store()``), so the collector's loader and the
admin API wait between units, never inside one. Each is timed into the ``tenure_step_seconds``
histogram (the pipeline's steps too, as ``pipeline.<step>``). A unit that fails is logged and
recorded (``/health`` shows it); the server goes on, and so does the worker. A stop (the
application's shutdown) lets the unit running finish (a dispatch ends between batches) and
starts no other. ``tenure worker`` is the same flows and dispatcher as a command of its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenure.deliver.channel import Channel
from tenure.service.state import ServiceState
from tenure.store import Store, refresh_cached

LOG = logging.getLogger("tenure.service.worker")

#: The units, in the order they run when due at once (data first, then decisions, then sends).
UNITS = ("pipeline", "flows", "dispatch")


@dataclass
class UnitStatus:
    """What ``/health`` shows of one unit: its schedule, runs, failures and the last of each."""

    name: str
    every: float
    runs: int = 0
    failures: int = 0
    last_started: datetime | None = None
    last_seconds: float | None = None
    last_ok: datetime | None = None
    last_error: str | None = None
    last_summary: dict[str, Any] = field(default_factory=dict)
    due: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat(timespec="seconds")

        return {
            "every": self.every,
            "enabled": self.every > 0,
            "runs": self.runs,
            "failures": self.failures,
            "last_started": iso(self.last_started),
            "last_seconds": self.last_seconds,
            "last_ok": iso(self.last_ok),
            "last_error": self.last_error,
            "last": self.last_summary,
        }


class ServiceWorker:
    """The background thread of one application (started and stopped by its lifespan)."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        settings = state.settings
        every = {
            "pipeline": settings.worker_pipeline_every,
            "flows": settings.worker_flows_every,
            "dispatch": settings.worker_dispatch_every,
        }
        self.units = {name: UnitStatus(name, every[name]) for name in UNITS}
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.channels: dict[str, Channel] | None = None
        self.warm_thread: threading.Thread | None = None
        self.warmed: list[str] = []
        self.jobs: Mapping[str, Callable[[Store], dict[str, Any]]] = {
            "pipeline": self.pipeline,
            "flows": self.flows,
            "dispatch": self.dispatch,
        }

    @property
    def enabled(self) -> bool:
        """Whether any unit runs on a schedule."""
        return any(u.every > 0 for u in self.units.values())

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        """Start the thread (nothing when every unit is disabled). Each unit runs first one
        period after the start (a restart does not rerun everything at once)."""
        if not self.enabled or self.running:
            return
        now = time.monotonic()
        for unit in self.units.values():
            unit.due = now + unit.every
        self.stopping.clear()
        self.thread = threading.Thread(target=self.loop, name="tenure-worker", daemon=True)
        self.thread.start()

    def warm(self) -> None:
        """In a thread of its own, compute what the first requests after a start would wait
        for: the admin API's default KPI and cohort answers
        (:func:`tenure.service.admin_analytics.warm_answers`), then, with the
        ``dashboard_warm`` setting, the dashboard's pages of the default period, one at a
        time, each holding the store (a page the pipeline kept in the store and still true is
        read, not built), each drawn in the default language
        (:func:`tenure.service.dashboard.predraw`); it stops between pages when the worker
        stops. What was warmed is listed in ``/health`` (``worker.warmed``)."""
        self.warm_thread = threading.Thread(target=self._warm, name="tenure-warm", daemon=True)
        self.warm_thread.start()

    def _warm(self) -> None:
        from tenure.dashboard import report
        from tenure.pipeline.dashboard import stored_for
        from tenure.service.admin_analytics import warm_answers
        from tenure.service.dashboard import predraw, stale_ok

        try:
            with self.state.store() as store:
                self.warmed.extend(warm_answers(store))
            if not self.state.settings.dashboard_warm:
                return
            with self.state.store() as store:
                window = report.default_window(store)
            for key in report.page_keys():
                if self.stopping.is_set():
                    return
                with self.state.store() as store:
                    page = report.build(
                        key,
                        store,
                        self.state.settings,
                        window,
                        stored_for(store),
                        stale_ok=stale_ok(self.state.settings),
                    )
                predraw(page, self.state.settings)
                self.warmed.append(key)
        except Exception as exc:  # the answers are computed on request instead
            LOG.warning("computing the answers at start stopped: %s", exc)

    def stop(self, timeout: float = 30.0) -> bool:
        """Ask the thread to stop and wait up to ``timeout`` seconds for the unit running to
        finish (and the page being built at start, if any); close the channels. Returns
        whether the thread ended in time."""
        self.stopping.set()
        if self.warm_thread is not None:
            self.warm_thread.join(timeout)
        ended = True
        if self.thread is not None:
            self.thread.join(timeout)
            ended = not self.thread.is_alive()
            if not ended:
                LOG.error("the worker's current unit did not finish within %.0f s", timeout)
        if ended and self.channels is not None:
            for channel in self.channels.values():
                channel.close()
            self.channels = None
        return ended

    def loop(self) -> None:
        """Run the units as they fall due until stopped."""
        active = [u for u in self.units.values() if u.every > 0]
        while not self.stopping.is_set():
            now = time.monotonic()
            for unit in active:
                if self.stopping.is_set():
                    return
                if unit.due <= now:
                    self.run_unit(unit.name)
                    unit.due = max(unit.due + unit.every, time.monotonic())
            wait = min(u.due for u in active) - time.monotonic()
            self.stopping.wait(max(0.0, wait))

    def run_unit(self, name: str) -> bool:
        """Run one unit now, holding the store: timed, its outcome recorded; never raises
        (a failure is logged and kept for ``/health``). Returns whether it succeeded."""
        unit = self.units[name]
        unit.last_started = datetime.now(UTC)
        started = time.perf_counter()
        try:
            with self.state.store() as store:
                summary = self.jobs[name](store)
        except Exception as exc:  # the server must go on: recorded, logged, shown in /health
            unit.failures += 1
            error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
            if error != unit.last_error:  # once per distinct error, not every period
                LOG.error("worker %s failed: %s", name, error)
            unit.last_error = error
            return False
        finally:
            unit.runs += 1
            unit.last_seconds = round(time.perf_counter() - started, 3)
            self.state.metrics.step_seconds.labels(step=name).observe(unit.last_seconds)
        unit.last_ok = datetime.now(UTC)
        unit.last_error = None
        unit.last_summary = summary
        return True

    def status(self) -> dict[str, Any]:
        """The worker as ``/health`` shows it."""
        return {
            "running": self.running,
            "ok": all(u.last_error is None for u in self.units.values()),
            "units": {name: u.as_dict() for name, u in self.units.items()},
            "warming": self.warm_thread is not None and self.warm_thread.is_alive(),
            "warmed": list(self.warmed),
        }

    # -- the units ---------------------------------------------------------------------
    def pipeline(self, store: Store) -> dict[str, Any]:
        """Bring every stale step up to date (its steps timed as ``pipeline.<step>``)."""
        from tenure.errors import PipelineStepError
        from tenure.pipeline import RunResult, run

        try:
            result = run(store)
        except PipelineStepError as exc:
            if isinstance(exc.result, RunResult):
                self.observe_steps(exc.result)
            raise
        self.observe_steps(result)
        ran = [s.step for s in result.steps if s.outcome != "current"]
        # the results the API keeps (KPIs, cohorts, the dashboard's pages) whose tables the
        # run wrote are computed again now, so the next request does not wait for them
        warmed = refresh_cached(store)
        if self.state.settings.dashboard_warm:
            self.draw_pages(store)
        return {
            "run_id": result.run_id,
            "as_of": result.as_of.isoformat(),
            "ran": ran,
            "cache_refreshed": warmed["refreshed"],
        }

    def draw_pages(self, store: Store) -> None:
        """The menu's pages of the default period from the result cache (or the store's
        kept pages), their sections drawn in the default language: what a pipeline run
        leaves behind when ``dashboard_warm`` is on, so the next visit only fills the frame."""
        from tenure.dashboard import report
        from tenure.pipeline.dashboard import stored_for
        from tenure.service.dashboard import predraw, stale_ok

        window = report.default_window(store)
        stale = stale_ok(self.state.settings)
        for key in report.page_keys():
            page = report.build(
                key, store, self.state.settings, window, stored_for(store), stale_ok=stale
            )
            predraw(page, self.state.settings)

    def observe_steps(self, result: Any) -> None:
        for s in result.steps:
            if s.outcome in ("ok", "failed"):
                self.state.metrics.step_seconds.labels(step=f"pipeline.{s.step}").observe(s.seconds)

    def flows(self, store: Store) -> dict[str, Any]:
        """One tick of the flows (re-read each time: an edited flow file is picked up)."""
        from tenure.engage.flow_spec import flow_paths, load_flows
        from tenure.engage.flows import run_tick, tick_clock
        from tenure.engage.settings import load_policy

        directory = Path(store.settings.flows_dir)
        flows = load_flows(flow_paths(directory))
        if not flows:
            return {"flows": 0}
        tick = run_tick(store, flows, tick_clock(store), policy=load_policy(directory))
        decided = sum(sum(f.messages.values()) for f in tick.flows)
        return {"flows": len(tick.flows), "messages_decided": decided}

    def dispatch(self, store: Store) -> dict[str, Any]:
        """One pass of the dispatcher; it ends between batches when the worker stops."""
        from tenure.deliver.channels import build_channels
        from tenure.deliver.dispatcher import dispatch
        from tenure.deliver.render import build_renderer
        from tenure.deliver.worker import frozen_clock
        from tenure.engage.flows import tick_clock
        from tenure.engage.settings import load_policy

        if self.channels is None:  # built once: an SMTP connection is reused across passes
            self.channels = build_channels(store.settings, store=store)
        clock = tick_clock(store)
        result = dispatch(
            store,
            channels=self.channels,
            renderer=build_renderer(store, store.settings, clock),
            now=clock if frozen_clock(store) else None,
            policy=load_policy(Path(store.settings.flows_dir)),
            stop=self.stopping.is_set,
        )
        d = result.as_dict()
        return {k: d[k] for k in ("claimed", "sent", "failed", "retried", "suppressed")}
