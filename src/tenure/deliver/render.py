"""Turning decided ``messages`` rows into messages to send (the :class:`Renderer` contract of
:mod:`tenure.deliver.channel`).

:func:`build_renderer` is what the dispatcher and ``tenure dispatch`` call. The plain renderer
here resolves each person's address from the identity graph and writes the payload's subject
and products as plain text; the templates (docs/delivery.md, "Templates") build on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tenure.config import Settings
from tenure.deliver.channel import Outgoing, Renderer
from tenure.errors import DeliveryError
from tenure.store import Store

#: The identity kind that gives each channel its address (on-site: the person id itself).
ADDRESS_KINDS: Mapping[str, str] = {"email": "email", "sms": "phone"}


def message_id(message_key: str, domain: str = "tenure.invalid") -> str:
    """The RFC 5322 Message-ID of a message: the same for every send of the same key, so a
    resend after a crash carries the id of the first send."""
    digest = hashlib.sha256(message_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def person_addresses(store: Store, persons: Sequence[str]) -> dict[tuple[str, str], str]:
    """``(person_id, kind) -> value`` for the e-mail and phone of each person (the smallest
    value when a person has several), read in one query; the ids are bound, never spliced."""
    if not persons:
        return {}
    ids = store.table("identities")
    kinds = sorted(set(ADDRESS_KINDS.values()))
    picked = (
        ids.filter(ids.person_id.isin(sorted(set(persons))), ids.kind.isin(kinds))
        .group_by(["person_id", "kind"])
        .aggregate(value=ids.value.min())
        .to_pyarrow()
        .to_pylist()
    )
    return {(str(r["person_id"]), str(r["kind"])): str(r["value"]) for r in picked}


class PlainRenderer:
    """Subject and products as plain text; the address from the identity graph."""

    def __init__(self, store: Store, *, domain: str = "tenure.invalid") -> None:
        self.store = store
        self.domain = domain

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Outgoing | DeliveryError]:
        addresses = person_addresses(self.store, [str(r["person_id"]) for r in rows])
        return [self._one(row, addresses) for row in rows]

    def _one(
        self, row: Mapping[str, Any], addresses: Mapping[tuple[str, str], str]
    ) -> Outgoing | DeliveryError:
        channel, person = str(row["channel"]), str(row["person_id"])
        kind = ADDRESS_KINDS.get(channel)
        to = person if kind is None else addresses.get((person, kind))
        if to is None:
            return DeliveryError(
                f"Message {row['message_key']}: person {person} has no {kind} to send "
                f"the {channel} of flow {row['flow']!r} step {row['step']!r} to.",
                hint=f"Import the person's {kind} (customers or identify events).",
            )
        payload = json.loads(row.get("payload") or "{}")
        products = payload.get("products") or []
        lines = [str(payload.get("subject") or "")]
        lines += [f"- {p.get('title') or p.get('product_id')}" for p in products if p]
        return Outgoing(
            message_key=str(row["message_key"]),
            flow=str(row["flow"]),
            step=str(row["step"]),
            person_id=person,
            channel=channel,
            to=to,
            message_id=message_id(str(row["message_key"]), self.domain),
            subject=str(payload.get("subject") or ""),
            text="\n".join(lines).strip() + "\n",
            body=payload,
        )


def build_renderer(store: Store, settings: Settings, now: datetime) -> Renderer:
    """The renderer ``tenure dispatch`` uses for ``store`` at ``now``."""
    del settings, now
    return PlainRenderer(store)
