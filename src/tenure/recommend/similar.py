"""The next product per person: item-to-item similarity over purchase histories, consumables
bought again on a rhythm, and best-sellers for persons with too little history.

Every function takes the purchase lines of :func:`tenure.recommend.baskets.purchase_lines`
(columns ``order_id, product_id, person_id, ordered_at``) and returns an Ibis expression, so
the work runs set-based in the store's engine (DuckDB or PySpark).

* **Similarity** (:func:`item_similarity`): two products are *bought together* by a person who
  bought both within ``window_days`` days of each other (the same order included); ``together``
  counts such persons, and the similarity is the cosine ``together / sqrt(n_i * n_j)`` over the
  products' buyer counts ``n``, so that best-sellers do not top every list. Pairs bought together
  by fewer than ``min_together`` persons are left out.
* **Consumables** (:func:`consumables`): products that at least ``min_repeat_share`` of their
  buyers (and at least ``min_buyers`` buyers in all) bought on two days or more; their rhythm is
  the median of the days between a buyer's consecutive purchases of the product.
* **Next products** (:func:`next_products`): a person's consumables that are due come first
  (days since the last purchase at least the rhythm, and not yet lapsed), then the products most
  similar to what the person bought (summed similarity, each purchase weighted down by its age),
  never what the person already bought; persons with fewer than ``top`` of those get
  best-sellers as a fill. ``rank`` orders reorders, then similar products, then best-sellers;
  ``score`` compares rows of one kind only.
"""

from __future__ import annotations

import math
from datetime import date

import ibis
import ibis.expr.types as ir

from tenure.errors import ConfigError

F64 = "float64"
_EPOCH = date(1970, 1, 1)

#: Rank order of the three kinds of suggestion (``reorder`` first).
KINDS = ("reorder", "similar", "popular")


def _day_number(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Days since 1970-01-01 of a timestamp's date (the same on DuckDB and Spark)."""
    return ts.date().delta(ibis.literal(_EPOCH), unit="day").cast("int64")


def up_to(lines: ir.Table, as_of: date | None) -> ir.Table:
    """The lines ordered on or before ``as_of`` (all of them when None)."""
    if as_of is None:
        return lines
    return lines.filter(lines.ordered_at.date() <= ibis.literal(as_of))


def purchase_days(lines: ir.Table) -> ir.Table:
    """One row per person, product and day bought: ``person_id, product_id, day`` (day number
    since 1970-01-01). Lines without a person or a product are not purchases of anyone's."""
    t = lines.filter(lines.person_id.notnull() & lines.product_id.notnull())
    return t.select("person_id", "product_id", day=_day_number(t.ordered_at)).distinct()


def product_buyers(lines: ir.Table) -> ir.Table:
    """``product_id, buyers``: distinct persons who bought each product."""
    t = lines.filter(lines.person_id.notnull() & lines.product_id.notnull())
    return t.group_by("product_id").agg(buyers=t.person_id.nunique())


def item_similarity(
    lines: ir.Table,
    *,
    window_days: int = 30,
    min_together: int = 2,
    neighbours: int | None = None,
) -> ir.Table:
    """Product pairs (both directions) bought by the same person within ``window_days`` days.

    Columns ``product_id, other_id, together, product_buyers, other_buyers, similarity``:
    ``together`` persons bought both within the window, ``similarity = together /
    sqrt(product_buyers * other_buyers)`` (cosine over buyers). Pairs with ``together <
    min_together`` are left out; ``neighbours``: keep each product's most similar ones only
    (ties by ``other_id``)."""
    if window_days < 0:
        raise ConfigError(
            f"The 'window_days' parameter of item_similarity must be an int in the range "
            f"[0, inf). Got {window_days!r} instead."
        )
    ev = purchase_days(lines)
    a = ev.select(a_person="person_id", a_product="product_id", a_day="day")
    b = ev.select(b_person="person_id", b_product="product_id", b_day="day")
    j = a.join(
        b,
        [
            a.a_person == b.b_person,
            a.a_product != b.b_product,
            (a.a_day - b.b_day).abs() <= window_days,
        ],
    )
    seen = j.select(product_id=j.a_product, other_id=j.b_product, person=j.a_person).distinct()
    pairs = seen.group_by("product_id", "other_id").agg(together=seen.person.count())
    pairs = pairs.filter(pairs.together >= min_together)
    n = product_buyers(lines)
    pn = n.select(p_id="product_id", product_buyers="buyers")
    on = n.select(o_id="product_id", other_buyers="buyers")
    s = pairs.join(pn, pairs.product_id == pn.p_id).join(on, pairs.other_id == on.o_id)
    denom = (s.product_buyers.cast(F64) * s.other_buyers.cast(F64)).sqrt()
    out = s.select(
        "product_id",
        "other_id",
        "together",
        "product_buyers",
        "other_buyers",
        similarity=s.together.cast(F64) / denom.nullif(0),
    )
    if neighbours is None:
        return out
    w = ibis.window(group_by=out.product_id, order_by=[ibis.desc(out.similarity), out.other_id])
    ranked = out.mutate(_n=ibis.row_number().over(w))
    return ranked.filter(ranked._n < neighbours).drop("_n")


def purchase_gaps(lines: ir.Table) -> ir.Table:
    """``person_id, product_id, day, gap``: each day a person bought a product, and the days
    since their previous purchase of it (null on the first)."""
    ev = purchase_days(lines)
    w = ibis.window(group_by=[ev.person_id, ev.product_id], order_by=ev.day)
    return ev.mutate(gap=ev.day - ev.day.lag().over(w))


def consumables(
    lines: ir.Table, *, min_buyers: int = 5, min_repeat_share: float = 0.25
) -> ir.Table:
    """Products bought again on a rhythm: ``product_id, buyers, repeat_buyers, repeat_share,
    median_days``. ``repeat_buyers`` bought the product on two days or more; a product is a
    consumable when ``buyers >= min_buyers`` and ``repeat_share >= min_repeat_share``;
    ``median_days`` is the median of the days between a buyer's consecutive purchases of it."""
    g = purchase_gaps(lines)
    per = g.group_by("person_id", "product_id").agg(days=g.day.count())
    stats = per.group_by("product_id").agg(
        buyers=per.person_id.count(), repeat_buyers=(per.days >= 2).sum().cast("int64")
    )
    gaps = g.filter(g.gap.notnull())
    med = gaps.group_by(m_id=gaps.product_id).agg(median_days=gaps.gap.cast(F64).median())
    s = stats.join(med, stats.product_id == med.m_id)
    s = s.select(
        "product_id",
        "buyers",
        "repeat_buyers",
        repeat_share=s.repeat_buyers.cast(F64) / s.buyers.cast(F64).nullif(0),
        median_days=s.median_days,
    )
    return s.filter(
        (s.buyers >= min_buyers) & (s.repeat_share >= ibis.literal(min_repeat_share, F64))
    )


def customers(n: ir.IntegerValue) -> ir.StringValue:
    """ "1 customer", "41 customers"."""
    return n.cast("string") + ibis.ifelse(n == 1, " customer", " customers")


def _int_text(v: ir.NumericValue) -> ir.StringValue:
    return v.round().cast("int64").cast("string")


def _history(lines: ir.Table, as_of: date) -> ir.Table:
    """``person_id, product_id, last_day, days_since``: what each person bought, when last."""
    ev = purchase_days(lines)
    h = ev.group_by("person_id", "product_id").agg(last_day=ev.day.max())
    today = (ibis.literal(as_of).delta(ibis.literal(_EPOCH), unit="day")).cast("int64")
    return h.mutate(days_since=today - h.last_day)


def _reorders(lines: ir.Table, hist: ir.Table, cons: ir.Table, *, lapse_factor: float) -> ir.Table:
    """Consumables that are due: days since the person's last purchase >= their rhythm (the
    person's own median gap when they bought it twice or more, else the product's) and <=
    ``lapse_factor`` x the rhythm (longer: lapsed, not due)."""
    g = purchase_gaps(lines)
    g = g.filter(g.gap.notnull())
    own = g.group_by(o_person="person_id", o_product="product_id").agg(
        own_days=g.gap.cast(F64).median()
    )
    c = cons.select(c_id="product_id", c_share="repeat_share", c_days="median_days")
    j = hist.join(c, hist.product_id == c.c_id).left_join(
        own, [hist.person_id == own.o_person, hist.product_id == own.o_product]
    )
    rhythm = ibis.coalesce(j.own_days, j.c_days)
    since = j.days_since.cast(F64)
    due = (since >= rhythm) & (since <= rhythm * ibis.literal(lapse_factor, F64))
    j = j.filter(due & (rhythm > 0))
    who = ibis.ifelse(j.own_days.notnull(), "you buy it", "its buyers buy it again")
    reason = (
        who
        + ibis.literal(" about every ")
        + _int_text(rhythm)
        + ibis.literal(" days; last bought ")
        + j.days_since.cast("string")
        + ibis.literal(" days ago")
    )
    return j.select(
        "person_id", "product_id", kind=ibis.literal("reorder"), score=j.c_share, reason=reason
    )


def _titles(products: ir.Table | None) -> ir.Table | None:
    if products is None or "title" not in products.columns:
        return None
    return products.select(t_id="product_id", t_title="title")


def _name(t: ir.Table, column: str, titles: ir.Table | None) -> tuple[ir.Table, ir.Value]:
    """``t`` with the title of its product column ``column`` (the id when unknown)."""
    if titles is None:
        return t, t[column]
    j = t.left_join(titles, t[column] == titles.t_id)
    return j, ibis.coalesce(j.t_title, j[column])


def _similar(
    hist: ir.Table, sim: ir.Table, titles: ir.Table | None, *, half_life_days: float
) -> ir.Table:
    """Products similar to what each person bought: score = sum over the person's products of
    similarity x 0.5 ** (days since bought / half life); the reason names the product that
    contributed most."""
    j = hist.join(sim, hist.product_id == sim.product_id)
    decay = ibis.literal(-math.log(2) / half_life_days, F64)
    weight = (j.days_since.cast(F64) * decay).exp()
    c = j.select(
        "person_id",
        source=j.product_id,
        candidate=j.other_id,
        together=j.together,
        part=j.similarity * weight,
    )
    agg = c.group_by("person_id", "candidate").agg(
        score=c.part.sum(),
        source=c.source.argmax(c.part),
        together=c.together.argmax(c.part),
    )
    agg, source = _name(agg, "source", titles)
    reason = ibis.literal("bought with ") + source + ibis.literal(" by ") + customers(agg.together)
    return agg.select(
        "person_id",
        product_id=agg.candidate,
        kind=ibis.literal("similar"),
        score=agg.score,
        reason=reason,
    )


def _popular(lines: ir.Table, persons: ir.Table, allowed: ir.Table | None, *, n: int) -> ir.Table:
    """The ``n`` best-sellers (by buyers; ties by product id) for every person."""
    b = product_buyers(lines)
    if allowed is not None:
        b = b.semi_join(allowed, b.product_id == allowed.a_id)
    w = ibis.window(order_by=[ibis.desc(b.buyers), b.product_id])
    best = b.mutate(_n=ibis.row_number().over(w))
    best = best.filter(best._n < n)
    j = persons.cross_join(best)
    reason = (
        ibis.literal("best-seller, bought by ")
        + customers(j.buyers)
        + ibis.literal(" (too little history for more)")
    )
    return j.select(
        "person_id",
        "product_id",
        kind=ibis.literal("popular"),
        score=j.buyers.cast(F64),
        reason=reason,
    )


def allowed_products(products: ir.Table) -> ir.Table:
    """``a_id``: the catalogue's products that may be recommended: not marked inactive
    (``active`` false) and not out of stock (``inventory`` <= 0); an unknown (null) flag does
    not exclude a product."""
    p = products.filter(products.product_id.notnull())
    if "active" in p.columns:
        p = p.filter(ibis.coalesce(p.active, True))
    if "inventory" in p.columns:
        p = p.filter(p.inventory.isnull() | (p.inventory > 0))
    return p.select(a_id="product_id").distinct()


def missing_from_catalogue(lines: ir.Table, products: ir.Table) -> ir.Table:
    """``product_id, lines``: products of the lines that the catalogue does not list (not
    recommended by :func:`next_products` while the catalogue holds any product)."""
    t = lines.filter(lines.product_id.notnull())
    p = products.select(c_id="product_id")
    gone = t.anti_join(p, t.product_id == p.c_id)
    return gone.group_by("product_id").agg(lines=gone.count())


def next_products(
    lines: ir.Table,
    *,
    as_of: date,
    products: ir.Table | None = None,
    top: int = 10,
    window_days: int = 30,
    min_together: int = 2,
    neighbours: int = 50,
    half_life_days: float = 180.0,
    min_buyers: int = 5,
    min_repeat_share: float = 0.25,
    lapse_factor: float = 3.0,
    fill: bool = True,
) -> ir.Table:
    """Up to ``top`` products per person who bought anything up to ``as_of``: ``person_id,
    rank, product_id, score, reason`` (rank from 1; see the module's docstring for the order).

    ``products`` (the catalogue: ``product_id`` and, when present, ``title``, ``active``,
    ``inventory``): products marked inactive or with inventory <= 0 are never recommended;
    while the catalogue lists any product, products it does not list are not recommended
    either (:func:`missing_from_catalogue` counts them); titles name products in reasons.
    ``fill``: complete lists shorter than ``top`` with best-sellers."""
    if top < 1:
        raise ConfigError(
            f"The 'top' parameter of next_products must be an int in the range [1, inf). "
            f"Got {top!r} instead."
        )
    lines = up_to(lines, as_of)
    hist = _history(lines, as_of)
    sim = item_similarity(
        lines, window_days=window_days, min_together=min_together, neighbours=neighbours
    )
    cons = consumables(lines, min_buyers=min_buyers, min_repeat_share=min_repeat_share)
    titles = _titles(products)
    allowed = None
    if products is not None and int(products.count().execute()) > 0:
        allowed = allowed_products(products)
    parts = [
        _reorders(lines, hist, cons, lapse_factor=lapse_factor),
        _similar(hist, sim, titles, half_life_days=half_life_days),
    ]
    if fill:
        persons = hist.select("person_id").distinct()
        parts.append(_popular(lines, persons, allowed, n=2 * top + 10))
    cand = ibis.union(*parts)
    if allowed is not None:
        cand = cand.semi_join(allowed, cand.product_id == allowed.a_id)
    bought = hist.select(b_person="person_id", b_product="product_id")
    fresh = cand.filter(cand.kind != "reorder")
    fresh = fresh.anti_join(
        bought, [fresh.person_id == bought.b_person, fresh.product_id == bought.b_product]
    )
    cand = ibis.union(cand.filter(cand.kind == "reorder"), fresh)
    order = ibis.cases((cand.kind == "reorder", 0), (cand.kind == "similar", 1), else_=2)
    cand = cand.mutate(_kind=order)
    # a product is one suggestion per person: its best kind
    w1 = ibis.window(
        group_by=[cand.person_id, cand.product_id], order_by=[cand._kind, ibis.desc(cand.score)]
    )
    cand = cand.mutate(_first=ibis.row_number().over(w1))
    cand = cand.filter(cand._first == 0)
    w = ibis.window(
        group_by=cand.person_id, order_by=[cand._kind, ibis.desc(cand.score), cand.product_id]
    )
    ranked = cand.mutate(rank=(ibis.row_number().over(w) + 1).cast("int64"))
    ranked = ranked.filter(ranked.rank <= top)
    return ranked.select("person_id", "rank", "product_id", "score", "reason")
