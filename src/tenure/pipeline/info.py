"""``tenure store info``: what the store holds and how current its derived tables are."""

from __future__ import annotations

from typing import Any

from tenure.identity.state import STATE_KIND
from tenure.pipeline.records import last_runs
from tenure.pipeline.steps import STEPS
from tenure.store import Store


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def flag_count(store: Store) -> int:
    """The identifiers flagged in ``identity_flags``, without the row holding the state of
    the last resolution (kind ``_resolution``: not a flag; :mod:`tenure.identity.state`)."""
    flags = store.table("identity_flags")
    real = flags.filter(flags.kind.isnull() | (flags.kind != STATE_KIND))
    return int(real.count().execute())


def store_info(store: Store) -> dict[str, Any]:
    """Where the store is, its backend, data-model version and reporting currency, the row
    count of every canonical table and of every derived table (None: not built yet), the
    money warnings, and the last run of each pipeline step (None: never ran)."""
    from tenure.analytics.money import money_warnings
    from tenure.store.currency import resolve_reporting_currency

    currency = resolve_reporting_currency(store)
    derived = store.derived_counts()
    runs = last_runs(store)
    return {
        "url": store.url,
        "location": store.location,
        "backend": store.backend_name,
        "version": store.version,
        "reporting_currency": currency.code,
        "reporting_currency_source": currency.source,
        "reporting_currency_text": currency.describe(),
        "tables": {**store.counts(), "identity_flags": flag_count(store)},
        "derived_tables": derived,
        "warnings": money_warnings(store, spend=False),
        "last_runs": {
            s.name: {k: _iso(v) for k, v in runs[s.name].items()} if s.name in runs else None
            for s in STEPS
        },
    }
