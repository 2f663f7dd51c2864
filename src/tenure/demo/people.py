"""People of a batch, buyers first, then prospects: identifiers, devices, sign-up, and the
``customers`` table with the truth of each person in ``traits`` (and the date traits the
shipped flows read: ``birthday``, ``credit_expires_at``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tenure.demo import arrow as A
from tenure.demo import params as P
from tenure.demo import touches as T
from tenure.demo.buyers import Buyers, acquisition_weights
from tenure.demo.clock import Clock

_EMAIL = P.CHANNEL_INDEX["email"]
#: The random stream of the date traits (``[seed, DATES_STREAM, batch]``), apart from the
#: others: the rest of the store stays the same with or without them.
DATES_STREAM = 7003


@dataclass
class People:
    """Buyers (``0..n_buyers-1``) then prospects of one batch.

    ``number`` is the person's store-wide number (ids continue across batches). Devices are
    listed person by person: ``device_owner[d]`` is the batch index of device ``d``'s
    person, ``first_device[i]`` the first device of person ``i``.
    """

    n_buyers: int
    number: np.ndarray
    customer_id: pa.Array
    email: pa.Array
    first: np.ndarray  # index into FIRST_NAMES
    last: np.ndarray  # index into LAST_NAMES
    signup: np.ndarray  # calendar day the person's customer record was created
    signup_touch: np.ndarray  # touch of the visit they signed up on
    subscribed_first: np.ndarray  # signed up to the newsletter before any order
    phone: pa.Array  # E.164 number of SMS subscribers, null otherwise
    timezone: np.ndarray
    device_owner: np.ndarray
    first_device: np.ndarray
    device_id: pa.Array  # anonymous ids (random UUIDs)
    device_type: np.ndarray  # index into DEVICE_TYPES

    def __len__(self) -> int:
        return len(self.number)

    @property
    def n_devices(self) -> np.ndarray:
        return np.bincount(self.device_owner, minlength=len(self))

    def random_device(self, rng: np.random.Generator, person: np.ndarray) -> np.ndarray:
        """One of each person's devices, uniformly."""
        k = (rng.uniform(size=len(person)) * self.n_devices[person]).astype(np.int64)
        return self.first_device[person] + k


def _phones(number: np.ndarray, seed: int) -> pa.Array:
    """Distinct, valid-looking US numbers, a bijection of the person number (scrambled)."""
    space = len(P.AREA_CODES) * 800 * 10_000
    code = (number * 7_919_993 + seed * 104_729) % space
    area = A.take(list(P.AREA_CODES), code // 8_000_000)
    exchange = A.int_text(200 + (code // 10_000) % 800)
    line = pc.utf8_lpad(A.int_text(code % 10_000), width=4, padding="0")
    return A.concat("+1", area, exchange, line)


def _signups(
    rng: np.random.Generator, b: Buyers, n_prospects: int, cl: Clock
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sign-up day, sign-up touch and 'subscribed before ordering' of buyers then prospects.

    Buyers acquired by e-mail subscribed ~Exp(EMAIL_SIGNUP_LEAD_DAYS) operational days before
    their first order; other buyers create their record at their first order.
    """
    by_email = b.channel == _EMAIL
    lead = rng.exponential(P.EMAIL_SIGNUP_LEAD_DAYS, len(b))
    early = cl.to_calendar(np.maximum(b.op_start - lead, 0.0))
    buyer_signup = np.where(by_email, np.minimum(early, b.acquired), b.acquired)
    day = rng.choice(cl.days, size=n_prospects, p=acquisition_weights(cl))
    signup = np.concatenate([buyer_signup, cl.within_days(rng, day)])
    touch = T.draw(rng, T.PROSPECT_P, len(signup))
    touch[: len(b)] = np.where(by_email, touch[: len(b)], b.touch)
    subscribed_first = np.concatenate([by_email, np.ones(n_prospects, dtype=bool)])
    return signup, touch, subscribed_first


def draw_people(
    rng: np.random.Generator, b: Buyers, n_prospects: int, cl: Clock, offset: int, seed: int
) -> People:
    """The buyers ``b`` and ``n_prospects`` prospects; person numbers start at ``offset``."""
    n = len(b) + n_prospects
    number = np.arange(offset, offset + n)
    first = rng.integers(0, len(P.FIRST_NAMES), n)
    last = rng.integers(0, len(P.LAST_NAMES), n)
    email = A.concat(
        A.take(list(P.FIRST_NAMES), first),
        ".",
        A.take(list(P.LAST_NAMES), last),
        A.int_text(number),
        "@example.com",
    )
    signup, touch, subscribed_first = _signups(rng, b, n_prospects, cl)
    sms = rng.uniform(size=n) < P.SMS_SUBSCRIBERS
    phone = A.where(sms, _phones(number, seed), pa.nulls(n, pa.string()))
    tz_p = np.array([p for _, p in P.US_TIMEZONES])
    n_dev = 1 + rng.binomial(2, P.DEVICES_EXTRA_P, n)
    owner = np.repeat(np.arange(n), n_dev)
    type_p = np.array([p for _, p in P.DEVICE_TYPES])
    return People(
        n_buyers=len(b),
        number=number,
        customer_id=A.codes("C", number, 7),
        email=email,
        first=first,
        last=last,
        signup=signup,
        signup_touch=touch,
        subscribed_first=subscribed_first,
        phone=phone,
        timezone=rng.choice(len(tz_p), size=n, p=tz_p),
        device_owner=owner,
        first_device=np.concatenate([[0], np.cumsum(n_dev)[:-1]]),
        device_id=A.uuids(rng, len(owner)),
        device_type=rng.choice(len(type_p), size=len(owner), p=type_p),
    )


def _devices_json(pp: People) -> pa.Array:
    """Each person's anonymous ids as a JSON list."""
    n_dev = pp.n_devices
    columns = []
    for k in range(int(n_dev.max())):
        has = n_dev > k
        index = np.where(has, pp.first_device + k, -1)
        columns.append(A.take_or_null(pp.device_id, index))
    return A.quoted_list(columns)


def _truth_json(pp: People, b: Buyers, cl: Clock) -> pa.Array:
    """``demo_truth`` of each buyer (null for prospects)."""
    n = len(pp)
    pad = n - len(b)

    def padded(values: np.ndarray) -> np.ndarray:
        return np.concatenate([values, np.zeros(pad, dtype=values.dtype)])

    def col(values: np.ndarray) -> pa.Array:
        return A.float_text(padded(values))

    channel = A.take(T.CHANNEL_NAMES, padded(b.channel))
    campaign = A.take([t.campaign for t in T.TOUCHES], padded(b.touch))
    alive = pc.cast(pa.array(padded(b.alive)), pa.string())
    doc = A.concat(
        '{"channel":"', channel, '","campaign":"', campaign,
        '","lambda":', col(b.lam), ',"p":', col(b.p), ',"nu":', col(b.nu),
        ',"T":', col(cl.days - b.op_start), ',"alive":', alive,
        ',"repeats":', A.int_text(padded(b.repeats)), ',"expected_spend":', col(P.GG_P / b.nu), "}",
    )  # fmt: skip
    return A.where(np.arange(n) < len(b), doc, pa.nulls(n, pa.string()))


def _member(name: str, days: np.ndarray, has: np.ndarray) -> pa.Array:
    """``,"name":"YYYY-MM-DD"`` where ``has``, else empty (``days``: datetime64[D])."""
    text = pc.cast(pa.array(days.astype("datetime64[D]")), pa.string())
    return A.where(has, A.concat(f',"{name}":"', text, '"'), A.constant("", len(days)))


def date_traits(rng: np.random.Generator, pp: People, cl: Clock) -> pa.Array:
    """Each person's date traits as JSON members (empty: none): a ``birthday`` for a share
    ``BIRTHDAY_SHARE`` of everyone (age ``BIRTH_AGE_YEARS`` on the last day, uniform), a
    ``credit_expires_at`` for a share ``CREDIT_SHARE`` of the buyers (store credit expiring
    up to ``CREDIT_WINDOW_DAYS`` days before or after the last day, uniform)."""
    n = len(pp)
    last = np.datetime64(cl.start + timedelta(days=cl.days - 1), "D")
    young, old = (round(years * 365.25) for years in P.BIRTH_AGE_YEARS)
    born = last - rng.integers(young, old + 1, n).astype("timedelta64[D]")
    window = P.CREDIT_WINDOW_DAYS
    expires = last + rng.integers(1 - window, window + 1, n).astype("timedelta64[D]")
    birthday = rng.uniform(size=n) < P.BIRTHDAY_SHARE
    credit = (np.arange(n) < pp.n_buyers) & (rng.uniform(size=n) < P.CREDIT_SHARE)
    return A.concat(
        _member("birthday", born, birthday), _member("credit_expires_at", expires, credit)
    )


def customers_table(
    pp: People, b: Buyers, cl: Clock, subscribed: np.ndarray, dates: pa.Array | None = None
) -> pa.Table:
    """Customer records; ``subscribed``: e-mail marketing consent at the end of the period;
    ``dates``: the date traits of :func:`date_traits` (None: none)."""
    n = len(pp)
    person = A.concat('{"demo_person":"', A.codes("person-", pp.number, 7), '"')
    phone = A.concat(',"demo_phone":"', pp.phone, '"')
    truth = A.concat(',"demo_truth":', _truth_json(pp, b, cl))
    extra = dates if dates is not None else A.constant("", n)
    traits = pc.binary_join_element_wise(
        person, ',"demo_devices":', _devices_json(pp), phone, truth, extra, "}", "",
        null_handling="skip",
    )  # fmt: skip
    return pa.table(
        {
            "customer_id": pp.customer_id,
            "email": pp.email,
            "phone": pp.phone,
            "first_name": pc.utf8_capitalize(A.take(list(P.FIRST_NAMES), pp.first)),
            "last_name": pc.utf8_capitalize(A.take(list(P.LAST_NAMES), pp.last)),
            "country": A.constant("US", n),
            "timezone": A.take([z for z, _ in P.US_TIMEZONES], pp.timezone),
            "created_at": A.timestamps(cl.start, A.days_to_us(pp.signup)),
            "accepts_marketing": pa.array(subscribed),
            "traits": traits,
            "source": A.constant("demo", n),
        }
    )


def identify_traits(pp: People) -> pa.Array:
    """The traits an ``identify`` call of each person carries (JSON)."""
    return A.concat(
        '{"email":"', pp.email,
        '","first_name":"', pc.utf8_capitalize(A.take(list(P.FIRST_NAMES), pp.first)),
        '","last_name":"', pc.utf8_capitalize(A.take(list(P.LAST_NAMES), pp.last)), '"}',
    )  # fmt: skip
