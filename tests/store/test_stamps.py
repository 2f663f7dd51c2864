"""The data versions kept in the store (tenure.store.stamps): a log of appended bumps, so
two connections of one process writing one table at once never conflict, folded by the
pipeline without changing any version."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa

from tenure.store import Store


def _meta(key: str) -> pa.Table:
    return pa.table({"name": [key], "value": ["x"], "set_at": [None], "set_by": ["test"]})


def test_two_stores_writing_one_table_at_once_never_conflict(tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'store.duckdb'}"
    with Store(url) as st:
        start = st.data_versions(["store_meta"])
    assert start is not None
    errors: list[BaseException] = []
    writes = 40

    def write(tag: str) -> None:
        try:
            with Store(url) as st:
                for i in range(writes):
                    with st.transaction():
                        st.insert("store_meta", _meta(f"{tag}{i}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"w{i}-",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(url) as st:
        after = st.data_versions(["store_meta"])
        assert after is not None and after["store_meta"] == start["store_meta"] + 2 * writes
        removed = st.compact_data_versions()
        assert removed >= 2 * writes - 1
        assert st.data_versions(["store_meta"]) == after
        assert st.compact_data_versions() == 0
        log = st.read("data_versions").to_pyarrow()
    names = log.column("name").to_pylist()
    assert len(names) == len(set(names)), "one row per table after folding"
