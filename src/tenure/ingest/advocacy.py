"""What an import of feedback or referrals notes besides its counts.

* Referral cycles: a referral whose referred person also referred its referrer (directly,
  A referred B and B referred A, or around a longer loop) is stored, and recorded in
  ``flagged_values`` with the reason, so that it is never silently counted as an
  acquisition. A person is their email (lower case), else their customer id.
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


def _person(email: str | None, customer_id: str | None) -> str | None:
    if email:
        return "email:" + email.strip().lower()
    return "customer_id:" + customer_id.strip() if customer_id else None


def cycle_referrals(rows: list[dict[str, str | None]]) -> dict[str, str]:
    """The referrals (``referral_id`` -> reason) that lie on a cycle of the referral graph,
    from rows with the referrer's and the referred person's email and customer id."""
    edges: list[tuple[str, str, str]] = []
    for r in rows:
        a = _person(r["referrer_email"], r["referrer_customer_id"])
        b = _person(r["referred_email"], r["referred_customer_id"])
        if a and b and a != b and r["referral_id"]:
            edges.append((str(r["referral_id"]), a, b))
    nodes = {n: i for i, n in enumerate(sorted({n for _, a, b in edges for n in (a, b)}))}
    if not edges:
        return {}
    src = np.array([nodes[a] for _, a, _ in edges])
    dst = np.array([nodes[b] for _, _, b in edges])
    graph = coo_matrix((np.ones(len(edges)), (src, dst)), shape=(len(nodes), len(nodes)))
    _, labels = connected_components(graph, directed=True, connection="strong")
    out = {}
    for (rid, a, b), i, j in zip(edges, src, dst, strict=True):
        if labels[i] == labels[j]:  # b reaches a again: the edge is on a cycle
            out[rid] = (
                f"{CYCLE}: {b.split(':', 1)[1]}, referred by {a.split(':', 1)[1]}, also "
                "referred them (directly or through others)"
            )
    return out


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
