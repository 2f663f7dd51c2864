"""The outbox: an explicit state machine over ``messages.state`` (docs/delivery.md, "The
outbox: states and transitions").

The flow engine decides each message into ``pending``, ``held``, ``capped``, ``suppressed``
or ``holdout``; from there only the named :data:`TRANSITIONS` move it, and a transition from
a state it does not leave raises :class:`tenure.errors.TransitionError`::

    pending --claim--> sending --mark_sent--> sent
                       sending --mark_failed--> failed          (terminal error, or retries spent)
                       sending --schedule_retry--> pending      (transient error: backoff)
                       sending --suppress / cap / hold--> suppressed / capped / held
                                                                (re-checked at sending time)
                       sending --reclaim--> sending             (its dispatcher's lease expired)
                       sending --hand_over--> sending           (given to the channel)
    held --release--> pending (or suppress / cap / hold again: tenure.engage.policy.release_held)

Whether an error is retried is read from ``error.transient`` only (:mod:`tenure.errors`).
The functions here are pure: they say what a row becomes; :mod:`tenure.deliver.dispatcher`
writes it through the store.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa

from tenure.config import Settings
from tenure.deliver.channel import Receipt
from tenure.errors import TransitionError

#: Every state of ``messages.state``.
STATES = ("pending", "held", "sending", "sent", "failed", "suppressed", "capped", "holdout")
#: States no transition leaves.
FINAL = ("sent", "failed", "suppressed", "capped", "holdout")


@dataclass(frozen=True)
class Transition:
    """A named move of the outbox: the states it leaves and the one it enters."""

    name: str
    sources: tuple[str, ...]
    target: str
    doc: str


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition("claim", ("pending",), "sending", "a dispatcher takes a due message"),
        Transition("reclaim", ("sending",), "sending", "its dispatcher's lease expired"),
        Transition("hand_over", ("sending",), "sending", "given to the channel"),
        Transition("mark_sent", ("sending",), "sent", "the provider accepted it"),
        Transition("mark_failed", ("sending",), "failed", "terminal error or retries spent"),
        Transition("schedule_retry", ("sending",), "pending", "transient error: due later"),
        Transition("suppress", ("sending", "held"), "suppressed", "no consent or suppressed"),
        Transition("cap", ("sending", "held"), "capped", "a send cap is reached"),
        Transition("hold", ("sending", "held"), "held", "inside the person's quiet hours"),
        Transition("release", ("held",), "pending", "the quiet hours are over"),
    )
}


def transition(name: str, state: str | None, *, key: str = "") -> str:
    """The state transition ``name`` moves a message in ``state`` to; raises TransitionError
    when ``name`` is unknown or does not leave ``state``."""
    move = TRANSITIONS.get(name)
    if move is None:
        raise TransitionError(
            f"No outbox transition named {name!r}.",
            hint=f"Known transitions: {', '.join(TRANSITIONS)}.",
        )
    if state not in move.sources:
        which = f"Message {key}" if key else "A message"
        raise TransitionError(
            f"{which} in state {state!r} cannot {name} (only from {', '.join(move.sources)}).",
            hint="The message was changed by someone else (another dispatcher, a flow tick); "
            "run the dispatcher again.",
        )
    return move.target


@dataclass(frozen=True)
class RetryPolicy:
    """Retries and leases: ``max_attempts`` sends in all (a transient error on the last one
    fails the message), backoff ``base`` * 2^(attempt-1) capped at ``cap``, with jitter
    (:func:`backoff`); a claim's lease lasts ``lease``."""

    max_attempts: int = 5
    base: timedelta = timedelta(seconds=60)
    cap: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(seconds=300)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.delivery_max_attempts,
            base=timedelta(seconds=settings.delivery_backoff_seconds),
            cap=timedelta(seconds=settings.delivery_backoff_max_seconds),
            lease=timedelta(seconds=settings.delivery_lease_seconds),
        )


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random) -> timedelta:
    """The wait after failed attempt ``attempt`` (1, 2, ...): ``d = min(cap, base *
    2^(attempt-1))``, then a uniform draw in ``[d/2, d]`` ("equal jitter"): retries of many
    messages spread out, and a later attempt never waits less than an earlier one."""
    exponent = min(max(attempt - 1, 0), 1000)
    seconds = min(policy.cap.total_seconds(), policy.base.total_seconds() * 2.0**exponent)
    half = seconds / 2
    return timedelta(seconds=half + half * rng.random())


#: The ``messages`` columns an outcome writes (besides ``message_key``).
SETTLED = (
    "state",
    "reason",
    "release_at",
    "sent_at",
    "next_attempt_at",
    "last_error",
    "message_id",
    "provider_id",
    "lease_owner",
    "lease_until",
    "handed_at",
    "updated_at",
)


@dataclass(frozen=True)
class Outcome:
    """What one claimed row becomes: the transition, the values of :data:`SETTLED`, and the
    attempt's log line (``outcome``, ``error``; None for a hand-over, which is not an end)."""

    key: str
    channel: str
    transition: str
    values: Mapping[str, Any]
    attempt: int = 0
    resend: bool = False
    outcome: str | None = None
    error: str | None = None

    @property
    def state(self) -> str:
        return str(self.values["state"])


def _outcome(
    row: Mapping[str, Any],
    name: str,
    now: datetime,
    *,
    log: str | None,
    error: str | None = None,
    **values: Any,
) -> Outcome:
    target = transition(name, row.get("state"), key=str(row["message_key"]))
    base = {c: row.get(c) for c in SETTLED}
    ended = {"lease_owner": None, "lease_until": None, "handed_at": None}
    base.update(ended if log is not None else {})
    base.update(values, state=target, updated_at=now)
    return Outcome(
        key=str(row["message_key"]),
        channel=str(row["channel"]),
        transition=name,
        values=base,
        attempt=int(row.get("attempts") or 0),
        resend=bool(row.get("resend")),
        outcome=log,
        error=error,
    )


def handed_over(row: Mapping[str, Any], now: datetime, message_id: str) -> Outcome:
    """The row is about to be given to its channel: ``handed_at`` marks that a crash from
    now on may have sent it."""
    return _outcome(row, "hand_over", now, log=None, handed_at=now, message_id=message_id)


def sent(row: Mapping[str, Any], receipt: Receipt, now: datetime) -> Outcome:
    """The provider accepted the message."""
    return _outcome(
        row,
        "mark_sent",
        now,
        log="sent",
        sent_at=now,
        next_attempt_at=None,
        provider_id=receipt.provider_id,
    )


def errored(
    row: Mapping[str, Any],
    error: BaseException,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> Outcome:
    """A send (or render) failed: retried later when ``error.transient`` and attempts are
    left, else failed. An exception that is not Tenure's (a channel's bug) is terminal."""
    text = describe(error)
    attempt = int(row.get("attempts") or 0)
    if getattr(error, "transient", False) and attempt < policy.max_attempts:
        wait = backoff(attempt, policy, rng)
        return _outcome(
            row,
            "schedule_retry",
            now,
            log="retry",
            error=text,
            last_error=text,
            next_attempt_at=now + wait,
        )
    if getattr(error, "transient", False):
        text = f"{text} (gave up after {attempt} attempts)"
    return _outcome(row, "mark_failed", now, log="failed", error=text, last_error=text)


def rechecked(
    row: Mapping[str, Any],
    state: str,
    reason: str | None,
    release_at: datetime | None,
    now: datetime,
) -> Outcome | None:
    """The policy's answer at the moment of sending: None to send; else the row is
    suppressed, capped or held again (with the reason)."""
    name = {"suppressed": "suppress", "capped": "cap", "held": "hold"}.get(state)
    if name is None:
        return None
    return _outcome(row, name, now, log=state, error=reason, reason=reason, release_at=release_at)


def describe(error: BaseException) -> str:
    """One line for ``last_error``: a Tenure error's message, else the type and text."""
    message = getattr(error, "message", None)
    if isinstance(message, str):
        return message
    return f"{type(error).__name__}: {error}"


def settle_table(outcomes: Sequence[Outcome], schema: pa.Schema) -> pa.Table:
    """The rows :func:`tenure.store.outbox.update_claimed` writes for ``outcomes``
    (``schema``: the ``messages`` table's, for the column types)."""
    columns: dict[str, pa.Array] = {"message_key": pa.array([o.key for o in outcomes], pa.string())}
    for c in SETTLED:
        columns[c] = pa.array([o.values.get(c) for o in outcomes], schema.field(c).type)
    return pa.table(columns)


@dataclass
class AttemptLog:
    """The ``delivery_attempts`` rows of a batch."""

    worker: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        for o in outcomes:
            if o.outcome is None:
                continue
            self.rows.append(
                {
                    "message_key": o.key,
                    "attempt": o.attempt,
                    "worker": self.worker,
                    "channel": o.channel,
                    "at": now,
                    "outcome": o.outcome,
                    "error": o.error,
                    "provider_id": o.values.get("provider_id") if o.outcome == "sent" else None,
                    "resend": o.resend,
                }
            )
