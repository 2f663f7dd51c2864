"""One person's customer facts (``tenure customers show``)."""

from __future__ import annotations

from typing import Any

from tenure.analytics.refresh import derived
from tenure.errors import TenureError
from tenure.store import Store


class UnknownCustomerError(TenureError):
    """No person in customer_facts matches the identifier."""


def customer_row(store: Store, identifier: str) -> dict[str, Any]:
    """The ``customer_facts`` row of the person holding ``identifier`` (a person id, a
    customer id, or ``kind:value``)."""
    from tenure.identity import person_of

    facts = derived(store, "customer_facts")
    candidates = [identifier]
    person = person_of(store, identifier)
    if person is not None:
        candidates.insert(0, person)
    rows = facts.filter(facts.person_id.isin(candidates)).limit(1).to_pyarrow().to_pylist()
    if not rows:
        raise UnknownCustomerError(
            f"No customer matches {identifier!r} in customer_facts.",
            hint="Give a person id, a customer id or kind:value (e.g. email:ann@example.com); "
            "run `tenure refresh` after importing new data.",
        )
    return dict(rows[0])
