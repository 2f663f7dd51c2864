"""The demo store's generating parameters: the truth models are checked against.

Time unit: days. Purchase rates are per day of *operational time* (docs/demo.md): calendar
time is mapped through the cumulative seasonal intensity, so that in operational time
purchases follow the BG/NBD process exactly. Money parameters are in the reporting currency.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Campaign:
    """A named campaign of a channel: its share of the channel's new buyers and its CAC."""

    name: str
    share: float
    cac: float  # target acquisition cost per new buyer (0: unpaid)


@dataclass(frozen=True)
class Channel:
    """An acquisition channel: share of new buyers, BG/NBD population, UTMs, campaigns."""

    name: str
    share: float
    r: float
    alpha: float
    a: float
    b: float
    utm_source: str | None
    utm_medium: str | None
    campaigns: tuple[Campaign, ...]
    #: How spend is paid: "bid" (daily budgets), "cpa" (a commission per new buyer) or "".
    pricing: str = ""

    @property
    def cac(self) -> float:
        """Target CAC of the channel: its campaigns' CACs weighted by their shares."""
        return sum(c.share * c.cac for c in self.campaigns)


def _c(name: str, share: float, cac: float = 0.0) -> Campaign:
    return Campaign(name, share, cac)


CHANNELS: tuple[Channel, ...] = (
    Channel("organic_search", 0.25, 0.90, 90.0, 0.60, 2.8, "google", "organic", (_c("", 1.0),)),
    Channel(
        "paid_search",
        0.22,
        0.80,
        100.0,
        0.80,
        2.4,
        "google",
        "cpc",
        (_c("search_brand", 0.4, 18.0), _c("search_generic", 0.6, 52.0)),
        "bid",
    ),
    Channel(
        "paid_social",
        0.18,
        0.60,
        120.0,
        1.20,
        2.0,
        "facebook",
        "paid_social",
        (_c("social_prospecting", 0.7, 60.0), _c("social_retargeting", 0.3, 30.0)),
        "bid",
    ),
    Channel(
        "email",
        0.10,
        1.20,
        70.0,
        0.40,
        3.0,
        "newsletter",
        "email",
        (_c("welcome_series", 0.7), _c("weekly_newsletter", 0.3)),
    ),
    Channel(
        "referral",
        0.10,
        0.90,
        95.0,
        0.70,
        2.6,
        "partner",
        "affiliate",
        (_c("brewguide", 0.5, 20.0), _c("coffeeblog", 0.3, 25.0), _c("dealsite", 0.2, 22.0)),
        "cpa",
    ),
    Channel("direct", 0.15, 1.00, 85.0, 0.50, 2.8, None, None, (_c("", 1.0),)),
)
CHANNEL_INDEX = {c.name: i for i, c in enumerate(CHANNELS)}

#: Where repeat orders and later sessions come from: (channel, campaign, probability).
REPEAT_TOUCHES: tuple[tuple[str, str, float], ...] = (
    ("email", "weekly_newsletter", 0.30),
    ("email", "winback", 0.10),
    ("direct", "", 0.35),
    ("organic_search", "", 0.15),
    ("paid_search", "search_brand", 0.10),
)

#: Gamma-gamma spend: order subtotal z ~ Gamma(shape p, rate nu_i), nu_i ~ Gamma(q, rate gamma).
GG_P, GG_Q, GG_GAMMA = 6.0, 4.0, 30.0
MIN_SUBTOTAL_CENTS = 100  # a subtotal draw below 1.00 is raised to 1.00
MAX_REPEAT = 1000  # cap on a buyer's potential repeat purchases (never reached in practice)

PROSPECT_SHARE = 0.35  # newsletter sign-ups who never buy, per buyer
EMAIL_SIGNUP_LEAD_DAYS = 21.0  # email-acquired buyers subscribed this long (mean) before buying
CART_ABANDONMENT = 0.70  # sessions with a cart but no order / sessions with a cart
CHECKOUT_ABANDONED = 0.30  # share of abandoned carts that reach Checkout Started
EMAIL_AT_CHECKOUT = 0.50  # share of those that leave an e-mail (an identify call)
BROWSE_SESSIONS_PER_ORDER = 1.0  # sessions that view products and add nothing
PROSPECT_BROWSE, PROSPECT_CARTS = 1.0, 0.30  # sessions per prospect after signing up
SESSION_BEFORE_DAYS, SESSION_AFTER_DAYS = 20.0, 60.0  # buyers browse around their orders
REFUND_FULL, REFUND_PARTIAL = 0.025, 0.015
COUPON_FIRST, COUPON_REPEAT, COUPON_RATE = 0.30, 0.15, 0.10
TAX_RATE = 0.08
FREE_SHIPPING_FROM_CENTS, SHIPPING_CENTS = 5000, 495
ACCEPTS_MARKETING, UNSUBSCRIBE, BOUNCE, COMPLAINT = 0.65, 0.08, 0.01, 0.002
SMS_SUBSCRIBERS, SMS_STOP = 0.15, 0.10
BIRTHDAY_SHARE = 0.25  # people who gave their birthday (the customer record's "birthday")
BIRTH_AGE_YEARS = (18, 75)  # their age on the last day: uniform between these
CREDIT_SHARE = 0.08  # buyers holding store credit (the customer record's "credit_expires_at")
CREDIT_WINDOW_DAYS = 90  # it expires up to this many days before or after the last day
DEVICES_EXTRA_P = 0.35  # devices per person: 1 + Binomial(2, 0.35)
DEVICE_TYPES = (("desktop", 0.45), ("mobile", 0.45), ("tablet", 0.10))
SPEND_NOISE_SIGMA = 0.20  # daily bid spend x LogNormal(-s^2/2, s): mean 1
ACQUISITION_GROWTH = 0.5  # new buyers per day grow linearly by this share over the period

COMPANION_PROB = 0.35  # an order's second slot is its primary product's companion
BUNDLE_PROB = 0.05  # an order is one of the bundles (when the budget allows)
BASKET_SLOTS = 6  # candidate products per order, filled greedily up to the subtotal
#: Buyers' tastes (docs/demo.md, "Tastes"): the default strength, and the category journeys.
TASTE = 0.6  # an order's primary and each popular filler come from the buyer's category
JOURNEY_PROB = 0.35  # a repeat order's category is the next step of the favourite's journey
#: The journey of each favourite category: the category its buyers move on to.
JOURNEYS = {
    "Coffee": "Grinders",
    "Tea": "Kettles",
    "Mugs": "Gift sets",
    "Brewing gear": "Grinders",
    "Grinders": "Brewing gear",
    "Kettles": "Mugs",
    "Gift sets": "Mugs",
    "Accessories": "Brewing gear",
}
PER_CATEGORY = 40

#: Feedback and referrals (docs/demo.md, "Feedback and referrals").
#: True satisfaction (0-10) = clip(SATISFACTION_BASE - SATISFACTION_P_SLOPE x p
#: + Normal(0, SATISFACTION_SD), 0, 10): the lower a buyer's drop-out probability p, the happier.
SATISFACTION_BASE, SATISFACTION_P_SLOPE, SATISFACTION_SD = 10.0, 9.0, 1.5
NPS_RATE = 0.30  # share of buyers who answer the NPS survey after one of their orders
NPS_AGAIN = 0.25  # share of those who answer it a second time (the latest answer counts)
NPS_DELAY_DAYS = 7.0  # mean delay (days, exponential, after a 1-day minimum) after the order
NPS_NOISE = 1.0  # sd of an answer around the satisfaction (then rounded, clipped to 0-10)
REVIEW_RATE = 0.10  # share of orders whose buyer reviews one of its products
REVIEW_DELAY_DAYS = 5.0  # mean delay (days, exponential, after a 2-day minimum) after the order
REVIEW_NOISE = 1.5  # sd around the satisfaction of a review, before 1 + 4 x score / 10
REVIEW_TEXT = 0.40  # share of reviews with a title and a body
REFERRED_BUYERS = 0.08  # share of buyers who arrive referred by an earlier buyer
REFERRED_PROSPECTS = 0.05  # share of prospects referred by a buyer (they never buy)
REFERRAL_POWER = 4.0  # a buyer's weight as a referrer: (satisfaction / 10) ** REFERRAL_POWER
REFERRAL_LEAD_DAYS = 3.0  # mean days (exponential) from the referral to the first order/sign-up
REFERRAL_REWARD_CENTS = 1000  # paid per referred person who orders (0 for the others)

#: Seasonality: weekday factors (Monday..Sunday), yearly wave, holiday peaks, hour of day.
WEEKDAY = (1.05, 1.0, 1.0, 1.0, 0.95, 0.9, 1.1)
YEARLY_AMPLITUDE = 0.12  # 1 + A cos(2 pi (day of year - 15) / 365.25)
BLACK_FRIDAY_TO_CYBER_MONDAY = 2.4
CYBER_MONDAY_TO_DEC_20 = 1.4
DEC_21_TO_24, CHRISTMAS, DEC_26_TO_31 = 1.1, 0.5, 0.9
#: Local hour-of-day profile (US Eastern), 0h..23h; the clock shifts it to UTC.
HOURLY_LOCAL = (
    0.35, 0.2, 0.12, 0.08, 0.08, 0.12, 0.3, 0.55, 0.8, 0.95, 1.05, 1.1,
    1.15, 1.15, 1.1, 1.05, 1.05, 1.1, 1.25, 1.45, 1.6, 1.55, 1.2, 0.7,
)  # fmt: skip
UTC_OFFSET_HOURS = 5

#: Categories: name, typical price, gross margin, companion category, popularity, extra qty.
CATEGORIES = (
    ("Coffee", 14.0, 0.45, "Mugs", 3.0, 0.5),
    ("Tea", 11.0, 0.50, "Kettles", 2.0, 0.4),
    ("Mugs", 16.0, 0.55, "Coffee", 1.0, 0.0),
    ("Brewing gear", 38.0, 0.35, "Accessories", 1.0, 0.0),
    ("Grinders", 85.0, 0.30, "Coffee", 0.5, 0.0),
    ("Kettles", 55.0, 0.30, "Tea", 0.5, 0.0),
    ("Gift sets", 45.0, 0.40, "Accessories", 0.8, 0.0),
    ("Accessories", 9.0, 0.60, "Brewing gear", 1.5, 0.3),
)
#: Product names per category: 8 names x 5 variants = 40 products.
# fmt: off
NAMES = {
    "Coffee": (
        ("Ethiopia", "Colombia", "Brazil", "Kenya", "Guatemala", "Sumatra", "Costa Rica", "Rwanda"),
        ("Light Roast 250g", "Medium Roast 250g", "Dark Roast 250g", "Espresso 1kg", "Decaf"),
    ),
    "Tea": (
        ("Earl Grey", "Sencha", "Assam", "Darjeeling", "Chamomile", "Rooibos", "Jasmine", "Oolong"),
        ("Loose 100g", "Bags x20", "Tin 250g", "Sampler", "Organic 100g"),
    ),
    "Mugs": (
        ("Stoneware", "Enamel", "Glass", "Porcelain", "Travel", "Espresso", "Double-wall", "Diner"),
        ("Mug White", "Mug Black", "Mug Blue", "Mug Sand", "Mug Green"),
    ),
    "Brewing gear": (
        ("Pour-over", "French Press", "AeroPress", "Moka Pot", "Cold Brew", "Chemex", "Kalita",
         "Siphon"),
        ("Mini", "Classic", "Large", "Steel", "Glass"),
    ),
    "Grinders": (
        ("Hand", "Burr", "Conical Burr", "Flat Burr", "Travel", "Blade", "Espresso", "Pro"),
        ("Grinder S", "Grinder M", "Grinder L", "Grinder Black", "Grinder Steel"),
    ),
    "Kettles": (
        ("Gooseneck", "Electric", "Stovetop", "Variable", "Travel", "Glass", "Whistling", "Smart"),
        ("Kettle 0.6L", "Kettle 0.9L", "Kettle 1.2L", "Kettle Black", "Kettle Copper"),
    ),
    "Gift sets": (
        ("Coffee Lover", "Tea Time", "Espresso", "Pour-over", "Cold Brew", "Barista", "Tasting",
         "Holiday"),
        ("Box", "Deluxe Box", "Mini Box", "Classic Box", "Premium Box"),
    ),
    "Accessories": (
        ("Paper Filters", "Scoop", "Tamper", "Milk Jug", "Thermometer", "Canister", "Infuser",
         "Brush"),
        ("x100", "Steel", "Bamboo", "Set", "XL"),
    ),
}
# fmt: on
#: Bundles: (name, categories of its three products); product k of each category is used.
BUNDLES = (
    ("Pour-over starter", ("Brewing gear", "Accessories", "Coffee")),
    ("Tea ritual", ("Kettles", "Tea", "Mugs")),
    ("Espresso corner", ("Grinders", "Coffee", "Accessories")),
    ("Morning set", ("Coffee", "Mugs", "Accessories")),
)

US_TIMEZONES = (
    ("America/New_York", 0.47),
    ("America/Chicago", 0.29),
    ("America/Denver", 0.07),
    ("America/Los_Angeles", 0.17),
)
FIRST_NAMES = (
    "ann", "bob", "carla", "dee", "eli", "fay", "gus", "hal", "ivy", "jo", "kim", "lea",
    "max", "noa", "oli", "pia", "raj", "sam", "tea", "uma", "vic", "wyn", "yan", "zoe",
)  # fmt: skip
LAST_NAMES = (
    "smith", "jones", "garcia", "miller", "davis", "martin", "lopez", "clark", "lewis",
    "walker", "young", "king", "wright", "scott", "green", "baker", "adams", "nelson",
)  # fmt: skip
AREA_CODES = ("212", "312", "415", "617", "206", "303", "512", "702", "305", "404")
