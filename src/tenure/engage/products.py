"""The products a send names (``send: {..., products: cart, count: 3}``, docs/flows.md):
resolved set-based per stay, as a JSON list of product ids for the message's payload.

* ``cart``: the products the person added to the cart (``Product Added`` events, property
  ``product_id``) in the day up to entering the flow, the latest added first;
* ``frequently_bought_together``: the products most often bought with the trigger event's
  product (its ``product_id`` property), from ``product_pairs``, the highest lift first;
* ``next_products``: the person's ``product_recommendations``, best rank first.

A table not built yet, or nothing to name, gives the empty list ``[]``.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from tenure.engage.triggers import CART_WINDOW, TS, Context, property_text


def _cart(ctx: Context, rows: ir.Table, count: int) -> ir.Table:
    start = rows.entered_at - ibis.interval(seconds=int(CART_WINDOW.total_seconds()))
    e = ctx.events()
    e = e.filter(e.event == "Product Added")
    span = rows.aggregate(lo=rows.entered_at.min(), hi=rows.entered_at.max()).to_pyarrow()
    lo, hi = span.column("lo")[0].as_py(), span.column("hi")[0].as_py()
    # only the additions in the window of some row are read (bounds the scan of the
    # events; the join below keeps each row's own window); no row: none
    e = (
        e.filter(ibis.literal(False))
        if lo is None
        else e.filter(e.timestamp > ibis.literal(lo - CART_WINDOW, type=TS), e.timestamp <= hi)
    )
    j = rows.inner_join(
        e, [rows.person_id == e.person_id, e.timestamp <= rows.entered_at, e.timestamp > start]
    )
    # the product id read from the few events joined, not from every addition
    j = j.select(
        l_person=rows.person_id, l_trigger=rows.trigger_id, at=e.timestamp, props=e.properties
    )
    j = j.mutate(item=property_text(j.props, "product_id")).filter(lambda t: t.item.notnull())
    per = j.group_by(["l_person", "l_trigger", "item"]).agg(at=j.at.max())
    return per.mutate(order=-per.at.epoch_seconds())


def _together(ctx: Context, rows: ir.Table, count: int, shift: timedelta) -> ir.Table | None:
    if not ctx.store.exists("product_pairs"):
        return None
    # the trigger events themselves, by id (no person needed: the rows have it), the
    # product id read from those only
    e = ctx.store.table("events")
    # an event trigger fired ``shift`` after its event: only the events of the rows'
    # trigger times are read (a time filter before the id lookup over every event)
    span = rows.aggregate(lo=rows.trigger_at.min(), hi=rows.trigger_at.max()).to_pyarrow()
    lo, hi = span.column("lo")[0].as_py(), span.column("hi")[0].as_py()
    if lo is None:
        return None
    e = e.filter(
        e.timestamp >= ibis.literal(lo - shift, type=TS),
        e.timestamp <= ibis.literal(hi - shift, type=TS),
    )
    e = e.semi_join(rows, e.message_id == rows.trigger_id)
    seeds = e.select(s_id=e.message_id, seed=property_text(e.properties, "product_id"))
    pairs = ctx.store.read("product_pairs")
    # each seed's best ``count`` pairs first (a row's list is its seed's: the same top
    # ``count``), not every pair of every seed ranked per row
    lift = -pairs.lift.cast("float64")
    best = ibis.row_number().over(group_by=pairs.product_id, order_by=[lift, pairs.other_id])
    pairs = pairs.mutate(_best=best).filter(lambda t: t._best < count)
    j = rows.inner_join(seeds, rows.trigger_id == seeds.s_id)
    j = j.inner_join(pairs, j.seed == pairs.product_id)
    return j.select(
        l_person=j.person_id,
        l_trigger=j.trigger_id,
        item=j.other_id,
        order=-j.lift.cast("float64"),
    )


def _next(ctx: Context, rows: ir.Table, count: int) -> ir.Table | None:
    if not ctx.store.exists("product_recommendations"):
        return None
    r = ctx.store.read("product_recommendations")
    j = rows.inner_join(r, rows.person_id == r.person_id)
    return j.select(
        l_person=rows.person_id, l_trigger=j.trigger_id, item=j.product_id, order=j["rank"]
    )


def with_products(
    ctx: Context, source: str, count: int, rows: ir.Table, *, shift: timedelta = timedelta(0)
) -> ir.Table:
    """``rows`` with ``products``: the JSON list text of at most ``count`` product ids.
    ``shift``: how long after its event a trigger fires (``no_order_within``; the event of
    a stay happened at its ``trigger_at`` minus ``shift``)."""
    if source == "frequently_bought_together":
        found = _together(ctx, rows, count, shift)
    else:
        found = {"cart": _cart, "next_products": _next}[source](ctx, rows, count)
    if found is None:
        return rows.mutate(products=ibis.literal("[]"))
    ranked = found.mutate(
        pos=ibis.row_number().over(
            group_by=[found.l_person, found.l_trigger], order_by=[found.order, found.item]
        )
    )
    top = ranked.filter(ranked.pos < count)
    safe = top.item.cast("string").replace("\\", "\\\\").replace('"', '\\"')
    quoted = ibis.literal('"') + safe + ibis.literal('"')
    # one column per position, joined in order (an ordered group_concat is not on Spark);
    # the join skips the positions a list does not fill
    slots = [f"_item{k}" for k in range(count)]
    per = top.group_by(["l_person", "l_trigger"]).agg(
        **{
            slot: ibis.ifelse(top.pos == k, quoted, ibis.null("string")).max()
            for k, slot in enumerate(slots)
        }
    )
    lists = per.select(
        "l_person", "l_trigger", items=ibis.literal(",").join([per[s] for s in slots])
    )
    k = rows.left_join(
        lists, [rows.person_id == lists.l_person, rows.trigger_id == lists.l_trigger]
    )
    text = ibis.literal("[") + ibis.coalesce(k.items, ibis.literal("")) + ibis.literal("]")
    return k.select(*rows.columns, products=text)
