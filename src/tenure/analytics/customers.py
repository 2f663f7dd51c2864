"""Customers one at a time and as lists: one person's customer facts (``tenure customers
show``), the persons matching a text (``tenure customers search``) and the persons of a
segment or status, sorted (``tenure customers list``)."""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.facts import MONEY_COLUMNS, left_join_on_person
from tenure.analytics.money import money_warnings
from tenure.analytics.status import STATUSES
from tenure.errors import ConfigError, NotFoundError
from tenure.identity.lookup import (
    LABEL_COLUMNS,
    attributed,
    find_person,
    person_labels,
    person_names,
    with_labels,
)
from tenure.store import Store, reporting_currency

_CLV = re.compile(r"clv_\d+m")

FACTS = "customer_facts"
STATUS = "customer_status"
RFM = "customer_rfm"
#: The predictions of ``tenure predict``, joined on ``person_id`` (never copied into the facts).
PREDICTIONS = "customer_predictions"
#: The columns of :func:`search_customers` and :func:`list_customers`, in order.
LIST_COLUMNS = (
    "person_id",
    "customer_id",
    "email",
    "name",
    "status",
    "orders",
    "revenue",
    "last_order",
)


class UnknownCustomerError(NotFoundError):
    """The person asked for has no row in customer_facts."""


def _with_predictions(store: Store, facts: ir.Table) -> ir.Table:
    """``facts`` with the columns of ``customer_predictions`` (when there are any) joined on
    ``person_id``; a person without predictions has nulls there."""
    if not store.exists(PREDICTIONS):
        return facts
    p = store.read(PREDICTIONS)
    extra = [c for c in p.columns if c not in facts.columns]
    p = p.select(p_person=p.person_id, **{c: p[c] for c in extra})
    j = facts.left_join(p, facts.person_id == p.p_person)
    return j.select(*facts.columns, *extra)


def customer_row(store: Store, identifier: str) -> pd.DataFrame:
    """`tenure customers show`: the ``customer_facts`` row of the person ``identifier``
    names (any identifier, bare or ``kind:value``, a person id or an order id:
    :func:`tenure.identity.find_person`), with their customer id and e-mail
    (:data:`tenure.identity.lookup.LABEL_COLUMNS`) after the person id and their
    ``customer_predictions`` columns, as a one-row frame whose values keep their Python types
    (dates, decimals). ``attrs``: ``money`` (its money columns), ``currency``, ``warnings``
    (the money warnings), ``matched`` (how the identifier matched: kind and value). Reads
    the stored tables as they are: :func:`tenure.pipeline.ensure_current` brings them up to
    date."""
    match = find_person(store, identifier)
    facts = store.read(FACTS)
    found = facts.filter(facts.person_id == match.person_id).limit(1)
    rows = _with_predictions(store, found).to_pyarrow().to_pylist()
    if not rows:
        raise UnknownCustomerError(
            f"The person {match.person_id} ({match.kind} {match.value}) has no row in "
            "customer_facts yet.",
            hint="`tenure run` brings customer_facts up to date.",
        )
    frame = with_labels(store, pd.DataFrame([rows[0]], columns=list(rows[0]), dtype=object))
    money = [c for c in frame.columns if c in MONEY_COLUMNS or _CLV.fullmatch(c)]
    frame.attrs.update(
        money=money,
        currency=reporting_currency(store),
        warnings=money_warnings(store),
        matched={"kind": match.kind, "value": match.value},
    )
    return frame


def _people(store: Store) -> ir.Table:
    """person_id, status, orders, revenue, last_order of every person in customer_facts
    (status null before the statuses step has run)."""
    f = store.read(FACTS)
    rows = f.select("person_id", "orders", "revenue", last_order=f.last_order_at.date())
    if store.exists(STATUS):
        s = store.read(STATUS)
        rows = left_join_on_person(rows, s.select("person_id", "status"))
    else:
        rows = rows.mutate(status=ibis.null("string"))
    return rows.select("person_id", "status", "orders", "revenue", "last_order")


def _finish(
    store: Store, frame: pd.DataFrame, total: int, names: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The rows shown: labels and names of these persons only, :data:`LIST_COLUMNS` in order;
    ``attrs``: ``total`` (persons before the limit), ``money``, ``currency``."""
    if names is None:
        persons = frame["person_id"].dropna().tolist()
        names = person_names(store, persons).to_pandas() if persons else None
    if "name" not in frame.columns:
        named = frame[["person_id"]].merge(
            names if names is not None else pd.DataFrame(columns=["person_id", "name"]),
            how="left",
            on="person_id",
        )
        frame = frame.assign(
            name=named["name"].astype(object).where(named["name"].notna(), None).to_numpy()
        )
    if "customer_id" not in frame.columns:
        frame = with_labels(store, frame)
    out = frame[list(LIST_COLUMNS)].reset_index(drop=True)
    days = pd.to_datetime(out["last_order"])  # a day, or None (never NaT)
    out["last_order"] = pd.Series(
        [None if pd.isna(d) else d.date() for d in days], index=out.index, dtype=object
    )
    out.attrs.update(total=total, money=("revenue",), currency=reporting_currency(store))
    return out


def search_customers(store: Store, text: str, *, limit: int | None = 20) -> pd.DataFrame:
    """`tenure customers search`: the persons with ``text`` (case-insensitive) in one of
    their identifiers (customer id, e-mail, phone, anonymous id), their person id, their name
    (:func:`tenure.identity.lookup.person_names`) or the id of one of their orders; exact
    matches first, then by revenue, highest first. Columns :data:`LIST_COLUMNS`; at most
    ``limit`` rows (None: all); ``attrs``: ``total`` (every match), ``money``, ``currency``.
    The text is only ever a value of the query."""
    needle = text.strip().lower()
    if not needle:
        raise ConfigError(
            "The search text is empty.",
            hint="Give part of an identifier, a name or an order id.",
        )
    _check_limit(limit)
    ids = store.table("identities")
    ids = ids.filter(ids.person_id.notnull())
    names = person_names(store, containing=needle)
    o = attributed(store, "orders")
    owner = ibis.coalesce(
        o.person_id, o.customer_id.strip().nullif(""), o.email.strip().lower().nullif("")
    )
    people = _people(store)
    hits = ibis.union(
        _hits(ids, ids.person_id, ids.value, needle),
        _hits(names, names.person_id, names.name, needle),
        _hits(o, owner, o.order_id, needle),
        _hits(people, people.person_id, people.person_id, needle),
    )
    per = hits.group_by("person_id").agg(exact=hits.exact.max())
    rows = per.left_join(people, per.person_id == people.person_id).select(
        per.person_id, per.exact, *[people[c] for c in people.columns if c != "person_id"]
    )
    rows = rows.mutate(_total=rows.count().over())
    order = [ibis.desc(rows.exact), ibis.desc(rows.revenue, nulls_first=False), rows.person_id]
    ranked = rows.order_by(order)
    frame = (ranked if limit is None else ranked.limit(limit)).to_pandas()
    total = int(frame["_total"].iloc[0]) if len(frame) else 0
    return _finish(store, frame.drop(columns=["_total", "exact"]), total)


def _hits(table: ir.Table, who: ir.Value, what: ir.StringValue, needle: str) -> ir.Table:
    """person_id, exact: the rows of ``table`` whose ``what`` contains ``needle`` (lower
    case), and whether it is all of it."""
    low = what.lower()
    rows = table.select(person_id=who, exact=low == needle, _hit=low.contains(needle))
    return rows.filter(rows._hit & rows.person_id.notnull()).drop("_hit")


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise ConfigError(f"The 'limit' parameter must be 1 or more (or None). Got {limit}.")


#: The natural order of each column of :data:`LIST_COLUMNS` for :func:`list_customers`:
#: counts, money and days highest first, text A to Z.
DESCENDING = {"orders": True, "revenue": True, "last_order": True}


def list_customers(
    store: Store,
    *,
    segment: str | None = None,
    status: str | None = None,
    sort: str = "revenue",
    descending: bool | None = None,
    limit: int | None = 20,
) -> pd.DataFrame:
    """`tenure customers list`: the persons of ``customer_facts``, of one RFM ``segment``
    (``customer_rfm``) and one lifecycle ``status`` (``customer_status``) when given, sorted
    by ``sort`` (one of :data:`LIST_COLUMNS`; ``descending``: default highest first for
    orders, revenue and last order, A to Z otherwise; unknown values last, ties by person id).
    Columns :data:`LIST_COLUMNS`; at most ``limit`` rows (None: all); ``attrs``: ``total``
    (every person of the segment and status), ``segment`` and ``status`` (as the store spells
    them: ``at-risk`` is ``at_risk``), ``money``, ``currency``."""
    _check_limit(limit)
    if sort not in LIST_COLUMNS:
        raise ConfigError(
            f"Cannot sort customers by {sort!r}.",
            hint=f"Sort by one of: {', '.join(LIST_COLUMNS)}.",
        )
    rows = _people(store)
    status = None if status is None else _choice(store, "status", status)
    segment = None if segment is None else _choice(store, "segment", segment)
    if status is not None:
        rows = rows.filter(rows.status == status)
    if segment is not None:
        r = store.read(RFM)
        rows = rows.filter(rows.person_id.isin(r.filter(r.segment == segment).person_id))
    early = sort in ("customer_id", "email", "name")  # sorted by a label: join them first
    names = person_names(store) if early else None
    if early:
        labels = person_labels(store).join(names, "person_id", how="left")
        rows = rows.left_join(labels, rows.person_id == labels.person_id).select(
            rows, *[labels[c] for c in (*LABEL_COLUMNS, "name")]
        )
    rows = rows.mutate(_total=rows.count().over())
    down = DESCENDING.get(sort, False) if descending is None else descending
    key = (
        ibis.desc(rows[sort], nulls_first=False)
        if down
        else ibis.asc(rows[sort], nulls_first=False)
    )
    ranked = rows.order_by([key, rows.person_id])
    frame = (ranked if limit is None else ranked.limit(limit)).to_pandas()
    total = int(frame["_total"].iloc[0]) if len(frame) else 0
    out = _finish(store, frame.drop(columns=["_total"]), total)
    out.attrs.update(segment=segment, status=status)
    return out


def _choice(store: Store, what: str, value: str) -> str:
    """``value`` spelled as the store spells the ``status`` or RFM ``segment`` it names
    (case, ``-`` for ``_`` and spaces ignored), or an error listing the choices."""
    if what == "status":
        choices = list(STATUSES)
    else:
        from tenure.analytics.rfm import SEGMENTS

        r = store.read(RFM)
        stored = r.select("segment").distinct().to_pyarrow().column("segment").to_pylist()
        choices = list(dict.fromkeys([s[0] for s in SEGMENTS] + [s for s in stored if s]))

    def plain(s: str) -> str:
        return re.sub(r"[\s_\-]+", " ", s).strip().lower()

    for choice in choices:
        if plain(choice) == plain(value):
            return choice
    raise ConfigError(
        f"There is no customer {what} {value!r}.",
        hint=f"Choose one of: {', '.join(choices)}.",
    )
