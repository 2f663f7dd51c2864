"""Discount codes (docs/delivery.md, "Templates"): issued once per message and recorded in
``discount_codes``, so the ``coupon`` of a later order attributes the conversion.

A send that follows a ``discount`` step carries the step's offer in its payload
(``discount: {code, code_prefix, percent, valid_for}``, :mod:`tenure.engage.steps`): the
``code`` is derived from the prefix and a digest of flow, person and trigger instance, unique
per person and stay. With ``discount_pool`` set, codes are taken from that file instead (one
a line, each issued once). Issuing is idempotent per message key: a resend reuses the code
recorded for its key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from tenure.config import Settings
from tenure.errors import ConfigError, DeliveryError
from tenure.store import Store

_SPAN = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Issued:
    """One code issued to one message (``fresh``: issued by this render, not recorded yet)."""

    code: str
    flow: str
    step: str
    person_id: str
    message_key: str
    issued_at: datetime
    percent: float | None
    expires: datetime | None
    fresh: bool = True

    def context(self) -> dict[str, Any]:
        """What a template sees as ``discount``: code, percent (``10`` or ``12.5``), expires
        (``YYYY-MM-DD``, or None)."""
        percent = self.percent
        shown = None if percent is None else (int(percent) if percent.is_integer() else percent)
        expires = None if self.expires is None else f"{self.expires:%Y-%m-%d}"
        return {"code": self.code, "percent": shown, "expires": expires}


def span(text: object) -> timedelta | None:
    """``3d`` as a timedelta (m, h, d, w); None for an empty or unreadable value."""
    match = _SPAN.match(str(text or ""))
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}) if match else None


def pool_codes(settings: Settings) -> list[str] | None:
    """The codes of ``discount_pool`` in file order (None when unset); a ConfigError naming
    the setting when the file cannot be read."""
    if settings.discount_pool is None:
        return None
    path = Path(settings.discount_pool)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(
            f"discount_pool {str(path)!r} cannot be read: {exc.strerror or exc}.",
            hint="Point TENURE_DISCOUNT_POOL at a file of codes, one a line, or unset it.",
        ) from None
    return [c.strip() for c in lines if c.strip() and not c.strip().startswith("#")]


def issued_for(store: Store, keys: Sequence[str]) -> dict[str, Issued]:
    """The codes already recorded for ``keys`` (message keys)."""
    if not keys:
        return {}
    t = store.table("discount_codes")
    rows = t.filter(t.message_key.isin(sorted(set(keys)))).to_pyarrow().to_pylist()
    return {str(r["message_key"]): Issued(**{**r, "fresh": False}) for r in rows}


def _used_codes(store: Store) -> set[str]:
    t = store.table("discount_codes")
    return {str(c) for c in t.select("code").to_pyarrow().column("code").to_pylist()}


def issue_codes(
    store: Store,
    settings: Settings,
    rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    now: datetime,
) -> dict[str, Issued | DeliveryError]:
    """The code of each ``(row, payload)`` whose payload carries a discount, by message
    key: the one recorded for the key, else a new one (from the pool, else the payload's).
    Nothing is recorded here: :func:`record_codes` does, for the messages rendered."""
    wanted = [(r, p) for r, p in rows if isinstance(p.get("discount"), Mapping)]
    if not wanted:
        return {}
    done = issued_for(store, [str(r["message_key"]) for r, _ in wanted])
    pool = pool_codes(settings)
    free: list[str] = []
    if pool is not None:
        used = _used_codes(store)
        free = [c for c in pool if c not in used]
        free.reverse()  # popped from the end: file order
    out: dict[str, Issued | DeliveryError] = {}
    for row, payload in wanted:
        key = str(row["message_key"])
        if key in done:
            out[key] = done[key]
            continue
        offer: Mapping[str, Any] = payload["discount"]
        code = free.pop() if free else ("" if pool is not None else str(offer.get("code") or ""))
        if not code:
            out[key] = DeliveryError(
                f"Message {key}: no discount code to issue"
                + (f" (the pool {str(settings.discount_pool)!r} is used up)." if pool else "."),
                hint="Add codes to the discount_pool file."
                if pool is not None
                else "Give the flow's discount step a code_prefix.",
            )
            continue
        valid = span(offer.get("valid_for"))
        try:
            percent: float | None = float(offer.get("percent"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            percent = None
        out[key] = Issued(
            code=code,
            flow=str(row["flow"]),
            step=str(row["step"]),
            person_id=str(row["person_id"]),
            message_key=key,
            issued_at=now,
            percent=percent,
            expires=None if valid is None else now + valid,
        )
    return out


def record_codes(store: Store, issued: Sequence[Issued]) -> None:
    """Record codes issued (one ``discount_codes`` row each)."""
    if issued:
        rows = [{k: v for k, v in asdict(i).items() if k != "fresh"} for i in issued]
        store.insert("discount_codes", pa.Table.from_pylist(rows))


def code_of(store: Store, coupon: str) -> Issued | None:
    """The issue record of an order's ``coupon`` (the latest when several), or None."""
    t = store.table("discount_codes")
    rows = t.filter(t.code == coupon.strip()).order_by(t.issued_at.desc()).limit(1)
    found = rows.to_pyarrow().to_pylist()
    return Issued(**{**found[0], "fresh": False}) if found else None
