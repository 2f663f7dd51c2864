"""Profile: one person found by any identifier: identities, traits, timeline, orders, the
predictions with their one-line explanation, the recommendations, the flows and messages.

The person is :func:`tenure.identity.profile.profile` (``tenure customers show``), the
recommendations :func:`tenure.recommend.read.recommend_for` (``tenure recommend for``); the
flows and messages are the person's rows of ``flow_state`` and ``messages``. A person who
was deleted, or an identifier that names nobody (or several people), is
:class:`ProfileNotFoundError`, whose message repeats nothing of what was asked.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from tenure.config import Settings
from tenure.dashboard.model import N_, Column, Metric, Page, Section, Table, Window
from tenure.dashboard.pages.channels import clv_column
from tenure.dashboard.pages.common import (
    FLOW_LINK,
    frame_table,
    frames_section,
    row_metric,
    value,
)
from tenure.errors import NotFoundError
from tenure.identity.profile import profile
from tenure.recommend.read import recommend_for
from tenure.store import Store, cached, reporting_currency

TIMELINE = 50
MESSAGES = 50


class ProfileNotFoundError(NotFoundError):
    """No one (or no single person) the dashboard may show has this identifier."""


def _person(store: Store, identifier: str) -> dict[str, Any]:
    try:
        return profile(store, identifier, timeline=TIMELINE)
    except NotFoundError:
        # the lookup's own message names close matches: the dashboard says nothing
        raise ProfileNotFoundError(
            "No person found.", hint="Search by a customer id, e-mail, phone or order id."
        ) from None


def _identities(person: dict[str, Any]) -> Section:
    rows = tuple((kind, v) for kind, vs in person["identities"].items() for v in vs)
    traits = tuple((k, value(v)) for k, v in sorted(person["traits"].items()))

    return Section(
        "identity",
        N_("Identities and traits"),
        tables=(
            Table(
                "identities",
                N_("Identities"),
                (Column("kind", N_("Kind"), "text"), Column("value", N_("Value"), "text")),
                rows,
            ),
            Table(
                "traits",
                N_("Traits"),
                (Column("trait", N_("Trait"), "text"), Column("value", N_("Value"), "text")),
                traits,
            ),
        ),
    )


def _activity(person: dict[str, Any], currency: str) -> Section:
    orders = pd.DataFrame(person["orders"])
    if "total" in orders:
        orders["total"] = pd.to_numeric(orders["total"], errors="coerce")
    timeline = pd.DataFrame(person["timeline"])
    order_columns = (
        Column("order_id", N_("Order"), "text"),
        Column("ordered_at", N_("Date"), "date"),
        Column("status", N_("Status"), "text"),
        Column("currency", N_("Currency"), "text"),
        Column("total", N_("Total"), "number"),
    )
    event_columns = (
        Column("timestamp", N_("When"), "date"),
        Column("event", N_("Event"), "text"),
        Column("type", N_("Type"), "text"),
    )
    return frames_section(
        "activity",
        N_("Orders and timeline"),
        currency,
        ("orders", N_("Orders"), orders, order_columns),
        ("timeline", N_("Timeline"), timeline, event_columns),
    )


def _predictions(store: Store, person: dict[str, Any], currency: str) -> Section:
    computed = person["computed"]
    clv = clv_column(store)
    notes = []
    metrics = [
        row_metric(computed, "status", N_("Status"), "text", "dash-status"),
        row_metric(computed, "segment", N_("RFM segment"), "text", "dash-rfm"),
        row_metric(computed, "orders", N_("Orders"), "count", "dash-orders"),
        row_metric(computed, "revenue", N_("Revenue"), "money", "dash-revenue", currency=currency),
    ]
    if clv is None:
        notes.append(N_("No predictions yet: run `tenure predict`."))
    else:
        metrics += [
            row_metric(
                computed,
                "clv",
                N_("Predicted CLV"),
                "money",
                "dash-predicted-clv",
                currency=currency,
                field=clv,
            ),
            row_metric(computed, "p_alive", N_("P(alive)"), "share", "dash-p-alive"),
        ]
        explanation = computed.get("explanation")
        if explanation:
            notes.append(str(explanation))
    return Section(
        "predictions", N_("Values and predictions"), metrics=tuple(metrics), notes=tuple(notes)
    )


def _recommendations(store: Store, person_id: str, currency: str) -> Section:
    frame = recommend_for(store, f"person_id:{person_id}", top=10)
    columns = (
        Column("rank", N_("Rank"), "count"),
        Column("product_id", N_("Product"), "text"),
        Column("title", N_("Title"), "text"),
        Column("category", N_("Category"), "text"),
        Column("price", N_("Price"), "number"),
        Column("reason", N_("Why"), "text"),
    )
    return frames_section(
        "recommendations",
        N_("Recommendations"),
        currency,
        ("recommendations", N_("Recommendations"), frame, columns),
        notes=tuple(frame.attrs.get("notes", ())),
    )


def _flows(store: Store, person_id: str, currency: str) -> Section:
    # read by person, cut here (an ordered, limited query would scan the table)
    stays = store.rows_where_in("flow_state", "person_id", [person_id]).to_pandas()
    messages = store.rows_where_in("messages", "person_id", [person_id]).to_pandas()
    messages = messages.sort_values("decided_at", ascending=False, kind="stable").head(MESSAGES)
    stay_columns = (
        Column("flow", N_("Flow"), "text"),
        Column("step", N_("Step"), "text"),
        Column("status", N_("Status"), "text"),
        Column("entered_at", N_("Entered"), "date"),
    )
    message_columns = (
        Column("decided_at", N_("Decided"), "date"),
        Column("flow", N_("Flow"), "text"),
        Column("step", N_("Step"), "text"),
        Column("channel", N_("Channel"), "text"),
        Column("state", N_("State"), "text"),
    )
    tables = (
        frame_table("flow_stays", N_("Flows"), stays, stay_columns, currency, link=FLOW_LINK),
        frame_table("messages", N_("Messages"), messages, message_columns, currency),
    )
    return Section("flows", N_("Flows and messages"), tables=tables)


def build(store: Store, settings: Settings, window: Window, identifier: str) -> Page:
    """The profile of the person ``identifier`` names; :class:`ProfileNotFoundError` when
    nobody may be shown."""
    person = _person(store, identifier)
    # kept in the result cache until the orders or the settings' currency change
    currency = cached(store, "dashboard.currency", {}, lambda: reporting_currency(store))
    person_id = person["person_id"]
    summary = Section(
        "person",
        N_("Person"),
        metrics=(
            Metric("person_id", N_("Person"), person_id, "text"),
            row_metric(person["labels"], "customer_id", N_("Customer id"), "text"),
            row_metric(person["labels"], "email", N_("E-mail"), "text"),
        ),
    )
    sections = (
        summary,
        _identities(person),
        _predictions(store, person, currency),
        _activity(person, currency),
        _recommendations(store, person_id, currency),
        _flows(store, person_id, currency),
    )
    return Page("profile", N_("Profile"), window, currency, sections)
