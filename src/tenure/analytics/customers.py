"""One person's customer facts (``tenure customers show``)."""

from __future__ import annotations

import re

import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.facts import MONEY_COLUMNS
from tenure.analytics.money import money_warnings
from tenure.errors import TenureError
from tenure.store import Store, reporting_currency

_CLV = re.compile(r"clv_\d+m")

FACTS = "customer_facts"
#: The predictions of ``tenure predict``, joined on ``person_id`` (never copied into the facts).
PREDICTIONS = "customer_predictions"


class UnknownCustomerError(TenureError):
    """No person in customer_facts matches the identifier."""


def _with_predictions(store: Store, facts: ir.Table) -> ir.Table:
    """``facts`` with the columns of ``customer_predictions`` (when there are any) joined on
    ``person_id``; a person without predictions has nulls there."""
    if not store.exists(PREDICTIONS):
        return facts
    p = store.read(PREDICTIONS)
    extra = [c for c in p.columns if c not in facts.columns]
    p = p.select(p_person=p.person_id, **{c: p[c] for c in extra})
    j = facts.left_join(p, facts.person_id == p.p_person)
    return j.select(*facts.columns, *extra)


def customer_row(store: Store, identifier: str) -> pd.DataFrame:
    """`tenure customers show`: the ``customer_facts`` row of the person holding
    ``identifier`` (a person id, a customer id, or ``kind:value``), with their
    ``customer_predictions`` columns, as a one-row frame whose values keep their Python types
    (dates, decimals). ``attrs``: ``money`` (its money columns), ``currency``, ``warnings``
    (the money warnings). Reads the stored tables as they are:
    :func:`tenure.pipeline.ensure_current` brings them up to date."""
    from tenure.identity import person_of

    facts = store.read(FACTS)
    candidates = [identifier]
    if ":" in identifier:  # before resolution a customer's person is their customer id
        candidates.append(identifier.split(":", 1)[1])
    person = person_of(store, identifier)
    if person is not None:
        candidates.insert(0, person)
    found = facts.filter(facts.person_id.isin(candidates)).limit(1)
    rows = _with_predictions(store, found).to_pyarrow().to_pylist()
    if not rows:
        raise UnknownCustomerError(
            f"No customer matches {identifier!r} in customer_facts.",
            hint="Give a person id, a customer id or kind:value (e.g. email:ann@example.com).",
        )
    frame = pd.DataFrame([rows[0]], columns=list(rows[0]), dtype=object)
    money = [c for c in frame.columns if c in MONEY_COLUMNS or _CLV.fullmatch(c)]
    frame.attrs.update(
        money=money, currency=reporting_currency(store), warnings=money_warnings(store)
    )
    return frame
