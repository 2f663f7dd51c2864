"""The admin API's people: a profile by any identifier, search and list, the privacy export
and delete, and the messages decided for them (``/api/profiles``, ``/api/messages``).

Each route calls the library function the CLI's command calls (docs/cli.md) and answers its
result as JSON, money as ``--json`` prints it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from tenure.analytics.customers import list_customers, search_customers
from tenure.identity.lookup import find_person
from tenure.identity.privacy import delete_person, export_person
from tenure.identity.profile import profile
from tenure.pipeline import ensure_current
from tenure.service.pages import Limit, Offset, Page, frame_page, page, plain, state_of
from tenure.store import Store

router = APIRouter(tags=["people"])


def _current(store: Store, *tables: str) -> None:
    """Bring ``tables`` up to date first, as the CLI's commands do (nothing on a read-only
    store: the reader reads what is there)."""
    if not store.read_only:
        ensure_current(store, *tables)


@router.get("/api/profiles", response_model=Page)
def list_profiles(
    request: Request,
    segment: Annotated[str | None, Query(description="Only this RFM segment.")] = None,
    status: Annotated[str | None, Query(description="Only this lifecycle status.")] = None,
    sort: Annotated[str, Query(description="The column to sort by.")] = "revenue",
    desc: Annotated[bool | None, Query(description="Highest first (default per column).")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """The persons of ``customer_facts`` (`tenure customers list`:
    ``tenure.analytics.list_customers``), of one segment and status, sorted."""
    with state_of(request).store() as store:
        _current(store, "customer_status", "customer_rfm")
        frame = list_customers(
            store,
            segment=segment,
            status=status,
            sort=sort,
            descending=desc,
            limit=offset + limit,
        )
    return frame_page(request, frame, limit, offset)


@router.get("/api/profiles/search", response_model=Page)
def search_profiles(
    request: Request,
    q: Annotated[str, Query(min_length=1, description="Part of an identifier, name or order id.")],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """The persons with ``q`` in an identifier, their name or an order id, exact matches first
    (`tenure customers search`: ``tenure.analytics.search_customers``)."""
    with state_of(request).store() as store:
        _current(store, "customer_status")
        frame = search_customers(store, q, limit=offset + limit)
    return frame_page(request, frame, limit, offset)


@router.get("/api/profiles/{identifier}")
def get_profile(
    request: Request,
    identifier: str,
    timeline: Annotated[int, Query(ge=0, le=1000, description="Latest events shown.")] = 20,
) -> dict[str, Any]:
    """The 360-degree profile of the person ``identifier`` names (`tenure profile show`:
    ``tenure.identity.profile.profile``)."""
    with state_of(request).store() as store:
        doc = profile(store, identifier, timeline=timeline)
    result: dict[str, Any] = plain(doc)
    return result


@router.get("/api/profiles/{identifier}/export")
def export_profile(request: Request, identifier: str) -> dict[str, Any]:
    """Everything held on the person (`tenure privacy export`:
    ``tenure.identity.privacy.export_person``)."""
    with state_of(request).store() as store:
        doc = export_person(store, identifier)
    result: dict[str, Any] = plain(doc)
    return result


@router.delete("/api/profiles/{identifier}")
def delete_profile(request: Request, identifier: str) -> dict[str, Any]:
    """Delete every row of the person in every table, suppress their identifiers, audit the
    request (`tenure privacy delete`: ``tenure.identity.privacy.delete_person``)."""
    with state_of(request).store() as store:
        person = find_person(store, identifier).person_id
        result = delete_person(store, f"person_id:{person}")
    answer: dict[str, Any] = plain(result)
    return answer


#: The columns of ``messages`` the list shows (the payload is left to the profile).
MESSAGE_COLUMNS = (
    "message_key",
    "flow",
    "step",
    "variant",
    "person_id",
    "channel",
    "state",
    "reason",
    "decided_at",
    "due_at",
    "sent_at",
    "attempts",
    "last_error",
    "message_id",
)


@router.get("/api/messages", response_model=Page)
def list_messages(
    request: Request,
    flow: Annotated[str | None, Query(description="Only this flow's messages.")] = None,
    state: Annotated[
        str | None, Query(description="Only messages in this state (pending, sent...).")
    ] = None,
    person: Annotated[str | None, Query(description="Only this person's (any identifier).")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page:
    """The flows' messages (``messages``), newest decision first, by flow, state and person."""
    with state_of(request).store() as store:
        t = store.table("messages")
        if flow is not None:
            t = t.filter(t.flow == flow)
        if state is not None:
            t = t.filter(t.state == state)
        if person is not None:
            t = t.filter(t.person_id == find_person(store, person).person_id)
        total = int(t.count().execute())
        ordered = t.order_by([t.decided_at.desc(), t.message_key]).select(*MESSAGE_COLUMNS)
        rows = ordered.limit(limit, offset=offset).to_pyarrow().to_pylist()
    items = [{k: plain(v) for k, v in row.items()} for row in rows]
    return page(request, items, total=total, limit=limit, offset=offset)
