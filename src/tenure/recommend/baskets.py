"""The baskets every recommender reads: one row per (basket, product).

Definitions (docs/recommendations.md):

* **purchase line**: a product of a purchase order (:func:`tenure.analytics.base.orders_base`'s
  ``is_purchase``: refunded-in-full, negative and void orders are not purchases) up to the end
  of the as-of day. The product is the line's ``product_id``, else the catalogue's product of
  its ``sku``, else the sku itself. A product bought twice in one order (two lines) is one row:
  a basket is a *set* of products. Lines with neither a product id nor a sku cannot be placed
  in any basket: :func:`unplaced_lines` counts them and :func:`basket_warnings` says so.
* **cart line** (``source="carts"``): a product of a ``Product Added`` track event, in a cart
  session: the events of one device (``anonymous_id``, else ``user_id``) with less than
  :data:`SESSION_GAP_MINUTES` between consecutive adds. The session is the basket.
* **basket size**: its count of distinct products. Baskets of more than ``max_basket``
  products are left out of pairs and rules (:mod:`tenure.recommend.rules`): one wholesale
  order of 300 products would otherwise add 44,850 pairs, more than most real pairs count.

Every function returns an Ibis expression (the same rows on DuckDB and PySpark) or plain
Python values; nothing here writes to the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.analytics.base import as_date, orders_base
from tenure.errors import ConfigError
from tenure.store import Store

#: Columns of every lines table (the contract between the recommenders).
LINE_COLUMNS = ("order_id", "product_id", "person_id", "ordered_at")
#: Default cap on basket size (distinct products) for pairs and rules.
MAX_BASKET = 50
#: Minutes without a ``Product Added`` event that end a cart session.
SESSION_GAP_MINUTES = 30
#: ``Product Added`` event name (Segment's e-commerce spec).
PRODUCT_ADDED = "Product Added"
SOURCES = ("orders", "carts")


#: Leading or trailing whitespace: the characters Ibis's ``strip`` removes (space, tab, line
#: feed, carriage return, vertical tab, form feed), as a regular expression.
_EDGE_SPACE = r"^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$"


def blank_to_null(value: ir.StringValue) -> ir.StringValue:
    r"""``value`` without leading or trailing whitespace, with an empty string as null.

    Not Ibis's ``strip``: on PySpark it compiles to ``TRIM(' \t\n\r\v\f' FROM x)``, and
    Spark reads the unknown escapes ``\v`` and ``\f`` as the letters v and f, so it also cut
    a trailing "f" off device ids ("...3c52f3ff8abf" became "...3c52f3ff8ab"). A regular
    expression's escapes reach both engines' regex engines intact."""
    return value.re_replace(_EDGE_SPACE, "").nullif("")


def _end_of(as_of: date | datetime) -> datetime:
    """The first instant after the as-of day (lines are kept strictly before it)."""
    return datetime.combine(as_date(as_of) + timedelta(days=1), time())


def _sku_products(store: Store) -> ir.Table:
    """sku -> the catalogue's product id (the smallest, when a sku names several)."""
    p = store.table("products")
    known = p.filter(blank_to_null(p.sku).notnull() & blank_to_null(p.product_id).notnull())
    return known.group_by(c_sku=blank_to_null(known.sku)).agg(
        c_product=blank_to_null(known.product_id).min()
    )


def _purchase_items(store: Store, as_of: date | datetime | None) -> ir.Table:
    """The order lines of purchase orders, with the order's person and time, and the line's
    product (null when it has neither product id nor sku)."""
    orders = orders_base(store, as_of=as_of)
    orders = orders.filter(orders.is_purchase).select(
        o_order="order_id", person_id="person_id", ordered_at="ordered_at"
    )
    items = store.table("order_items")
    items = items.select(
        i_order=items.order_id,
        i_product=blank_to_null(items.product_id),
        i_sku=blank_to_null(items.sku),
    )
    joined = items.join(orders, items.i_order == orders.o_order)
    skus = _sku_products(store)
    joined = joined.left_join(skus, joined.i_sku == skus.c_sku)
    product = ibis.coalesce(joined.i_product, joined.c_product, joined.i_sku)
    return joined.select(
        order_id=joined.i_order,
        product_id=product,
        person_id=joined.person_id,
        ordered_at=joined.ordered_at,
    )


def purchase_lines(
    store: Store,
    as_of: date | None = None,
    *,
    source: str = "orders",
    gap_minutes: int = SESSION_GAP_MINUTES,
) -> ir.Table:
    """One row per (order_id, product_id) of every purchase order up to the end of ``as_of``
    (None: every order, whatever its day), columns ``order_id, product_id, person_id,
    ordered_at``. ``source="carts"``: the cart sessions of the events instead
    (:func:`cart_lines`, ``order_id`` is the session's id). Lines with neither product id nor
    sku are not in it (:func:`unplaced_lines` counts them)."""
    if source not in SOURCES:
        raise ConfigError(
            f"The 'source' parameter of purchase_lines must be one of {', '.join(SOURCES)}. "
            f"Got {source!r} instead."
        )
    if source == "carts":
        return cart_lines(store, as_of, gap_minutes=gap_minutes)
    lines = _purchase_items(store, as_of)
    return lines.filter(lines.product_id.notnull()).select(*LINE_COLUMNS).distinct()


def unplaced_lines(store: Store, as_of: date | None = None) -> tuple[int, list[str]]:
    """Lines of purchase orders with neither a product id nor a sku (they are in no basket):
    their count and up to five of their order ids."""
    lines = _purchase_items(store, as_of)
    missing = lines.filter(lines.product_id.isnull())
    count = int(missing.count().execute())
    if not count:
        return 0, []
    examples = missing.select("order_id").distinct().order_by("order_id").limit(5)
    return count, examples.to_pyarrow().column("order_id").to_pylist()


def _event_product(properties: ir.StringValue, key: str) -> ir.StringValue:
    """The value of ``key`` in an event's properties JSON, as text (a string or a number; the
    same extraction on every engine, unlike the engines' JSON functions)."""
    pattern = f'"{key}"\\s*:\\s*"?([^",}}]*)'
    return blank_to_null(properties.re_extract(pattern, 1))


def cart_events(store: Store, as_of: date | datetime | None = None) -> ir.Table:
    """``Product Added`` events with their device, person, time and product (null when the
    properties name neither ``product_id`` nor ``sku``)."""
    from tenure.identity import attributed

    e = attributed(store, "events")
    added = e.filter((e.type == "track") & (e.event == PRODUCT_ADDED) & e.timestamp.notnull())
    if as_of is not None:
        added = added.filter(added.timestamp < ibis.literal(_end_of(as_of)))
    skus = _sku_products(store)
    props = ibis.coalesce(added.properties, ibis.literal(""))
    sku = _event_product(props, "sku")
    ev = added.select(
        device=ibis.coalesce(blank_to_null(added.anonymous_id), blank_to_null(added.user_id)),
        person_id=ibis.coalesce(
            added.person_id, blank_to_null(added.user_id), blank_to_null(added.anonymous_id)
        ),
        at=added.timestamp,
        e_product=_event_product(props, "product_id"),
        e_sku=sku,
    )
    ev = ev.filter(ev.device.notnull())
    ev = ev.left_join(skus, ev.e_sku == skus.c_sku)
    return ev.select(
        "device",
        "person_id",
        "at",
        product_id=ibis.coalesce(ev.e_product, ev.c_product, ev.e_sku),
    )


def cart_lines(
    store: Store, as_of: date | datetime | None = None, *, gap_minutes: int = SESSION_GAP_MINUTES
) -> ir.Table:
    """Baskets from cart sessions: one row per (session, product) of the ``Product Added``
    events up to the end of ``as_of``, columns ``order_id`` (``cart:<device>:<n>``, the n-th
    session of the device from 1), ``product_id``, ``person_id`` (the session's first event's
    person), ``ordered_at`` (the session's first add). A session ends after ``gap_minutes``
    without an add."""
    if gap_minutes <= 0:
        raise ConfigError(
            "The 'gap_minutes' parameter of cart_lines must be a positive integer. "
            f"Got {gap_minutes!r} instead."
        )
    ev = cart_events(store, as_of)
    ev = ev.filter(ev.product_id.notnull())
    seconds = ev.at.epoch_seconds().cast("int64")
    ev = ev.mutate(_s=seconds)
    w = ibis.window(group_by=ev.device, order_by=[ev._s, ev.product_id])
    gap = ev._s - ev._s.lag().over(w)
    starts = ibis.ifelse(gap.isnull() | (gap >= gap_minutes * 60), 1, 0)
    ev = ev.mutate(_start=starts)
    numbered = ev.mutate(_n=ev._start.cumsum().over(w))
    first = numbered.group_by(["device", "_n"]).agg(
        person_id=numbered.person_id.argmin(numbered._s),
        ordered_at=numbered.at.min(),
    )
    items = numbered.select("device", "_n", "product_id").distinct()
    joined = items.join(first, ["device", "_n"])
    order_id = ibis.literal("cart:") + joined.device + ":" + joined._n.cast("string")
    return joined.select(
        order_id=order_id,
        product_id=joined.product_id,
        person_id=joined.person_id,
        ordered_at=joined.ordered_at,
    )


@dataclass
class BasketSummary:
    """What the baskets hold: counts, and the warnings a caller prints."""

    lines: int
    baskets: int
    multi_item: int
    products: int
    capped: int
    largest: int
    max_basket: int
    warnings: list[str] = field(default_factory=list)


def basket_summary(lines: ir.Table, *, max_basket: int = MAX_BASKET) -> BasketSummary:
    """Counts of ``lines`` (columns ``order_id, product_id``) and the warnings that go with
    them: no basket at all, no basket of two or more products (pairs and rules are then
    empty), baskets left out for being larger than ``max_basket``."""
    sizes = lines.group_by("order_id").agg(size=lines.product_id.nunique())
    row = (
        sizes.aggregate(
            lines=sizes.size.sum(),
            baskets=sizes.count(),
            multi=sizes.count(where=sizes.size >= 2),
            capped=sizes.count(where=sizes.size > max_basket),
            largest=sizes.size.max(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    products = int(lines.product_id.nunique().execute())
    out = BasketSummary(
        lines=int(row["lines"] or 0),
        baskets=int(row["baskets"] or 0),
        multi_item=int(row["multi"] or 0),
        products=products,
        capped=int(row["capped"] or 0),
        largest=int(row["largest"] or 0),
        max_basket=max_basket,
    )
    out.warnings = _summary_warnings(out)
    return out


def _summary_warnings(s: BasketSummary) -> list[str]:
    if s.baskets == 0:
        return [
            "There are no baskets: no purchase order has a line with a product id or sku, "
            "so pairs, rules and cart completions are empty. Import the orders with their "
            "lines (`tenure import orders` of a file with a product_id or sku column per "
            "line; docs/import-mapping.md)."
        ]
    notes = []
    if s.multi_item == 0:
        notes.append(
            f"None of the {s.baskets:,} baskets holds two or more distinct products, so "
            "pairs, rules and cart completions are empty (frequently bought together needs "
            "orders of several products; cart sessions from the events are another source)."
        )
    if s.capped:
        notes.append(
            f"{s.capped:,} basket(s) of more than {s.max_basket:,} products (the largest has "
            f"{s.largest:,}) are left out of pairs and rules, so that a few huge orders do not "
            "dominate them (raise max_basket to count them)."
        )
    return notes


def basket_warnings(
    store: Store,
    lines: ir.Table | None = None,
    *,
    as_of: date | None = None,
    max_basket: int = MAX_BASKET,
) -> list[str]:
    """Warnings about the purchase baskets of ``store`` (``lines``: default
    :func:`purchase_lines`): order lines in no basket, no multi-item basket, capped baskets.
    Empty when there is nothing to say."""
    if lines is None:
        lines = purchase_lines(store, as_of)
    notes = []
    count, examples = unplaced_lines(store, as_of)
    if count:
        notes.append(
            f"{count:,} order line(s) of purchase orders have neither a product_id nor a sku, "
            f"so they are in no basket (orders {', '.join(examples)}). Fill their product_id "
            "or sku in order_items and import them again."
        )
    return notes + basket_summary(lines, max_basket=max_basket).warnings


def baskets_table(baskets: Iterable[Iterable[str]], *, prefix: str = "B") -> pa.Table:
    """Baskets given as lists of product ids as a lines table (:data:`LINE_COLUMNS`; basket
    i, from 1, is order ``<prefix>00000i``; no person or time): external baskets (the
    groceries of the tests and the evaluation) for :meth:`Store.upload`. Ids are trimmed;
    blank ones and repeats within a basket are left out."""
    orders: list[str] = []
    products: list[str] = []
    for i, items in enumerate(baskets, start=1):
        seen: set[str] = set()
        for item in items:
            product = str(item).strip()
            if product and product not in seen:
                seen.add(product)
                orders.append(f"{prefix}{i:06d}")
                products.append(product)
    n = len(orders)
    return pa.table(
        {
            "order_id": pa.array(orders, pa.string()),
            "product_id": pa.array(products, pa.string()),
            "person_id": pa.nulls(n, pa.string()),
            "ordered_at": pa.nulls(n, pa.timestamp("us")),
        }
    )


def read_basket_file(path: Path | str) -> pa.Table:
    """A market-basket text file (one basket per line, its items comma-separated, no header:
    the format of the arules ``Groceries`` data) as a lines table (:func:`baskets_table`)."""
    with open(path, encoding="utf-8") as handle:
        return baskets_table(line.rstrip("\r\n").split(",") for line in handle)
