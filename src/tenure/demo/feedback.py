"""Feedback and referrals of a batch, with their truth: each buyer's satisfaction, their NPS
answers and product reviews, and who referred whom (docs/demo.md, "Feedback and referrals").

Drawn after everything else of the batch from a random stream of its own
(``[seed, FEEDBACK_STREAM, batch]``), so the customers, orders, lines, events and spend are
the rows they are without it. Vectorised over buyers, orders and referrals with numpy; rows
name each person by the customer id and e-mail of their customer record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa

from tenure.demo import arrow as A
from tenure.demo import params as P
from tenure.demo.buyers import Buyers
from tenure.demo.catalog import Catalog
from tenure.demo.clock import Clock
from tenure.demo.orders import Orders
from tenure.demo.people import People
from tenure.demo.truth import Row, truth_arrays

#: The random stream of feedback and referrals (``[seed, FEEDBACK_STREAM, batch]``).
FEEDBACK_STREAM = 7002
#: A review's title and body per star (1..5), for the reviews that have text.
TITLES = ("Disappointed", "Not great", "It does the job", "Very good", "Love it")
BODIES = (
    "Did not live up to the description.",
    "Works, but I expected better for the price.",
    "Fine for everyday use, nothing special.",
    "Good quality, I would buy it again.",
    "Excellent. I have already recommended it to friends.",
)
#: The NPS promoter and detractor thresholds (0-10 answers): 9-10 and 0-6.
PROMOTER, DETRACTOR = 9, 6
_FULLY_REFUNDED = 1  # orders.STATUSES index of "refunded"


@dataclass
class FeedbackTotals:
    """Running counts over the batches: the next ids, and what was realised."""

    feedback: int = 0
    referrals: int = 0
    respondents: int = 0
    promoters: int = 0
    detractors: int = 0
    reviews: int = 0
    stars: int = 0
    referred_buyers: int = 0
    referred_revenue_cents: int = 0
    rewards_cents: int = 0

    def rows(self) -> list[Row]:
        """The realised figures (scope ``global``), as Tenure should find them; a figure
        without data (no respondent, review or referred buyer) has no row."""
        rows: list[Row] = [
            (
                "nps_respondents_realised",
                "global",
                float(self.respondents),
                "buyers with an NPS answer",
            ),
            ("reviews_realised", "global", float(self.reviews), "product reviews"),
            (
                "referrals_realised",
                "global",
                float(self.referrals),
                "referrals (referred buyers and referred prospects)",
            ),
            (
                "referred_buyers_realised",
                "global",
                float(self.referred_buyers),
                "referred persons with a purchase (an order not refunded in full)",
            ),
            (
                "referral_rewards_realised",
                "global",
                self.rewards_cents / 100,
                "rewards paid by the referral programme",
            ),
        ]
        if self.respondents:
            nps = 100.0 * (self.promoters - self.detractors) / self.respondents
            rows.append(
                (
                    "nps_realised",
                    "global",
                    nps,
                    "NPS of each respondent's latest "
                    "answer: % promoters (9-10) - % detractors (0-6)",
                )
            )
        if self.reviews:
            rows.append(
                (
                    "average_rating_realised",
                    "global",
                    self.stars / self.reviews,
                    "mean stars (1-5) of the reviews",
                )
            )
        if self.referred_buyers:
            revenue = self.referred_revenue_cents / 100 / self.referred_buyers
            rows.append(
                (
                    "revenue_referred_realised",
                    "global",
                    revenue,
                    "mean net revenue (total - refunded, all orders) of a referred buyer",
                )
            )
        return rows  # fmt: skip


@dataclass
class Draw:
    """The batch's rows: ``feedback``, ``referrals`` and their ``truth`` rows (satisfaction
    per buyer, ``referred_by`` per referred person)."""

    feedback: pa.Table
    referrals: pa.Table
    truth: pa.Table


def satisfaction(rng: np.random.Generator, b: Buyers) -> np.ndarray:
    """Each buyer's true satisfaction (0-10): the lower the drop-out probability, the higher."""
    noise = rng.normal(0.0, P.SATISFACTION_SD, len(b))
    return np.clip(P.SATISFACTION_BASE - P.SATISFACTION_P_SLOPE * b.p + noise, 0.0, 10.0)


def _one_of(
    rng: np.random.Generator, group: np.ndarray, groups: int, chosen: np.ndarray
) -> np.ndarray:
    """For each entry of ``chosen`` (group numbers), the index of one of the group's members,
    uniformly; ``group`` holds each member's group, sorted, every group non-empty."""
    count = np.bincount(group, minlength=groups)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    return first[chosen] + (rng.uniform(size=len(chosen)) * count[chosen]).astype(np.int64)


def _after_order(
    rng: np.random.Generator, o: Orders, pick: np.ndarray, least: float, mean: float
) -> np.ndarray:
    """Days since the start, ``least`` + Exponential(``mean``) days after orders ``pick``."""
    return o.us[pick] / A.US_PER_DAY + least + rng.exponential(mean, len(pick))


def _nps(
    rng: np.random.Generator, s: np.ndarray, o: Orders, cl: Clock
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buyer, day, score) of the NPS answers: a share of buyers answer once or twice, each
    time some days after one of their orders (uniformly chosen); answers after the last day
    are never given."""
    n = len(s)
    answers = rng.uniform(size=n) < P.NPS_RATE
    again = answers & (rng.uniform(size=n) < P.NPS_AGAIN)
    buyer = np.concatenate([np.flatnonzero(answers), np.flatnonzero(again)])
    pick = _one_of(rng, o.buyer, n, buyer)  # orders are sorted by buyer
    day = _after_order(rng, o, pick, 1.0, P.NPS_DELAY_DAYS)
    noisy = s[buyer] + rng.normal(0.0, P.NPS_NOISE, len(buyer))
    score = np.round(np.clip(noisy, 0.0, 10.0))
    keep = day < cl.days
    return buyer[keep], day[keep], score[keep]


def _reviews(
    rng: np.random.Generator, s: np.ndarray, o: Orders, cl: Clock
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(buyer, day, stars, product, has text) of the reviews: a share of orders get a review
    of one of their lines' products (uniformly chosen) some days later, if before the end.
    The product is drawn last: the other draws do not depend on the baskets (tastes)."""
    order = np.flatnonzero(rng.uniform(size=len(o)) < P.REVIEW_RATE)
    day = _after_order(rng, o, order, 2.0, P.REVIEW_DELAY_DAYS)
    buyer = o.buyer[order]
    noisy = np.clip(s[buyer] + rng.normal(0.0, P.REVIEW_NOISE, len(order)), 0.0, 10.0)
    stars = np.clip(np.round(1.0 + 4.0 * noisy / 10.0), 1, 5)
    has_text = rng.uniform(size=len(order)) < P.REVIEW_TEXT
    line = _one_of(rng, o.lines.order, len(o), order)  # lines are sorted by order
    keep = day < cl.days
    return buyer[keep], day[keep], stars[keep], o.lines.product[line][keep], has_text[keep]


def draw_referrers(
    rng: np.random.Generator, s: np.ndarray, acquired: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """For each referral dated ``at``, the index of a buyer whose first order (``acquired``)
    came strictly before it, drawn with weight (satisfaction ``s`` / 10) ** REFERRAL_POWER;
    -1 where no buyer with a weight had ordered yet."""
    by_time = np.argsort(acquired, kind="stable")
    weight = np.cumsum((s[by_time] / 10.0) ** P.REFERRAL_POWER)
    before = np.searchsorted(acquired[by_time], at, side="left")  # buyers ordered before
    total = np.where(before > 0, weight[np.maximum(before - 1, 0)], 0.0)
    k = np.searchsorted(weight, rng.uniform(size=len(at)) * total, side="right")
    k = np.minimum(k, np.maximum(before - 1, 0))
    return np.where(total > 0, by_time[k], -1)


def _referrals(
    rng: np.random.Generator, s: np.ndarray, pp: People, b: Buyers
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(referrer, referred, day) of the referrals: a share of buyers are referred shortly
    before their first order, a share of prospects shortly before they sign up, each by an
    earlier buyer (so: no self-referral, no cycle)."""
    n = len(b)
    buyers = np.flatnonzero(rng.uniform(size=n) < P.REFERRED_BUYERS)
    prospects = n + np.flatnonzero(rng.uniform(size=len(pp) - n) < P.REFERRED_PROSPECTS)
    referred = np.concatenate([buyers, prospects])
    arrives = np.concatenate([b.acquired[buyers], pp.signup[prospects]])
    day = np.maximum(arrives - rng.exponential(P.REFERRAL_LEAD_DAYS, len(referred)), 0.0)
    referrer = draw_referrers(rng, s, b.acquired, day)
    keep = referrer >= 0
    return referrer[keep], referred[keep], day[keep]


def _feedback_table(
    pp: People,
    cat: Catalog,
    start: date,
    nps: tuple[np.ndarray, np.ndarray, np.ndarray],
    reviews: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    offset: int,
) -> pa.Table:
    """NPS answers then reviews, numbered ``F00000000``... in the order they were given."""
    (nb, nd, ns), (rb, rd, rs, rp, has_text) = nps, reviews
    person = np.concatenate([nb, rb])
    day = np.concatenate([nd, rd])
    is_review = np.r_[np.zeros(len(nb), bool), np.ones(len(rb), bool)]
    score = np.concatenate([ns, rs])
    product = np.r_[np.full(len(nb), -1), rp]
    star = np.r_[np.full(len(nb), -1), rs.astype(np.int64) - 1]
    text = np.r_[np.zeros(len(nb), bool), has_text]
    order = np.argsort(day, kind="stable")
    person, day, is_review, score = person[order], day[order], is_review[order], score[order]
    product, star, text = product[order], star[order], text[order]
    n = len(order)
    titled = np.where(text, star, -1)
    return pa.table(
        {
            "feedback_id": A.codes("F", np.arange(offset, offset + n), 8),
            "customer_id": A.take(pp.customer_id, person),
            "email": A.take(pp.email, person),
            "anonymous_id": A.constant(None, n),
            "kind": A.take(["nps", "review"], is_review),
            "score": pa.array(score, pa.float64()),
            "scale_min": pa.array(np.where(is_review, 1.0, 0.0)),
            "scale_max": pa.array(np.where(is_review, 5.0, 10.0)),
            "product_id": A.take_or_null(cat.ids, product),
            "title": A.take_or_null(list(TITLES), titled),
            "body": A.take_or_null(list(BODIES), titled),
            "submitted_at": A.timestamps(start, A.days_to_us(day)),
            "source": A.constant("demo", n),
        }
    )


def _referrals_table(
    pp: People,
    o: Orders,
    start: date,
    refs: tuple[np.ndarray, np.ndarray, np.ndarray],
    currency: str,
    offset: int,
) -> pa.Table:
    """The referrals, numbered ``R0000000``... in time order: code ``REF-<referrer's id>``,
    the referred buyer's first order and the reward (0 for a prospect, who never orders)."""
    referrer, referred, day = (x[np.argsort(refs[2], kind="stable")] for x in refs)
    n = len(day)
    first_order = np.flatnonzero(o.first)  # the buyers' first orders, buyer by buyer
    ordered = referred < pp.n_buyers
    order = np.where(ordered, first_order[np.minimum(referred, pp.n_buyers - 1)], -1)
    referrer_id = A.take(pp.customer_id, referrer)
    return pa.table(
        {
            "referral_id": A.codes("R", np.arange(offset, offset + n), 7),
            "referrer_customer_id": referrer_id,
            "referrer_email": A.take(pp.email, referrer),
            "referred_customer_id": A.take(pp.customer_id, referred),
            "referred_email": A.take(pp.email, referred),
            "code": A.concat("REF-", referrer_id),
            "order_id": A.take_or_null(o.order_id, order),
            "referred_at": A.timestamps(start, A.days_to_us(day)),
            "reward": A.money(np.where(ordered, P.REFERRAL_REWARD_CENTS, 0)),
            "currency": A.constant(currency, n),
            "source": A.constant("demo", n),
        }
    )  # fmt: skip


def _count(
    totals: FeedbackTotals,
    nps: tuple[np.ndarray, np.ndarray, np.ndarray],
    stars: np.ndarray,
    referred: np.ndarray,
    bought: np.ndarray,
    net_cents: np.ndarray,
) -> None:
    """Add the batch's realised figures to ``totals`` (ids move on by its rows)."""
    buyer, day, score = nps
    by = np.lexsort((day, buyer))
    last = by[np.r_[buyer[by][1:] != buyer[by][:-1], True]] if len(by) else by
    totals.respondents += len(last)
    totals.promoters += int((score[last] >= PROMOTER).sum())
    totals.detractors += int((score[last] <= DETRACTOR).sum())
    totals.feedback += len(buyer) + len(stars)
    totals.reviews += len(stars)
    totals.stars += int(stars.sum())
    totals.referrals += len(referred)
    totals.referred_buyers += int(bought.sum())
    totals.referred_revenue_cents += int(net_cents[referred[bought]].sum())
    totals.rewards_cents += P.REFERRAL_REWARD_CENTS * int((referred < len(net_cents)).sum())


def draw_feedback(
    rng: np.random.Generator,
    pp: People,
    b: Buyers,
    o: Orders,
    cat: Catalog,
    cl: Clock,
    currency: str,
    totals: FeedbackTotals,
) -> Draw:
    """The batch's feedback, referrals and truth rows; ``totals`` gives the first ids and
    gathers the realised figures."""
    s = satisfaction(rng, b)
    nps = _nps(rng, s, o, cl)
    refs = _referrals(rng, s, pp, b)
    reviews = _reviews(rng, s, o, cl)
    feedback = _feedback_table(pp, cat, cl.start, nps, reviews, totals.feedback)
    referrals = _referrals_table(pp, o, cl.start, refs, currency, totals.referrals)
    n = len(b)
    purchases = np.bincount(o.buyer[o.status != _FULLY_REFUNDED], minlength=n)
    referrer, referred, _ = refs
    bought = np.zeros(len(referred), dtype=bool)
    bought[referred < n] = purchases[referred[referred < n]] > 0
    truth = pa.concat_tables(
        [
            truth_arrays(
                "satisfaction", pp.customer_id.slice(0, n), s,
                A.constant("true satisfaction of the buyer (0-10)", n),
            ),
            truth_arrays(
                "referred_by", A.take(pp.customer_id, referred), bought.astype(np.float64),
                A.take(pp.customer_id, referrer),
            ),
        ]
    )  # fmt: skip
    net = np.bincount(o.buyer, weights=(o.total - o.refunded).astype(np.float64), minlength=n)
    _count(totals, nps, reviews[2], referred, bought, np.round(net).astype(np.int64))
    return Draw(feedback, referrals, truth)
