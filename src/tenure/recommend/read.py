"""Reading recommendations: what to show a person, what completes a cart, the pairs bought
together. The functions ``tenure recommend``, flow templates and the HTTP API call; each
returns a data frame whose every row carries its ``reason``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import store_end
from tenure.errors import ConfigError, NotFoundError
from tenure.identity.lookup import find_person, labels_of
from tenure.recommend.build import CANDIDATES, PAIRS, RECOMMENDATIONS
from tenure.recommend.rules import pair_reason
from tenure.store import Store

#: The catalogue columns shown next to a product id.
DETAILS = ("title", "category", "price")


class ProductNotFoundError(NotFoundError):
    """A product named by the user is in neither the catalogue nor any order line."""


def _check_top(top: int) -> None:
    if top < 1:
        raise ConfigError(f"The number of suggestions must be 1 or more. Got {top} instead.")


def _catalogue(store: Store) -> ir.Table | None:
    return store.read("products") if store.exists("products") else None


def _unavailable(products: ir.Table) -> ir.BooleanValue:
    """Catalogue rows that must not be suggested: inactive, or out of stock (unknown stock
    and unknown activity are suggested)."""
    off = ibis.literal(False)
    if "active" in products.columns:
        off = off | (products.active.notnull() & ~products.active)
    if "inventory" in products.columns:
        off = off | (products.inventory.notnull() & (products.inventory <= 0))
    return off


def available(store: Store, frame: pd.DataFrame, column: str = "product_id") -> pd.DataFrame:
    """``frame`` without the rows whose product the catalogue marks inactive or out of
    stock."""
    products = _catalogue(store)
    if products is None or frame.empty:
        return frame
    off = products.filter(_unavailable(products)).product_id.to_pyarrow().to_pylist()
    return frame[~frame[column].isin(set(off))].reset_index(drop=True)


def with_details(store: Store, frame: pd.DataFrame, column: str = "product_id") -> pd.DataFrame:
    """``frame`` with the catalogue's title, category and price of ``column`` after it (null
    for a product missing from the catalogue): the catalogue rows of its products, read by
    product id in one statement."""
    prefix = "" if column == "product_id" else f"{column.removesuffix('_id')}_"
    names = {d: f"{prefix}{d}" for d in DETAILS}
    currencies: list[str] = []
    if frame.empty or not store.exists("products"):
        details = pd.DataFrame(columns=[column, *names.values()])
    else:
        wanted = sorted(set(frame[column].dropna()))
        read = ("product_id", *DETAILS, "currency")
        rows = store.rows_where_in("products", "product_id", wanted, columns=read).to_pandas()
        currencies = sorted({c for c in rows["currency"] if isinstance(c, str) and c})
        details = rows.drop(columns="currency").rename(columns={"product_id": column, **names})
    out = frame.merge(details, on=column, how="left")
    at = list(frame.columns).index(column) + 1
    order = [*frame.columns[:at], *names.values(), *frame.columns[at:]]
    out = out[order]
    out.attrs.update(frame.attrs)
    if len(currencies) == 1:  # prices in one currency: money at its minor unit
        out.attrs["money"] = [*out.attrs.get("money", []), names["price"]]
        out.attrs["currency"] = currencies[0]
    return out


def known_products(store: Store) -> pd.DataFrame:
    """Every product a user may name: the catalogue's (id, sku, title) and the ids seen in
    order lines."""
    frames = []
    products = _catalogue(store)
    if products is not None:
        frames.append(products.select("product_id", "sku", "title").to_pandas())
    if store.exists("order_items"):
        items = store.read("order_items")
        pid = ibis.coalesce(items.product_id, items.sku)
        seen = items.filter(pid.notnull()).select(product_id=pid).distinct().to_pandas()
        frames.append(seen.assign(sku=None, title=None))
    if not frames:
        return pd.DataFrame(columns=["product_id", "sku", "title"])
    return pd.concat(frames, ignore_index=True).drop_duplicates("product_id")


def resolve_products(store: Store, items: Sequence[str]) -> list[str]:
    """The product ids ``items`` name: each a product id, a SKU or a title (any case).
    A :class:`ProductNotFoundError` names the first unknown one and its close matches."""
    known = known_products(store)
    by_text: dict[str, str] = {}
    for col in ("title", "sku", "product_id"):  # ids win over skus, skus over titles
        for value, pid in zip(known[col], known["product_id"], strict=True):
            if isinstance(value, str):
                by_text[value.strip().casefold()] = pid
    out = []
    for item in items:
        pid = by_text.get(item.strip().casefold())
        if pid is None:
            close = difflib.get_close_matches(item.strip().casefold(), list(by_text), n=3)
            hint = (
                f"Close matches: {', '.join(repr(by_text[c]) for c in close)}."
                if close
                else "Give a product id, SKU or title from the catalogue (`tenure recommend "
                "pairs` lists products bought together)."
            )
            raise ProductNotFoundError(
                f"No product {item!r} in the catalogue or in any order line.", hint=hint
            )
        out.append(pid)
    return list(dict.fromkeys(out))


def best_sellers(
    store: Store,
    *,
    top: int = 10,
    exclude: Sequence[str] = (),
    as_of: date | None = None,
    lines: ir.Table | None = None,
) -> pd.DataFrame:
    """The ``top`` products in the most purchase orders up to ``as_of`` (default: the
    store's as-of day), leaving out ``exclude`` and unavailable products: the fill when
    nothing better is known (``lines``: the purchase lines already read, if any). Columns
    ``product_id, orders, reason``."""
    from tenure.recommend.baskets import purchase_lines

    if lines is None:
        lines = purchase_lines(store, as_of=as_of or store_end(store))
    counts = lines.group_by("product_id").agg(orders=lines.order_id.nunique())
    if exclude:
        counts = counts.filter(~counts.product_id.isin(list(exclude)))
    ranked = counts.order_by([ibis.desc("orders"), "product_id"]).limit(top + 50).to_pandas()
    ranked = available(store, ranked).head(top)
    ranked["reason"] = [
        f"best seller: in {n:,} order{'' if n == 1 else 's'}" for n in ranked["orders"]
    ]
    return ranked.reset_index(drop=True)


def recommend_for(store: Store, person: str, *, top: int = 10) -> pd.DataFrame:
    """The products to show ``person`` (any identifier :func:`tenure.identity.find_person`
    understands), best first, from ``product_recommendations``, with the catalogue's title,
    category and price. ``attrs``: ``person_id``, ``matched_by``, ``categories`` (the
    person's rows of ``category_candidates``) and ``notes``. A person with no row (nothing
    bought yet) gets the best-sellers, and a note saying so."""
    _check_top(top)
    match = find_person(store, person)
    notes: list[str] = []
    frame = pd.DataFrame(columns=["rank", "product_id", "score", "reason"])
    if store.exists(RECOMMENDATIONS):
        frame = _mine(
            store, RECOMMENDATIONS, match.person_id, ("rank", "product_id", "score", "reason")
        )
        frame = frame.head(top)
    if frame.empty:
        notes.append(
            f"No personal recommendations for {match.person_id} (nothing bought yet, or "
            "`tenure run` has not built them): showing the best-sellers."
        )
        fill = best_sellers(store, top=top)
        frame = pd.DataFrame(
            {
                "rank": range(1, len(fill) + 1),
                "product_id": fill["product_id"],
                "score": None,
                "reason": fill["reason"],
            }
        )
    frame = with_details(store, frame)
    frame.attrs.update(
        person_id=match.person_id,
        label=_label(store, match.person_id),
        matched_by=match.kind,
        categories=_categories(store, match.person_id),
        notes=notes,
    )
    return frame


def _mine(store: Store, table: str, person_id: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """The person's rows of ``table`` by rank (read by person: the table's person index,
    :data:`tenure.store.indexes.PERSON_LISTS`, rather than an ordered scan)."""
    rows = store.rows_where_in(table, "person_id", [person_id], columns=columns).to_pandas()
    return rows.sort_values("rank", kind="stable").reset_index(drop=True)


def _label(store: Store, person_id: str) -> str:
    """``P-... (C0000042, pia@example.com)``: the person id and what people know them by."""
    found = labels_of(store.rows_where_in("identities", "person_id", [person_id]).to_pylist())
    known = [v for v in (found["customer_id"], found["email"], found["other_id"]) if v]
    return f"{person_id} ({', '.join(known)})" if known else person_id


def _categories(store: Store, person_id: str) -> pd.DataFrame:
    columns = ("rank", "category", "propensity", "reason")
    if not store.exists(CANDIDATES):
        return pd.DataFrame(columns=list(columns))
    return _mine(store, CANDIDATES, person_id, columns)


def recommend_cart(
    store: Store, items: Sequence[str], *, top: int = 10, source: str = "orders"
) -> pd.DataFrame:
    """The products that most often complete a cart of ``items`` (product ids, SKUs or
    titles), best first, each with the rule behind it
    (:func:`tenure.recommend.rules.complete_basket` over the purchase orders up to the
    store's as-of day, or with ``source="carts"`` the cart sessions of the events:
    :func:`tenure.recommend.baskets.purchase_lines`); unavailable products left out;
    best-sellers fill the list when too few baskets hold the cart's products (``reason``
    says which)."""
    from tenure.recommend.baskets import purchase_lines
    from tenure.recommend.rules import complete_basket

    _check_top(top)
    if not items:
        raise ConfigError("Name at least one product of the cart (a product id, SKU or title).")
    cart = resolve_products(store, items)
    lines = purchase_lines(store, as_of=store_end(store), source=source)
    found = complete_basket(lines, cart, top=top + 20, unknown="ignore")
    frame = available(store, found.drop(columns="rank")).head(top)
    if len(frame) < top:
        taken = [*cart, *frame["product_id"]]
        fill = best_sellers(store, top=top - len(frame), exclude=taken, lines=lines)
        frame = pd.concat([frame, fill.drop(columns="orders")], ignore_index=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    out = with_details(store, frame)
    out.attrs.update(cart=cart, notes=found.attrs.get("notes", []))
    return out


#: What :func:`top_pairs` may rank by (ties: the others in this order, then the ids).
PAIR_ORDERS = ("together", "lift", "confidence")


def top_pairs(
    store: Store,
    *,
    top: int = 20,
    product: str | None = None,
    by: str = "together",
    min_lift: float = 1.0,
) -> pd.DataFrame:
    """The pairs of ``product_pairs`` with the highest ``by`` (orders ``together``, ``lift``
    or ``confidence``), each pair once, with both products' titles; with ``product``, that
    product's partners. Only pairs whose lift is above ``min_lift`` (default 1: bought
    together more often than chance would have it; 0 keeps every pair). A store with no
    multi-item order gives an empty frame with a note."""
    _check_top(top)
    if by not in PAIR_ORDERS:
        raise ConfigError(
            f"Cannot rank pairs by {by!r}.", hint=f"Rank by one of: {', '.join(PAIR_ORDERS)}."
        )
    if not store.exists(PAIRS):
        raise NotFoundError(
            "The store has no product_pairs yet.",
            hint="`tenure run` builds the recommendations.",
        )
    pairs = store.read(PAIRS)
    if product is not None:
        (pid,) = resolve_products(store, [product])
        pairs = pairs.filter(pairs.product_id == pid)
    else:
        pairs = pairs.filter(pairs.product_id < pairs.other_id)
    pairs = pairs.filter(pairs.lift > min_lift)
    cols = ("product_id", "other_id", "together", "support", "confidence", "lift")
    ranks = [by, *(c for c in PAIR_ORDERS if c != by)]
    best = pairs.order_by([*(ibis.desc(c) for c in ranks), "product_id", "other_id"])
    frame = best.select(*cols).limit(top).to_pandas()
    frame["reason"] = [
        pair_reason(int(t), float(x)) for t, x in zip(frame.together, frame.lift, strict=True)
    ]
    out = with_details(store, with_details(store, frame), "other_id")
    out = out.drop(columns=["category", "price", "other_category", "other_price"])
    out.attrs["notes"] = (
        [
            "No two products were bought together in enough orders, more often than chance "
            f"(lift above {min_lift:g}), to make a pair."
        ]
        if out.empty and product is None
        else []
    )
    return out
