"""The advocate stage's indicators and the ranked ambassadors (docs/metrics.md, "Advocacy
indicators"; ``tenure advocates``).

Persons are found the way analytics/journey.py finds them (``identities``: a feedback row by
its customer id, e-mail or device id; a referral's two sides by customer id, else e-mail).
Feedback dated after the day, feedback of no known person, referrals flagged as on a cycle in
``flagged_values`` and referrals whose two sides are one person never count. Unknown is null,
never 0. Everything up to the per-person aggregates is Ibis (DuckDB and PySpark alike).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import F64, orders_base, store_end
from tenure.analytics.journey import counted_referrals, person_feedback
from tenure.store import Store
from tenure.store.currency import reporting_currency

#: The columns of :func:`advocates`.
COLUMNS = (
    "person_id",
    "referred_buyers",
    "referred_revenue",
    "reviews",
    "average_rating",
    "latest_nps",
    "score",
    "reason",
)


def _feedback(store: Store, end: date) -> ir.Table:
    """Scored feedback of a known person, given on or before ``end``; ``fp``: the person,
    ``stars``: the score on the 1-5 scale (null when the scale is unknown)."""
    f = person_feedback(store, end)
    span = f.scale_max.cast(F64) - f.scale_min.cast(F64)
    stars = 1.0 + (f.score.cast(F64) - f.scale_min.cast(F64)) / span.nullif(0.0) * 4.0
    return f.mutate(stars=stars)


def _latest_nps(f: ir.Table) -> ir.Table:
    """person_id, nps: each person's latest NPS answer."""
    nps = f.filter(f.kind == "nps")
    w = ibis.window(
        group_by=nps.fp, order_by=[ibis.desc(nps.submitted_at), ibis.desc(nps.feedback_id)]
    )
    latest = nps.mutate(_r=ibis.row_number().over(w))
    latest = latest.filter(latest._r == 0)
    return latest.select(person_id=latest.fp, nps=latest.score.cast(F64))


def _referrals(store: Store, end: date) -> ir.Table:
    """referrer, referred, reward, currency: the referrals that count as of ``end`` (dated
    on or before it or undated; not flagged; both sides known and not the same person)."""
    r = counted_referrals(store, end)
    return r.select(referrer=r.rp, referred=r.dp, reward=r.reward.cast(F64), currency=r.currency)


def _buyers(store: Store, end: date) -> ir.Table:
    """person_id, revenue: every person with a purchase by ``end`` and their revenue to it
    (refunds subtracted)."""
    o = orders_base(store, as_of=end)
    o = o.filter(o.person_id.notnull())
    per = o.group_by("person_id").agg(
        revenue=o.revenue.cast(F64).sum(), purchases=o.is_purchase.cast("int64").sum()
    )
    return per.filter(per.purchases > 0).select("person_id", "revenue")


_SHARED: ContextVar[dict[tuple[int, date], dict[str, pd.DataFrame]] | None] = ContextVar(
    "tenure_advocacy_frames", default=None
)


@contextmanager
def frames_once() -> Iterator[None]:
    """Inside the block, the feedback, NPS, referral and buyer frames of one store and day
    are read once and shared by :func:`advocacy_kpis`, :func:`advocates` and the stage
    indicators (a page showing all three; the frames are only read, never changed)."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _frames(store: Store, end: date) -> dict[str, pd.DataFrame]:
    shared = _SHARED.get()
    if shared is not None and (id(store), end) in shared:
        return shared[(id(store), end)]
    frames = {
        "feedback": _feedback(store, end).select("fp", "kind", "stars").execute(),
        "nps": _latest_nps(_feedback(store, end)).execute(),
        "referrals": _referrals(store, end).execute(),
        "buyers": _buyers(store, end).execute(),
    }
    if shared is not None:
        shared[(id(store), end)] = frames
    return frames


def _has_referrals(store: Store) -> bool:
    """Whether the store records any referral (of any day, counted or not)."""
    return bool(store.table("referrals").limit(1).count().execute())


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _mean(values: pd.Series) -> float | None:
    return float(values.mean()) if len(values) and values.notna().any() else None


def advocacy_kpis(store: Store, as_of: date | None = None) -> dict[str, Any]:
    """The advocate stage's indicators as of ``as_of`` (default: the as-of day); see the
    module and docs/metrics.md, "Advocacy indicators". Shares are fractions (0-1), NPS is
    -100..100; every figure without data is None."""
    end = as_of if as_of is not None else store_end(store)
    fr = _frames(store, end)
    nps, fb, ref, buy = fr["nps"], fr["feedback"], fr["referrals"], fr["buyers"]
    answered = len(nps)
    promoters = int((nps.nps >= 9).sum())
    detractors = int((nps.nps <= 6).sum())
    reviews = fb[fb.kind == "review"]
    stars = reviews.stars.dropna()
    buyer_ids = set(buy.person_id)
    referred = set(ref.referred)
    referred_buyers = referred & buyer_ids
    referrers = set(ref[ref.referred.isin(buyer_ids)].referrer) & buyer_ids
    code = reporting_currency(store)
    rewards = ref[ref.reward.notna()]
    in_code = rewards[rewards.currency.isna() | (rewards.currency == code)]
    cac = (
        float(in_code.reward.sum()) / len(referred_buyers)
        if len(in_code) and referred_buyers
        else None
    )
    is_referred = buy.person_id.isin(referred_buyers)
    return {
        "as_of": end,
        "currency": code,
        "nps": None if not answered else 100.0 * (promoters - detractors) / answered,
        "nps_respondents": answered,
        "promoters": promoters,
        "detractors": detractors,
        "reviews": len(reviews),
        "average_rating": _mean(stars),
        "share_4_plus": _share(int((stars >= 4).sum()), len(stars)),
        "buyers": len(buyer_ids),
        "referrers": len(referrers),
        # no referral recorded at all: the store has no referral data, the rate is unknown
        "referral_rate": _share(len(referrers), len(buyer_ids)) if _has_referrals(store) else None,
        "referred_persons": len(referred),
        "referred_buyers": len(referred_buyers),
        "referred_conversion": _share(len(referred_buyers), len(referred)),
        "programme_cac": cac,
        "rewards_other_currency": len(rewards) - len(in_code),
        "revenue_referred": _mean(buy.revenue[is_referred]),
        "revenue_not_referred": _mean(buy.revenue[~is_referred]),
    }


def advocates(store: Store, as_of: date | None = None, *, top: int = 20) -> pd.DataFrame:
    """The ``top`` persons by measured influence, most influential first: :data:`COLUMNS`.

    Ranking: referred revenue (the revenue to the day of the distinct buyers they referred),
    then referred buyers, then reviews, then the latest NPS (none last), then person_id;
    ``score`` is the rank (1 = the most influential). Only persons with some evidence (a
    referred buyer, a review or an NPS answer) are listed."""
    end = as_of if as_of is not None else store_end(store)
    fr = _frames(store, end)
    fb, nps, ref, buy = fr["feedback"], fr["nps"], fr["referrals"], fr["buyers"]
    pairs = ref[["referrer", "referred"]].drop_duplicates()
    pairs = pairs.merge(buy, left_on="referred", right_on="person_id")
    by_ref = pairs.groupby("referrer").agg(
        referred_buyers=("referred", "size"), referred_revenue=("revenue", "sum")
    )
    rev = fb[fb.kind == "review"]
    by_rev = rev.groupby("fp").agg(reviews=("stars", "size"), average_rating=("stars", "mean"))
    frame = by_ref.join(by_rev, how="outer").join(nps.set_index("person_id"), how="outer")
    frame = frame.rename(columns={"nps": "latest_nps"}).rename_axis("person_id").reset_index()
    for column in ("referred_buyers", "reviews"):
        frame[column] = frame[column].fillna(0).astype("int64")
    frame["referred_revenue"] = frame["referred_revenue"].fillna(0.0).astype("float64")
    frame = frame.assign(_nps=frame.latest_nps.fillna(-1.0)).sort_values(
        ["referred_revenue", "referred_buyers", "reviews", "_nps", "person_id"],
        ascending=[False, False, False, False, True],
        kind="mergesort",
    )
    frame = frame.drop(columns="_nps").head(max(top, 0)).reset_index(drop=True)
    frame["score"] = pd.Series(range(1, len(frame) + 1), dtype="int64")
    code = reporting_currency(store)
    frame["reason"] = [_reason(row, code) for row in frame.itertuples()]
    frame = frame[list(COLUMNS)]
    frame.attrs["as_of"] = end
    frame.attrs["currency"] = code
    frame.attrs["money"] = ["referred_revenue"]
    return frame


def _reason(row: Any, code: str) -> str:
    """ "referred 3 buyers (412.50 USD), 2 reviews averaging 4.5, NPS 10"."""
    parts = []
    if row.referred_buyers:
        noun = "buyer" if row.referred_buyers == 1 else "buyers"
        parts.append(f"referred {row.referred_buyers} {noun} ({row.referred_revenue:.2f} {code})")
    if row.reviews:
        noun = "review" if row.reviews == 1 else "reviews"
        avg = "" if pd.isna(row.average_rating) else f" averaging {row.average_rating:.1f}"
        parts.append(f"{row.reviews} {noun}{avg}")
    if not pd.isna(row.latest_nps):
        parts.append(f"NPS {row.latest_nps:g}")
    return ", ".join(parts)
