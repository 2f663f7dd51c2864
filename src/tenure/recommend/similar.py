"""The next product per person: item-to-item similarity over purchase histories, consumables
bought again on a rhythm, and best-sellers for persons with too little history.

Every function takes the purchase lines of :func:`tenure.recommend.baskets.purchase_lines`
(columns ``order_id, product_id, person_id, ordered_at``) and returns an Ibis expression, so
the work runs set-based in the store's engine (DuckDB or PySpark).

* **Similarity** (:func:`item_similarity`): two products are *bought together* by a person who
  bought both within ``window_days`` days of each other (the same order included); ``together``
  counts such persons, and the similarity is ``together / (n_i ** alpha * n_j ** (1 - alpha))``
  over the products' buyer counts ``n`` (``alpha`` 0.5: the cosine), so that best-sellers do
  not top every list. Pairs bought together by fewer than ``min_together`` persons are left
  out. :func:`next_products` uses a year's window and ``alpha`` 0.8 by default.
* **Consumables** (:func:`consumables`): products that at least ``min_repeat_share`` of their
  buyers (and at least ``min_buyers`` buyers in all) bought on two days or more; their rhythm is
  the median of the days between a buyer's consecutive purchases of the product.
* **Next products** (:func:`next_products`): a person's consumables that are due come first
  (days since the last purchase at least the rhythm, at most ``lapse_factor`` rhythms), then
  the products most similar to what the person bought (each product's ``neighbours`` most
  similar ones, similarity summed over the person's products, each weighted by
  ``0.5 ** (days since bought / half_life_days)``), never what the person already bought;
  persons with fewer than ``top`` of those get best-sellers as a fill. ``rank`` orders
  reorders, then similar products, then best-sellers; ``score`` compares rows of one kind
  only (reorder: the share of the product's buyers who buy it again; similar: the summed
  similarity; best-seller: its buyers). Products the catalogue marks inactive or out of
  stock are never suggested, nor, while the catalogue lists any product, products it does
  not list.
* **Reasons**: "you buy it about every 30 days; last bought 34 days ago" (the person's own
  median gap; "its buyers buy it again about every ..." when they bought it once), "bought
  with Linen Shirt by 41 customers" (the product that contributed most), "best-seller, bought
  by 294 customers (too little history for more)".
"""

from __future__ import annotations

import math
from datetime import date

import ibis
import ibis.expr.types as ir

from tenure.errors import ConfigError

F64 = "float64"
_EPOCH = date(1970, 1, 1)

#: The kinds of suggestion in rank order (``reorder`` first; their codes are the positions).
KINDS = ("reorder", "similar", "popular")
#: Persons with more distinct products than this are left out of the similarity counts.
MAX_PRODUCTS = 200


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
    max_products: int = MAX_PRODUCTS,
    alpha: float = 0.5,
) -> ir.Table:
    """Product pairs (both directions) bought by the same person within ``window_days`` days.

    Columns ``product_id, other_id, together, product_buyers, other_buyers, similarity``:
    ``together`` persons bought both within the window, ``similarity = together /
    (product_buyers ** alpha * other_buyers ** (1 - alpha))``: with ``alpha`` 0.5 (the
    default) the cosine over buyers, ``together / sqrt(product_buyers * other_buyers)``; with
    1, the share of the product's buyers who bought the other (best-sellers come first: on the
    tests' demo store the companion of 2 of the 20 best-sellers is among their 3 most similar
    products, against 17 with the cosine). Pairs with ``together <
    min_together`` are left out; ``neighbours``: keep each product's most similar ones only
    (ties by ``other_id``). Persons who bought more than ``max_products`` distinct products
    (resellers, test accounts) are left out of the counts: one of them would add tens of
    thousands of pairs, more than most real pairs count."""
    if window_days < 0:
        raise ConfigError(
            f"The 'window_days' parameter of item_similarity must be an int in the range "
            f"[0, inf). Got {window_days!r} instead."
        )
    if not 0 <= alpha <= 1:
        raise ConfigError(
            f"The 'alpha' parameter of item_similarity must be a float in the range [0, 1]. "
            f"Got {alpha!r} instead."
        )
    ev = purchase_days(lines)
    per = ev.group_by(h_person="person_id").agg(h_n=ev.product_id.nunique())
    heavy = per.filter(per.h_n > max_products)
    ev = ev.anti_join(heavy, ev.person_id == heavy.h_person)
    pairs = _pairs_within(ev, window_days)
    pairs = pairs.filter(pairs.together >= min_together)
    n = ev.group_by("product_id").agg(buyers=ev.person_id.nunique())
    pn = n.select(p_id="product_id", product_buyers="buyers")
    on = n.select(o_id="product_id", other_buyers="buyers")
    s = pairs.join(pn, pairs.product_id == pn.p_id).join(on, pairs.other_id == on.o_id)
    power = ibis.literal(float(alpha), F64)
    denom = s.product_buyers.cast(F64).pow(power) * s.other_buyers.cast(F64).pow(1 - power)
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


def _pairs_within(ev: ir.Table, window_days: int) -> ir.Table:
    """``product_id, other_id, together``: persons of :func:`purchase_days` rows ``ev`` who
    bought both products within ``window_days`` days of each other (both directions)."""
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
    return seen.group_by("product_id", "other_id").agg(together=seen.person.count())


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


#: The columns every kind of candidate carries until the reasons are written: kind (0
#: reorder, 1 similar, 2 popular), score, and what the reason cites.
_CANDIDATE = {
    "person_id": "string",
    "product_id": "string",
    "kind": "int64",
    "score": F64,
    "source": "string",
    "n": "int64",
    "rhythm": F64,
    "since": "int64",
    "own": "boolean",
}


def _candidates(t: ir.Table, kind: int, **values: ir.Value) -> ir.Table:
    """``t`` as candidates of ``kind``: ``values`` for some columns, null for the others."""
    cols = {
        name: values[name].cast(dtype) if name in values else ibis.null(dtype)
        for name, dtype in _CANDIDATE.items()
        if name != "kind"
    }
    return t.select(kind=ibis.literal(kind, "int64"), **cols).select(*_CANDIDATE)


def _reorders(lines: ir.Table, hist: ir.Table, cons: ir.Table, *, lapse_factor: float) -> ir.Table:
    """Consumables that are due: days since the person's last purchase >= their rhythm (the
    person's own median gap when they bought it twice or more, else the product's) and <=
    ``lapse_factor`` x the rhythm (longer: lapsed, not due). Score: the product's share of
    buyers who buy it again."""
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
    return _candidates(
        j,
        0,
        person_id=j.person_id,
        product_id=j.product_id,
        score=j.c_share,
        rhythm=ibis.coalesce(j.own_days, j.c_days),
        since=j.days_since,
        own=j.own_days.notnull(),
    )


def _similar(hist: ir.Table, sim: ir.Table, *, half_life_days: float) -> ir.Table:
    """Products similar to what each person bought: score = sum over the person's products of
    similarity x 0.5 ** (days since bought / half life); the source is the product that
    contributed most (``n``, the persons who bought the two together, is looked up for the
    kept rows only: :func:`_together`)."""
    j = hist.join(sim, hist.product_id == sim.product_id)
    decay = ibis.literal(-math.log(2) / half_life_days, F64)
    weight = (j.days_since.cast(F64) * decay).exp()
    c = j.select("person_id", source=j.product_id, candidate=j.other_id, part=j.similarity * weight)
    agg = c.group_by("person_id", "candidate").agg(
        score=c.part.sum(), source=c.source.argmax(c.part)
    )
    return _candidates(
        agg,
        1,
        person_id=agg.person_id,
        product_id=agg.candidate,
        score=agg.score,
        source=agg.source,
    )


def _together(t: ir.Table, sim: ir.Table) -> ir.Table:
    """``t``'s similar candidates with ``n``: the persons who bought source and product."""
    s = sim.select(s_from="product_id", s_to="other_id", s_n="together")
    j = t.left_join(s, [t.source == s.s_from, t.product_id == s.s_to])
    return j.select(*[j[c] if c != "n" else j.s_n.cast("int64").name("n") for c in t.columns])


def _popular(persons: ir.Table, best: ir.Table) -> ir.Table:
    """The best-sellers ``best`` (product_id, buyers) for every person of ``persons``."""
    j = persons.cross_join(best)
    return _candidates(
        j, 2, person_id=j.person_id, product_id=j.product_id, score=j.buyers, n=j.buyers
    )


def best_sellers(lines: ir.Table, allowed: ir.Table | None, n: int) -> ir.Table:
    """``product_id, buyers``: the ``n`` products with most buyers (ties: by product id) that
    may be recommended."""
    b = product_buyers(lines)
    if allowed is not None:
        b = b.semi_join(allowed, b.product_id == allowed.a_id)
    w = ibis.window(order_by=[ibis.desc(b.buyers), b.product_id])
    best = b.mutate(_n=ibis.row_number().over(w))
    return best.filter(best._n < n).drop("_n")


def _reasons(t: ir.Table, products: ir.Table | None) -> ir.Table:
    """``t``'s candidates with their reason (titles from ``products`` when it has them)."""
    source: ir.Value = t.source
    if products is not None and "title" in products.columns:
        titles = products.filter(products.title.notnull())
        titles = titles.group_by(t_id="product_id").agg(t_title=titles.title.min())
        t = t.left_join(titles, t.source == titles.t_id)
        source = ibis.coalesce(t.t_title, t.source)
    who = ibis.ifelse(t.own, "you buy it", "its buyers buy it again")
    reorder = (
        who
        + ibis.literal(" about every ")
        + _int_text(t.rhythm)
        + ibis.literal(" days; last bought ")
        + t.since.cast("string")
        + ibis.literal(" days ago")
    )
    similar = ibis.literal("bought with ") + source + ibis.literal(" by ") + customers(t.n)
    popular = (
        ibis.literal("best-seller, bought by ")
        + customers(t.n)
        + ibis.literal(" (too little history for more)")
    )
    reason = ibis.cases((t.kind == 0, reorder), (t.kind == 1, similar), else_=popular)
    return t.select("person_id", "rank", "product_id", "score", reason=reason)


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


def catalogue_warnings(lines: ir.Table, products: ir.Table | None) -> list[str]:
    """What :func:`next_products` leaves out because of the catalogue, in words: products of
    the lines it does not list (while it lists any), and products marked inactive or out of
    stock; an empty list when nothing is left out."""
    if products is None or int(products.count().execute()) == 0:
        return []
    notes = []
    missing = missing_from_catalogue(lines, products)
    agg = missing.aggregate(n=missing.count(), lines=missing.lines.sum()).to_pyarrow()
    n, count = agg.column("n")[0].as_py(), agg.column("lines")[0].as_py()
    if n:
        some = missing.order_by([ibis.desc("lines"), "product_id"]).limit(3).to_pyarrow()
        names = ", ".join(some.column("product_id").to_pylist())
        notes.append(
            f"{n:,} product{'s' * (n != 1)} bought ({count:,} purchase lines) not in the "
            f"catalogue, e.g. {names}: not recommended until the catalogue lists them"
        )
    listed = products.filter(products.product_id.notnull()).select("product_id").distinct()
    allowed = allowed_products(products)
    blocked = listed.anti_join(allowed, listed.product_id == allowed.a_id)
    off = int(blocked.count().execute())
    if off:
        notes.append(
            f"{off:,} catalogue product{'s' * (off != 1)} inactive or out of stock: never "
            "recommended"
        )
    return notes


def _ranked(t: ir.Table, top: int) -> ir.Table:
    """``t`` ranked per person (kind, then score, then product id), the first ``top``."""
    w = ibis.window(group_by=t.person_id, order_by=[t.kind, ibis.desc(t.score), t.product_id])
    ranked = t.mutate(rank=(ibis.row_number().over(w) + 1).cast("int64"))
    return ranked.filter(ranked.rank <= top)


def next_products(
    lines: ir.Table,
    *,
    as_of: date,
    products: ir.Table | None = None,
    top: int = 10,
    window_days: int = 365,
    min_together: int = 2,
    neighbours: int = 20,
    max_products: int = MAX_PRODUCTS,
    half_life_days: float = 180.0,
    min_buyers: int = 5,
    min_repeat_share: float = 0.25,
    lapse_factor: float = 3.0,
    fill: bool = True,
    alpha: float = 0.8,
) -> ir.Table:
    """Up to ``top`` products per person who bought anything up to ``as_of``: ``person_id,
    rank, product_id, score, reason`` (rank from 1; see the module's docstring for the order).

    ``products`` (the catalogue: ``product_id`` and, when present, ``title``, ``active``,
    ``inventory``): products marked inactive or with inventory <= 0 are never recommended;
    while the catalogue lists any product, products it does not list are not recommended
    either (:func:`missing_from_catalogue` counts them); titles name products in reasons.
    ``window_days``, ``min_together``, ``neighbours`` (the most similar products kept per
    product), ``max_products``, ``alpha``: :func:`item_similarity`'s (the defaults here, a
    year's window and ``alpha`` 0.8, ranked best on the demo's time split: with and
    without tastes, docs/recommendations.md); ``fill``: complete lists shorter
    than ``top`` with best-sellers."""
    if top < 1:
        raise ConfigError(
            f"The 'top' parameter of next_products must be an int in the range [1, inf). "
            f"Got {top!r} instead."
        )
    lines = up_to(lines, as_of)
    hist = _history(lines, as_of)
    allowed = None
    if products is not None and int(products.count().execute()) > 0:
        allowed = allowed_products(products)
    bought = hist.select(b_person="person_id", b_product="product_id")
    sim = item_similarity(
        lines,
        window_days=window_days,
        min_together=min_together,
        neighbours=neighbours,
        max_products=max_products,
        alpha=alpha,
    )
    cons = consumables(lines, min_buyers=min_buyers, min_repeat_share=min_repeat_share)
    scored = _similar(hist, sim, half_life_days=half_life_days)
    similar = _together(_ranked(_usable(scored, allowed, bought), top), sim)
    reorders = _usable(_reorders(lines, hist, cons, lapse_factor=lapse_factor), allowed)
    cand = ibis.union(reorders, similar.drop("rank"))
    if fill:
        best = best_sellers(lines, allowed, 2 * top + 10)
        cand = ibis.union(cand, _fill(cand, similar, hist, best, bought, top))
    return _reasons(_ranked(cand, top), products)


def _usable(t: ir.Table, allowed: ir.Table | None, bought: ir.Table | None = None) -> ir.Table:
    """``t``'s candidates the catalogue allows (``allowed``: :func:`allowed_products`), less
    what the person bought (``bought``: ``b_person``, ``b_product``) when given."""
    if allowed is not None:
        t = t.semi_join(allowed, t.product_id == allowed.a_id)
    if bought is not None:
        t = t.anti_join(bought, [t.person_id == bought.b_person, t.product_id == bought.b_product])
    return t


def _fill(
    cand: ir.Table,
    similar: ir.Table,
    hist: ir.Table,
    best: ir.Table,
    bought: ir.Table,
    top: int,
) -> ir.Table:
    """Best-sellers ``best`` (:func:`best_sellers`, the catalogue's rules applied) for the
    persons with fewer than ``top`` candidates ``cand``: not bought, not already suggested as
    similar."""
    counts = cand.group_by(c_person="person_id").agg(c_n=cand.count())
    persons = hist.select("person_id").distinct()
    persons = persons.left_join(counts, persons.person_id == counts.c_person)
    short = persons.filter(ibis.coalesce(persons.c_n, 0) < top).select("person_id")
    popular = _usable(_popular(short, best), None, bought)
    return popular.anti_join(
        similar, [popular.person_id == similar.person_id, popular.product_id == similar.product_id]
    )
