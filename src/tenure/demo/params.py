"""The demo store's generating parameters: the truth models are checked against.

Time unit: days. Purchase rates are per day of *operational time* (see docs/demo.md):
calendar time is mapped through the cumulative seasonal intensity, so that in operational
time purchases follow the BG/NBD process exactly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    """An acquisition channel: its share of new buyers, BG/NBD population and costs."""

    name: str
    share: float
    r: float
    alpha: float
    a: float
    b: float
    cac: float  # true acquisition cost per new buyer (0 for unpaid channels)
    utm_source: str | None
    utm_medium: str | None
    campaigns: tuple[str, ...]


CHANNELS: tuple[Channel, ...] = (
    Channel("organic_search", 0.25, 0.90, 90.0, 0.60, 2.8, 0.0, "google", "organic", ()),
    Channel(
        "paid_search", 0.22, 0.80, 100.0, 0.80, 2.4, 38.0, "google", "cpc", ("brand", "generic")
    ),
    Channel(
        "paid_social",
        0.18,
        0.60,
        120.0,
        1.20,
        2.0,
        52.0,
        "facebook",
        "paid_social",
        ("prospecting", "retargeting"),
    ),
    Channel(
        "email", 0.10, 1.20, 70.0, 0.40, 3.0, 0.0, "newsletter", "email", ("welcome", "weekly")
    ),
    Channel("referral", 0.10, 0.90, 95.0, 0.70, 2.6, 22.0, "partner", "affiliate", ("affiliates",)),
    Channel("direct", 0.15, 1.00, 85.0, 0.50, 2.8, 0.0, None, None, ()),
)

#: Gamma-gamma spend: order subtotal z ~ Gamma(shape p, rate nu_i), nu_i ~ Gamma(q, rate gamma).
GG_P, GG_Q, GG_GAMMA = 6.0, 4.0, 30.0

PROSPECT_SHARE = 0.35  # newsletter sign-ups who never buy, per buyer
CART_ABANDONMENT = 0.70  # sessions with a cart but no order / sessions with a cart
BROWSE_SESSIONS_PER_ORDER = 1.0  # sessions that view products and add nothing
REFUND_FULL, REFUND_PARTIAL = 0.025, 0.015
COUPON_SHARE, COUPON_RATE = 0.15, 0.10
TAX_RATE = 0.08
FREE_SHIPPING_FROM, SHIPPING = 50.0, 4.95
ACCEPTS_MARKETING, UNSUBSCRIBE, BOUNCE = 0.65, 0.08, 0.01
COMPANION_PROB = 0.30
MAX_REPEAT = 300
WEEKDAY = (1.05, 1.0, 1.0, 1.0, 0.95, 0.9, 1.1)  # Monday..Sunday
CATEGORIES = (
    ("Coffee", 14.0, 0.45),
    ("Tea", 11.0, 0.50),
    ("Mugs", 16.0, 0.55),
    ("Brewing gear", 38.0, 0.35),
    ("Grinders", 85.0, 0.30),
    ("Kettles", 55.0, 0.30),
    ("Gift sets", 45.0, 0.40),
    ("Accessories", 9.0, 0.60),
)


def expected_repeat(ch: Channel, t: float) -> float:
    """BG/NBD expected repeat purchases in an operational period of length t (days)."""
    from scipy.special import hyp2f1

    a, b, r, alpha = ch.a, ch.b, ch.r, ch.alpha
    z = t / (alpha + t)
    return float(
        (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    )


def truth_rows(
    customers_per_channel: dict[str, int], spend: dict[str, float]
) -> list[dict[str, object]]:
    """Rows of the ``generator_truth`` table."""
    rows: list[dict[str, object]] = []

    def add(name: str, scope: str, value: float, description: str) -> None:
        rows.append(
            {"name": name, "scope": scope, "value": float(value), "description": description}
        )

    for ch in CHANNELS:
        add("acquisition_share", ch.name, ch.share, "share of new buyers acquired by the channel")
        add("r", ch.name, ch.r, "BG/NBD: shape of the gamma population of purchase rates")
        add("alpha", ch.name, ch.alpha, "BG/NBD: scale (days) of the gamma population of rates")
        add("a", ch.name, ch.a, "BG/NBD: beta population of drop-out probabilities, a")
        add("b", ch.name, ch.b, "BG/NBD: beta population of drop-out probabilities, b")
        add("cac", ch.name, ch.cac, "true acquisition cost per new buyer (USD)")
        add("buyers", ch.name, customers_per_channel.get(ch.name, 0), "buyers acquired")
        add("spend", ch.name, spend.get(ch.name, 0.0), "total ad spend (USD)")
    add("p", "global", GG_P, "gamma-gamma: shape of the order-subtotal gamma")
    add("q", "global", GG_Q, "gamma-gamma: shape of the gamma population of spend rates")
    add("gamma", "global", GG_GAMMA, "gamma-gamma: rate of the gamma population of spend rates")
    add("prospect_share", "global", PROSPECT_SHARE, "newsletter sign-ups who never buy, per buyer")
    add("cart_abandonment", "global", CART_ABANDONMENT, "carts without an order / all carts")
    add("refund_full", "global", REFUND_FULL, "share of orders fully refunded")
    add("refund_partial", "global", REFUND_PARTIAL, "share of orders partly refunded")
    add("time_unit_days", "global", 1.0, "BG/NBD time unit: days of operational time")
    return rows
