"""What the last resolution saw, so the next one can take only the rows imported since.

The state is one row of ``identity_flags`` with kind ``_resolution`` (node
``_resolution:last``; no identifier, never a flag): its ``value`` holds, as JSON, the
parameters of the run, the *watermark* (the latest ``imported_at`` of events, orders and
customers when the run started), the number of rows of each of these tables then, and the
number of blocked edges. A full resolution rewrites ``identity_flags`` and so the state; an
incremental one replaces it.

Rows newer than the watermark are the new ones. Import time, not event time: a file of old
events imported today is new. The row counts make this safe: when the rows up to the
watermark are no longer exactly the rows the last run saw (a privacy deletion, rows inserted
without an import time), the next resolution is a full one and says why.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import ibis

from tenure.identity.graph import SOURCE_TABLES
from tenure.store import Store

STATE_KIND = "_resolution"
STATE_NODE = f"{STATE_KIND}:last"
STATE_REASON = "state of the last resolution (not a flag)"


@dataclass(frozen=True)
class Params:
    """The parameters a resolution ran with; a change of any of them needs a full run."""

    max_customers: int
    verified_emails_never_merge: bool
    default_region: str


@dataclass(frozen=True)
class Snapshot:
    """The import watermark and row counts of the source tables at a point in time."""

    watermark: datetime | None
    rows: dict[str, int]
    blocked: int

    @classmethod
    def take(cls, store: Store) -> Snapshot:
        marks: list[datetime] = []
        rows: dict[str, int] = {}
        for name in SOURCE_TABLES:
            t = store.table(name)
            got = t.aggregate(n=t.count(), w=t.imported_at.max()).to_pyarrow().to_pylist()[0]
            rows[name] = int(got["n"])
            if got["w"] is not None:
                marks.append(got["w"])
        blocked = store.count("identity_blocked_edges")
        return cls(max(marks) if marks else None, rows, blocked)

    def rows_up_to_watermark(self, store: Store) -> dict[str, int]:
        """Rows of each source table imported at or before the watermark (or never)."""
        out: dict[str, int] = {}
        for name in SOURCE_TABLES:
            t = store.table(name)
            old = t.imported_at.isnull()
            if self.watermark is not None:
                old = old | (t.imported_at <= ibis.literal(self.watermark, type="timestamp"))
            out[name] = int(t.filter(old).count().execute())
        return out


@dataclass(frozen=True)
class State:
    """The last resolution: its parameters, what it saw, and when it ran."""

    params: Params
    seen: Snapshot
    at: datetime

    def to_json(self) -> str:
        mark = self.seen.watermark
        return json.dumps(
            {
                "params": asdict(self.params),
                "watermark": mark.isoformat() if mark is not None else None,
                "rows": self.seen.rows,
                "blocked": self.seen.blocked,
                "at": self.at.isoformat(),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> State:
        doc: dict[str, Any] = json.loads(text)
        mark = doc["watermark"]
        seen = Snapshot(
            datetime.fromisoformat(mark) if mark else None,
            {k: int(v) for k, v in doc["rows"].items()},
            int(doc["blocked"]),
        )
        return cls(Params(**doc["params"]), seen, datetime.fromisoformat(doc["at"]))


def read_state(store: Store) -> State | None:
    """The state of the last resolution, or None when there is none (or it is unreadable)."""
    f = store.table("identity_flags")
    rows = f.filter(f.kind == STATE_KIND).select("value").to_pyarrow().to_pylist()
    if not rows:
        return None
    try:
        return State.from_json(rows[0]["value"])
    except (ValueError, KeyError, TypeError):
        return None


def why_full(store: Store, state: State | None, params: Params, now: Snapshot) -> str | None:
    """Why the rows imported since the last resolution cannot simply be added (None: they can)."""
    if state is None:
        return "no earlier resolution to build on"
    if state.params != params:
        before, after = asdict(state.params), asdict(params)
        changed = [f"{k} {before[k]!r} -> {after[k]!r}" for k in before if before[k] != after[k]]
        return f"the parameters changed since the last resolution ({', '.join(changed)})"
    if now.blocked != state.seen.blocked:
        return "edges were blocked (unmerge) since the last resolution"
    kept = state.seen.rows_up_to_watermark(store)
    for name in SOURCE_TABLES:
        if name not in state.seen.rows:
            return f"{name}: the last resolution did not read this table (an older Tenure)"
        if kept[name] != state.seen.rows[name]:
            return (
                f"{name}: the last resolution saw {state.seen.rows[name]:,} rows, and "
                f"{kept[name]:,} rows are now imported up to its watermark (rows were removed, "
                "or added without a later import time)"
            )
    return None
