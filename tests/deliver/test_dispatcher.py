"""The dispatcher on a DuckDB store: sends each due message once, retries transient errors
with backoff, re-checks the send policy at sending, resends after a crash with the same
Message-ID, and never writes over a lease it lost."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store
from tenure.deliver.channel import Outgoing, Receipt
from tenure.deliver.channels.files import FileChannel
from tenure.deliver.dispatcher import dispatch
from tenure.deliver.outbox import RetryPolicy
from tenure.deliver.render import message_id
from tenure.errors import DeliveryError, DeliveryRetryError
from tests.deliver.outboxkit import (
    T0,
    Scripted,
    delivered,
    file_channels,
    key,
    no_recheck,
    renderer,
    row,
    seed,
    states,
)

RETRY = RetryPolicy(max_attempts=3, base=timedelta(seconds=60), lease=timedelta(minutes=5))


def attempts_log(store: Store) -> list[tuple[str, int, str, bool]]:
    t = store.table("delivery_attempts").to_pyarrow().to_pylist()
    return sorted((r["message_key"], r["attempt"], r["outcome"], r["resend"]) for r in t)


def test_dispatch_sends_every_due_message_once(store: Store, tmp_path: Path) -> None:
    keys = seed(store, n_email=30, n_webhook=20)
    out = tmp_path / "out"
    channels = file_channels(out)
    result = dispatch(store, channels=channels, renderer=renderer(store), now=T0, batch=7)
    assert result.as_dict() | {"worker": "", "seconds": 0, "per_second": 0} == {
        "worker": "",
        "claimed": 50,
        "sent": 50,
        "failed": 0,
        "retried": 0,
        "suppressed": 0,
        "capped": 0,
        "held": 0,
        "resent": 0,
        "lost_leases": 0,
        "batches": 8,  # 30 e-mails and 20 webhooks in one claim of 70, sent 7 at a time
        "seconds": 0,
        "per_second": 0,
        "per_channel": {"email": {"sent": 30}, "webhook": {"sent": 20}},
    }
    mails, hooks = delivered(out, "email"), delivered(out, "webhook")
    assert sorted(m["message_key"] for m in mails + hooks) == keys
    assert {m["to"] for m in mails} == {f"u{i}@example.com" for i in range(30)}
    assert all(m["message_id"] == message_id(m["message_key"]) for m in mails + hooks)
    first = row(store, key(0))
    assert first["state"] == "sent" and first["sent_at"] == T0 and first["attempts"] == 1
    assert first["message_id"] == message_id(key(0)) == first["provider_id"]
    assert (first["lease_owner"], first["lease_until"], first["handed_at"]) == (None, None, None)
    assert attempts_log(store) == [(k, 1, "sent", False) for k in keys]
    again = dispatch(store, channels=channels, renderer=renderer(store), now=T0)
    assert again.claimed == 0 and len(delivered(out, "email")) == 30


def test_only_due_messages_of_the_given_channels_are_claimed(store: Store, tmp_path: Path) -> None:
    seed(store, n_email=3)
    seed(store, n_email=2, due=T0 + timedelta(hours=1), first=3)
    extra = [
        {"message_key": "trait1", "channel": "trait", "state": "pending", "due_at": T0},
        {"message_key": "held1", "channel": "email", "state": "held", "due_at": T0},
        {"message_key": "sent1", "channel": "email", "state": "sent", "due_at": T0},
    ]
    store.insert("messages", pa.Table.from_pylist(extra))
    run = dict(channels=file_channels(tmp_path), renderer=renderer(store), recheck_with=no_recheck)
    first = dispatch(store, now=T0, limit=2, **run)  # type: ignore[arg-type]
    assert (first.claimed, first.sent) == (2, 2)
    rest = dispatch(store, now=T0, **run)  # type: ignore[arg-type]
    assert (rest.claimed, rest.sent) == (1, 1)
    later = dispatch(store, now=T0 + timedelta(hours=2), **run)  # type: ignore[arg-type]
    assert (later.claimed, later.sent) == (2, 2)
    s = states(store)
    assert (s["trait1"], s["held1"], s["sent1"]) == ("pending", "held", "sent")


def test_transient_errors_back_off_terminal_ones_fail(store: Store) -> None:
    seed(store, n_email=4)
    always = [DeliveryRetryError("421 try later")] * 5
    script = {
        key(0): [DeliveryRetryError("421 try later")],
        key(1): [DeliveryError("550 no such user")],
        key(2): always,
    }
    channel = Scripted("email", script)
    run = dict(
        channels={"email": channel}, renderer=renderer(store), retry=RETRY, recheck_with=no_recheck
    )
    first = dispatch(store, now=T0, rng=random.Random(3), **run)  # type: ignore[arg-type]
    assert (first.sent, first.retried, first.failed) == (1, 2, 1)
    r0 = row(store, key(0))
    assert r0["state"] == "pending" and r0["last_error"] == "421 try later"
    assert T0 + timedelta(seconds=30) <= r0["next_attempt_at"] <= T0 + timedelta(seconds=60)
    r1 = row(store, key(1))
    assert (r1["state"], r1["last_error"], r1["attempts"]) == ("failed", "550 no such user", 1)
    # not due again before its backoff
    assert dispatch(store, now=T0 + timedelta(seconds=29), **run).claimed == 0  # type: ignore[arg-type]
    second = dispatch(store, now=T0 + timedelta(seconds=61), **run)  # type: ignore[arg-type]
    assert (second.claimed, second.sent, second.retried) == (2, 1, 1)
    third = dispatch(store, now=T0 + timedelta(hours=1), **run)  # type: ignore[arg-type]
    assert (third.claimed, third.failed) == (1, 1)
    r2 = row(store, key(2))
    assert r2["state"] == "failed" and r2["attempts"] == 3
    assert r2["last_error"] == "421 try later (gave up after 3 attempts)"
    assert sorted(m.message_key for m in channel.accepted) == [key(0), key(3)]
    assert attempts_log(store) == [
        (key(0), 1, "retry", False),
        (key(0), 2, "sent", False),
        (key(1), 1, "failed", False),
        (key(2), 1, "retry", False),
        (key(2), 2, "retry", False),
        (key(2), 3, "failed", False),
        (key(3), 1, "sent", False),
    ]


def test_consent_suppression_and_caps_are_checked_again_at_sending(
    store: Store, tmp_path: Path
) -> None:
    seed(store, n_email=5)
    # after the decision: u1 bounced, u2 unsubscribed; p3 gets a second e-mail the same day
    store.insert(
        "suppressions",
        pa.Table.from_pylist(
            [{"identifier": "u1@example.com", "identifier_kind": "email", "channel": "email"}]
        ),
    )
    store.insert(
        "consents",
        pa.Table.from_pylist(
            [
                {
                    "identifier": "u2@example.com",
                    "identifier_kind": "email",
                    "channel": "email",
                    "status": "unsubscribed",
                    "at": T0 - timedelta(minutes=5),
                }
            ]
        ),
    )
    second = {**row(store, key(3)), "message_key": "k3b", "trigger_id": "t3b"}
    store.insert("messages", pa.Table.from_pylist([second]))
    out = tmp_path / "out"
    result = dispatch(store, channels=file_channels(out), renderer=renderer(store), now=T0)
    assert (result.sent, result.suppressed, result.capped) == (3, 2, 1)
    s = states(store)
    assert (s[key(1)], s[key(2)], s[key(3)], s["k3b"]) == (
        "suppressed",
        "suppressed",
        "sent",
        "capped",
    )
    assert row(store, key(2))["reason"] == "unsubscribed"
    assert row(store, "k3b")["reason"] == "daily cap (1 per day)"
    assert sorted(m["message_key"] for m in delivered(out)) == [key(0), key(3), key(4)]


def test_a_message_that_cannot_be_rendered_fails_with_the_reason(store: Store) -> None:
    seed(store, n_email=2)
    lost = {**row(store, key(0)), "message_key": "nomail", "person_id": "ghost"}
    store.insert("messages", pa.Table.from_pylist([lost]))
    result = dispatch(
        store,
        channels={"email": Scripted("email")},
        renderer=renderer(store),
        now=T0,
        recheck_with=no_recheck,  # the policy would stop it first (no consent)
    )
    assert (result.sent, result.failed) == (2, 1)
    failed = row(store, "nomail")
    assert failed["state"] == "failed" and "person ghost has no email" in failed["last_error"]


class Crash(BaseException):
    """Kills the dispatch in the middle of a batch, as a process killed would."""


class DiesAfter(FileChannel):
    """Delivers ``n`` messages (to the file), then the process 'dies'."""

    def __init__(self, name: str, directory: Path, n: int) -> None:
        super().__init__(name, directory)
        self.left = n

    def send(self, message: Outgoing) -> Receipt:
        if self.left <= 0:
            raise Crash
        self.left -= 1
        return super().send(message)


def test_a_crash_after_hand_over_resends_with_the_same_message_id(
    store: Store, tmp_path: Path
) -> None:
    keys = seed(store, n_email=12)
    out = tmp_path / "out"
    dying = {"email": DiesAfter("email", out, 7)}
    run = dict(renderer=renderer(store), recheck_with=no_recheck)
    with pytest.raises(Crash):  # batch 1 (5) sent and recorded; 2 of batch 2 sent, then death
        dispatch(store, channels=dying, now=T0, batch=5, concurrency=1, **run)  # type: ignore[arg-type]
    s = Counter(states(store).values())
    assert s == Counter({"sent": 5, "sending": 7})
    early = dispatch(store, channels=file_channels(out), now=T0, **run)  # type: ignore[arg-type]
    assert early.claimed == 0  # the dead dispatcher's lease still holds
    after = T0 + RETRY.lease + timedelta(seconds=1)
    result = dispatch(store, channels=file_channels(out), now=after, **run)  # type: ignore[arg-type]
    # the 5 of the batch handed over are resent (2 of them had gone: duplicates); the 2
    # claimed but never handed over are just sent
    assert (result.claimed, result.sent, result.resent) == (7, 7, 5)
    lines = delivered(out)
    copies = Counter(m["message_key"] for m in lines)
    assert sorted(copies) == keys
    dupes = sorted(k for k, n in copies.items() if n > 1)
    assert dupes == [key(5), key(6)] and max(copies.values()) == 2
    for k in dupes:  # same key, same Message-ID on both sends
        assert len({m["message_id"] for m in lines if m["message_key"] == k}) == 1
    resends = {k: row(store, k)["resends"] for k in keys}
    assert resends == {k: 1 if 5 <= i < 10 else 0 for i, k in enumerate(keys)}
    assert Counter(states(store).values()) == Counter({"sent": 12})
    log = attempts_log(store)
    assert (key(5), 2, "sent", True) in log and (key(10), 2, "sent", False) in log


def test_an_outcome_is_not_written_over_a_lease_lost(store: Store) -> None:
    seed(store, n_email=2)
    claimed = store.claim_messages(
        owner="a", now=T0, lease_until=T0 + timedelta(minutes=5), limit=10, channels=["email"]
    )
    assert claimed.num_rows == 2 and claimed.column("reclaimed").to_pylist() == [False, False]
    update = pa.table({"message_key": [key(0)], "state": ["sent"]})
    assert store.update_claimed(update, owner="b") == set()
    assert row(store, key(0))["state"] == "sending"
    assert store.update_claimed(update, owner="a") == {key(0)}
    assert row(store, key(0))["state"] == "sent"
    none = store.claim_messages(
        owner="b", now=T0, lease_until=T0 + timedelta(minutes=5), limit=10, channels=["email"]
    )
    assert none.num_rows == 0


def test_payloads_reach_the_file_as_json(store: Store, tmp_path: Path) -> None:
    seed(store, n_email=1)
    dispatch(
        store,
        channels=file_channels(tmp_path),
        renderer=renderer(store),
        now=T0,
        recheck_with=no_recheck,
    )
    (line,) = (tmp_path / "email.jsonl").read_text().splitlines()
    assert json.loads(line)["subject"] == "Hello p0"


def test_a_lease_lost_before_hand_over_sends_nothing(store: Store) -> None:
    seed(store, n_email=3)

    def steal(st: Store, rows: pa.Table, now: object) -> dict[str, object]:
        later = T0 + timedelta(hours=1)
        st.claim_messages(owner="thief", now=later, lease_until=later, limit=10, channels=["email"])
        return {}

    channel = Scripted("email")
    result = dispatch(
        store, channels={"email": channel}, renderer=renderer(store), now=T0, recheck_with=steal
    )
    assert (result.claimed, result.sent, result.lost_leases, channel.accepted) == (3, 0, 3, [])


class Stalls(Scripted):
    """Accepts each message, but stalls so long that another dispatcher takes the lease."""

    def __init__(self, store: Store) -> None:
        super().__init__("email")
        self.store = store

    def send(self, message: Outgoing) -> Receipt:
        if not self.accepted:
            later = T0 + timedelta(hours=1)
            self.store.claim_messages(
                owner="thief", now=later, lease_until=later, limit=10, channels=["email"]
            )
        return super().send(message)


def test_a_dispatcher_that_lost_its_lease_records_nothing(store: Store) -> None:
    seed(store, n_email=3)
    result = dispatch(
        store,
        channels={"email": Stalls(store)},
        renderer=renderer(store),
        now=T0,
        concurrency=1,
        recheck_with=no_recheck,
    )
    assert (result.claimed, result.sent, result.lost_leases) == (3, 0, 3)
    m = store.table("messages").to_pyarrow().to_pylist()
    assert {(r["state"], r["lease_owner"], r["attempts"]) for r in m} == {("sending", "thief", 2)}
    assert attempts_log(store) == []
