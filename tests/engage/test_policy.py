"""The send policy (tenure.engage.policy): exact states on a hand-built store, the DST edges
of quiet hours, releasing held messages, the policy's settings, and invariants (hypothesis)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tenure import Store
from tenure.engage.policy import SendPolicy, decide
from tests.engage.conftest import (
    candidates,
    consent_rows,
    hand_built,
    record,
    states,
    ts,
)

NOW = ts("2026-03-08 12:00")  # Sunday; New York moved to summer time at 07:00 UTC


@pytest.fixture
def built(store: Store) -> Store:
    hand_built(store)
    return store


def test_each_rule_gives_its_state_in_precedence_order(built: Store) -> None:
    c = candidates(
        [
            ("m01", "p_ny", "email", "2026-03-08 12:00"),
            ("m02", "p_ny", "email", "2026-03-08 12:05"),  # the second today: daily cap
            ("m03", "p_ny", "sms", "2026-03-08 12:00"),  # 08:00 EDT: quiet until 09:00
            ("m04", "p_ny", "sms", "2026-03-08 02:00", True),  # holdout before all else
            ("m05", "p_paris", "email", "2026-03-08 12:00"),  # sent one this morning
            ("m06", "p_tokyo", "email", "2026-03-08 12:00"),  # three this local week
            ("m07", "p_unsub", "email", "2026-03-08 12:00"),
            ("m08", "p_unsub", "sms", "2026-03-08 12:00"),  # STOP at the same time wins
            ("m09", "p_bounced", "email", "2026-03-08 12:00"),
            ("m10", "p_deleted", "webhook", "2026-03-08 12:00"),  # deleted: digest, all
            ("m11", "p_nobody", "email", "2026-03-08 12:00"),
            ("m12", "p_nobody", "webhook", "2026-03-08 12:00"),  # no consent needed
            ("m13", "p_nobody", "onsite", "2026-03-08 12:00"),
            ("m14", "p_mars", "email", "2026-03-08 12:00"),  # invalid zone: the default
            ("m15", "p_ny", "pigeon", "2026-03-08 12:00"),
            ("m16", "p_stranger", "email", "2026-03-08 12:00"),  # no identities at all
            ("m17", "p_tokyo", "sms", "2026-03-08 12:00"),  # no phone, no consent
            ("m18", "p_ny", "email", "2026-03-09 12:00", True),  # holdout: not counted
            ("m19", "p_ny", "email", "2026-03-09 12:30"),  # tomorrow: its own day
        ]
    )
    got = states(decide(built, c, NOW, policy=SendPolicy()))
    assert got == {
        "m01": ("pending", None, None),
        "m02": ("capped", "daily cap (1 per day)", None),
        "m03": ("held", "quiet hours 21:00-09:00 America/New_York", ts("2026-03-08 13:00")),
        "m04": ("holdout", "holdout", None),
        "m05": ("capped", "daily cap (1 per day)", None),
        "m06": ("capped", "weekly cap (3 per week)", None),
        "m07": ("suppressed", "unsubscribed", None),
        "m08": ("suppressed", "unsubscribed", None),
        "m09": ("suppressed", "suppressed", None),
        "m10": ("suppressed", "suppressed (all)", None),
        "m11": ("suppressed", "no consent", None),
        "m12": ("pending", None, None),
        "m13": ("pending", None, None),
        "m14": ("pending", None, None),
        "m15": ("suppressed", "unknown channel", None),
        "m16": ("suppressed", "no consent", None),
        "m17": ("suppressed", "no consent", None),
        "m18": ("holdout", "holdout", None),
        "m19": ("pending", None, None),
    }


def test_the_same_candidates_twice_give_the_same_decisions(built: Store) -> None:
    c = candidates([(f"k{i}", "p_ny", "email", "2026-03-08 12:00") for i in range(5)])
    first = states(decide(built, c, NOW, policy=SendPolicy()))
    assert first == states(decide(built, c, NOW, policy=SendPolicy()))
    # the earliest due, then the smallest key, is the one that goes
    assert [k for k, v in sorted(first.items()) if v[0] == "pending"] == ["k0"]


def test_a_candidate_already_stored_does_not_count_against_itself(built: Store) -> None:
    c = candidates([("m01", "p_ny", "email", "2026-03-08 12:00")])
    record(built, decide(built, c, NOW, policy=SendPolicy()), NOW)
    assert states(decide(built, c, NOW, policy=SendPolicy()))["m01"][0] == "pending"


@pytest.mark.parametrize(
    ("person", "due", "release"),
    [
        # New York, spring forward (2026-03-08 02:00 EST -> 03:00 EDT): 21:00 EST the
        # evening before, held until 09:00 EDT = 13:00 UTC (not 14:00)
        ("p_ny", "2026-03-08 02:00", "2026-03-08 13:00"),
        # New York, fall back (2026-11-01 02:00 EDT -> 01:00 EST): 23:00 EDT, held until
        # 09:00 EST = 14:00 UTC
        ("p_ny", "2026-11-01 03:00", "2026-11-01 14:00"),
        # Paris, spring forward (2026-03-29 02:00 CET -> 03:00 CEST): 22:00 CET, held until
        # 09:00 CEST = 07:00 UTC
        ("p_paris", "2026-03-28 21:00", "2026-03-29 07:00"),
        # Tokyo (no DST): 06:00 local, held until 09:00 = 00:00 UTC the same day
        ("p_tokyo", "2026-03-07 21:00", "2026-03-08 00:00"),
        # the default zone (UTC) for an invalid one: 21:30 -> 09:00 the next day
        ("p_mars", "2026-03-08 21:30", "2026-03-09 09:00"),
    ],
)
def test_quiet_hours_end_in_local_time_across_dst(
    built: Store, person: str, due: str, release: str
) -> None:
    phones = {"p_tokyo": "+81312345678", "p_mars": "+15555550108"}  # the others have one
    if person in phones:
        row = {"kind": "phone", "value": phones[person], "person_id": person}
        built.insert("identities", pa.Table.from_pylist([row]))
    phone = phones.get(
        person,
        {"p_ny": "+12125550101", "p_paris": "+33612345678"}[person]
        if person in ("p_ny", "p_paris")
        else None,
    )
    built.insert("consents", consent_rows([(phone, "phone", "sms", "subscribed", "2025-01-01")]))
    c = candidates([("q", person, "sms", due)])
    got = states(decide(built, c, ts(due), policy=SendPolicy()))
    assert got["q"][0] == "held"
    assert got["q"][2] == ts(release)
