"""Deterministic holdout assignment: the same person is in or out of a flow's holdout on
every engine, every run, and in Python (docs/flows.md, "Send policy").

A person is in the holdout of ``flow`` when the first 8 hex digits of
``sha256("holdout:<flow>:<person_id>")``, read as an integer in [0, 2^32), fall below
``share * 2^32``. The engine compares the 8-digit hex prefix with the threshold written the
same way: for fixed-length lower-case hex text, text order is number order, so DuckDB and
Spark (``sha256`` / ``sha2``) give the same answer as :func:`holdout_of`.
"""

from __future__ import annotations

import hashlib
import math

import ibis
import ibis.expr.types as ir

from tenure.errors import ConfigError

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
