"""The admin API's analytics: segments, KPIs, cohorts, RFM, statuses, predictions and
recommendations (``/api/segments``, ``/api/kpis``, ...).

Each route calls the library function of the CLI's command (docs/cli.md) with the same
arguments and answers its rows as JSON, money as ``--json`` prints it; every list is a page
(:class:`tenure.service.pages.Page`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request

from tenure.analytics.cache import cached_analytic
from tenure.analytics.cohorts import cohort_matrix, cohorts
from tenure.analytics.periods import kpis
from tenure.analytics.rfm import rfm_customers, rfm_segments
from tenure.analytics.status import status_counts, status_customers
from tenure.engage.segments import list_segments, preview_segment, segment_members
from tenure.predictions.results import top_customers
from tenure.recommend import PAIRS, RECOMMENDATIONS, recommend_cart, recommend_for, top_pairs
from tenure.service.errors import ServiceError
from tenure.service.pages import Limit, Offset, Page, frame_page, plain, records, state_of
from tenure.store import Store

router = APIRouter()

#: The derived table of the predictions (`tenure predict`).
PREDICTIONS = "customer_predictions"

AsOf = Annotated[
    date | None, Query(description="Observation end, YYYY-MM-DD (default: the store's as-of).")
]
Now = Annotated[
    datetime | None,
    Query(description="The clock, YYYY-MM-DDTHH:MM[:SS] in UTC (default: the as-of day's end)."),
]
Top = Annotated[int, Query(ge=1, le=1000, description="How many suggestions.")]


def _built(store: Store, table: str) -> None:
    """Build the recommendations when the store has none yet and may be written (as
    `tenure recommend` does)."""
    from tenure.pipeline import ensure_current

    if not store.exists(table) and not store.read_only:
        ensure_current(store, table)


# -- segments ------------------------------------------------------------------------------


@router.get("/api/segments", response_model=Page, tags=["segments"])
def segments(request: Request, now: Now = None, limit: Limit = 50, offset: Offset = 0) -> Page:
    """Every segment: its size now and at the last refresh (`tenure segments list`:
    ``tenure.engage.segments.list_segments``)."""
    with state_of(request).store() as store:
        frame = list_segments(store, now)
    return frame_page(request, frame, limit, offset)


@router.get("/api/segments/{name}/preview", tags=["segments"])
def segment_preview(
    request: Request,
    name: str,
    now: Now = None,
    sample: Annotated[int, Query(ge=0, le=1000, description="Members shown.")] = 10,
) -> dict[str, Any]:
    """One segment now, written nowhere: size, who would enter and leave, a sample
    (`tenure segments preview`: ``tenure.engage.segments.preview_segment``)."""
    with state_of(request).store() as store:
        p = preview_segment(store, name, now=now, sample=sample)
    return {
        "segment": p.segment.name,
        "description": p.segment.description,
        "file": plain(p.segment.file),
        "now": p.now.isoformat(),
        "size": p.size,
        "last_refresh": p.last_refresh.isoformat() if p.last_refresh else None,
        "entering": p.entering,
        "leaving": p.leaving,
        "sample": records(p.sample),
    }


@router.get("/api/segments/{name}/members", response_model=Page, tags=["segments"])
def segment_member_list(
    request: Request, name: str, now: Now = None, limit: Limit = 50, offset: Offset = 0
) -> Page:
    """The members of a segment now (`tenure segments members`:
    ``tenure.engage.segments.segment_members``)."""
    with state_of(request).store() as store:
        frame = segment_members(store, name, now=now, limit=offset + limit)
    return frame_page(request, frame, limit, offset)


# -- KPIs, cohorts, RFM, statuses ----------------------------------------------------------

#: The routes' defaults, which :func:`warm_answers` computes at start.
KPI_GRAIN = "month"
COHORT_PERIOD = "month"
COHORT_BY = "acquisition"
COHORT_METRIC = "retention"


def warm_answers(store: Store) -> list[str]:
    """Compute the answers of ``/api/kpis`` and ``/api/cohorts`` with their default
    parameters into the store's result cache, exactly as the routes ask for them, so the
    first request after a start finds them ready (the worker refreshes them after each
    pipeline run). Returns the routes warmed."""
    cached_analytic(store, kpis, grain=KPI_GRAIN, start=None, end=None, by=None, as_of=None)
    cached_analytic(
        store, cohort_matrix, period=COHORT_PERIOD, by=COHORT_BY, as_of=None, metric=COHORT_METRIC
    )
    return ["/api/kpis", "/api/cohorts"]


@router.get("/api/kpis", response_model=Page, tags=["analytics"])
def kpi_rows(
    request: Request,
    grain: Annotated[str, Query(description="day, week, month or quarter.")] = KPI_GRAIN,
    start: Annotated[date | None, Query(description="First period: the one holding it.")] = None,
    end: Annotated[date | None, Query(description="Last period: the one holding it.")] = None,
    by: Annotated[
        str | None, Query(description="channel, cohort, segment, status or stage.")
    ] = None,
    as_of: AsOf = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """KPIs per period (`tenure kpis`: ``tenure.analytics.periods.kpis``), kept until a
    table they read is written (``tenure.analytics.cache.cached_analytic``)."""
    with state_of(request).store() as store:
        frame = cached_analytic(store, kpis, grain=grain, start=start, end=end, by=by, as_of=as_of)
    return frame_page(request, frame, limit, offset)


@router.get("/api/cohorts", response_model=Page, tags=["analytics"])
def cohort_rows(
    request: Request,
    period: Annotated[str, Query(description="week, month or quarter.")] = COHORT_PERIOD,
    by: Annotated[str, Query(description="acquisition, channel or first_category.")] = COHORT_BY,
    metric: Annotated[
        str, Query(description="The matrix's cells: retention, active, orders, revenue...")
    ] = COHORT_METRIC,
    long: Annotated[bool, Query(description="The tidy table with every metric.")] = False,
    as_of: AsOf = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """Acquisition cohorts x periods since acquisition (`tenure cohorts`:
    ``tenure.analytics.cohort_matrix``, or ``cohorts`` with ``long``)."""
    with state_of(request).store() as store:
        if long:
            frame = cached_analytic(store, cohorts, period=period, by=by, as_of=as_of)
        else:
            frame = cached_analytic(
                store, cohort_matrix, period=period, by=by, as_of=as_of, metric=metric
            )
    return frame_page(request, frame, limit, offset)


@router.get("/api/rfm", response_model=Page, tags=["analytics"])
def rfm_rows(request: Request, as_of: AsOf = None, limit: Limit = 50, offset: Offset = 0) -> Page:
    """RFM segment sizes, shares and means (`tenure rfm`: ``tenure.analytics.rfm_segments``)."""
    with state_of(request).store() as store:
        frame = rfm_segments(store, as_of=as_of)
    return frame_page(request, frame, limit, offset)


@router.get("/api/rfm/customers", response_model=Page, tags=["analytics"])
def rfm_customer_rows(
    request: Request, as_of: AsOf = None, limit: Limit = 50, offset: Offset = 0
) -> Page:
    """Every customer's R, F, M scores and segment (`tenure rfm --customers`:
    ``tenure.analytics.rfm.rfm_customers``)."""
    with state_of(request).store() as store:
        stored = _is_current(store, "customer_rfm", as_of)
        frame = rfm_customers(store, as_of=as_of, limit=offset + limit, stored=stored)
    return frame_page(request, frame, limit, offset)


@router.get("/api/statuses", response_model=Page, tags=["analytics"])
def status_rows(
    request: Request, as_of: AsOf = None, limit: Limit = 50, offset: Offset = 0
) -> Page:
    """Persons per lifecycle status (`tenure status`: ``tenure.analytics.status_counts``)."""
    with state_of(request).store() as store:
        frame = status_counts(store, as_of=as_of)
    return frame_page(request, frame, limit, offset)


@router.get("/api/statuses/customers", response_model=Page, tags=["analytics"])
def status_customer_rows(
    request: Request, as_of: AsOf = None, limit: Limit = 50, offset: Offset = 0
) -> Page:
    """Every person's status (`tenure status --customers`:
    ``tenure.analytics.status.status_customers``)."""
    with state_of(request).store() as store:
        stored = _is_current(store, "customer_status", as_of)
        frame = status_customers(store, as_of=as_of, limit=offset + limit, stored=stored)
    return frame_page(request, frame, limit, offset)


def _is_current(store: Store, table: str, day: date | None) -> bool:
    """Whether derived ``table`` is built and current as of ``day``, so it is read rather
    than computed again (as the CLI decides)."""
    from tenure.analytics.base import store_end
    from tenure.pipeline import why_stale

    end = day if day is not None else store_end(store)
    return store.exists(table) and why_stale(store, table, as_of=end) is None


# -- predictions and recommendations -------------------------------------------------------


@router.get("/api/predictions", response_model=Page, tags=["predictions"])
def prediction_rows(
    request: Request,
    by: Annotated[
        str | None, Query(description="The column to rank by (default: the CLV column).")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """The persons with the highest predicted value, highest first (`tenure predict`'s top
    buyers: ``tenure.predictions.results.top_customers``); persons without one left out."""
    with state_of(request).store() as store:
        if not store.exists(PREDICTIONS):
            raise ServiceError(
                404,
                "The store has no predictions yet.",
                hint="`tenure predict` (or the pipeline's predictions step) writes them.",
            )
        frame = top_customers(store, offset + limit, by=by)
        everyone = top_customers(store, _predicted(store), by=by, with_identifiers=False)
    frame.attrs["rows"] = len(everyone)
    return frame_page(request, frame, limit, offset)


def _predicted(store: Store) -> int:
    """How many rows ``customer_predictions`` holds."""
    return int(store.read(PREDICTIONS).count().execute())


@router.get("/api/recommendations/person/{identifier}", tags=["recommendations"])
def recommendations_for(request: Request, identifier: str, top: Top = 10) -> dict[str, Any]:
    """The next products to show a person, with the categories they may try next
    (`tenure recommend for`: ``tenure.recommend.recommend_for``)."""
    with state_of(request).store() as store:
        _built(store, RECOMMENDATIONS)
        frame = recommend_for(store, identifier, top=top)
    categories: pd.DataFrame = frame.attrs["categories"]
    return {
        "person_id": frame.attrs["person_id"],
        "products": records(frame),
        "categories": records(categories),
        "notes": list(frame.attrs["notes"]),
    }


@router.get("/api/recommendations/cart", tags=["recommendations"])
def recommendations_cart(
    request: Request,
    items: Annotated[list[str], Query(min_length=1, description="The cart's products.")],
    top: Top = 10,
    source: Annotated[str, Query(description="orders or carts.")] = "orders",
) -> dict[str, Any]:
    """The products that most often complete a cart (`tenure recommend cart`:
    ``tenure.recommend.recommend_cart``)."""
    with state_of(request).store() as store:
        frame = recommend_cart(store, items, top=top, source=source)
    return {
        "cart": list(frame.attrs["cart"]),
        "products": records(frame),
        "notes": list(frame.attrs["notes"]),
    }


@router.get("/api/recommendations/pairs", response_model=Page, tags=["recommendations"])
def recommendation_pairs(
    request: Request,
    product: Annotated[str | None, Query(description="Only this product's partners.")] = None,
    by: Annotated[str, Query(description="together, lift or confidence.")] = "together",
    min_lift: Annotated[float, Query(ge=0, description="Only pairs with a higher lift.")] = 1.0,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """The pairs bought together most (`tenure recommend pairs`:
    ``tenure.recommend.top_pairs``), a page of them."""
    with state_of(request).store() as store:
        _built(store, PAIRS)
        every = max(1, int(store.read(PAIRS).count().execute()) if store.exists(PAIRS) else 1)
        frame = top_pairs(store, top=every, product=product, by=by, min_lift=min_lift)
    return frame_page(request, frame, limit, offset)
