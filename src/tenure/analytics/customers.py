"""One person's customer facts (``tenure customers show``)."""

from __future__ import annotations

import re

import pandas as pd

from tenure.analytics.facts import MONEY_COLUMNS
from tenure.analytics.money import money_warnings
from tenure.analytics.refresh import derived
from tenure.errors import TenureError
from tenure.store import Store, reporting_currency

_CLV = re.compile(r"clv_\d+m")


class UnknownCustomerError(TenureError):
    """No person in customer_facts matches the identifier."""


def customer_row(store: Store, identifier: str) -> pd.DataFrame:
    """`tenure customers show`: the ``customer_facts`` row of the person holding
    ``identifier`` (a person id, a customer id, or ``kind:value``), as a one-row frame whose
    values keep their Python types (dates, decimals). ``attrs``: ``money`` (its money
    columns), ``currency``, ``warnings`` (the money warnings)."""
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
    frame = pd.DataFrame([rows[0]], columns=list(rows[0]), dtype=object)
    money = [c for c in frame.columns if c in MONEY_COLUMNS or _CLV.fullmatch(c)]
    frame.attrs.update(
        money=money, currency=reporting_currency(store), warnings=money_warnings(store)
    )
    return frame
