"""Deterministic holdout assignment: the same person is in or out of a flow's holdout on
every engine, every run, and in Python (docs/flows.md, "Send policy").

A person is in the holdout of ``flow`` when the first 8 hex digits of
``sha256("holdout:<flow>:<person_id>")``, read as an integer in [0, 2^32), fall below
``share * 2^32``. The engine compares the 8-digit hex prefix with the threshold written the
same way: for fixed-length lower-case hex text, text order is number order, so DuckDB and
Spark (``sha256`` / ``sha2``) give the same answer as :func:`holdout_of`.

A rotated holdout (``holdout: {share: 0.1, rotate: 90d}``) hashes the subject
``"<period>:<person_id>"`` instead of the person alone, ``period`` being the index of the
rotation period of the trigger time (whole days since 1970-01-01 UTC, divided by the period's
days, rounded down): a different set of persons is held out each period, still
deterministic, so the holdout does not drift into the persons the flow never reached.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir

from tenure.errors import ConfigError

#: The day rotation periods count from.
EPOCH = date(1970, 1, 1)
#: Hex digits of the digest that place a person (8: 2^32 buckets).
DIGITS = 8
BUCKETS = 16**DIGITS


def check_share(share: object, name: str = "share") -> float:
    """``share`` as a float in [0, 1], or a ConfigError."""
    if (
        isinstance(share, bool)
        or not isinstance(share, int | float)
        or not math.isfinite(share)
        or not 0 <= share <= 1
    ):
        raise ConfigError(
            f"The {name!r} parameter must be a number in the range [0, 1]. Got {share!r}.",
            hint="A holdout share of 0.1 keeps 10% of the flow's entrants from any message.",
        )
    return float(share)


def threshold(share: float) -> int:
    """The bucket bound of ``share``: buckets below it are in the holdout."""
    return min(BUCKETS, math.floor(check_share(share) * BUCKETS))


def _key(flow: str) -> str:
    return f"holdout:{flow}:"


def holdout_of(person_id: str, flow: str, share: float) -> bool:
    """Whether ``person_id`` is in the holdout of ``flow`` at ``share`` (Python side)."""
    bound = threshold(share)
    text = (_key(flow) + person_id).encode()
    return int(hashlib.sha256(text).hexdigest()[:DIGITS], 16) < bound


def in_holdout(person_id: ir.StringValue, flow: str, share: float) -> ir.BooleanValue:
    """The engine-side :func:`holdout_of` (false for a null person)."""
    bound = threshold(share)
    if bound <= 0:
        return ibis.literal(False)
    if bound >= BUCKETS:
        return ibis.coalesce(person_id.notnull(), ibis.literal(False))
    digest = (ibis.literal(_key(flow)) + person_id).hexdigest("sha256")
    prefix = digest.lower().substr(0, DIGITS)
    return ibis.coalesce(prefix < f"{bound:0{DIGITS}x}", ibis.literal(False))


def rotation_days(rotate: timedelta) -> int:
    """The whole days of a rotation period, or a ConfigError."""
    days = rotate.total_seconds() / 86400
    if not days.is_integer() or days < 1:
        raise ConfigError(
            f"The 'rotate' parameter must be a whole number of days (at least 1d). Got {rotate}.",
            hint="Write rotate: 90d (or 13w).",
        )
    return int(days)


def period_of(at: datetime | date, rotate: timedelta) -> int:
    """The index of the rotation period holding ``at`` (naive UTC): whole days since
    :data:`EPOCH` divided by the period's days, rounded down."""
    day = at.date() if isinstance(at, datetime) else at
    return (day - EPOCH).days // rotation_days(rotate)


def subject_of(person_id: str, at: datetime | date, rotate: timedelta | None) -> str:
    """The text the holdout hashes for ``person_id`` triggered at ``at``: the person alone,
    or ``"<period>:<person_id>"`` when the holdout rotates (Python side)."""
    if rotate is None:
        return person_id
    return f"{period_of(at, rotate)}:{person_id}"


def rotated_subject(
    person_id: ir.StringValue, at: ir.TimestampValue, rotate: timedelta | None
) -> ir.StringValue:
    """The engine-side :func:`subject_of` (day arithmetic on dates: the same count on DuckDB
    and Spark)."""
    if rotate is None:
        return person_id
    days = at.date().delta(ibis.literal(EPOCH), unit="day").cast("int64")
    period = (days - days % rotation_days(rotate)) // rotation_days(rotate)
    return period.cast("string") + ibis.literal(":") + person_id
