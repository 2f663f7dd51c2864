"""Feedback and referrals from tracking events (Segment's spec), derived as import files.

The events stay in ``events``; these functions read the track calls that carry feedback or a
referral and turn them into rows of the ``feedback`` and ``referrals`` files, all text, which
:func:`tenure.ingest.import_from_events` imports like any file (same checks, quarantine,
suppression, cycle flags; a row already stored is already present):

* ``Product Reviewed`` (Segment e-commerce spec: ``product_id``, ``review_id``,
  ``review_body``, ``rating``) -> feedback of kind ``review`` on the scale 1-5, id
  ``review_id`` (else the event's ``message_id``);
* ``Referral Accepted`` (the referred person's event; the referrer in
  ``referrer_customer_id`` / ``referrer_email``) and a ``referral_code`` on ``Order
  Completed`` or ``Signed Up`` -> referrals. A person is referred once: their first such event
  makes the referral (id ``events:<user id or email>``, the referrer, code and order of their
  events of the batch merged), and a person with a referral from events is not referred again.
  ``Referral Sent`` is an invitation, not a referral until it is accepted: it stays an event.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import ibis
import pyarrow as pa

from tenure.store.protocol import StoreLike

REVIEWED = "Product Reviewed"
ACCEPTED = "Referral Accepted"
WITH_CODE = ("Order Completed", "Signed Up")

FEEDBACK_COLUMNS = (
    "feedback_id",
    "customer_id",
    "email",
    "anonymous_id",
    "kind",
    "score",
    "scale_min",
    "scale_max",
    "product_id",
    "title",
    "body",
    "submitted_at",
)
REFERRAL_COLUMNS = (
    "referral_id",
    "referrer_customer_id",
    "referrer_email",
    "referred_customer_id",
    "referred_email",
    "code",
    "order_id",
    "referred_at",
)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _events(store: StoreLike, imported_at: datetime | None) -> list[dict[str, Any]]:
    """The track calls that may carry feedback or a referral (of the import stamped
    ``imported_at``, or all), oldest first, with their properties parsed."""
    e = store.table("events")
    wanted = e.event.isin([REVIEWED, ACCEPTED]) | (
        e.event.isin(list(WITH_CODE)) & e.properties.contains("referral_code")
    )
    keep = (e.type == "track") & wanted
    if imported_at is not None:
        keep &= e.imported_at == ibis.literal(imported_at, "timestamp")
    columns = ["message_id", "event", "user_id", "anonymous_id", "timestamp", "properties"]
    rows = e.filter(keep).select(*columns).order_by(["timestamp", "message_id"])
    out = []
    for row in rows.to_pyarrow().to_pylist():
        try:
            props = json.loads(row["properties"] or "{}")
        except ValueError:
            props = {}
        row["props"] = props if isinstance(props, dict) else {}
        out.append(row)
    return out


def feedback_from_events(events: list[dict[str, Any]]) -> pa.Table:
    """Feedback rows (all text) of the ``Product Reviewed`` events among ``events``."""
    rows = []
    for e in events:
        if e["event"] != REVIEWED:
            continue
        p = e["props"]
        rows.append(
            {
                "feedback_id": _text(p.get("review_id")) or e["message_id"],
                "customer_id": _text(e["user_id"]),
                "email": _text(p.get("email")),
                "anonymous_id": _text(e["anonymous_id"]),
                "kind": "review",
                "score": _text(p.get("rating")),
                "scale_min": "1",
                "scale_max": "5",
                "product_id": _text(p.get("product_id")),
                "title": _text(p.get("review_title")),
                "body": _text(p.get("review_body")),
                "submitted_at": e["timestamp"].isoformat() if e["timestamp"] else None,
            }
        )
    return _table(rows, FEEDBACK_COLUMNS)


def referrals_from_events(events: list[dict[str, Any]], known: set[str]) -> pa.Table:
    """Referral rows (all text) of the referral events among ``events``: one per referred
    person (their first event; later ones add a missing referrer, code or order), none for a
    person whose referral id is in ``known``."""
    merged: dict[str, dict[str, str | None]] = {}
    for e in events:
        if e["event"] == REVIEWED:
            continue
        p = e["props"]
        who = _text(e["user_id"]) or _text(p.get("email"))
        rid = f"events:{who}" if who else None
        if rid is None or rid in known:
            continue
        row = {
            "referral_id": rid,
            "referrer_customer_id": _text(p.get("referrer_customer_id")),
            "referrer_email": _text(p.get("referrer_email")),
            "referred_customer_id": _text(e["user_id"]),
            "referred_email": _text(p.get("email")),
            "code": _text(p.get("referral_code")) or _text(p.get("code")),
            "order_id": _text(p.get("order_id")) if e["event"] == "Order Completed" else None,
            "referred_at": e["timestamp"].isoformat() if e["timestamp"] else None,
        }
        first = merged.setdefault(rid, row)
        for column, value in row.items():
            if first[column] is None:
                first[column] = value
    return _table(list(merged.values()), REFERRAL_COLUMNS)


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pa.Table:
    return pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in columns})


def derived_from_events(
    store: StoreLike, imported_at: datetime | None = None
) -> dict[str, pa.Table]:
    """The feedback and referrals files (entity -> rows, all text) the events of the import
    stamped ``imported_at`` (or all events) carry; an entity without rows is left out."""
    events = _events(store, imported_at)
    if not events:
        return {}
    r = store.table("referrals")
    known_ids = r.filter(r.referral_id.startswith("events:")).referral_id
    known = set(known_ids.to_pyarrow().to_pylist())
    tables = {
        "feedback": feedback_from_events(events),
        "referrals": referrals_from_events(events, known),
    }
    return {name: t for name, t in tables.items() if t.num_rows}
