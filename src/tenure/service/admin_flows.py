"""The admin API's flows: list, stats, pause and resume, backtest (``/api/flows``).

Each route calls the library function of the CLI's ``tenure flows`` command (docs/cli.md):
``flow_overview``, ``flow_stats``, ``set_paused``, ``backtest_flow``."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from tenure.deliver.measure import flow_stats
from tenure.engage.backtest import backtest_flow
from tenure.engage.backtest_runs import BY_API
from tenure.engage.flow_spec import Flow, flow_paths, load_flows
from tenure.engage.flows import flow_overview, set_paused
from tenure.engage.settings import load_policy
from tenure.service.errors import ServiceError
from tenure.service.pages import Limit, Offset, Page, frame_page, plain, records, state_of
from tenure.store import Store

router = APIRouter(tags=["flows"])

WindowDays = Annotated[
    int, Query(ge=1, le=365, description="Days after entering purchases are attributed.")
]
Now = Annotated[
    datetime | None, Query(description="The clock, ISO time in UTC (default: the flows' clock).")
]
#: The longest replay a backtest request may ask for (days): it runs inside the request.
MAX_BACKTEST_DAYS = 366


class Paused(BaseModel):
    """The outcome of pausing or resuming a flow."""

    flow: str = Field(description="The flow's name.")
    paused: bool = Field(description="Whether the flow is paused now.")


class BacktestRequest(BaseModel):
    """What to replay: the days (``from`` midnight UTC to the end of ``to``) and how."""

    start: date = Field(alias="from", description="The first day replayed (YYYY-MM-DD).")
    end: date = Field(alias="to", description="The last day replayed (YYYY-MM-DD).")
    step_hours: int = Field(24, ge=1, le=168, description="Hours between two ticks.")
    window: int = Field(7, ge=1, le=365, description="Days after entering purchases count.")
    holdout: float | None = Field(
        None, ge=0, le=1, description="The held-out share (default: the flow's own)."
    )


def flows_of(store: Store) -> list[Flow]:
    """The flows of the store's settings (the shipped ones and ``flows_dir``'s)."""
    return load_flows(flow_paths(Path(store.settings.flows_dir)))


def flow_named(store: Store, name: str) -> Flow:
    """The flow called ``name``; a 404 naming the known flows otherwise."""
    flows = flows_of(store)
    for flow in flows:
        if flow.name == name:
            return flow
    raise ServiceError(
        404,
        f"No flow named {name!r}.",
        hint=f"Known flows: {', '.join(f.name for f in flows) or 'none'} (GET /api/flows).",
        field="name",
    )


@router.get("/api/flows", response_model=Page)
def flows(request: Request, limit: Limit = 50, offset: Offset = 0) -> Page:
    """Every flow: trigger, steps, whether paused, persons in it, messages by state
    (`tenure flows list`: ``tenure.engage.flows.flow_overview``)."""
    with state_of(request).store() as store:
        frame = flow_overview(store, flows_of(store))
    return frame_page(request, frame, limit, offset)


@router.get("/api/flows/stats")
def all_flow_stats(
    request: Request, now: Now = None, window_days: WindowDays = 7
) -> dict[str, Any]:
    """What every flow earned (`tenure flows stats`: ``tenure.deliver.measure.flow_stats``)."""
    with state_of(request).store() as store:
        result = flow_stats(store, None, now=now, window_days=window_days)
    answer: dict[str, Any] = plain(result.to_dict())
    return answer


@router.get("/api/flows/{name}/stats")
def one_flow_stats(
    request: Request, name: str, now: Now = None, window_days: WindowDays = 7
) -> dict[str, Any]:
    """What one flow earned (`tenure flows stats FLOW`)."""
    with state_of(request).store() as store:
        flow = flow_named(store, name)
        result = flow_stats(store, flow.name, now=now, window_days=window_days)
    answer: dict[str, Any] = plain(result.to_dict())
    return answer


def _pause(request: Request, name: str, paused: bool) -> Paused:
    with state_of(request).store() as store:
        flow = flow_named(store, name)
        set_paused(store, flow, paused, by="api")
    return Paused(flow=flow.name, paused=paused)


@router.post("/api/flows/{name}/pause", response_model=Paused)
def pause_flow(request: Request, name: str) -> Paused:
    """Pause a flow: it enters nobody and decides no message until resumed
    (`tenure flows pause`: ``tenure.engage.flows.set_paused``)."""
    return _pause(request, name, True)


@router.post("/api/flows/{name}/resume", response_model=Paused)
def resume_flow(request: Request, name: str) -> Paused:
    """Resume a paused flow (`tenure flows resume`)."""
    return _pause(request, name, False)


def _check_days(ask: BacktestRequest) -> None:
    days = (ask.end - ask.start).days + 1
    if days < 1:
        raise ServiceError(
            400,
            f"`to` ({ask.end}) is before `from` ({ask.start}).",
            hint="Give the first day as `from` and the last as `to`.",
            field="to",
        )
    if days > MAX_BACKTEST_DAYS:
        raise ServiceError(
            400,
            f"The backtest asks for {days} days; the API replays at most {MAX_BACKTEST_DAYS}.",
            hint="Replay a shorter span, or run `tenure flows backtest` for a longer one.",
            field="to",
        )


@router.post("/api/flows/{name}/backtest")
def backtest(request: Request, name: str, ask: BacktestRequest) -> dict[str, Any]:
    """Replay the stored history through a flow, sending nothing (`tenure flows backtest`:
    ``tenure.engage.backtest.backtest_flow``)."""
    _check_days(ask)
    with state_of(request).store() as store:
        flow = flow_named(store, name)
        result = backtest_flow(
            store,
            flow,
            datetime.combine(ask.start, time()),
            datetime.combine(ask.end + timedelta(days=1), time()),
            step=timedelta(hours=ask.step_hours),
            window_days=ask.window,
            holdout_share=ask.holdout,
            policy=load_policy(Path(store.settings.flows_dir)),
            by=BY_API,
        )
    return {
        **plain(result.summary()),
        "notes": list(result.notes),
        "steps": records(result.steps),
        "daily": records(result.daily),
        "outcome": records(result.outcome),
        "recorded": result.recorded,
    }
