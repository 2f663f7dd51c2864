"""The send policy (tenure.engage.policy): exact states on a hand-built store, the DST edges
of quiet hours, releasing held messages, the policy's settings, and invariants (hypothesis)."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.engage.consent import CHANNELS
from tenure.engage.policy import SendPolicy, decide, release_held
from tenure.engage.settings import Cap, QuietHours
from tenure.errors import ConfigError
from tenure.ingest.identifiers import digest
from tests.conftest import examples
from tests.engage.conftest import (
    candidates,
    consent_rows,
    existing,
    hand_built,
    record,
    seed_persons,
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


def test_a_customer_record_accepting_marketing_is_the_email_consent_without_consents(
    store: Store,
) -> None:
    """No ``consents`` row: the latest customer record's ``accepts_marketing`` decides the
    e-mail (not SMS); any ``consents`` row, even an older one, decides over it."""
    seed_persons(
        store,
        {
            "p_yes": ("c_yes", "yes@example.com", "+12125550001", "UTC"),
            "p_no": ("c_no", "no@example.com", None, "UTC"),
            "p_unsub": ("c_unsub", "unsub@example.com", None, "UTC"),
            "p_later": ("c_later", "later@example.com", None, "UTC"),
        },
    )
    accepts = {"c_yes": True, "c_no": False, "c_unsub": True, "c_later": True}
    created = {"c_later": ts("2026-03-09 00:00")}  # signs up after NOW
    rows = store.table("customers").to_pyarrow().to_pylist()
    for r in rows:
        r["accepts_marketing"] = accepts[r["customer_id"]]
        r["created_at"] = created.get(r["customer_id"], ts("2025-01-01 00:00"))
    store.truncate("customers")
    store.insert("customers", pa.Table.from_pylist(rows))
    store.insert(
        "consents",
        consent_rows([("unsub@example.com", "email", "email", "unsubscribed", "2024-01-01")]),
    )
    c = candidates(
        [
            ("a1", "p_yes", "email", "2026-03-08 12:00"),
            ("a2", "p_yes", "sms", "2026-03-08 12:00"),
            ("a3", "p_no", "email", "2026-03-08 12:00"),
            ("a4", "p_unsub", "email", "2026-03-08 12:00"),
            ("a5", "p_later", "email", "2026-03-08 12:00"),
        ]
    )
    got = states(decide(store, c, NOW, policy=SendPolicy(quiet_hours={})))
    assert got == {
        "a1": ("pending", None, None),
        "a2": ("suppressed", "no consent", None),
        "a3": ("suppressed", "no consent", None),
        "a4": ("suppressed", "unsubscribed", None),
        "a5": ("suppressed", "no consent", None),
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


def _state(store: Store, key: str) -> tuple[str, str | None, object]:
    m = store.table("messages")
    row = m.filter(m.message_key == key).to_pyarrow().to_pylist()
    assert len(row) == 1
    return row[0]["state"], row[0]["reason"], row[0]["release_at"]


def test_held_messages_are_released_once_their_time_comes(built: Store) -> None:
    c = candidates([("m03", "p_ny", "sms", "2026-03-08 12:00")])
    record(built, decide(built, c, NOW, policy=SendPolicy()), NOW)
    assert release_held(built, ts("2026-03-08 12:59")) == 0
    assert _state(built, "m03")[0] == "held"
    assert release_held(built, ts("2026-03-08 13:00")) == 1
    assert _state(built, "m03") == ("pending", None, ts("2026-03-08 13:00"))
    assert release_held(built, ts("2026-03-08 13:00")) == 0  # idempotent
    assert built.count("messages") == 1 + 7


def test_a_release_is_decided_again(built: Store) -> None:
    # 22:00 EDT: held until 09:00 EDT (13:00 UTC) the next day
    c = candidates(
        [
            ("late", "p_ny", "sms", "2026-03-09 02:00"),
            ("stop", "p_unsub", "email", "2026-03-09 02:00"),
        ]
    )
    quiet_email = SendPolicy(quiet_hours={"email": QuietHours(21 * 60, 9 * 60)})
    record(built, decide(built, c, ts("2026-03-09 02:00"), policy=quiet_email), NOW)
    assert _state(built, "late")[0] == "held"
    # a text message went out meanwhile that day (counted), so the cap is reached at 09:00
    built.insert("messages", existing([("x", "p_ny", "sms", "sent", "2026-03-09 12:30", None)]))
    assert release_held(built, ts("2026-03-09 13:00"), policy=quiet_email) == 1
    assert _state(built, "late") == ("capped", "daily cap (1 per day)", ts("2026-03-09 13:00"))
    assert _state(built, "stop")[0] == "suppressed"  # decided suppressed at once


def test_a_release_run_late_in_the_next_quiet_hours_holds_again(built: Store) -> None:
    c = candidates([("late", "p_ny", "sms", "2026-03-09 02:00")])
    record(built, decide(built, c, ts("2026-03-09 02:00"), policy=SendPolicy()), NOW)
    # the clock comes back at 22:00 EDT: held until 09:00 EDT the day after
    assert release_held(built, ts("2026-03-10 02:00")) == 0
    assert _state(built, "late")[0] == "held"
    assert _state(built, "late")[2] == ts("2026-03-10 13:00")
    built.insert(
        "consents",
        consent_rows([("+12125550101", "phone", "sms", "unsubscribed", "2026-03-10 05:00")]),
    )
    assert release_held(built, ts("2026-03-10 13:00")) == 1
    assert _state(built, "late")[:2] == ("suppressed", "unsubscribed")


def test_the_default_policy() -> None:
    p = SendPolicy()
    assert (p.cap("email"), p.cap("sms"), p.cap("webhook")) == (Cap(1, 3), Cap(1, 2), Cap())
    assert str(p.quiet("sms")) == "21:00-09:00"
    assert p.quiet("email") is None and p.quiet("onsite") is None
    assert p.timezone == "UTC"


def test_a_policy_block_from_yaml() -> None:
    block = yaml.safe_load(
        """
        timezone: Europe/Paris
        caps:
          email: {per_day: 2, per_week: none}
          webhook: {per_day: 5}
          sms: none
        quiet_hours:
          email: "22:00-07:30"
          sms: none
        """
    )
    p = SendPolicy.from_mapping(block, file="flows.yml", line=3)
    assert p.timezone == "Europe/Paris"
    assert p.cap("email") == Cap(2, None)
    assert p.cap("webhook") == Cap(5, None)
    assert p.cap("sms") == Cap()
    assert p.cap("onsite") == Cap()  # not named: the default
    assert p.quiet("email") == QuietHours(22 * 60, 7 * 60 + 30)
    assert p.quiet("sms") is None
    assert SendPolicy.from_mapping(None) == SendPolicy()


@pytest.mark.parametrize(
    ("block", "message", "hint"),
    [
        (
            {"caps": {"email": {"per_day": -1}}},
            "flows.yml line 7: The 'caps.email.per_day' parameter of the send policy must be "
            "an int >= 0 or none. Got -1.",
            None,
        ),
        (
            {"caps": {"emial": {"per_day": 1}}},
            "flows.yml line 7: The 'caps.emial' parameter of the send policy must be one of "
            "['email', 'sms', 'webhook', 'onsite']. Got 'emial'.",
            "Did you mean 'email'?",
        ),
        (
            {"quiet_hours": {"sms": "9pm-8am"}},
            "flows.yml line 7: The 'quiet_hours.sms' parameter of the send policy must be "
            "HH:MM-HH:MM (local time) or none. Got '9pm-8am'.",
            None,
        ),
        (
            {"quiet_hours": {"sms": "21:00-21:00"}},
            "flows.yml line 7: The 'quiet_hours.sms' parameter of the send policy must be "
            "two different local times HH:MM-HH:MM. Got '21:00-21:00'.",
            None,
        ),
        (
            {"timezone": "Europe/Pariss"},
            "flows.yml line 7: The 'timezone' parameter of the send policy must be an IANA "
            "time zone. Got 'Europe/Pariss'.",
            "Did you mean Europe/Paris",
        ),
        (
            {"quiet": {}},
            "flows.yml line 7: The 'quiet' parameter of the send policy must be one of "
            "['timezone', 'caps', 'quiet_hours']. Got 'quiet'.",
            "Did you mean 'quiet_hours'?",
        ),
    ],
)
def test_an_invalid_policy_names_file_line_and_parameter(
    block: dict[str, object], message: str, hint: str | None
) -> None:
    with pytest.raises(ConfigError) as err:
        SendPolicy.from_mapping(block, file="flows.yml", line=7)
    assert err.value.message == message
    if hint is not None:
        assert err.value.hint is not None and hint in err.value.hint


def test_a_policy_built_in_python_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"'caps\.sms\.per_week' parameter"):
        SendPolicy(caps={"sms": Cap(per_week=True)})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"'caps\.fax' parameter"):
        SendPolicy(caps={"fax": Cap()})


# -- invariants ---------------------------------------------------------------------------
ZONES = ("America/New_York", "Europe/Paris", "Asia/Tokyo", None)
PROPERTY_POLICY = SendPolicy(
    caps={"email": Cap(2, 3), "sms": Cap(1, 2), "webhook": Cap(1, None)},
    quiet_hours={"email": QuietHours(22 * 60, 7 * 60 + 30), "sms": QuietHours(21 * 60, 9 * 60)},
    timezone="America/Los_Angeles",
)
START = ts("2026-03-05 00:00")  # the week of New York's DST change


@st.composite
def worlds(
    draw: st.DrawFn,
) -> tuple[list[dict[str, object]], list[tuple[str, str, str, str, bool]]]:
    n = draw(st.integers(1, 4))
    persons = [
        {
            "zone": draw(st.sampled_from(ZONES)),
            "email": draw(st.sampled_from(["subscribed", "unsubscribed", None])),
            "sms": draw(st.sampled_from(["subscribed", "unsubscribed", None])),
            "suppressed": draw(st.sampled_from([None, None, "email", "sms", "all"])),
        }
        for _ in range(n)
    ]
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.sampled_from(CHANNELS),
                st.integers(0, 6 * 24 * 60),  # minutes after START
                st.booleans(),
            ),
            min_size=1,
            max_size=30,
        )
    )
    cands = [
        (
            f"k{i:02d}",
            f"q{p}",
            ch,
            (START + timedelta(minutes=m)).isoformat(sep=" "),
            hold and i % 3 == 0,
        )
        for i, (p, ch, m, hold) in enumerate(rows)
    ]
    return persons, cands


def _seed_world(store: Store, persons: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    seed_persons(
        store,
        {
            f"q{i}": (f"cq{i}", f"q{i}@example.com", f"+1212555{i:04d}", p["zone"])  # type: ignore[misc]
            for i, p in enumerate(persons)
        },
    )
    consents = []
    for i, p in enumerate(persons):
        for ch, ident, kind in (
            ("email", f"q{i}@example.com", "email"),
            ("sms", f"+1212555{i:04d}", "phone"),
        ):
            if p[ch] is not None:
                consents.append((ident, kind, ch, "subscribed", "2025-01-01"))
                if p[ch] == "unsubscribed":
                    consents.append((ident, kind, ch, "unsubscribed", "2025-02-01"))
    if consents:
        store.insert("consents", consent_rows(consents))
    sups = [
        {
            "identifier": digest("email", f"q{i}@example.com")
            if p["suppressed"] == "all"
            else f"q{i}@example.com",
            "identifier_kind": "sha256:email" if p["suppressed"] == "all" else "email",
            "channel": p["suppressed"],
            "reason": "test",
        }
        for i, p in enumerate(persons)
        if p["suppressed"] is not None
    ]
    if sups:
        store.insert("suppressions", pa.Table.from_pylist(sups))
    return {f"q{i}": p for i, p in enumerate(persons)}


def _may_send(p: dict[str, object], channel: str) -> bool:
    if p["suppressed"] in ("all", channel):
        return False
    return channel not in ("email", "sms") or p[channel] == "subscribed"


def _local(at: datetime, zone: object) -> datetime:
    name = zone if isinstance(zone, str) else PROPERTY_POLICY.timezone
    return at.replace(tzinfo=UTC).astimezone(ZoneInfo(name)).replace(tzinfo=None)


def _check_messages(store: Store, who: dict[str, dict[str, object]]) -> list[dict[str, object]]:
    """The stored messages, checked: nobody blocked is pending or held; nothing pending goes
    in quiet hours; pending + held per person, channel and local day / week within the caps
    (a held message counted on the day it goes)."""
    rows = store.table("messages").to_pyarrow().to_pylist()
    per_day: Counter[tuple[str, str, object]] = Counter()
    per_week: Counter[tuple[str, str, object]] = Counter()
    for r in rows:
        if r["state"] not in ("pending", "held"):
            continue
        p = who[r["person_id"]]
        assert _may_send(p, r["channel"]), r
        at = r["release_at"] or max(r["due_at"], r["decided_at"])
        local = _local(at, p["zone"])
        quiet = PROPERTY_POLICY.quiet(r["channel"])
        assert quiet is None or not quiet.contains(local.hour * 60 + local.minute), r
        day = local.date()
        per_day[(r["person_id"], r["channel"], day)] += 1
        per_week[(r["person_id"], r["channel"], day - timedelta(days=day.weekday()))] += 1
    for (_, channel, _), n in per_day.items():
        cap = PROPERTY_POLICY.cap(channel).per_day
        assert cap is None or n <= cap
    for (_, channel, _), n in per_week.items():
        cap = PROPERTY_POLICY.cap(channel).per_week
        assert cap is None or n <= cap
    return rows


def _run_world(
    store: Store, cands: list[tuple[str, str, str, str, bool]], who: dict[str, dict[str, object]]
) -> None:
    """Ticks every 20 hours from START, each releasing what is held and deciding what came
    due since the last (checked after each); then releases in order until nothing is held."""
    pending = sorted(cands, key=lambda c: c[3])
    tick = START
    while pending:
        tick += timedelta(hours=20)
        due = [c for c in pending if ts(c[3]) <= tick]
        pending = [c for c in pending if ts(c[3]) > tick]
        release_held(store, tick, policy=PROPERTY_POLICY)
        if due:
            decided = decide(store, candidates(due), tick, policy=PROPERTY_POLICY)
            if tick == START + timedelta(hours=20):  # deterministic
                again = decide(store, candidates(due), tick, policy=PROPERTY_POLICY)
                assert states(decided) == states(again)
            record(store, decided, tick)
        _check_messages(store, who)
    for _ in range(len(cands) + 1):
        m = store.table("messages")
        held = m.filter(m.state == "held").release_at.min().execute()
        if held is None or pd.isna(held):
            break
        release_held(store, held.to_pydatetime(), policy=PROPERTY_POLICY)


@examples(full=25, fast=2)
def test_decisions_keep_consent_caps_and_quiet_hours(examples: int, empty_store_file: Path) -> None:
    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(world=worlds())
    def check(world: tuple[list[dict[str, object]], list[tuple[str, str, str, str, bool]]]) -> None:
        persons, cands = world
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.duckdb"
            shutil.copy(empty_store_file, path)
            with Store(f"duckdb://{path}") as store:
                who = _seed_world(store, persons)
                _run_world(store, cands, who)
                rows = _check_messages(store, who)
        # every candidate decided exactly once; nothing held is lost; holdout is holdout
        assert sorted(r["message_key"] for r in rows) == sorted(c[0] for c in cands)
        assert not [r for r in rows if r["state"] == "held"]
        holdout = {c[0] for c in cands if c[4]}
        assert {r["message_key"] for r in rows if r["state"] == "holdout"} == holdout

    check()


def test_the_policy_file_of_the_flows_directory(tmp_path: Path) -> None:
    """`policy.yaml` of flows_dir holds the policy (not a flow); none: the defaults."""
    from tenure.engage.flow_spec import flow_paths
    from tenure.engage.settings import load_policy

    assert load_policy(tmp_path) == SendPolicy() == load_policy(None)
    (tmp_path / "policy.yaml").write_text(
        "policy:\n  timezone: Europe/Paris\n  caps:\n    email: {per_day: 2, per_week: 5}\n"
    )
    got = load_policy(tmp_path)
    assert got.timezone == "Europe/Paris" and got.cap("email").per_day == 2
    assert tmp_path / "policy.yaml" not in flow_paths(tmp_path)
    (tmp_path / "policy.yaml").write_text("policy:\n  caps:\n    emial: {per_day: 2}\n")
    with pytest.raises(ConfigError, match=r"policy\.yaml line 2"):
        load_policy(tmp_path)
    (tmp_path / "policy.yaml").write_text("caps: {}\n")
    with pytest.raises(ConfigError, match="must hold one key, `policy:`"):
        load_policy(tmp_path)
