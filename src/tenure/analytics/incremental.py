"""The analytics steps of the pipeline, full and incremental (docs/incremental.md).

Each function takes the store and the step's context (``as_of``, ``since``) and returns the
rows written per table. The full one rebuilds its tables; the incremental one brings them up
to date from what changed since the step's last successful run (``ctx.since``) and writes the
same rows a full rebuild would:

* ``customer_facts`` (and ``purchase_gaps``, the per-person input of the status rhythm):
  the rows of the *touched persons* (:func:`touched_persons`) are computed again from their
  orders only; every other row keeps its per-person columns and gets the as-of columns
  (``T_days``, ``T_weeks``, ``days_since_last_order``, ``as_of``) projected to the new day.
* ``customer_rfm``: quintiles depend on everyone, so computed again from ``customer_facts``
  (no orders read).
* ``customer_status``: from ``customer_facts`` and ``purchase_gaps``
  (:func:`~tenure.analytics.status.status_from_facts`; no orders read), both modes.
* ``stage_history``: the day's statuses appended (a daily append in both modes).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir

from tenure.analytics import facts as person_facts
from tenure.analytics.base import F64, order_person, orders_base
from tenure.analytics.status import purchase_gaps, status_from_facts
from tenure.analytics.touch import attributed_events
from tenure.store import Store

FACTS = "customer_facts"
GAPS = "purchase_gaps"
RFM = "customer_rfm"
STATUS = "customer_status"
#: The identifiers (and their persons) ``customer_facts`` was last built with: what the next
#: incremental run compares the identities with to find the persons a resolution changed.
SEEN = "facts_identities"
#: The identifier kinds the facts read: orders go by customer id then e-mail, events by
#: device then customer id, prospects by e-mail (first seen) and customer record.
SEEN_KINDS = ("customer_id", "email", "anonymous_id")
#: The columns of the orders base the facts and the gaps read.
BASE_COLUMNS = ("order_id", "person_id", "ordered_at", "day", "revenue", "margin", "is_purchase")


class Context(Protocol):
    """What a step runs with (:class:`tenure.pipeline.steps.StepContext`)."""

    as_of: date
    since: datetime | None


def _rows(table: ir.Table) -> int:
    return int(table.count().execute())


def _as_date(value: Any) -> date | None:
    if value is None or value != value:
        return None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    return value.date() if isinstance(value, datetime) else value


def seen_identities(store: Store) -> ir.Table:
    """kind, value, person_id, first_seen of the identifiers the facts read."""
    ids = store.table("identities")
    ids = ids.filter(ids.kind.isin(SEEN_KINDS))
    return ids.select("kind", "value", "person_id", "first_seen")


# -- customer_facts --------------------------------------------------------------------------
def build_facts(store: Store, ctx: Context) -> dict[str, int]:
    """The full ``customer_facts`` step: facts, purchase gaps and the identities seen. The
    orders base of the run (``ctx.shared["orders"]``, as of ``ctx.as_of``) when the runner
    shares one, else a scratch copy."""
    shared = (getattr(ctx, "shared", None) or {}).get("orders")
    if shared is not None:
        out = _write_facts(store, ctx.as_of, store.read(shared))
    else:
        base = orders_base(store, as_of=ctx.as_of).select(*BASE_COLUMNS)
        with store.scratch("facts_orders", base) as name:
            out = _write_facts(store, ctx.as_of, store.read(name))
    seen = store.replace(SEEN, seen_identities(store))
    return {**out, SEEN: _rows(seen)}


def _write_facts(store: Store, end: date, orders: ir.Table) -> dict[str, int]:
    facts = store.replace(FACTS, person_facts.customer_facts(store, as_of=end, orders=orders))
    gaps = store.replace(GAPS, purchase_gaps(orders))
    return {FACTS: _rows(facts), GAPS: _rows(gaps)}


def update_facts(store: Store, ctx: Context) -> dict[str, int]:
    """The incremental ``customer_facts`` step: the touched persons' rows computed again
    from their own orders, the others' as-of columns projected to ``ctx.as_of``; a full
    build when there is nothing to build on (no watermark, or a table missing) or when a
    store fact changed since (the reporting currency: every amount). How many persons were
    touched goes to ``ctx.outputs["touched_persons"]`` (when the context has outputs)."""
    if ctx.since is None or not all(store.exists(t) for t in (FACTS, GAPS, SEEN)):
        return build_facts(store, ctx)
    meta = store.table("store_meta")
    if int(meta.filter(meta.set_at > ibis.literal(ctx.since, type="timestamp")).count().execute()):
        return build_facts(store, ctx)
    end = ctx.as_of
    stored = store.read(FACTS)
    before = _as_date(stored.as_of.max().execute()) or end
    with store.scratch("touched", touched_persons(store, ctx.since, before, end)) as t_name:
        touched = store.read(t_name)
        base = orders_base(store, as_of=end, persons=touched).select(*BASE_COLUMNS)
        with store.scratch("facts_orders", base) as o_name:
            orders = store.read(o_name)
            fresh = person_facts.customer_facts(store, as_of=end, orders=orders, persons=touched)
            kept = as_of_projection(_others(stored, touched), end)
            facts = store.replace(FACTS, ibis.union(_like(kept, fresh), fresh))
            new_gaps = purchase_gaps(orders)
            old_gaps = _others(store.read(GAPS), touched)
            gaps = store.replace(GAPS, ibis.union(_like(old_gaps, new_gaps), new_gaps))
            out = {FACTS: _rows(facts), GAPS: _rows(gaps)}
            outputs = getattr(ctx, "outputs", None)
            if outputs is not None:
                outputs["touched_persons"] = _rows(touched)
    seen = store.replace(SEEN, seen_identities(store))
    return {**out, SEEN: _rows(seen)}


def _others(table: ir.Table, touched: ir.Table) -> ir.Table:
    """The rows of ``table`` whose person is not touched."""
    keys = touched.select(_t_person="person_id")
    return table.anti_join(keys, table.person_id == keys._t_person)


def _like(table: ir.Table, model: ir.Table) -> ir.Table:
    """``table`` with the columns of ``model``, in its order and types."""
    schema = model.schema()
    return table.select(*[table[c].cast(schema[c]).name(c) for c in model.columns])


def as_of_projection(facts: ir.Table, end: date) -> ir.Table:
    """Stored facts moved to the as-of day ``end``: the columns that depend on the day alone
    (the person's orders unchanged), computed as :func:`~tenure.analytics.facts.customer_facts`
    does."""
    e = ibis.literal(end)
    age = e.delta(facts.first_order_at.date(), unit="day")
    return facts.mutate(
        T_days=age,
        T_weeks=age.cast(F64) / ibis.literal(7.0),
        days_since_last_order=e.delta(facts.last_order_at.date(), unit="day"),
        as_of=e,
    )


# -- the persons to compute again ------------------------------------------------------------
def touched_persons(store: Store, since: datetime, before: date, end: date) -> ir.Table:
    """person_id of every person whose facts may differ from the stored ones (docs/
    incremental.md, "Touched persons"): the persons (and fallback keys: customer id, e-mail)
    of orders, order lines, events and customer records stored since ``since``; of orders
    whose lines' products or whose currency's FX rates were stored since; of the previous
    versions of orders an update replaced since; of orders, events, customer records and
    e-mails dated between the stored facts' day ``before`` and ``end``; of identifiers whose
    person (or first sighting) differs from those the facts were built with; and persons
    deleted since."""
    mark = ibis.literal(since, type="timestamp")
    lo, hi = ibis.literal(min(before, end)), ibis.literal(max(before, end))
    keys = [
        _order_keys(store, mark, lo, hi),
        _event_keys(store, mark, lo, hi),
        _customer_keys(store, mark, lo, hi),
        _identity_keys(store, lo, hi),
        _replaced_order_keys(store, mark),
        _deleted_persons(store, mark),
    ]
    both = ibis.union(*[k.select(person_id=k.person_id.cast("string")) for k in keys])
    both = both.filter(both.person_id.notnull())
    return both.distinct()


def _within(day: ir.DateValue, lo: ir.DateValue, hi: ir.DateValue) -> ir.BooleanValue:
    return (day > lo) & (day <= hi)


def _order_keys(
    store: Store, mark: ir.TimestampScalar, lo: ir.DateValue, hi: ir.DateValue
) -> ir.Table:
    """Persons of the orders stored since ``mark`` or dated in (lo, hi], and of orders whose
    lines, products or FX rates were stored since ``mark``."""
    from tenure.identity import attributed

    o = attributed(store, "orders")
    items = store.table("order_items")
    products = store.table("products")
    changed = products.filter(products.imported_at > mark).select(c_product="product_id")
    costed = items.semi_join(changed, items.product_id == changed.c_product)
    lines = ibis.union(
        items.filter(items.imported_at > mark).select("order_id"),
        costed.select("order_id"),
    )
    fx = store.table("fx_rates")
    fx = fx.filter(fx.imported_at > mark)
    rated = fx.group_by(fx_cur=fx.currency.upper()).agg(fx_from=fx.date.min())
    j = o.left_join(rated, o.currency.upper() == rated.fx_cur)
    hit = (
        (j.imported_at > mark)
        | _within(j.ordered_at.date(), lo, hi)
        | j.order_id.isin(lines.order_id)
        | (j.fx_from.notnull() & (j.ordered_at.date() >= j.fx_from))
    )
    return j.filter(hit).select(person_id=order_person(j))


def _event_keys(
    store: Store, mark: ir.TimestampScalar, lo: ir.DateValue, hi: ir.DateValue
) -> ir.Table:
    """Persons of the events stored since ``mark`` or dated in (lo, hi]."""
    e = attributed_events(store)
    hit = (e.imported_at > mark) | _within(e.timestamp.date(), lo, hi)
    return e.filter(hit).select("person_id")


def _customer_keys(
    store: Store, mark: ir.TimestampScalar, lo: ir.DateValue, hi: ir.DateValue
) -> ir.Table:
    """Persons of the customer records stored since ``mark`` or created in (lo, hi]."""
    c = store.table("customers")
    c = c.filter((c.imported_at > mark) | _within(c.created_at.date(), lo, hi))
    ids = store.table("identities")
    cust = ids.filter(ids.kind == "customer_id").select(cid="value", pid="person_id")
    j = c.left_join(cust, c.customer_id == cust.cid)
    return j.select(person_id=ibis.coalesce(j.pid, j.customer_id.strip().nullif("")))


def _identity_keys(store: Store, lo: ir.DateValue, hi: ir.DateValue) -> ir.Table:
    """Persons (and the identifiers themselves, the fallback keys) of identifiers added,
    removed or moved to another person since the facts were built, or first seen (e-mails:
    prospects) in (lo, hi]."""
    now = seen_identities(store)
    before = store.read(SEEN).select(*now.columns)
    changed = ibis.union(now.difference(before), before.difference(now))
    keys = [
        changed.select("person_id"),
        changed.select(person_id=changed.value),
        changed.select(person_id=changed.value.strip().lower()),
    ]
    mails = now.filter((now.kind == "email") & _within(now.first_seen.date(), lo, hi))
    return ibis.union(*keys, mails.select("person_id"))


def _json_text(row: ir.StringValue, name: str) -> ir.StringValue:
    """Text field ``name`` of a ``row_history`` row ('' when absent; the same regular
    expression on DuckDB and Spark)."""
    return row.re_extract(rf'"{name}":"((?:[^"\\]|\\.)*)"', 1)


def _replaced_order_keys(store: Store, mark: ir.TimestampScalar) -> ir.Table:
    """Persons of the previous versions of orders (and order lines) an update replaced since
    ``mark``: their customer id and e-mail, as themselves and through the identities (an
    order moved to another customer leaves its old person)."""
    h = store.table("row_history")
    h = h.filter(h.replaced_at > mark)
    old = h.filter(h.entity == "orders")
    cid = _json_text(old.row, "customer_id").strip().nullif("")
    mail = _json_text(old.row, "email").strip().lower().nullif("")
    raw = old.select(cid=cid, mail=mail)
    ids = store.table("identities")
    by_id = ids.filter((ids.kind == "customer_id") & ids.value.isin(raw.cid))
    by_mail = ids.filter((ids.kind == "email") & ids.value.isin(raw.mail))
    lines = h.filter(h.entity == "order_items")
    line_orders = lines.select(l_order=_json_text(lines.row, "order_id"))
    from tenure.identity import attributed

    o = attributed(store, "orders")
    o = o.semi_join(line_orders, o.order_id == line_orders.l_order)
    return ibis.union(
        raw.select(person_id=raw.cid),
        raw.select(person_id=raw.mail),
        by_id.select("person_id"),
        by_mail.select("person_id"),
        o.select(person_id=order_person(o)),
    )


def _deleted_persons(store: Store, mark: ir.TimestampScalar) -> ir.Table:
    """Persons a privacy deletion removed since ``mark``."""
    a = store.table("privacy_audit")
    return a.filter((a.at > mark) & (a.action == "delete")).select("person_id")


# -- the steps reading customer_facts -----------------------------------------------------------
def build_rfm(store: Store, ctx: Context) -> dict[str, int]:
    """``customer_rfm`` from the stored facts (both modes: quintiles depend on everyone, and
    computing them from the facts reads no order)."""
    from tenure.analytics.rfm import rfm

    table = store.replace(RFM, rfm(store, as_of=ctx.as_of, facts=store.read(FACTS)))
    return {RFM: _rows(table)}


def build_status(store: Store, ctx: Context) -> dict[str, int]:
    """``customer_status`` from the stored facts and purchase gaps (both modes)."""
    expr = status_from_facts(store, store.read(FACTS), store.read(GAPS), ctx.as_of)
    return {STATUS: _rows(store.replace(STATUS, expr))}


def record_history(store: Store, ctx: Context) -> dict[str, int]:
    """``stage_history``: the statuses of ``customer_status`` recorded as of ``ctx.as_of``
    (the same daily append in both modes)."""
    from tenure.analytics.stages import TABLE, record_stages

    return {TABLE: record_stages(store, store.read(STATUS), ctx.as_of)}
