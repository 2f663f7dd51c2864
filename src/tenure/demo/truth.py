"""Rows of ``generator_truth``: every generating parameter, the catalogue's companions and
bundles, then what was realised."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tenure.demo import arrow as A
from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.catalog import CATEGORY_NAMES, Catalog

Row = tuple[str, str, float, str]

_GLOBAL: tuple[tuple[str, float, str], ...] = (
    ("time_unit_days", 1.0, "BG/NBD rates are per day of operational time (docs/demo.md)"),
    ("p", P.GG_P, "gamma-gamma: shape of an order subtotal's gamma distribution"),
    ("q", P.GG_Q, "gamma-gamma: shape of the gamma population of spend rates nu"),
    ("gamma", P.GG_GAMMA, "gamma-gamma: rate of the gamma population of spend rates nu"),
    ("min_subtotal", P.MIN_SUBTOTAL_CENTS / 100, "subtotal draws below this are raised to it"),
    ("prospect_share", P.PROSPECT_SHARE, "newsletter prospects (never buy) per buyer"),
    ("email_signup_lead_days", P.EMAIL_SIGNUP_LEAD_DAYS, "mean days e-mail buyers subscribed "
     "before their first order (operational time)"),
    ("cart_abandonment", P.CART_ABANDONMENT, "visits with a cart and no order / all with a cart"),
    ("checkout_abandoned", P.CHECKOUT_ABANDONED, "abandoned carts that reach Checkout Started"),
    ("email_at_checkout", P.EMAIL_AT_CHECKOUT, "abandoned checkouts that leave an e-mail"),
    ("browse_sessions_per_order", P.BROWSE_SESSIONS_PER_ORDER, "browse-only visits per order"),
    ("prospect_browse_sessions", P.PROSPECT_BROWSE, "browse-only visits per prospect"),
    ("prospect_carts", P.PROSPECT_CARTS, "abandoned carts per prospect"),
    ("refund_full", P.REFUND_FULL, "share of orders fully refunded"),
    ("refund_partial", P.REFUND_PARTIAL, "share of orders refunded 20-60%"),
    ("coupon_first", P.COUPON_FIRST, "first orders with coupon WELCOME10"),
    ("coupon_repeat", P.COUPON_REPEAT, "repeat orders with coupon SAVE10"),
    ("coupon_rate", P.COUPON_RATE, "coupon discount as a share of the subtotal"),
    ("tax_rate", P.TAX_RATE, "tax as a share of subtotal - discount"),
    ("free_shipping_from", P.FREE_SHIPPING_FROM_CENTS / 100, "free shipping from this subtotal"),
    ("shipping", P.SHIPPING_CENTS / 100, "shipping fee below free shipping"),
    ("accepts_marketing", P.ACCEPTS_MARKETING, "buyers (not subscribed before) who opt in"),
    ("unsubscribe", P.UNSUBSCRIBE, "e-mail subscribers who later unsubscribe"),
    ("bounce", P.BOUNCE, "e-mail subscribers whose address bounces (suppressed)"),
    ("complaint", P.COMPLAINT, "e-mail subscribers who complain (suppressed)"),
    ("sms_subscribers", P.SMS_SUBSCRIBERS, "people who subscribe to SMS (phone only)"),
    ("sms_stop", P.SMS_STOP, "SMS subscribers who later send STOP"),
    ("birthday_share", P.BIRTHDAY_SHARE, "people with a birthday trait (age 18-75, uniform)"),
    ("credit_share", P.CREDIT_SHARE, "buyers with store credit (trait credit_expires_at)"),
    ("credit_window_days", P.CREDIT_WINDOW_DAYS, "the credit expires up to this many days "
     "before or after the last day (uniform)"),
    ("companion_prob", P.COMPANION_PROB, "orders offered their primary product's companion"),
    ("bundle_prob", P.BUNDLE_PROB, "orders that are a bundle (when the budget allows)"),
    ("acquisition_growth", P.ACQUISITION_GROWTH, "growth of new buyers per day over the period"),
    ("yearly_amplitude", P.YEARLY_AMPLITUDE, "amplitude of the yearly wave of activity"),
    ("black_friday_factor", P.BLACK_FRIDAY_TO_CYBER_MONDAY, "activity factor Black Friday to "
     "Cyber Monday"),
    ("december_factor", P.CYBER_MONDAY_TO_DEC_20, "activity factor Cyber Monday to 20 December"),
    ("spend_noise_sigma", P.SPEND_NOISE_SIGMA, "log-sd of daily bid spend around its mean"),
)  # fmt: skip


_FEEDBACK: tuple[tuple[str, float, str], ...] = (
    ("satisfaction_base", P.SATISFACTION_BASE, "satisfaction = clip(base - p_slope x p + "
     "Normal(0, sd), 0, 10): its base"),
    ("satisfaction_p_slope", P.SATISFACTION_P_SLOPE, "satisfaction: slope on the drop-out p"),
    ("satisfaction_sd", P.SATISFACTION_SD, "satisfaction: sd of the buyer's own noise"),
    ("nps_answer_rate", P.NPS_RATE, "share of buyers who answer the NPS survey after an order"),
    ("nps_again", P.NPS_AGAIN, "share of respondents who answer a second time"),
    ("nps_delay_days", P.NPS_DELAY_DAYS, "mean days after the order (exponential, + 1 day)"),
    ("nps_noise", P.NPS_NOISE, "sd of an answer around the satisfaction (then rounded)"),
    ("review_rate", P.REVIEW_RATE, "share of orders with a review of one of their products"),
    ("review_delay_days", P.REVIEW_DELAY_DAYS, "mean days after the order (exponential, + 2)"),
    ("review_noise", P.REVIEW_NOISE, "sd around the satisfaction; stars = 1 + 4 x it / 10"),
    ("review_text", P.REVIEW_TEXT, "share of reviews with a title and a body"),
    ("referral_prob", P.REFERRED_BUYERS, "probability that a buyer arrives referred by an "
     "earlier buyer"),
    ("referral_prospect_prob", P.REFERRED_PROSPECTS, "probability that a prospect is "
     "referred by a buyer (never buys)"),
    ("referral_power", P.REFERRAL_POWER, "a buyer's weight as referrer: (satisfaction / 10) "
     "** power"),
    ("referral_lead_days", P.REFERRAL_LEAD_DAYS, "mean days from the referral to the "
     "first order or sign-up (exponential)"),
    ("referral_reward", P.REFERRAL_REWARD_CENTS / 100, "reward per referred person who "
     "orders, in the store currency"),
)  # fmt: skip


def parameter_rows(customers: int, days: int, seed: int, taste: float = 0.0) -> list[Row]:
    """Every generating parameter, per channel, per campaign and global (``taste`` only
    when it is above 0: a demo without tastes has the rows it always had)."""
    rows: list[Row] = [
        ("customers", "global", float(customers), "buyers asked for"),
        ("days", "global", float(days), "days of history"),
        ("seed", "global", float(seed), "random seed"),
    ]
    rows += [(name, "global", float(value), doc) for name, value, doc in _GLOBAL]
    if taste > 0:
        rows += taste_parameter_rows(taste)
    rows += [(name, "global", float(value), doc) for name, value, doc in _FEEDBACK]
    for ch in P.CHANNELS:
        rows += [
            ("acquisition_share", ch.name, ch.share, "share of new buyers from the channel"),
            ("r", ch.name, ch.r, "BG/NBD: shape of the gamma population of purchase rates"),
            ("alpha", ch.name, ch.alpha, "BG/NBD: scale (days) of the gamma population of rates"),
            ("a", ch.name, ch.a, "BG/NBD: beta population of drop-out probabilities, a"),
            ("b", ch.name, ch.b, "BG/NBD: beta population of drop-out probabilities, b"),
            ("cac", ch.name, ch.cac, "target acquisition cost per new buyer"),
        ]
    for k, touch in enumerate(T.TOUCHES):
        if touch.campaign and touch.acquisition > 0:
            share = touch.acquisition / P.CHANNELS[T.CHANNEL_OF[k]].share
            rows.append((f"share.{touch.campaign}", touch.channel, share, "campaign's share"))
            rows.append((f"cac.{touch.campaign}", touch.channel, touch.cac, "campaign's CAC"))
        if touch.repeat > 0:
            name = f"repeat_share.{touch.campaign or 'none'}"
            rows.append((name, touch.channel, touch.repeat, "share of repeat visits and orders"))
    return rows


def taste_parameter_rows(taste: float) -> list[Row]:
    """The tastes' parameters: their strength, the journeys' probability, and each
    category's journey (``journey``, scope = the category, value = the next category's
    number, description = its name)."""
    doc = "probability that an order's primary, and each popular filler, is drawn from "
    rows: list[Row] = [
        ("taste", "global", float(taste), doc + "the order's category"),
        ("journey_prob", "global", P.JOURNEY_PROB, "probability that a repeat order's "
         "category is the next step of the buyer's favourite's journey, not the favourite"),
    ]  # fmt: skip
    for name in CATEGORY_NAMES:
        step = P.JOURNEYS[name]
        rows.append(("journey", name, float(CATEGORY_NAMES.index(step)), step))
    return rows


def product_id(number: int) -> str:
    """The demo's product id of product ``number``: ``P0042``."""
    return f"P{number:04d}"


def catalog_rows(cat: Catalog) -> list[Row]:
    """Each product's companion (``companion``, scope = the product id, value = the
    companion's product number) and each bundle's products (``bundle``, scope = a product id,
    value = the bundle number): the structure basket analysis should recover."""

    def named(k: int) -> str:
        return f"{product_id(k)} ({CATEGORY_NAMES[int(cat.category[k])]})"

    rows: list[Row] = []
    for k, companion in enumerate(cat.companion.tolist()):
        doc = f"companion of {named(k)}: {named(companion)}"
        rows.append(("companion", product_id(k), float(companion), doc))
    for b, members in enumerate(cat.bundles.tolist()):
        doc = f"bundle {b} '{P.BUNDLES[b][0]}': " + " + ".join(named(k) for k in members)
        rows += [("bundle", product_id(k), float(b), doc) for k in members]
    return rows


def taste_rows(customer_id: pa.Array, favourite: np.ndarray) -> list[Row]:
    """Each buyer's favourite category (``favourite_category``, scope = the customer id,
    value = the category number, description = its name); ``customer_id`` holds the batch's
    people, buyers first (as :func:`tenure.demo.people.draw_people` numbers them)."""
    ids = customer_id.slice(0, len(favourite)).to_pylist()
    return [
        ("favourite_category", cid, float(c), CATEGORY_NAMES[c])
        for cid, c in zip(ids, favourite.tolist(), strict=True)
    ]


def realised_rows(new: np.ndarray, spend: dict[int, np.ndarray]) -> list[Row]:
    """What the draw produced: buyers and spend per channel, and the realised CAC."""
    rows: list[Row] = []
    for c, ch in enumerate(P.CHANNELS):
        mine = np.asarray(T.CHANNEL_OF) == c
        buyers = float(new[mine].sum())
        cents = sum(float(v.sum()) for k, v in spend.items() if mine[k])
        rows += [
            ("buyers", ch.name, buyers, "new buyers acquired (realised)"),
            ("spend", ch.name, cents / 100, "acquisition spend (realised)"),
            ("cac_realised", ch.name, cents / 100 / max(buyers, 1.0), "spend / buyers"),
        ]
    return rows


def truth_table(rows: list[Row]) -> pa.Table:
    names, scopes, values, docs = zip(*rows, strict=True) if rows else ((), (), (), ())
    return pa.table(
        {
            "name": pa.array(names, pa.string()),
            "scope": pa.array(scopes, pa.string()),
            "value": pa.array(values, pa.float64()),
            "description": pa.array(docs, pa.string()),
        }
    )


def truth_arrays(name: str, scope: pa.Array, value: np.ndarray, description: pa.Array) -> pa.Table:
    """Rows of ``generator_truth`` named ``name``, one per entry of the arrays (built
    column-wise: no row loop)."""
    return pa.table(
        {
            "name": A.constant(name, len(scope)),
            "scope": scope,
            "value": pa.array(np.asarray(value, dtype=np.float64), pa.float64()),
            "description": description,
        }
    )
