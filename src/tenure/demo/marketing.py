"""Marketing: daily acquisition spend per campaign, consents and suppressions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tenure.demo import arrow as A
from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.buyers import acquisition_weights
from tenure.demo.clock import Clock
from tenure.demo.people import People


def spend_cents(
    rng: np.random.Generator, cl: Clock, buyers: int, new: np.ndarray
) -> dict[int, np.ndarray]:
    """Daily spend in cents per paid touch (campaign).

    Bid campaigns (paid search, paid social) spend CAC x the expected new buyers of the
    campaign that day x LogNormal noise of mean 1: seasonal, like acquisitions. Affiliates
    are paid a commission (CAC) per new buyer actually referred. ``new`` holds the realised
    new buyers per touch (rows) and day (columns).
    """
    expected_day = acquisition_weights(cl)
    sigma = P.SPEND_NOISE_SIGMA
    out: dict[int, np.ndarray] = {}
    for k, touch in enumerate(T.TOUCHES):
        pricing = P.CHANNELS[T.CHANNEL_OF[k]].pricing
        if touch.cac <= 0 or not pricing:
            continue
        if pricing == "bid":
            expected = buyers * touch.acquisition / T.ACQUISITION_P.sum() * expected_day
            noise = rng.lognormal(-(sigma**2) / 2, sigma, cl.days)
            out[k] = np.round(touch.cac * 100 * expected * noise).astype(np.int64)
        else:
            out[k] = np.round(touch.cac * 100 * new[k]).astype(np.int64)
    return out


def spend_table(cents: dict[int, np.ndarray], cl: Clock, currency: str) -> pa.Table:
    """``marketing_spend`` rows: one per campaign and day with a cost."""
    touch = np.concatenate([np.full(cl.days, k) for k in cents])
    day = np.tile(np.arange(cl.days), len(cents))
    cost = np.concatenate(list(cents.values())) if cents else np.zeros(0, np.int64)
    keep = cost > 0
    touch, day, cost = touch[keep], day[keep], cost[keep]
    dates = np.datetime64(cl.start) + day.astype("timedelta64[D]")
    return pa.table(
        {
            "date": pa.array(dates.astype("datetime64[D]")),
            "channel": A.take(T.CHANNEL_NAMES, T.CHANNEL_OF[touch]),
            "campaign": A.take(T.UTM_CAMPAIGN, touch),
            "cost": A.money(cost),
            "currency": A.constant(currency, len(cost)),
            "source": A.constant("demo", len(cost)),
        }
    )


def _at(cl: Clock, day: np.ndarray) -> pa.Array:
    return A.timestamps(cl.start, A.days_to_us(day))


def consents_tables(
    rng: np.random.Generator, pp: People, cl: Clock
) -> tuple[pa.Table, pa.Table, np.ndarray]:
    """E-mail opt-ins at sign-up (every newsletter subscriber, ACCEPTS_MARKETING of other
    buyers) and later unsubscribes; SMS keyword sign-ups (phone only) and STOPs; bounced
    and complaining addresses as suppressions. Also returns e-mail consent at the end."""
    n = len(pp)
    end = np.full(n, cl.days - 1e-4)
    email = pp.subscribed_first | (rng.uniform(size=n) < P.ACCEPTS_MARKETING)
    unsub = email & (rng.uniform(size=n) < P.UNSUBSCRIBE)
    unsub_day = cl.uniform(rng, pp.signup, end)
    sms = pp.phone.is_valid().to_numpy(zero_copy_only=False)
    sms_day = cl.uniform(rng, pp.signup, end)
    stop = sms & (rng.uniform(size=n) < P.SMS_STOP)
    stop_day = cl.uniform(rng, sms_day, end)
    parts = [
        (email, pp.email, "email", "email", "subscribed", pp.signup),
        (unsub, pp.email, "email", "email", "unsubscribed", unsub_day),
        (sms, pp.phone, "phone", "sms", "subscribed", sms_day),
        (stop, pp.phone, "phone", "sms", "unsubscribed", stop_day),
    ]
    consents = pa.concat_tables([_consent_rows(*part, cl) for part in parts])
    u = rng.uniform(size=n)
    bounced = email & (u < P.BOUNCE)
    complained = email & ~bounced & (u < P.BOUNCE + P.COMPLAINT)
    later = np.minimum(pp.signup + rng.uniform(1, 30, n), end)
    suppressions = pa.concat_tables(
        [
            _suppression_rows(mask, pp.email, reason, later, cl)
            for mask, reason in ((bounced, "bounced"), (complained, "complained"))
        ]
    )
    return consents, suppressions, email & ~unsub


def _consent_rows(
    mask: np.ndarray,
    identifier: pa.Array,
    kind: str,
    channel: str,
    status: str,
    day: np.ndarray,
    cl: Clock,
) -> pa.Table:
    idx = np.nonzero(mask)[0]
    k = len(idx)
    return pa.table(
        {
            "identifier": A.take(identifier, idx),
            "identifier_kind": A.constant(kind, k),
            "channel": A.constant(channel, k),
            "status": A.constant(status, k),
            "source": A.constant("demo", k),
            "at": _at(cl, day[idx]),
        }
    )


def _suppression_rows(
    mask: np.ndarray, email: pa.Array, reason: str, day: np.ndarray, cl: Clock
) -> pa.Table:
    idx = np.nonzero(mask)[0]
    k = len(idx)
    return pa.table(
        {
            "identifier": A.take(email, idx),
            "identifier_kind": A.constant("email", k),
            "channel": A.constant("email", k),
            "reason": A.constant(reason, k),
            "source": A.constant("demo", k),
            "at": _at(cl, day[idx]),
        }
    )
