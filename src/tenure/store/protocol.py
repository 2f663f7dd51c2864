"""What the store's helper modules (:mod:`tenure.store.rows`, :mod:`tenure.store.staging`)
need of a :class:`~tenure.store.Store`, as a Protocol: they are called by ``Store`` and type
their argument with this, so the imports point one way (store.py -> rows/staging -> here)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import ibis
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from tenure.config import Settings


class StoreLike(Protocol):
    """The part of :class:`~tenure.store.Store` the row-rewriting and staging helpers use."""

    con: BaseBackend
    settings: Settings

    @property
    def transactional(self) -> bool: ...

    def table(self, name: str) -> ibis.Table: ...

    def physical(self, name: str) -> str: ...

    def read(self, name: str) -> ibis.Table: ...

    def insert(self, name: str, data: pa.Table | pd.DataFrame | ibis.Table) -> None: ...

    def truncate(self, name: str) -> None: ...

    def replace(self, name: str, expr: ibis.Table, *, scratch: bool = False) -> ibis.Table: ...

    def drop(self, name: str) -> None: ...

    def scratch_table(
        self, prefix: str, expr: ibis.Table | None = None, **kw: Any
    ) -> ibis.Table: ...

    def upsert(self, name: str, key: Sequence[str], rows: pa.Table) -> int: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def wrote(self, *names: str) -> None: ...


__all__ = ["StoreLike"]
