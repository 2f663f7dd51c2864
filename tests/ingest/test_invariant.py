"""Invariant: every input row is stored, already present, or quarantined: exactly one."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure import Store, load_settings
from tenure.ingest import import_orders

GOOD = st.tuples(
    st.sampled_from(["A", "B", "C", "D"]),
    st.integers(1, 3),
    st.sampled_from(["2024-01-01", "2024-02-03 10:00:00"]),
    st.sampled_from(["USD", "EUR"]),
    st.integers(-2, 5),
    st.sampled_from(["1.00", "2.50"]),
).map(lambda t: f"{t[0]},{t[1]},{t[2]},{t[3]},P,{t[4]},{t[5]}")
BAD = st.sampled_from(
    [
        ",1,2024-01-01,USD,P,1,1.00",  # missing key
        "E,1,someday,USD,P,1,1.00",  # unreadable date
        "F,1,2024-01-01,ZZZ,P,1,1.00",  # unknown currency
        "G,1,2024-01-01,USD,P,1",  # wrong column count
        "H,1,2024-01-01,USD,P,1,abc",  # unreadable number
    ]
)
ROWS = st.lists(st.one_of(GOOD, BAD), min_size=0, max_size=25)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=ROWS, second=ROWS)
def test_every_row_is_exactly_one_of_stored_present_quarantined(
    first: list[str], second: list[str]
) -> None:
    header = "order_id,line,ordered_at,currency,product_id,quantity,unit_price\n"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"duckdb://{Path(tmp) / 's.duckdb'}"
        with Store(url, settings=load_settings(store_url=url)) as store:
            stored = quarantined_rows = 0
            for rows in (first, second, first):
                path = Path(tmp) / "in.csv"
                path.write_text(header + "".join(r + "\n" for r in rows))
                r = import_orders(store, [path], max_quarantine=1.0)
                assert r.rows_read == len(rows)
                assert r.stored + r.already_present + r.quarantined == r.rows_read
                assert sum(r.by_reason.values()) == r.quarantined
                stored += r.stored
                quarantined_rows += r.quarantined
            # each stored row is in the store once; the last run (a re-import) stored nothing
            assert store.count("order_items") == stored
            assert r.stored == 0
            con = store.con.con
            quarantined = con.execute(
                "SELECT count(*), count(DISTINCT (import_id, line)) FROM quarantine"
            ).fetchone()
            # one quarantine row per quarantined input row, never two for the same line
            assert quarantined == (quarantined_rows, quarantined_rows)
            keys = con.execute("SELECT count(DISTINCT (order_id, line)) FROM order_items")
            assert keys.fetchone() == (stored,)
            log = con.execute("SELECT sum(rows_read), sum(stored) FROM imports").fetchone()
            assert log == (len(first) * 2 + len(second), stored)
