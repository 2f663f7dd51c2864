"""Frequently bought together: product pairs, association rules and completing a cart.

Everything is counted set-based in the engine (a self-join of the basket lines on the basket,
``a.product_id < b.product_id``, grouped), so the same expression gives the same rows on
DuckDB and on PySpark; no basket is looped over in Python.

Definitions (docs/recommendations.md), over the **counted baskets**: the distinct products
of each basket of ``lines`` (:mod:`tenure.recommend.baskets`) holding at most ``max_basket``
products. A larger basket is left out entirely (of every count below, and of ``baskets``),
so one huge order does not dominate, and every measure is still a ratio over one set of
baskets; :func:`tenure.recommend.baskets.basket_summary` reports how many were left out.

Pairs and rules of the same lines: :func:`counted_baskets` counts the baskets and lists the
pairs inside them once (two temporary tables), and :func:`product_pairs` and
:func:`association_rules` given its result read them instead of counting again (the same
rows; on 10M order lines, about half the time of the two alone, docs/benchmarks.md).

* ``together``: baskets holding every product of the itemset; ``baskets``: N, all counted
  baskets (single-product ones too).
* **support** of X -> Y: together(X u Y) / N. **confidence**: together(X u Y) / together(X),
  P(Y | X). **lift**: confidence / (together(Y) / N): how many times likelier Y is in a
  basket holding X than in any basket (1: independent).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.errors import ConfigError, NotFoundError
from tenure.recommend.baskets import MAX_BASKET

F64 = "float64"
#: Columns of :func:`product_pairs`.
PAIR_COLUMNS = (
    "product_id",
    "other_id",
    "together",
    "product_orders",
    "other_orders",
    "baskets",
    "support",
    "confidence",
    "lift",
)
#: Columns of :func:`association_rules`.
RULE_COLUMNS = (
    "antecedent",
    "consequent",
    "size",
    "together",
    "antecedent_orders",
    "consequent_orders",
    "baskets",
    "support",
    "confidence",
    "lift",
    "rule",
)
#: Columns of :func:`complete_basket` and :func:`rank_from_pairs`.
CART_COLUMNS = (
    "rank",
    "product_id",
    "score",
    "together",
    "support",
    "confidence",
    "lift",
    "rule",
    "reason",
)
#: Baskets holding the whole cart needed before :func:`complete_basket` trusts the exact
#: rule {cart} -> {x}; with fewer it ranks from the pair rules of each cart item.
MIN_CART_BASKETS = 20
UNKNOWN_CHOICES = ("error", "ignore")


def pair_reason(together: int, lift: float | None) -> str:
    """The reason shown with a suggestion: "bought together in 212 orders, lift 3.1"."""
    orders = f"bought together in {together:,} order{'' if together == 1 else 's'}"
    if lift is None or lift != lift:  # NaN: unknown lift
        return orders
    return f"{orders}, lift {lift:.1f}"


def _check_max_basket(max_basket: int) -> None:
    if not isinstance(max_basket, int) or max_basket < 2:
        raise ConfigError(
            "The 'max_basket' parameter must be an integer of at least 2 (the largest basket "
            f"counted). Got {max_basket!r} instead."
        )


def shared(expr: ir.Table, kind: str) -> ir.Table:
    """``expr`` as a named subquery (a CTE) of the queries that read it: an expression read
    in several places of one query is then computed once. Ibis inlines a join's result in
    each place that reads it otherwise: the pairs of 2M lines took 4x as long as the same
    SQL with CTEs. The name is the expression's hash: equal expressions share one CTE."""
    return expr.alias(f"tenure_{kind}_{abs(hash(expr.op())) % 10**12}")


def basket_items(lines: ir.Table, *, max_basket: int = MAX_BASKET) -> ir.Table:
    """The counted baskets: distinct ``(order_id, product_id)`` of ``lines``, only baskets of
    at most ``max_basket`` products."""
    return _baskets(lines, max_basket)[0]


def _sized(lines: ir.Table, max_basket: int, *, first: bool = False) -> tuple[ir.Table, ir.Table]:
    """The distinct ``(order_id, product_id)`` of ``lines`` and the baskets of at most
    ``max_basket`` products (``s_order, s_size``, and ``s_first`` its smallest product id
    if ``first``)."""
    _check_max_basket(max_basket)
    b = lines.filter(lines.product_id.notnull() & lines.order_id.notnull())
    b = b.select("order_id", "product_id").distinct()
    by = b.group_by(s_order=b.order_id)
    sizes = (
        by.agg(s_size=b.count(), s_first=b.product_id.min()) if first else by.agg(s_size=b.count())
    )
    return b, sizes.filter(sizes.s_size <= max_basket)


def _baskets(lines: ir.Table, max_basket: int) -> tuple[ir.Table, ir.Table]:
    """:func:`basket_items`, and N, the count of its baskets (one row, column ``n``: counted
    from the baskets' sizes, not as distinct order ids of the lines, 1.3 s of 10M lines)."""
    b, kept = _sized(lines, max_basket)
    joined = b.join(kept, b.order_id == kept.s_order)
    total = kept.aggregate(n=kept.count())
    return shared(joined.select("order_id", "product_id"), "baskets"), shared(total, "n")


@dataclass(frozen=True)
class CountedBaskets:
    """The counted baskets of some lines and the pairs inside them, each stored once
    (:func:`counted_baskets`), in integer codes: ``items`` (``order_id, product_id, first``:
    a basket's code, a product's code; ``first`` marks one product of each basket, so N is
    a count, not a distinct count), ``pairs`` (``order_id, a, z``: every two products
    a < z of one basket), ``products`` (``code, product_id``: the codes numbered in the
    order of the product ids, so a < z of codes is a < z of ids), the cap they were counted
    with."""

    items: ir.Table
    pairs: ir.Table
    products: ir.Table
    max_basket: int

    def baskets(self) -> tuple[ir.Table, ir.Table]:
        """(order_id, product_id) of the counted baskets in codes, and N (one row, ``n``)."""
        first = self.items.filter(self.items.first)
        total = shared(first.aggregate(n=first.count()), "n")
        return self.items.select("order_id", "product_id"), total

    def decoded(self, t: ir.Table, columns: Sequence[str]) -> ir.Table:
        """``t`` with each of ``columns`` (product codes) replaced by its product id."""
        for column in columns:
            d = self.products.select(**{f"d_{column}": "code", f"d_{column}_id": "product_id"})
            j = t.join(d, t[column] == d[f"d_{column}"])
            t = j.select(*[j[f"d_{column}_id"].name(c) if c == column else j[c] for c in t.columns])
        return shared(t, "decoded")  # a relation of its own: joins of two decoded tables


def _decoded(counted: CountedBaskets | None, t: ir.Table, columns: Sequence[str]) -> ir.Table:
    """``t`` with its product columns as product ids (codes of ``counted`` if given)."""
    return t if counted is None else counted.decoded(t, columns)


@contextmanager
def counted_baskets(lines: ir.Table, *, max_basket: int = MAX_BASKET) -> Iterator[CountedBaskets]:
    """The counted baskets of ``lines`` (at most ``max_basket`` products) and the pairs
    inside them, written once to temporary tables of the engine (Ibis ``cache``), dropped
    when the block ends. Pass the result to :func:`product_pairs` and
    :func:`association_rules` in place of the lines: they read these tables instead of
    counting the baskets and their pairs again, and give the same rows::

        with counted_baskets(lines) as counted:
            pairs = product_pairs(counted).to_pyarrow()
            rules = association_rules(counted, min_support=0.002).to_pyarrow()

    Baskets and products are numbered first (integers join, compare and group faster than
    text: the pairs of 10M demo order lines in half the time). The pairs table holds one row
    per pair of products per basket (12.4M rows for 10M demo order lines)."""
    known = lines.filter(lines.product_id.notnull())
    ids = known.select("product_id").distinct()
    numbered = ids.select("product_id", code=ibis.row_number().over(order_by=ids.product_id))
    with numbered.cache() as products:
        coded = lines.join(products, lines.product_id == products.product_id)
        coded = coded.select(order_id=coded.order_id, product_id=coded.code)
        b, kept = _sized(coded, max_basket, first=True)
        kept = kept.select(
            "s_order", "s_first", s_code=ibis.row_number().over(order_by=kept.s_order)
        )
        joined = b.join(kept, b.order_id == kept.s_order)
        flagged = joined.select(
            order_id=joined.s_code,
            product_id=joined.product_id,
            first=joined.product_id == joined.s_first,
        )
        with (
            flagged.cache() as items,
            _in_basket_pairs(items.select("order_id", "product_id")).cache() as pairs,
        ):
            yield CountedBaskets(items, pairs, products, max_basket)


def _source(
    lines: ir.Table | CountedBaskets, max_basket: int | None
) -> tuple[ir.Table, ir.Table, CountedBaskets | None]:
    """The counted baskets and N of ``lines`` (a lines table, or :func:`counted_baskets`,
    whose cap ``max_basket`` must then be, when given), and the counted baskets if given."""
    if not isinstance(lines, CountedBaskets):
        return *_baskets(lines, MAX_BASKET if max_basket is None else max_basket), None
    if max_basket is not None and max_basket != lines.max_basket:
        raise ConfigError(
            f"The 'max_basket' parameter ({max_basket!r}) differs from the cap the baskets "
            f"were counted with ({lines.max_basket!r}).",
            hint="Leave max_basket out when passing counted_baskets(...), or count them "
            "again with this cap.",
        )
    return *lines.baskets(), lines


def _counts(b: ir.Table) -> ir.Table:
    """Baskets holding each product (``c_product, c_orders``)."""
    return b.group_by(c_product=b.product_id).agg(c_orders=b.count())


def _in_basket_pairs(b: ir.Table, *, share: bool = False) -> ir.Table:
    """(order_id, a, z) for every two products a < z of one basket of ``b``. ``share``: as
    a CTE, for a query that reads it twice (the rules: pairs, then triples); a query that
    reads it once counts it as it is joined (kept as a CTE, DuckDB stored the 10M lines'
    pairs first and counted them after: 1.4x the time)."""
    left = b.select(p_order="order_id", a="product_id")
    right = b.select(q_order="order_id", z="product_id")
    j = left.join(right, [left.p_order == right.q_order, left.a < right.z])
    pairs = j.select(order_id=j.p_order, a=j.a, z=j.z)
    return shared(pairs, "basket_pairs") if share else pairs


def _measures(counts: ir.Table, items: ir.Table, total: ir.Table) -> ir.Table:
    """``counts`` (product_id, other_id, together) with the pair measures (PAIR_COLUMNS)."""
    first = items.select(p_product="c_product", product_orders="c_orders")
    second = items.select(o_product="c_product", other_orders="c_orders")
    t = counts.join(first, counts.product_id == first.p_product)
    t = t.join(second, t.other_id == second.o_product).cross_join(total)
    together = t.together.cast(F64)
    n = t.n.cast(F64)
    return t.select(
        product_id=t.product_id,
        other_id=t.other_id,
        together=t.together,
        product_orders=t.product_orders,
        other_orders=t.other_orders,
        baskets=t.n,
        support=together / n,
        confidence=together / t.product_orders.cast(F64),
        lift=together * n / (t.product_orders.cast(F64) * t.other_orders.cast(F64)),
    )


def product_pairs(
    lines: ir.Table | CountedBaskets, *, min_together: int = 2, max_basket: int | None = None
) -> ir.Table:
    """Every pair of products bought together in at least ``min_together`` counted baskets,
    in both directions (A, B) and (B, A), columns :data:`PAIR_COLUMNS`:
    ``together`` baskets holding both, ``product_orders``/``other_orders`` baskets holding
    each, ``baskets`` N, ``support`` together/N, ``confidence`` together/product_orders
    (P(other | product)), ``lift`` confidence / (other_orders/N).

    Baskets of more than ``max_basket`` (default :data:`MAX_BASKET`) distinct products are
    not counted at all (neither in the pairs, nor in the products' orders, nor in N).
    ``lines``: a lines table, or :func:`counted_baskets` of one."""
    if min_together < 1:
        raise ConfigError(
            f"The 'min_together' parameter must be an integer of at least 1. Got {min_together!r}."
        )
    b, total, counted = _source(lines, max_basket)
    pairs = _in_basket_pairs(b) if counted is None else counted.pairs
    together = pairs.group_by(["a", "z"]).agg(together=pairs.count())
    together = _decoded(counted, together.filter(together.together >= min_together), "az")
    both = together.select(product_id="a", other_id="z", together="together").union(
        together.select(product_id="z", other_id="a", together="together")
    )
    return _measures(both, _decoded(counted, _counts(b), ["c_product"]), total)


def _number(value: float) -> ir.FloatingValue:
    """``value`` as the engine's float64 equal to Python's. A float literal would not do:
    DuckDB and Spark read ``0.09090909090909091`` as a DECIMAL, and a DECIMAL threshold times
    11 baskets (1.00000000000000001) left out an itemset of 1 basket in 11 at support 1/11;
    the text of the float (its repr) cast to a double is the float itself."""
    return ibis.literal(repr(float(value))).cast(F64)


def _share(count: ir.IntegerValue, total: ir.IntegerValue) -> ir.FloatingValue:
    """``count / total`` in float64: the support, compared with min_support as mlxtend and
    arules compare it."""
    return count.cast(F64) / total.cast(F64)


def _check_rule_options(min_support: float, min_confidence: float, max_len: int) -> None:
    if not 0 < min_support <= 1:
        raise ConfigError(
            "The 'min_support' parameter must be a float in the range (0, 1]. "
            f"Got {min_support!r} instead."
        )
    if not 0 <= min_confidence <= 1:
        raise ConfigError(
            "The 'min_confidence' parameter must be a float in the range [0, 1]. "
            f"Got {min_confidence!r} instead."
        )
    if max_len not in (2, 3):
        raise ConfigError(
            f"The 'max_len' parameter must be 2 or 3 (items in a rule). Got {max_len!r} instead."
        )


def _rule(
    t: ir.Table,
    antecedent: Sequence[ir.StringValue],
    consequent: ir.StringValue,
    antecedent_orders: ir.IntegerValue,
) -> ir.Table:
    """Rules antecedent -> consequent of ``t`` (columns together, c_orders of the
    consequent, n) with RULE_COLUMNS."""
    together = t.together.cast(F64)
    n = t.n.cast(F64)
    confidence = together / antecedent_orders.cast(F64)
    text = ibis.literal("{") + antecedent[0]
    for item in antecedent[1:]:
        text = text + ", " + item
    return t.select(
        antecedent=ibis.array(list(antecedent)),
        consequent=consequent,
        size=ibis.literal(len(antecedent) + 1, type="int64"),
        together=t.together,
        antecedent_orders=antecedent_orders,
        consequent_orders=t.c_orders,
        baskets=t.n,
        support=together / n,
        confidence=confidence,
        lift=confidence * n / t.c_orders.cast(F64),
        rule=text + "} -> {" + consequent + "}",
    )


def _frequent_triples(pairs: ir.Table, frequent: ir.Table, threshold: ir.FloatingValue) -> ir.Table:
    """(a, m, z, together) of frequent triples a < m < z, counted only for candidates whose
    three pairs are frequent (apriori); ``pairs``: (order_id, a, z) in the baskets,
    ``frequent``: pairs (a, z, together, n)."""
    fp = frequent.select("a", "z")
    p1 = fp.select(x="a", y="z")
    p2 = fp.select(x2="a", y2="z")
    cand = p1.join(p2, [p1.x == p2.x2, p1.y < p2.y2])
    cand = cand.semi_join(fp, [cand.y == fp.a, cand.y2 == fp.z])
    cand = cand.select(ca=cand.x, cm=cand.y, cz=cand.y2)
    # in-basket instances of frequent pairs, extended by a third product of the same basket
    inst = shared(pairs.semi_join(fp, ["a", "z"]), "frequent_pairs")
    i1 = inst.select(o1="order_id", a1="a", m1="z")
    i2 = inst.select(o2="order_id", a2="a", z2="z")
    tri = i1.join(i2, [i1.o1 == i2.o2, i1.a1 == i2.a2, i1.m1 < i2.z2])
    tri = tri.semi_join(cand, [tri.a1 == cand.ca, tri.m1 == cand.cm, tri.z2 == cand.cz])
    counted = tri.group_by(a="a1", m="m1", z="z2").agg(together=tri.count())
    n = frequent.select("n").distinct()
    counted = counted.cross_join(n)
    return counted.filter(_share(counted.together, counted.n) >= threshold)


def association_rules(
    lines: ir.Table | CountedBaskets,
    *,
    min_support: float = 0.01,
    min_confidence: float = 0.1,
    max_len: int = 3,
    max_basket: int | None = None,
) -> ir.Table:
    """Association rules X -> {y} (one product on the right, as arules does) from the
    frequent itemsets of up to ``max_len`` (2 or 3) products of the counted baskets
    (support >= ``min_support``), with confidence >= ``min_confidence``; columns
    :data:`RULE_COLUMNS` (``antecedent`` an array of products in order, ``size`` the items
    of the rule, ``rule`` its text "{a, b} -> {c}").

    Apriori: pairs are counted only of frequent products, triples only where all three
    pairs are frequent. Baskets of more than ``max_basket`` (default :data:`MAX_BASKET`)
    products are not counted. ``lines``: a lines table, or :func:`counted_baskets` of one
    (whose pairs are already listed: they are counted, not listed again)."""
    _check_rule_options(min_support, min_confidence, max_len)
    b, total, counted = _source(lines, max_basket)
    items = _decoded(counted, _counts(b), ["c_product"])
    threshold = _number(min_support)
    if counted is None:
        with_n = items.cross_join(total)
        frequent_items = with_n.filter(_share(with_n.c_orders, with_n.n) >= threshold)
        fb = b.semi_join(frequent_items, b.product_id == frequent_items.c_product)
        pairs = _in_basket_pairs(shared(fb, "frequent"), share=True)
    else:  # a frequent pair's products are frequent: no need to leave the others out first
        pairs = counted.pairs
    together = pairs.group_by(["a", "z"]).agg(together=pairs.count()).cross_join(total)
    coded = together.filter(_share(together.together, together.n) >= threshold)
    frequent = _decoded(counted, coded, "az")
    first = items.select(a_product="c_product", a_orders="c_orders")
    t = frequent.join(first, frequent.a == first.a_product).join(
        items, frequent.z == items.c_product
    )
    rules = _rule(t, [t.a], t.z, t.a_orders)  # a -> z (c_orders: z's)
    second = items.select(z_product="c_product", z_orders="c_orders")
    t = frequent.join(second, frequent.z == second.z_product).join(
        items, frequent.a == items.c_product
    )
    rules = rules.union(_rule(t, [t.z], t.a, t.z_orders))
    if max_len == 3:
        triples = _decoded(counted, _frequent_triples(pairs, coded, threshold), "amz")
        rules = rules.union(_triple_rules(triples, frequent, items))
    return rules.filter(rules.confidence >= _number(min_confidence))


def _triple_rules(triples: ir.Table, frequent: ir.Table, items: ir.Table) -> ir.Table:
    """The three rules of each frequent triple a < m < z of ``triples``: {a, m} -> z,
    {a, z} -> m, {m, z} -> a."""
    triples = shared(triples, "triples")
    pc = frequent.select(pa="a", pz="z", p_orders="together")
    out = []
    for left, right, cons in (("a", "m", "z"), ("a", "z", "m"), ("m", "z", "a")):
        t = triples.join(pc, [triples[left] == pc.pa, triples[right] == pc.pz])
        t = t.join(items, t[cons] == items.c_product)
        out.append(_rule(t, [t[left], t[right]], t[cons], t.p_orders))
    return out[0].union(out[1]).union(out[2])


def _cart_items(cart: Iterable[str]) -> list[str]:
    items = sorted({str(c).strip() for c in cart if c is not None and str(c).strip()})
    if not items:
        raise ConfigError(
            "The cart is empty: give at least one product id.",
            hint="For example: tenure recommend cart P0001 P0002.",
        )
    return items


def _known(b: ir.Table, cart: list[str]) -> list[str]:
    inside = b.filter(b.product_id.isin(cart)).select("product_id").distinct()
    return sorted(inside.to_pyarrow().column("product_id").to_pylist())


def _unknown_error(b: ir.Table, unknown: list[str]) -> NotFoundError:
    names = b.select("product_id").distinct().to_pyarrow().column("product_id").to_pylist()
    parts = []
    for product in unknown:
        close = difflib.get_close_matches(product, names, n=3, cutoff=0.6)
        lower = [n for n in names if n.lower() == product.lower() and n not in close]
        close = lower + close
        parts.append(
            f"{product!r} (close: {', '.join(repr(c) for c in close[:3])})"
            if close
            else repr(product)
        )
    return NotFoundError(
        f"No basket holds the cart product(s) {', '.join(parts)}, so nothing can be said of "
        "what completes the cart.",
        hint="Check the product ids (the ids of order_items.product_id, else their sku), or "
        "pass unknown='ignore' to complete the cart from its known products.",
    )


def complete_basket(
    lines: ir.Table,
    cart: Iterable[str],
    *,
    top: int = 10,
    min_baskets: int = MIN_CART_BASKETS,
    min_together: int = 2,
    max_basket: int = MAX_BASKET,
    unknown: str = "error",
) -> pd.DataFrame:
    """The products that most often complete ``cart`` (product ids), best first, columns
    :data:`CART_COLUMNS`, each with its rule and reason.

    When at least ``min_baskets`` counted baskets hold the whole cart, the rule is the exact
    {cart} -> {x} from those baskets (confidence: the share of them holding x; ``score`` is
    the confidence). Otherwise the ranking comes from the pair rules of each cart item
    (:func:`rank_from_pairs`), and ``frame.attrs["notes"]`` says so.

    Cart products that no basket holds: ``unknown="error"`` (default) raises NotFoundError
    naming them and close matches; ``"ignore"`` leaves them out (with a note), and a cart of
    only unknown products gets an empty answer.

    It runs a few queries on ``lines`` (the cart's products, the baskets holding it, the
    rules): pass a stored table, not :func:`tenure.recommend.baskets.purchase_lines` of a
    large store, where answers are wanted fast."""
    if unknown not in UNKNOWN_CHOICES:
        raise ConfigError(
            f"The 'unknown' parameter must be one of {', '.join(UNKNOWN_CHOICES)}. "
            f"Got {unknown!r} instead."
        )
    items = _cart_items(cart)
    b, total = _baskets(lines, max_basket)
    known = _known(b, items)
    notes = []
    missing = [c for c in items if c not in known]
    if missing:
        if unknown == "error":
            raise _unknown_error(b, missing)
        notes.append(f"No basket holds {', '.join(missing)}: left out of the cart.")
    if not known:
        return _frame([], notes)
    in_cart = b.filter(b.product_id.isin(known))
    holding = in_cart.group_by(h_order=in_cart.order_id).agg(k=in_cart.count())
    holding = holding.filter(holding.k == len(known))
    n_cart = int(holding.count().execute())
    if n_cart >= min_baskets:
        frame = _exact(b, total, known, holding, n_cart, min_together).to_pandas()
        frame = frame.sort_values(
            ["confidence", "together", "product_id"], ascending=[False, False, True]
        ).head(top)
        frame["score"] = frame["confidence"]
        frame["reason"] = [
            pair_reason(int(t), float(x)) for t, x in zip(frame.together, frame.lift, strict=True)
        ]
        frame["rank"] = range(1, len(frame) + 1)
        return _frame(frame, notes)
    notes.append(
        f"{n_cart:,} basket(s) hold the whole cart (fewer than {min_baskets:,}): ranked from "
        "the pair rules of each cart item."
    )
    pairs = _cart_pairs(b, total, known, min_together).to_pandas()
    ranked = rank_from_pairs(pairs, known, top=top)
    return _frame(ranked, notes + ranked.attrs.get("notes", []))


def _exact(
    b: ir.Table,
    total: ir.Table,
    cart: list[str],
    holding: ir.Table,
    n_cart: int,
    min_together: int,
) -> ir.Table:
    """The rules {cart} -> {x} from the baskets holding the whole cart."""
    items = _counts(b)
    inside = b.semi_join(holding, b.order_id == holding.h_order)
    inside = inside.filter(~inside.product_id.isin(cart))
    counted = inside.group_by("product_id").agg(together=inside.count())
    counted = counted.filter(counted.together >= min_together)
    t = counted.join(items, counted.product_id == items.c_product).cross_join(total)
    together = t.together.cast(F64)
    n = t.n.cast(F64)
    confidence = together / float(n_cart)
    return t.select(
        product_id=t.product_id,
        together=t.together,
        support=together / n,
        confidence=confidence,
        lift=confidence * n / t.c_orders.cast(F64),
        rule=ibis.literal("{" + ", ".join(cart) + "} -> {") + t.product_id + "}",
    )


def _cart_pairs(b: ir.Table, total: ir.Table, cart: list[str], min_together: int) -> ir.Table:
    """The pairs (cart item, other product) of the counted baskets, PAIR_COLUMNS."""
    items = _counts(b)
    left = b.filter(b.product_id.isin(cart)).select(p_order="order_id", a="product_id")
    right = b.select(q_order="order_id", z="product_id")
    j = left.join(right, [left.p_order == right.q_order, left.a != right.z])
    counted = j.group_by(product_id=j.a, other_id=j.z).agg(together=j.count())
    counted = counted.filter(counted.together >= min_together)
    return _measures(counted, items, total)


def rank_from_pairs(pairs: pd.DataFrame, cart: Iterable[str], *, top: int = 10) -> pd.DataFrame:
    """What completes ``cart``, from a pairs frame (:func:`product_pairs` rows): each product
    x outside the cart scores the sum over cart items c of confidence(c -> x) (how many cart
    items, in expectation, bring x along); it is shown with its strongest rule (highest
    confidence, then lift). Ties: higher confidence, then lift, then product id. Cart items
    absent from ``pairs`` add nothing (``attrs["notes"]`` names them). Columns
    :data:`CART_COLUMNS`."""
    items = _cart_items(cart)
    sub = pairs[pairs["product_id"].isin(items) & ~pairs["other_id"].isin(items)]
    absent = sorted(set(items) - set(pairs["product_id"]))
    notes = [f"No pair holds {', '.join(absent)}."] if absent else []
    if sub.empty:
        return _frame([], notes)
    best = sub.sort_values(
        ["other_id", "confidence", "lift", "product_id"], ascending=[True, False, False, True]
    ).drop_duplicates("other_id")
    score = sub.groupby("other_id")["confidence"].sum().rename("score")
    best = best.join(score, on="other_id")
    best = best.sort_values(
        ["score", "confidence", "lift", "other_id"], ascending=[False, False, False, True]
    ).head(top)
    out = pd.DataFrame(
        {
            "rank": range(1, len(best) + 1),
            "product_id": best["other_id"].to_numpy(),
            "score": best["score"].to_numpy(),
            "together": best["together"].to_numpy(),
            "support": best["support"].to_numpy(),
            "confidence": best["confidence"].to_numpy(),
            "lift": best["lift"].to_numpy(),
            "rule": [
                f"{{{c}}} -> {{{x}}}" for c, x in zip(best.product_id, best.other_id, strict=True)
            ],
            "reason": [
                pair_reason(int(t), float(x)) for t, x in zip(best.together, best.lift, strict=True)
            ],
        }
    )
    return _frame(out, notes)


def _frame(data: pd.DataFrame | list[object], notes: list[str]) -> pd.DataFrame:
    """``data`` with CART_COLUMNS in order (an empty frame for ``[]``), notes in attrs."""
    if isinstance(data, list):
        frame = pd.DataFrame({c: pd.Series(dtype=_CART_DTYPES[c]) for c in CART_COLUMNS})
    else:
        frame = data.loc[:, list(CART_COLUMNS)].reset_index(drop=True)
    frame.attrs["notes"] = notes
    return frame


_CART_DTYPES = {
    "rank": "int64",
    "product_id": "object",
    "score": "float64",
    "together": "int64",
    "support": "float64",
    "confidence": "float64",
    "lift": "float64",
    "rule": "object",
    "reason": "object",
}
