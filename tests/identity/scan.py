"""Scan every string column of every canonical table for values (DuckDB and PySpark)."""

from __future__ import annotations

import ibis

from tenure import Store
from tenure.store.schema import TABLES


def mentions(store: Store, values: list[str]) -> list[tuple[str, str, str]]:
    """(table, column, value) of every string column holding one of ``values`` (case-blind
    substring match); one aggregate per table, so a Spark store runs one job per table."""
    hits = []
    for name, spec in TABLES.items():
        t = store.table(name)
        counts = {}
        for column, dtype in spec.schema.items():
            if not dtype.is_string():
                continue
            for i, value in enumerate(values):
                found = t[column].lower().contains(value.lower())
                counts[f"c{len(counts)}"] = (column, i, ibis.ifelse(found, 1, 0).sum())
        if not counts:
            continue
        row = t.aggregate(**{k: v[2] for k, v in counts.items()}).to_pyarrow().to_pylist()[0]
        hits += [(name, c, values[i]) for k, (c, i, _) in counts.items() if row[k]]
    return hits
