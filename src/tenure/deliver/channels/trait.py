"""The trait channel: a flow's ``set_trait`` step (docs/flows.md, "Steps") is a message of
channel ``trait`` that this channel applies to the person's customer records (their
``traits`` JSON). Applying it twice gives the same records, so a resend after a crash is
harmless. A person without a customer record has nowhere to keep a trait: a terminal error."""

from __future__ import annotations

import json
import threading
from typing import Any

import pyarrow as pa

from tenure.deliver.channel import Outgoing, Receipt
from tenure.errors import DeliveryError
from tenure.store import Store


def _traits(text: object) -> dict[str, Any]:
    try:
        got = json.loads(str(text)) if text else {}
    except ValueError:
        got = {}
    return got if isinstance(got, dict) else {}


class TraitChannel:
    """Sets ``body["trait"]`` to ``body["value"]`` in the traits of every customer record of
    the person (thread-safe: one writer at a time)."""

    name = "trait"

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()

    def _records(self, person: str) -> pa.Table:
        ids = self.store.table("identities")
        mine = ids.filter((ids.person_id == person) & (ids.kind == "customer_id"))
        c = self.store.table("customers")
        return c.semi_join(mine, c.customer_id == mine.value).to_pyarrow()

    def send(self, message: Outgoing) -> Receipt:
        trait, value = message.body.get("trait"), message.body.get("value")
        if not isinstance(trait, str) or not trait:
            raise DeliveryError(
                f"Message {message.message_key}: a set_trait without a trait name.",
                hint=f"Give step {message.step!r} of flow {message.flow!r} a trait name.",
            )
        with self.lock:
            records = self._records(message.person_id)
            if records.num_rows == 0:
                raise DeliveryError(
                    f"Message {message.message_key}: person {message.person_id} has no "
                    f"customer record to set the trait {trait!r} on.",
                    hint="Import the person's customer record (tenure import customers).",
                )
            rows = records.to_pylist()
            for row in rows:
                row["traits"] = json.dumps({**_traits(row["traits"]), trait: value}, sort_keys=True)
            self.store.upsert(
                "customers", ["customer_id"], pa.Table.from_pylist(rows, records.schema)
            )
        ids = ", ".join(str(r["customer_id"]) for r in rows)
        return Receipt(provider_id=message.message_key, detail=f"{trait}={value} on {ids}")

    def close(self) -> None:
        return None
