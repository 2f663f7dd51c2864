"""The per-person access paths of the canonical tables: the indexes one person's rows are read
through (a profile, a lookup), so reading them does not scan every row of a 70M-row table.

On DuckDB each entry of :data:`INDEXES` is an ART index. DuckDB uses one for a filter that
compares the indexed column (or expression) with constants: ``column = value`` or ``column IN
(values...)`` on a plain column, ``expression = value`` on an expression. It does not for an
``OR`` of two columns, an ``IN`` over an expression, nor under ``ORDER BY ... LIMIT`` (the
top-N's dynamic filter turns the read into a scan): readers write such a filter as a union of
one-column filters and cut the rows they keep after reading them (as
:func:`tenure.identity.profile.profile` does). Other engines have no indexes: the same
expressions scan there, with the same answer.

The derived tables with one row per person (:data:`PERSON_TABLES`), and the two with a few
rows per person that a profile page reads (:data:`PERSON_LISTS`), are indexed on it each
time their step writes them (:meth:`tenure.store.Store.replace`; about a second per 1M rows).

An index costs disk (about 16 bytes a row: some 1.2 GB for one column of 72M events), the
time to build it (migration 16; about 2 minutes per column of 72M events on two busy cores)
and a little on every insert; DuckDB loads its nodes as lookups touch them. A table created
again (:meth:`tenure.store.Store.truncate`, a migration adding a column) loses its indexes;
:func:`create_indexes` builds them again.
"""

from __future__ import annotations

from dataclasses import dataclass

from ibis.backends import BaseBackend

from tenure.store.derived import DERIVED


@dataclass(frozen=True)
class Index:
    """One index: ``table`` and the column or SQL expression of its columns it is on (one of
    Tenure's constants, never user input)."""

    table: str
    name: str
    on: str

    @property
    def sql(self) -> str:
        return f"CREATE INDEX IF NOT EXISTS {self.name} ON {self.table} ({self.on})"


def _index(table: str, column: str, on: str | None = None) -> Index:
    return Index(table, f"tenure_{table}_{column}", on or column)


#: Every index, by the reads they serve: a person's identifiers (by value: who holds this
#: identifier; by person), their customer records, consents, orders (by customer id, by the
#: e-mail as profiles compare it, lower-cased) and events (by device, by user id).
INDEXES: tuple[Index, ...] = (
    _index("identities", "value"),
    _index("identities", "person_id"),
    _index("customers", "customer_id"),
    _index("consents", "identifier"),
    _index("orders", "customer_id"),
    _index("orders", "email_lower", "lower(email)"),
    _index("events", "anonymous_id"),
    _index("events", "user_id"),
)


#: The derived tables with one row per person (:data:`tenure.store.derived.DERIVED`), indexed
#: on their person column each time their step writes them: a profile reads one row of each.
PERSON_TABLES: tuple[Index, ...] = tuple(
    _index(t.name, t.person_column)
    for t in DERIVED.values()
    if t.person_column is not None and t.key == (t.person_column,)
)


#: Derived tables with a few rows per person that a profile page reads by person (the
#: person's recommendations and category candidates), indexed on it the same way.
PERSON_LISTS: tuple[Index, ...] = tuple(
    _index(name, "person_id") for name in ("product_recommendations", "category_candidates")
)


def indexes_of(table: str | None = None) -> list[Index]:
    """The indexes of ``table`` (default: of every table), canonical and derived."""
    every = (*INDEXES, *PERSON_TABLES, *PERSON_LISTS)
    return [i for i in every if table is None or i.table == table]


def create_indexes(con: BaseBackend, table: str | None = None) -> list[str]:
    """Build the indexes of ``table`` (default: of every table, :data:`INDEXES`,
    :data:`PERSON_TABLES` and :data:`PERSON_LISTS`) that are missing, on DuckDB (nothing
    elsewhere); return the names of the indexes built or kept. A table the store does not
    hold is skipped."""
    if con.name != "duckdb":
        return []
    wanted = indexes_of(table)
    if not wanted:
        return []
    present = set(con.list_tables())
    done = []
    for index in wanted:
        if index.table in present:
            con.raw_sql(index.sql)
            done.append(index.name)
    return done


def index_names(con: BaseBackend) -> set[str]:
    """The names of the indexes the store holds (empty on an engine without indexes)."""
    if con.name != "duckdb":
        return set()
    rows = con.raw_sql("SELECT index_name FROM duckdb_indexes()").fetchall()
    return {str(r[0]) for r in rows}
