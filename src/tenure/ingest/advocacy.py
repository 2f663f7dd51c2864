"""What an import of feedback or referrals notes besides its counts.

* Referral cycles: a referral whose referred person also referred its referrer (directly,
  A referred B and B referred A, or around a longer loop) is stored, and recorded in
  ``flagged_values`` with the reason, so that it is never silently counted as an
  acquisition. A person is the identifiers given together on one side of a referral (an
  email, case aside, and a customer id), joined across referrals.
* Unlinked feedback: a stored feedback row carrying no identifier at all (no customer id,
  email nor anonymous id) stays in the table; identity resolution cannot link it to a
  person, and the import says how many there are.
"""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tenure.store.protocol import StoreLike

#: the reason of a flagged referral (the column flagged is ``referral_id``)
CYCLE = "referral cycle"


def _ids(email: str | None, customer_id: str | None) -> list[str]:
    out = ["email:" + email.strip().lower()] if email and email.strip() else []
    return out + (
        ["customer_id:" + customer_id.strip()] if customer_id and customer_id.strip() else []
    )


class _Persons:
    """Identifiers seen together on one side of a referral are one person (union-find)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        root = self.parent.setdefault(node, node)
        while root != self.parent[root]:
            root = self.parent[root]
        while node != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def join(self, ids: list[str]) -> None:
        for other in ids[1:]:
            a, b = self.find(ids[0]), self.find(other)
            if a != b:
                self.parent[max(a, b)] = min(a, b)


def cycle_referrals(rows: list[dict[str, str | None]]) -> dict[str, str]:
    """The referrals (``referral_id`` -> reason) that lie on a cycle of the referral graph,
    from rows with the referrer's and the referred person's email and customer id. The
    identifiers of one side are one person (an email and a customer id given together)."""
    persons = _Persons()
    sides = []
    for r in rows:
        a = _ids(r["referrer_email"], r["referrer_customer_id"])
        b = _ids(r["referred_email"], r["referred_customer_id"])
        persons.join(a)
        persons.join(b)
        if a and b and r["referral_id"]:
            sides.append((str(r["referral_id"]), a, b))
    edges = [(rid, persons.find(a[0]), persons.find(b[0]), a, b) for rid, a, b in sides]
    edges = [e for e in edges if e[1] != e[2]]
    if not edges:
        return {}
    nodes = {n: i for i, n in enumerate(sorted({n for e in edges for n in e[1:3]}))}
    src = np.array([nodes[e[1]] for e in edges])
    dst = np.array([nodes[e[2]] for e in edges])
    graph = coo_matrix((np.ones(len(edges)), (src, dst)), shape=(len(nodes), len(nodes)))
    _, labels = connected_components(graph, directed=True, connection="strong")
    out = {}
    for (rid, _, _, a, b), i, j in zip(edges, src, dst, strict=True):
        if labels[i] == labels[j]:  # b reaches a again: the edge is on a cycle
            out[rid] = (
                f"{CYCLE}: {_shown(b)}, referred by {_shown(a)}, also referred them "
                "(directly or through others)"
            )
    return out


def _shown(ids: list[str]) -> str:
    return " / ".join(i.split(":", 1)[1] for i in ids)


def flag_referral_cycles(store: StoreLike, import_id: str, now: datetime) -> int:
    """Record in ``flagged_values`` the stored referrals on a cycle not flagged yet; their
    number."""
    columns = [
        "referral_id",
        "referrer_email",
        "referrer_customer_id",
        "referred_email",
        "referred_customer_id",
        "source",
    ]
    rows = store.table("referrals").select(*columns).to_pyarrow().to_pylist()
    cycles = cycle_referrals(rows)
    if not cycles:
        return 0
    flagged = store.table("flagged_values")
    done = flagged.filter((flagged.entity == "referrals") & (flagged.column == "referral_id"))
    seen = {json.loads(k)["referral_id"] for k in done.record_key.to_pyarrow().to_pylist()}
    source = {r["referral_id"]: r["source"] for r in rows}
    new = sorted(rid for rid in cycles if rid not in seen)
    if new:
        store.insert(
            "flagged_values",
            pa.table(
                {
                    "import_id": [import_id] * len(new),
                    "entity": ["referrals"] * len(new),
                    "file": [source[rid] for rid in new],
                    "line": pa.nulls(len(new), pa.int64()),
                    "record_key": [json.dumps({"referral_id": rid}) for rid in new],
                    "column": ["referral_id"] * len(new),
                    "value": new,
                    "reason": [cycles[rid] for rid in new],
                    "flagged_at": pa.array([now] * len(new), pa.timestamp("us")),
                }
            ),
        )
    return len(new)


def unlinked_feedback(store: StoreLike, files: list[str] | None = None) -> int:
    """Stored feedback rows with no identifier (from ``files``, or all)."""
    f = store.table("feedback")
    none = f.customer_id.isnull() & f.email.isnull() & f.anonymous_id.isnull()
    if files is not None:
        none &= f.source.isin(files)
    return int(f.filter(none).count().execute())
