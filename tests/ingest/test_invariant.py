"""Invariant: every input row is stored, updated, already present, quarantined or suppressed:
exactly one of the five; an update adds no key and is applied once."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.ingest import import_orders
from tenure.ingest.identifiers import digest
from tests.conftest import examples

#: customer z is a deleted person: their rows, and every line of their orders, are suppressed
SUPPRESSED = "z"
GOOD = st.tuples(
    st.sampled_from(["A", "B", "C", "D"]),
    st.integers(1, 3),
    st.sampled_from(["2024-01-01", "2024-02-03 10:00:00"]),
    st.sampled_from(["USD", "EUR"]),
    st.just("P"),
    st.integers(-2, 5),
    st.sampled_from(["1.00", "2.50", "2000000.00"]),  # the last is flagged (and stored)
    st.sampled_from(["x", "y", "z", ""]),
).map(lambda t: ",".join(str(v) for v in t))
BAD = st.sampled_from(
    [
        ",1,2024-01-01,USD,P,1,1.00,x",  # missing key
        ",1,2024-01-01,USD,P,1,1.00,z",  # missing key, of the deleted person: suppressed
        "E,1,someday,USD,P,1,1.00,y",  # unreadable date
        "E,2,someday,USD,P,1,1.00,z",  # unreadable date, of the deleted person: suppressed
        "F,1,2024-01-01,ZZZ,P,1,1.00,",  # unknown currency
        "G,1,2024-01-01,USD,P,1",  # wrong column count (unread: quarantined, never suppressed)
        "H,1,2024-01-01,USD,P,1,abc,y",  # unreadable number
        "I,1,2099-01-01,USD,P,1,1.00,y",  # date in the future
        "J,1,2024-01-01,USD,P,1,-1.00,x",  # negative amount outside a refund
    ]
)
ROWS = st.lists(st.one_of(GOOD, BAD), min_size=0, max_size=25)
HEADER = "order_id,line,ordered_at,currency,product_id,quantity,unit_price,customer_id\n"


def _expected_suppressed(rows: list[str]) -> int:
    """Rows the reader reads that are the deleted customer's, or lines of their orders."""
    read = [r.split(",") for r in rows if r.count(",") == 7]
    orders = {f[0] for f in read if f[7] == SUPPRESSED and f[0]}
    return sum(1 for f in read if f[7] == SUPPRESSED or f[0] in orders)


def _suppress(store: Store, customer_id: str) -> None:
    store.insert(
        "suppressions",
        pa.table(
            {
                "identifier": [digest("customer_id", customer_id)],
                "identifier_kind": ["sha256:customer_id"],
                "channel": ["all"],
            }
        ),
    )


@examples(40, fast=3)
def test_every_row_is_exactly_one_of_stored_updated_present_quarantined_suppressed(
    examples: int,
) -> None:
    """first, second, first again: changed rows quarantined; then second twice with update:
    the first applies second's versions, the second finds nothing left to update."""
    check = given(first=ROWS, second=ROWS)(_imports_account_for_every_row)
    slow_ok = [HealthCheck.too_slow]
    settings(max_examples=examples, deadline=None, suppress_health_check=slow_ok)(check)()


def _imports_account_for_every_row(first: list[str], second: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb://{Path(tmp) / 's.duckdb'}"
        with Store(url) as store:
            _suppress(store, SUPPRESSED)
            stored = updated = quarantined_rows = suppressed = flagged = 0
            runs = [(first, False), (second, False), (first, False), (second, True)]
            for rows, update in [*runs, (second, True)]:
                path = Path(tmp) / "in.csv"
                path.write_text(HEADER + "".join(r + "\n" for r in rows))
                r = import_orders(store, [path], max_quarantine=1.0, update=update)
                assert r.rows_read == len(rows)
                assert (
                    r.stored + r.updated + r.already_present + r.quarantined + r.suppressed
                    == r.rows_read
                )
                assert sum(r.by_reason.values()) == r.quarantined
                assert r.suppressed == _expected_suppressed(rows)
                assert update or r.updated == 0
                assert 0 <= r.flagged <= r.stored  # a flagged row is stored
                flagged += r.flagged
                stored += r.stored
                updated += r.updated
                quarantined_rows += r.quarantined
                suppressed += r.suppressed
            # each stored row is in the store once (an update adds no key); the last run (a
            # re-import of what was just applied) stored and updated nothing
            assert store.count("order_items") == stored
            assert (r.stored, r.updated) == (0, 0)
            con = store.con.con
            quarantined = con.execute(
                "SELECT count(*), count(DISTINCT (import_id, line)) FROM quarantine"
            ).fetchone()
            # one quarantine row per quarantined input row, never two for the same line
            assert quarantined == (quarantined_rows, quarantined_rows)
            # one flagged_values row per flagged record, each a stored line
            assert con.execute(
                "SELECT count(*), count(i.order_id) FROM flagged_values f LEFT JOIN order_items i "
                "ON i.order_id = json_extract_string(f.record_key, '$.order_id') "
                "AND i.line = CAST(json_extract(f.record_key, '$.line') AS BIGINT)"
            ).fetchone() == (flagged, flagged)
            keys = con.execute("SELECT count(DISTINCT (order_id, line)) FROM order_items")
            assert keys.fetchone() == (stored,)
            # nothing of the deleted customer is stored or quarantined
            assert con.execute(
                "SELECT count(*) FROM orders WHERE customer_id = $c", {"c": SUPPRESSED}
            ).fetchone() == (0,)
            assert con.execute(
                "SELECT count(*) FROM quarantine WHERE json_valid(raw_row) "
                "AND json_extract_string(raw_row, '$.customer_id') = $c",
                {"c": SUPPRESSED},
            ).fetchone() == (0,)
            log = con.execute(
                "SELECT sum(rows_read), sum(stored), sum(updated), sum(suppressed) FROM imports"
            ).fetchone()
            assert log == (len(first) * 2 + len(second) * 3, stored, updated, suppressed)
            # every replaced row still has its key in the store (replaced, never removed)
            assert con.execute(
                "SELECT count(*) FROM row_history h WHERE NOT EXISTS (SELECT 1 FROM order_items i "
                "WHERE h.entity = 'order_items' "
                "AND i.order_id = json_extract_string(h.record_key, 'order_id') "
                "AND i.line = CAST(json_extract_string(h.record_key, 'line') AS BIGINT)) "
                "AND NOT EXISTS (SELECT 1 FROM orders o WHERE h.entity = 'orders' "
                "AND o.order_id = json_extract_string(h.record_key, 'order_id'))"
            ).fetchone() == (0,)
