"""The dispatcher: one pass over the due messages of the outbox (docs/delivery.md, "The
dispatcher and its guarantees").

Batch by batch, :func:`dispatch`

1. **claims** due messages under a lease (one statement, :meth:`Store.claim_messages`): two
   dispatchers never claim the same message; a message still ``sending`` whose lease expired
   (its dispatcher died) is claimed again;
2. **re-checks** consent, suppression, caps and quiet hours at this moment
   (:func:`tenure.engage.policy.decide`) and **renders** the messages that may go (the
   :class:`~tenure.deliver.channel.Renderer`: a message stopped issues no discount code);
3. **hands over**: one write records what will not be sent (suppressed, capped, held, failed
   to render) and marks the rest ``handed_at``;
4. **sends** them through their channels on a small thread pool (``concurrency``; channels
   must be thread-safe, :class:`~tenure.deliver.channel.Channel`);
5. **records** every outcome in one write, guarded by the lease, with one
   ``delivery_attempts`` row per attempt.

The crash window is step 4 to the end of step 5: a dispatcher killed there may have sent
messages of its batch that are not recorded. They are claimed again when the lease expires
and sent again with the same Message-ID and idempotency key (the renderer derives both from
the key), so a receiver can drop them; each such claim counts in ``messages.resends`` and in
:attr:`DispatchResult.resent`. At most one batch per crash can be sent twice; nothing is lost.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tenure.deliver.channel import Channel, Outgoing, Receipt, Renderer
from tenure.deliver.outbox import (
    AttemptLog,
    Outcome,
    RetryPolicy,
    errored,
    handed_over,
    rechecked,
    sent,
    settle_table,
)
from tenure.engage.policy import CANDIDATE_COLUMNS, decide
from tenure.engage.settings import SendPolicy
from tenure.engage.steps import TRAIT_CHANNEL
from tenure.errors import TenureError
from tenure.store import Store

#: A claim takes up to this many batches: the send policy is re-checked (one query, about a
#: second whatever its size) once per claim, the crash window stays one batch.
CLAIM_BATCHES = 20
#: The send policy's verdict on claimed rows (:func:`recheck`): message_key -> (state,
#: reason, release_at).
Verdicts = Mapping[str, tuple[str, str | None, datetime | None]]
Recheck = Callable[[Store, pa.Table, datetime], Verdicts]
#: The counts of :class:`DispatchResult` per outcome, and the transition each comes from.
OUTCOMES = {
    "mark_sent": "sent",
    "mark_failed": "failed",
    "schedule_retry": "retried",
    "suppress": "suppressed",
    "cap": "capped",
    "hold": "held",
}


@dataclass
class DispatchResult:
    """What one pass did: messages claimed and what became of them, resends (messages sent
    again after a dispatcher died having handed them over), outcomes not written because the
    lease was lost (``lost_leases``), per channel too."""

    worker: str
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    suppressed: int = 0
    capped: int = 0
    held: int = 0
    resent: int = 0
    lost_leases: int = 0
    batches: int = 0
    seconds: float = 0.0
    per_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, outcomes: Sequence[Outcome]) -> None:
        for o in outcomes:
            name = OUTCOMES.get(o.transition)
            if name is None:
                continue
            setattr(self, name, getattr(self, name) + 1)
            mine = self.per_channel.setdefault(o.channel, {})
            mine[name] = mine.get(name, 0) + 1

    @property
    def per_second(self) -> float | None:
        """Messages sent per second of the pass (None for an empty pass)."""
        return self.sent / self.seconds if self.seconds > 0 and self.sent else None

    def as_dict(self) -> dict[str, Any]:
        counts = ("claimed", "sent", "failed", "retried", "suppressed", "capped", "held")
        out: dict[str, Any] = {"worker": self.worker}
        out.update({c: getattr(self, c) for c in counts})
        out.update(
            resent=self.resent,
            lost_leases=self.lost_leases,
            batches=self.batches,
            seconds=round(self.seconds, 3),
            per_second=None if self.per_second is None else round(self.per_second, 1),
            per_channel={ch: dict(sorted(c.items())) for ch, c in sorted(self.per_channel.items())},
        )
        return out


def worker_id(name: str | None = None) -> str:
    """A lease owner unique to this dispatcher: ``name`` (default host:pid) and a random
    part, so two dispatchers given one name still hold different leases."""
    return f"{name or f'{socket.gethostname()}:{os.getpid()}'}:{uuid.uuid4().hex[:8]}"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def recheck(store: Store, rows: pa.Table, now: datetime, policy: SendPolicy) -> Verdicts:
    """The send policy's verdict on claimed ``rows`` at ``now``: message_key -> (state,
    reason, release_at), ``pending`` when it may go (:func:`tenure.engage.policy.decide`,
    with the row's release time as its due time and no holdout)."""
    if rows.num_rows == 0:
        return {}
    columns = [c for c in CANDIDATE_COLUMNS if c not in ("due_at", "holdout")]
    due = [
        r or d
        for r, d in zip(rows["release_at"].to_pylist(), rows["due_at"].to_pylist(), strict=True)
    ]
    cands = rows.select(columns).append_column("due_at", pa.array(due, pa.timestamp("us")))
    cands = cands.append_column("holdout", pa.array([False] * rows.num_rows, pa.bool_()))
    name = f"_tenure_recheck_{uuid.uuid4().hex[:12]}"
    try:
        uploaded = store.upload(name, cands)
        verdict = decide(store, uploaded, now, policy=policy)
        got = verdict.select("message_key", "state", "reason", "release_at").to_pyarrow()
    finally:
        store.drop_upload(name)
    return {r["message_key"]: (r["state"], r["reason"], r["release_at"]) for r in got.to_pylist()}


def _policy_recheck(policy: SendPolicy) -> Recheck:
    def check(store: Store, rows: pa.Table, now: datetime) -> Verdicts:
        return recheck(store, rows, now, policy)

    return check


def _send(channel: Channel, message: Outgoing) -> Receipt | Exception:
    try:
        return channel.send(message)
    except Exception as exc:  # every failure is an outcome to record, never lost
        return exc


@dataclass
class _Pass:
    store: Store
    channels: Mapping[str, Channel]
    renderer: Renderer
    owner: str
    recheck: Recheck
    retry: RetryPolicy
    rng: random.Random
    pool: ThreadPoolExecutor
    clock: Callable[[], datetime]
    schema: pa.Schema
    result: DispatchResult

    def write(self, outcomes: Sequence[Outcome], now: datetime) -> set[str]:
        """One write for a batch's outcomes and their ``delivery_attempts`` rows; returns
        the keys written (the others' lease was lost)."""
        if not outcomes:
            return set()
        log = AttemptLog(self.owner)
        with self.store.transaction():
            done = self.store.update_claimed(settle_table(outcomes, self.schema), owner=self.owner)
            written = [o for o in outcomes if o.key in done]
            log.add(written, now)
            if log.rows:
                attempts = self.store.spec("delivery_attempts").schema.to_pyarrow()
                self.store.insert("delivery_attempts", pa.Table.from_pylist(log.rows, attempts))
        self.result.lost_leases += len(outcomes) - len(written)
        self.result.count(written)
        return done

    def claim(self, limit: int, size: int) -> int:
        """Claim up to ``limit`` messages, render and re-check them, then hand over, send
        and record them ``size`` at a time; return how many messages were claimed."""
        now = self.clock()
        claimed = self.store.claim_messages(
            owner=self.owner,
            now=now,
            lease_until=now + self.retry.lease,
            limit=limit,
            channels=sorted(self.channels),
        )
        if claimed.num_rows == 0:
            return 0
        rows = claimed.to_pylist()
        self.result.claimed += len(rows)
        policed = claimed.filter(pc.not_equal(claimed["channel"], TRAIT_CHANNEL))
        verdicts = self.recheck(self.store, policed, now)  # no send policy for a trait
        early: list[Outcome] = []
        ready: list[dict[str, Any]] = []
        for row in rows:
            verdict = verdicts.get(row["message_key"], ("pending", None, None))
            stop = rechecked(row, *verdict, now)
            if stop is None:
                ready.append(row)
            else:
                early.append(stop)
        going: list[tuple[dict[str, Any], Outgoing]] = []
        for row, out in zip(ready, self.render(ready), strict=True):
            if isinstance(out, Exception):
                early.append(errored(row, out, now, self.retry, self.rng))
            else:
                going.append((row, out))
        self.write(early, now)
        for start in range(0, len(going), size):
            self.batch(going[start : start + size])
        return len(rows)

    def render(self, rows: list[dict[str, Any]]) -> list[Outgoing | Exception]:
        """The messages of ``rows`` (those the re-check lets go: rendering issues and records
        their discount codes), or each row's error."""
        if not rows:
            return []
        try:
            return list(self.renderer.render(rows))
        except TenureError as exc:  # the whole claim failed to render: each row's outcome
            return [exc] * len(rows)

    def batch(self, going: list[tuple[dict[str, Any], Outgoing]]) -> None:
        """Hand one batch over (one write), send it on the pool, record it (one write): a
        crash between the two writes is the window in which a message can be sent twice."""
        now = self.clock()
        mine = self.write([handed_over(row, now, out.message_id) for row, out in going], now)
        going = [(row, out) for row, out in going if row["message_key"] in mine]
        for row, out in going:
            row.update(handed_at=now, message_id=out.message_id)
        self.result.batches += 1
        self.result.resent += sum(1 for row, _ in going if row["resend"])
        answers = list(
            self.pool.map(lambda ro: _send(self.channels[ro[0]["channel"]], ro[1]), going)
        )
        done = self.clock()
        final = [
            sent(row, answer, done)
            if isinstance(answer, Receipt)
            else errored(row, answer, done, self.retry, self.rng)
            for (row, _), answer in zip(going, answers, strict=True)
        ]
        self.write(final, done)


def dispatch(
    store: Store,
    *,
    channels: Mapping[str, Channel],
    renderer: Renderer,
    now: datetime | None = None,
    batch: int | None = None,
    limit: int | None = None,
    worker: str | None = None,
    policy: SendPolicy | None = None,
    concurrency: int | None = None,
    retry: RetryPolicy | None = None,
    rng: random.Random | None = None,
    stop: Callable[[], bool] | None = None,
    recheck_with: Recheck | None = None,
) -> DispatchResult:
    """One pass of the dispatcher over the due messages of the ``channels`` given (the module
    says how). ``now``: a fixed clock for the pass (tests, backfills; default the time now at
    each step); ``batch``, ``concurrency``, ``retry``: default from the store's settings;
    ``limit``: claim at most this many messages; ``worker``: a name for the lease owner;
    ``policy``: the send policy re-checked at sending (default its defaults); ``stop``:
    asked between batches, True ends the pass (a worker told to stop); ``recheck_with``
    replaces the whole re-check at sending (tests, as ``run_tick``'s ``decide``)."""
    settings = store.settings
    size = batch or settings.delivery_batch
    owner = worker_id(worker)
    clock = (lambda: now) if now is not None else _utcnow
    if now is not None and now.tzinfo is not None:
        fixed = now.astimezone(UTC).replace(tzinfo=None)
        clock = lambda: fixed  # noqa: E731
    result = DispatchResult(worker=owner)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency or settings.delivery_concurrency) as pool:
        run = _Pass(
            store=store,
            channels=channels,
            renderer=renderer,
            owner=owner,
            recheck=recheck_with or _policy_recheck(policy or SendPolicy()),
            retry=retry or RetryPolicy.from_settings(settings),
            rng=rng or random.Random(),
            pool=pool,
            clock=clock,
            schema=store.spec("messages").schema.to_pyarrow(),
            result=result,
        )
        while limit is None or result.claimed < limit:
            if stop is not None and stop():
                break
            room = size * CLAIM_BATCHES
            room = room if limit is None else min(room, limit - result.claimed)
            if run.claim(room, size) == 0:
                break
    result.seconds = time.perf_counter() - started
    return result
