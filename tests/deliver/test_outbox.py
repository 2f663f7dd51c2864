"""The outbox's state machine: every transition, the refused ones, backoff and retries."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.deliver.channel import Receipt
from tenure.deliver.outbox import (
    FINAL,
    STATES,
    TRANSITIONS,
    RetryPolicy,
    backoff,
    errored,
    handed_over,
    rechecked,
    sent,
    transition,
)
from tenure.errors import DeliveryError, DeliveryRetryError, StoreLockedError, TransitionError

NOW = datetime(2026, 3, 2, 12, 0)
POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=60), cap=timedelta(hours=1))


def claimed(attempts: int = 1, **extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "message_key": "k1",
        "channel": "email",
        "state": "sending",
        "attempts": attempts,
        "lease_owner": "w",
        "lease_until": NOW + timedelta(minutes=5),
        "resend": False,
    }
    row.update(extra)
    return row


def test_the_transition_table() -> None:
    table = {name: (t.sources, t.target) for name, t in TRANSITIONS.items()}
    assert table == {
        "claim": (("pending",), "sending"),
        "reclaim": (("sending",), "sending"),
        "hand_over": (("sending",), "sending"),
        "mark_sent": (("sending",), "sent"),
        "mark_failed": (("sending",), "failed"),
        "schedule_retry": (("sending",), "pending"),
        "suppress": (("sending", "held"), "suppressed"),
        "cap": (("sending", "held"), "capped"),
        "hold": (("sending", "held"), "held"),
        "release": (("held",), "pending"),
    }
    assert {t.target for t in TRANSITIONS.values()} <= set(STATES)
    # no transition leaves a final state
    assert not any(set(t.sources) & set(FINAL) for t in TRANSITIONS.values())


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_each_transition_moves_from_its_sources_only(name: str) -> None:
    move = TRANSITIONS[name]
    for state in STATES:
        if state in move.sources:
            assert transition(name, state) == move.target
        else:
            with pytest.raises(TransitionError, match=f"in state '{state}' cannot {name}"):
                transition(name, state, key="k9")


def test_an_unknown_transition_is_refused_with_the_known_ones() -> None:
    with pytest.raises(TransitionError) as info:
        transition("teleport", "pending")
    assert "teleport" in info.value.message and "mark_sent" in (info.value.hint or "")


def test_sent_records_the_provider_and_ends_the_lease() -> None:
    o = sent(claimed(), Receipt(provider_id="abc"), NOW)
    assert (o.transition, o.state, o.outcome) == ("mark_sent", "sent", "sent")
    v = o.values
    assert (v["sent_at"], v["provider_id"], v["lease_owner"], v["lease_until"]) == (
        NOW,
        "abc",
        None,
        None,
    )


def test_hand_over_keeps_the_lease_and_marks_the_time() -> None:
    o = handed_over(claimed(), NOW, "<id@x>")
    assert (o.state, o.outcome, o.values["handed_at"], o.values["message_id"]) == (
        "sending",
        None,
        NOW,
        "<id@x>",
    )
    assert o.values["lease_owner"] == "w"


def test_a_transient_error_is_retried_with_backoff_then_fails() -> None:
    rng = random.Random(1)
    first = errored(claimed(1), DeliveryRetryError("timeout"), NOW, POLICY, rng)
    assert (first.transition, first.state, first.outcome) == ("schedule_retry", "pending", "retry")
    wait = first.values["next_attempt_at"] - NOW
    assert timedelta(seconds=30) <= wait <= timedelta(seconds=60)
    assert first.values["last_error"] == "timeout" and first.values["lease_owner"] is None
    last = errored(claimed(3), DeliveryRetryError("timeout"), NOW, POLICY, rng)
    assert (last.transition, last.state) == ("mark_failed", "failed")
    assert last.values["last_error"] == "timeout (gave up after 3 attempts)"


def test_a_terminal_error_is_not_retried() -> None:
    o = errored(claimed(1), DeliveryError("550 no such user"), NOW, POLICY, random.Random(0))
    assert (o.transition, o.state, o.values["last_error"]) == (
        "mark_failed",
        "failed",
        "550 no such user",
    )


def test_transient_or_terminal_comes_from_the_error_class_never_its_text() -> None:
    rng = random.Random(0)
    looks_transient = DeliveryError("timeout, try again later (429)")
    assert errored(claimed(), looks_transient, NOW, POLICY, rng).state == "failed"
    other_transient = StoreLockedError("locked")
    assert errored(claimed(), other_transient, NOW, POLICY, rng).state == "pending"
    bug = errored(claimed(), ValueError("boom"), NOW, POLICY, rng)
    assert (bug.state, bug.values["last_error"]) == ("failed", "ValueError: boom")


def test_recheck_verdicts() -> None:
    assert rechecked(claimed(), "pending", None, None, NOW) is None
    s = rechecked(claimed(), "suppressed", "unsubscribed", None, NOW)
    assert s is not None and (s.transition, s.state, s.values["reason"]) == (
        "suppress",
        "suppressed",
        "unsubscribed",
    )
    later = NOW + timedelta(hours=9)
    h = rechecked(claimed(), "held", "quiet hours", later, NOW)
    assert h is not None and (h.state, h.values["release_at"]) == ("held", later)
    c = rechecked(claimed(), "capped", "daily cap (1 per day)", None, NOW)
    assert c is not None and c.state == "capped"


def test_an_outcome_of_a_row_no_longer_sending_is_refused() -> None:
    with pytest.raises(TransitionError):
        sent(claimed(state="sent"), Receipt(), NOW)


@settings(max_examples=200, deadline=None)
@given(
    attempt=st.integers(min_value=1, max_value=2000),
    base=st.integers(min_value=1, max_value=3600),
    cap=st.integers(min_value=1, max_value=86400),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_grows_and_its_jitter_is_bounded(
    attempt: int, base: int, cap: int, seed: int
) -> None:
    policy = RetryPolicy(base=timedelta(seconds=base), cap=timedelta(seconds=cap))
    rng = random.Random(seed)
    ceiling = timedelta(seconds=min(cap, base * 2.0 ** min(attempt - 1, 1000)))
    wait = backoff(attempt, policy, rng)
    assert ceiling / 2 <= wait <= ceiling
    later = backoff(attempt + 1, policy, random.Random(seed + 1))
    if ceiling * 2 <= timedelta(seconds=cap):
        # below the cap, whatever the draws, the next attempt never waits less
        assert later >= wait
    else:  # at the cap, every wait is within its jitter
        assert timedelta(seconds=cap) / 2 <= later <= timedelta(seconds=cap)


@settings(max_examples=100, deadline=None)
@given(max_attempts=st.integers(min_value=1, max_value=10))
def test_a_message_always_failing_transiently_ends_failed_after_max_attempts(
    max_attempts: int,
) -> None:
    policy = RetryPolicy(max_attempts=max_attempts)
    rng = random.Random(0)
    states = []
    for attempt in range(1, max_attempts + 1):
        states.append(errored(claimed(attempt), DeliveryRetryError("x"), NOW, policy, rng).state)
    assert states == ["pending"] * (max_attempts - 1) + ["failed"]
