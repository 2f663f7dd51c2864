"""The catalogue and the baskets: products, companions, bundles, and order lines whose
amounts add up exactly to each order's gamma-gamma subtotal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tenure.demo import arrow as A
from tenure.demo import params as P

CATEGORY_NAMES = [c[0] for c in P.CATEGORIES]
_CATEGORY_INDEX = {name: i for i, name in enumerate(CATEGORY_NAMES)}
#: The next category of each category's journey (category numbers, :data:`params.JOURNEYS`).
JOURNEY = np.array([_CATEGORY_INDEX[P.JOURNEYS[name]] for name in CATEGORY_NAMES])


@dataclass(frozen=True)
class Catalog:
    """Products (index = product number): category, list price and cost in cents, popularity
    (probabilities), extra quantity, companion product; bundles as rows of 3 products."""

    category: np.ndarray
    price: np.ndarray
    cost: np.ndarray
    weight: np.ndarray
    extra_qty: np.ndarray
    companion: np.ndarray
    bundles: np.ndarray
    titles: list[str]

    def __len__(self) -> int:
        return len(self.category)

    def draw(self, rng: np.random.Generator, size: int | tuple[int, int]) -> np.ndarray:
        """Products drawn by popularity."""
        return rng.choice(len(self), size=size, p=self.weight)

    def draw_within(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """One product per entry of ``category`` (category numbers, any shape), drawn by
        popularity within that category (products are numbered category by category)."""
        k = P.PER_CATEGORY
        within = self.weight.reshape(-1, k)
        cdf = np.cumsum(within / within.sum(axis=1, keepdims=True), axis=1)
        u = rng.uniform(size=category.shape)
        pick = (cdf[category] < u[..., None]).sum(axis=-1)
        return category * k + np.minimum(pick, k - 1)

    def draw_categories(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` category numbers drawn by the categories' shares of popularity."""
        share = np.bincount(self.category, weights=self.weight, minlength=len(P.CATEGORIES))
        return rng.choice(len(share), size=n, p=share / share.sum())

    @property
    def ids(self) -> pa.Array:
        return A.codes("P", np.arange(len(self)), 4)


def make_catalog(rng: np.random.Generator) -> Catalog:
    """8 categories x 40 products; prices lognormal around the category's, ending in .99."""
    k = P.PER_CATEGORY
    n = len(P.CATEGORIES) * k
    category = np.repeat(np.arange(len(P.CATEGORIES)), k)

    def column(i: int) -> np.ndarray:
        return np.array([c[i] for c in P.CATEGORIES])[category]

    price = np.round(column(1) * rng.lognormal(0, 0.35, n)).astype(np.int64) * 100 - 1
    price = np.maximum(price, 299)
    margin = column(2) * rng.uniform(0.85, 1.15, n)
    cost = np.round(price * (1 - margin)).astype(np.int64)
    weight = column(4) / (rng.permutation(n) + 5.0)
    partner = np.array([_CATEGORY_INDEX[str(c)] for c in column(3)])
    companion = partner * k + rng.integers(0, k // 4, n)
    bundles = np.array(
        [[_CATEGORY_INDEX[c] * k + b for c in cats] for b, (_, cats) in enumerate(P.BUNDLES)]
    )
    titles = []
    for name, *_rest in P.CATEGORIES:
        firsts, seconds = P.NAMES[name]
        titles += [f"{firsts[i // len(seconds)]} {seconds[i % len(seconds)]}" for i in range(k)]
        assert len(firsts) * len(seconds) == k, name
    return Catalog(
        category, price, cost, weight / weight.sum(), column(5), companion, bundles, titles
    )


def products_table(cat: Catalog, currency: str) -> pa.Table:
    n = len(cat)
    return pa.table(
        {
            "product_id": cat.ids,
            "sku": A.codes("SKU-", np.arange(n), 4),
            "title": pa.array(cat.titles),
            "category": A.take(CATEGORY_NAMES, cat.category),
            "price": A.money(cat.price),
            "unit_cost": A.money(cat.cost),
            "margin": pa.array(np.round(1 - cat.cost / cat.price, 4)),
            "currency": A.constant(currency, n),
            "source": A.constant("demo", n),
        }
    )


@dataclass(frozen=True)
class Taste:
    """Buyers' tastes (``tenure demo --taste``): with probability ``strength`` an order's
    primary product and each popular filler slot come from the buyer's category.
    ``favourite`` is the category number of each buyer (per order: the order's category,
    :meth:`per_order`); ``rng`` a stream of its own, so the other draws are those of a demo
    without taste."""

    strength: float
    favourite: np.ndarray
    rng: np.random.Generator

    def per_order(self, buyer: np.ndarray, first: np.ndarray) -> Taste:
        """The category of each order: its buyer's favourite, except that a repeat order
        (``first`` False) moves on to the next category of the favourite's journey
        (:data:`JOURNEY`) with probability ``params.JOURNEY_PROB``."""
        favourite = self.favourite[buyer]
        moves = ~first & (self.rng.uniform(size=len(buyer)) < P.JOURNEY_PROB)
        return Taste(self.strength, np.where(moves, JOURNEY[favourite], favourite), self.rng)


@dataclass
class Lines:
    """Order lines: order index, line number (from 1), product, quantity, unit price paid."""

    order: np.ndarray
    line: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    unit_cents: np.ndarray

    def __len__(self) -> int:
        return len(self.order)


def _to_taste(
    cat: Catalog, taste: Taste, products: np.ndarray, free: np.ndarray | None = None
) -> np.ndarray:
    """``products`` (rows = orders) with each entry, where ``free``, replaced with
    probability ``taste.strength`` by a popular product of the buyer's favourite category.
    The primary's four budget candidates (``free`` None) are replaced together."""
    r = taste.rng
    fav = np.broadcast_to(taste.favourite[:, None], products.shape)
    mine = cat.draw_within(r, fav)
    if free is None:
        swap = np.broadcast_to((r.uniform(size=len(products)) < taste.strength)[:, None], fav.shape)
    else:
        swap = free & (r.uniform(size=products.shape) < taste.strength)
    return np.where(swap, mine, products)


def _candidates(
    rng: np.random.Generator, cat: Catalog, target: np.ndarray, taste: Taste | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate products per order (rows): a primary that fits the budget, its companion
    (with probability COMPANION_PROB), popular products. Bundle orders start with a bundle's
    three products, which are forced into the basket (second array). With a ``taste``, the
    primary's candidates and the popular fillers may come from the buyer's favourite category
    (:func:`_to_taste`); companions and bundles stay as they are."""
    n = len(target)
    slots = np.empty((n, P.BASKET_SLOTS), dtype=np.int64)
    primary = cat.draw(rng, (n, 4))
    if taste is not None:
        primary = _to_taste(cat, taste, primary)
    fits = cat.price[primary] <= 1.25 * target[:, None]
    pick = np.where(fits.any(axis=1), fits.argmax(axis=1), cat.price[primary].argmin(axis=1))
    slots[:, 0] = primary[np.arange(n), pick]
    with_companion = rng.uniform(size=n) < P.COMPANION_PROB
    slots[:, 1:] = cat.draw(rng, (n, P.BASKET_SLOTS - 1))
    slots[:, 1] = np.where(with_companion, cat.companion[slots[:, 0]], slots[:, 1])
    bundle = rng.integers(0, len(cat.bundles), n)
    bundle_price = cat.price[cat.bundles].sum(axis=1)[bundle]
    is_bundle = (rng.uniform(size=n) < P.BUNDLE_PROB) & (bundle_price <= 1.6 * target)
    slots[is_bundle, :3] = cat.bundles[bundle[is_bundle]]
    forced = is_bundle[:, None] & (np.arange(P.BASKET_SLOTS) < 3)[None, :]
    if taste is not None:
        filler = ~forced & (np.arange(P.BASKET_SLOTS) > 0)[None, :]
        filler[:, 1] &= ~with_companion
        slots = _to_taste(cat, taste, slots, filler)
    return slots, forced


def basket(
    rng: np.random.Generator, cat: Catalog, target: np.ndarray, taste: Taste | None = None
) -> Lines:
    """Lines of each order, priced to add up exactly to ``target`` (the subtotal, in cents).

    Candidates are taken greedily while the list value stays below the target (an item is
    added when it brings the value closer). For large targets the quantities of all lines
    but the last are multiplied by m. The lines are priced at list price x f, with
    f = target / list value, rounded to the cent; the last line (quantity 1) takes the rest.
    ``taste`` (per order) steers the candidates (:func:`_candidates`).
    """
    prods, forced = _candidates(rng, cat, target, taste)
    n, k = prods.shape
    qty = 1 + rng.poisson(cat.extra_qty[prods])
    value = cat.price[prods] * qty
    included = np.zeros((n, k), dtype=bool)
    included[:, 0] = True
    total = value[:, 0].copy()
    for j in range(1, k):  # a loop over the few basket slots, vectorised over orders
        dup = ((prods[:, :j] == prods[:, j : j + 1]) & included[:, :j]).any(axis=1)
        add = forced[:, j] | (~dup & (total + 0.5 * value[:, j] < target))
        included[:, j] = add
        total += np.where(add, value[:, j], 0)
    last = k - 1 - included[:, ::-1].argmax(axis=1)
    rows = np.arange(n)
    qty[rows, last] = 1
    last_value = cat.price[prods[rows, last]]
    rest = np.where(included, cat.price[prods] * qty, 0).sum(axis=1) - last_value
    m = np.where(rest > 0, np.clip(np.round((target - last_value) / np.maximum(rest, 1)), 1, 12), 1)
    is_last = np.arange(k)[None, :] == last[:, None]
    qty = np.where(is_last, 1, qty * m[:, None].astype(np.int64))
    listed = np.where(included, cat.price[prods] * qty, 0).sum(axis=1)
    f = target / listed
    unit = np.round(cat.price[prods] * f[:, None]).astype(np.int64)
    others = np.where(included & ~is_last, unit * qty, 0).sum(axis=1)
    unit[rows, last] = target - others
    order, slot = np.nonzero(included)
    line = np.cumsum(included, axis=1)[order, slot]
    return Lines(order, line, prods[order, slot], qty[order, slot], unit[order, slot])
