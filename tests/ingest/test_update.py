"""The update path (issue 11, item 5): a re-import of changed rows with ``update=True``
replaces them by natural key, keeps the previous version in ``row_history``, counts them as
updated; without it, changed rows are quarantined as before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from tenure import Store
from tenure.errors import IngestError
from tenure.ingest import import_customers, import_events, import_orders, import_spend

FIRST = (
    "order_id,customer_id,email,ordered_at,currency,total,status\n"
    "A1,C1,a@example.com,2024-03-01T10:00:00,USD,10.50,paid\n"
    "A2,C2,b@example.com,2024-03-02T11:00:00,USD,20.00,paid\n"
)
#: a later export: A1 refunded (new status and a refund), A2 unchanged, A3 new
LATER = (
    "order_id,customer_id,email,ordered_at,currency,total,status,refunded\n"
    "A1,C1,a@example.com,2024-03-01T10:00:00,USD,10.50,refunded,10.50\n"
    "A2,C2,b@example.com,2024-03-02T11:00:00,USD,20.00,paid,\n"
    "A3,C2,b@example.com,2024-03-04T09:00:00,USD,5.00,paid,\n"
)


def _write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _orders(store: Store) -> list[tuple[str, str, Decimal | None]]:
    t = store.table("orders").order_by("order_id")
    return [(r["order_id"], r["status"], r["refunded"]) for r in t.to_pyarrow().to_pylist()]


def _history(store: Store) -> list[dict[str, object]]:
    history = store.table("row_history").order_by("entity", "record_key", "replaced_at")
    rows = history.to_pyarrow().to_pylist()
    return [{**r, "row": json.loads(r["row"])} for r in rows]


def test_changed_order_is_quarantined_without_update_and_updated_with_it(
    store: Store, tmp_path: Path
) -> None:
    first, later = _write(tmp_path, FIRST, "first.csv"), _write(tmp_path, LATER, "later.csv")
    import_orders(store, [first])
    safe = import_orders(store, [later], max_quarantine=1.0)
    assert (safe.stored, safe.updated, safe.already_present, safe.quarantined) == (1, 0, 1, 1)
    assert safe.by_reason == {"same key with different content": 1}
    assert _orders(store)[0] == ("A1", "paid", None)
    assert store.count("row_history") == 0

    r = import_orders(store, [later], update=True)
    assert (r.rows_read, r.stored, r.updated, r.already_present, r.quarantined) == (3, 0, 1, 2, 0)
    assert r.tables == {"orders": 1, "row_history": 1}
    assert _orders(store) == [
        ("A1", "refunded", Decimal("10.5000")),
        ("A2", "paid", None),
        ("A3", "paid", None),
    ]
    (old,) = _history(store)
    assert (old["entity"], old["record_key"], old["import_id"]) == (
        "orders",
        '{"order_id":"A1"}',
        r.import_id,
    )
    assert old["row"]["status"] == "paid" and old["row"]["refunded"] is None
    assert old["row"]["total"] == 10.5 and old["row"]["source"] == str(first)
    a1 = store.table("orders").filter(lambda t: t.order_id == "A1").to_pyarrow().to_pylist()[0]
    assert a1["source"] == str(later)
    log = store.table("imports").order_by("started_at").to_pyarrow().to_pylist()
    assert [(x["stored"], x["updated"], x["quarantined"]) for x in log] == [
        (2, 0, 0),
        (1, 0, 1),
        (0, 1, 0),
    ]
    # applied once: the same file again is already present
    again = import_orders(store, [later], update=True)
    assert (again.stored, again.updated, again.already_present) == (0, 0, 3)
    assert store.count("row_history") == 1


def test_columns_the_file_does_not_map_keep_their_stored_values(
    store: Store, tmp_path: Path
) -> None:
    customers = (
        "customer_id,email,first_name,country\nC1,a@example.com,Ann,GB\nC2,b@example.com,Bo,FR\n"
    )
    import_customers(store, [_write(tmp_path, customers, "c.csv")])
    moved = "customer_id,country\nC1,IE\n"
    r = import_customers(store, [_write(tmp_path, moved, "moved.csv")], update=True)
    assert (r.updated, r.stored) == (1, 0)
    rows = store.table("customers").order_by("customer_id").to_pyarrow().to_pylist()
    assert [(c["customer_id"], c["email"], c["first_name"], c["country"]) for c in rows] == [
        ("C1", "a@example.com", "Ann", "IE"),
        ("C2", "b@example.com", "Bo", "FR"),
    ]
    assert _history(store)[0]["row"]["country"] == "GB"


LINES = "order_id,line,ordered_at,currency,product_id,quantity,unit_price,customer_id,status\n"


def test_order_lines_update_the_line_and_the_order(store: Store, tmp_path: Path) -> None:
    """A refunded order whose second line's quantity changed; a line added to another order:
    the lines that changed are replaced, the orders get the new status and computed totals."""
    first = (
        "O1,1,2024-01-01,USD,P1,1,2.00,c1,paid\n"
        "O1,2,2024-01-01,USD,P2,2,1.00,c1,paid\n"
        "O2,1,2024-01-02,USD,P1,1,2.00,c2,paid\n"
    )
    later = (
        "O1,1,2024-01-01,USD,P1,1,2.00,c1,refunded\n"
        "O1,2,2024-01-01,USD,P2,3,1.00,c1,refunded\n"
        "O2,1,2024-01-02,USD,P1,1,2.00,c2,paid\n"
        "O2,2,2024-01-02,USD,P3,1,5.00,c2,paid\n"
    )
    import_orders(store, [_write(tmp_path, LINES + first, "first.csv")])
    path = _write(tmp_path, LINES + later, "later.csv")
    r = import_orders(store, [path], update=True)
    # O1's two lines updated (its status), O2's new line stored, O2's first line unchanged
    assert (r.stored, r.updated, r.already_present, r.quarantined) == (1, 2, 1, 0)
    assert r.tables == {"order_items": 2, "orders": 2, "row_history": 3}
    orders = store.table("orders").order_by("order_id").to_pyarrow().to_pylist()
    assert [(o["order_id"], o["status"], o["total"]) for o in orders] == [
        ("O1", "refunded", Decimal("5.0000")),
        ("O2", "paid", Decimal("7.0000")),
    ]
    items = store.table("order_items").order_by("order_id", "line").to_pyarrow().to_pylist()
    assert [(i["order_id"], i["line"], i["quantity"]) for i in items] == [
        ("O1", 1, 1),
        ("O1", 2, 3),
        ("O2", 1, 1),
        ("O2", 2, 1),
    ]
    history = _history(store)
    assert [(h["entity"], h["record_key"]) for h in history] == [
        ("order_items", '{"order_id":"O1","line":2}'),
        ("orders", '{"order_id":"O1"}'),
        ("orders", '{"order_id":"O2"}'),
    ]
    assert history[0]["row"]["quantity"] == 2 and history[1]["row"]["status"] == "paid"
    assert history[2]["row"]["total"] == 2.0
    again = import_orders(store, [path], update=True)
    assert (again.stored, again.updated, again.already_present) == (0, 0, 4)
    assert import_orders(store, [path]).already_present == 4  # nothing left to update


def test_a_new_line_of_a_changed_order_is_stored_and_the_order_updated(
    store: Store, tmp_path: Path
) -> None:
    """The only line in the file is new, but it brings the order a new status and total."""
    import_orders(store, [_write(tmp_path, LINES + "O1,1,2024-01-01,USD,P1,1,2.00,c1,paid\n", "a")])
    later = LINES + "O1,2,2024-01-01,USD,P2,1,3.00,c1,shipped\n"
    r = import_orders(store, [_write(tmp_path, later, "b")], update=True)
    assert (r.stored, r.updated, r.tables) == (
        1,
        0,
        {"order_items": 1, "orders": 1, "row_history": 1},
    )
    (order,) = store.table("orders").to_pyarrow().to_pylist()
    assert (order["status"], order["total"]) == ("shipped", Decimal("5.0000"))
    assert _history(store)[0]["row"]["status"] == "paid"


def test_spend_is_updated_by_its_three_column_key(store: Store, tmp_path: Path) -> None:
    head = "date,channel,campaign,cost,currency\n"
    import_spend(store, [_write(tmp_path, head + "2024-01-01,ads,spring,10.00,USD\n", "a.csv")])
    r = import_spend(
        store, [_write(tmp_path, head + "2024-01-01,ads,spring,11.00,USD\n", "b.csv")], update=True
    )
    assert (r.updated, r.tables) == (1, {"marketing_spend": 1, "row_history": 1})
    assert store.table("marketing_spend").cost.to_pyarrow().to_pylist() == [Decimal("11.0000")]
    (old,) = _history(store)
    assert old["record_key"] == '{"date":"2024-01-01","channel":"ads","campaign":"spring"}'
    assert (old["entity"], old["row"]["cost"]) == ("marketing_spend", 10.0)


def test_conflicting_versions_in_one_file_stay_quarantined(store: Store, tmp_path: Path) -> None:
    import_orders(store, [_write(tmp_path, FIRST, "first.csv")])
    twice = LATER + "A1,C1,a@example.com,2024-03-01T10:00:00,USD,10.50,shipped,\n"
    twice += "A1,C1,a@example.com,2024-03-01T10:00:00,USD,10.50,refunded,10.50\n"
    r = import_orders(store, [_write(tmp_path, twice, "twice.csv")], update=True, max_quarantine=1)
    # the file's first A1 applies; a different A1 later in the file is a conflict; the
    # repeat of the first is present
    assert (r.stored, r.updated, r.already_present, r.quarantined) == (1, 1, 2, 1)
    assert _orders(store)[0] == ("A1", "refunded", Decimal("10.5000"))


def test_a_later_file_of_the_run_wins(store: Store, tmp_path: Path) -> None:
    import_orders(store, [_write(tmp_path, FIRST, "first.csv")])
    shipped = FIRST.replace("paid", "shipped")
    files = [_write(tmp_path, LATER, "later.csv"), _write(tmp_path, shipped, "shipped.csv")]
    r = import_orders(store, files, update=True)
    assert (r.stored, r.updated, r.already_present) == (1, 3, 1)
    assert [s for _, s, _ in _orders(store)] == ["shipped", "shipped", "paid"]
    history = _history(store)
    assert [h["row"]["status"] for h in history] == ["paid", "refunded", "paid"]
    # A1, replaced by both files: two versions, apart in time (row_history's key)
    assert history[0]["replaced_at"] < history[1]["replaced_at"]  # type: ignore[operator]


def test_events_are_not_updatable(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, '{"type":"track","messageId":"m1"}\n', "e.jsonl")
    with pytest.raises(IngestError, match="Events cannot be updated") as info:
        import_events(store, [path], update=True)
    assert "--update applies to orders, customers, products, spend" in str(info.value.hint)


def test_an_update_that_fails_leaves_nothing(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replacement is in the file's transaction: a failure after the stored row was
    deleted rolls back the deletion, the history and the file's other rows."""
    import_orders(store, [_write(tmp_path, FIRST, "first.csv")])
    before = (_orders(store), store.count("row_history"), store.count("quarantine"))

    from tenure.store.staging import Staging

    real = Staging.emit

    def emit(self: Staging, table: str, select: str, params: object = None) -> int:
        if select.startswith("SELECT * FROM __upd_"):  # the new versions, after the delete
            raise RuntimeError("disk full")
        return real(self, table, select, params)  # type: ignore[arg-type]

    monkeypatch.setattr(Staging, "emit", emit)
    with pytest.raises(RuntimeError, match="disk full"):
        import_orders(store, [_write(tmp_path, LATER, "later.csv")], update=True)
    assert (_orders(store), store.count("row_history"), store.count("quarantine")) == before


KILLED = """
import os, signal, sys
from tenure import Store, load_settings
from tenure.ingest import import_orders
from tenure.store.staging import Staging

real = Staging.emit

def emit(self, table, select, params=None):
    if select.startswith("SELECT * FROM __upd_"):  # the new versions, after the delete
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, table, select, params)

Staging.emit = emit
url = sys.argv[1]
with Store(url) as st:
    import_orders(st, [sys.argv[2]], update=True)
"""


@pytest.mark.slow
def test_kill_during_an_update_leaves_the_store_as_before(store_url: str, tmp_path: Path) -> None:
    """kill -9 in the middle of an update: DuckDB drops the uncommitted transaction when the
    file is opened again, so the stored row, the history and the log are as before."""
    with Store(store_url) as st:
        import_orders(st, [_write(tmp_path, FIRST, "first.csv")])
    script = _write(tmp_path, textwrap.dedent(KILLED), "killed.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    later = _write(tmp_path, LATER, "later.csv")
    done = subprocess.run(
        [sys.executable, str(script), store_url, str(later)], env=env, check=False
    )
    assert done.returncode == -signal.SIGKILL
    with Store(store_url) as st:
        assert _orders(st) == [("A1", "paid", None), ("A2", "paid", None)]
        assert (st.count("row_history"), st.count("imports")) == (0, 1)
        r = import_orders(st, [later], update=True)  # and the update can simply run again
        assert (r.stored, r.updated) == (1, 1)
