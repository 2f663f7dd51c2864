"""Identity resolution: scenarios, over-merging guards, stable ids, truth of the demo."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from tenure import Store
from tenure.identity import normalize_email, normalize_phone, person_of, resolve_identities
from tenure.ingest import import_events, import_orders

SCENARIO = [
    # phone browses anonymously, arriving from a paid-social ad
    {
        "messageId": "1",
        "type": "page",
        "name": "Home",
        "anonymousId": "phone-1",
        "timestamp": "2024-03-01T08:00:00Z",
        "context": {"campaign": {"source": "facebook", "medium": "paid_social", "name": "spring"}},
    },
    {
        "messageId": "2",
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": "phone-1",
        "timestamp": "2024-03-01T08:01:00Z",
    },
    # later signs up on the laptop, where the phone's e-mail link was opened
    {
        "messageId": "3",
        "type": "identify",
        "anonymousId": "laptop-1",
        "userId": "cust-9",
        "traits": {"email": " Ann.Smith@Example.com "},
        "timestamp": "2024-03-02T20:00:00Z",
    },
    {
        "messageId": "4",
        "type": "identify",
        "anonymousId": "phone-1",
        "traits": {"email": "ann.smith@example.com"},
        "timestamp": "2024-03-02T20:05:00Z",
    },
    # a second device logs in
    {
        "messageId": "5",
        "type": "track",
        "event": "Signed In",
        "anonymousId": "tablet-1",
        "userId": "cust-9",
        "timestamp": "2024-03-05T09:00:00Z",
    },
    # someone else entirely
    {
        "messageId": "6",
        "type": "page",
        "name": "Home",
        "anonymousId": "other-1",
        "timestamp": "2024-03-05T10:00:00Z",
    },
]
GUEST_ORDER = (
    "order_id,email,ordered_at,currency,total\n"
    "G1,ANN.SMITH@example.com,2024-03-03T12:00:00,USD,42.00\n"
)


def _scenario(store: Store, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in SCENARIO))
    import_events(store, [events])
    orders = tmp_path / "orders.csv"
    orders.write_text(GUEST_ORDER)
    import_orders(store, [orders])


def test_normalisation() -> None:
    assert normalize_email("  Ann.Smith+x@GMail.com ") == "ann.smith+x@gmail.com"
    assert normalize_email("Ann.Smith+x@GMail.com", provider_rules=True) == "annsmith@gmail.com"
    assert normalize_email("not an email") is None
    assert normalize_phone("(415) 555-2671", "US") == "+14155552671"
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("12", "US") is None


def test_devices_signup_guest_order_and_login_are_one_person(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    result = resolve_identities(store)
    person = person_of(store, "anonymous_id:phone-1")
    assert person is not None
    for ident in (
        "anonymous_id:laptop-1",
        "anonymous_id:tablet-1",
        "customer_id:cust-9",
        "email:ann.smith@example.com",
        "Ann.Smith@Example.com",
    ):
        assert person_of(store, ident) == person, ident
    assert person_of(store, "anonymous_id:other-1") not in (None, person)
    assert result.persons == 2 and result.flagged == 0
    # first touch survives the merge: the person's earliest event carries the paid-social UTM
    from tenure.identity import attributed

    e = attributed(store, "events")
    mine = e.filter(e.person_id == person)
    assert mine.count().execute() == 5
    first = mine.order_by("timestamp").limit(1).to_pyarrow()
    assert first.column("utm_medium").to_pylist() == ["paid_social"]
    o = attributed(store, "orders")
    assert o.filter(o.person_id == person).order_id.to_pyarrow().to_pylist() == ["G1"]


def test_person_ids_are_stable_and_merges_keep_the_oldest(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    resolve_identities(store)
    phone_person = person_of(store, "anonymous_id:phone-1")
    resolve_identities(store)
    assert person_of(store, "anonymous_id:phone-1") == phone_person
    # the "other" visitor turns out to be Ann: one more edge merges the two persons
    other = person_of(store, "anonymous_id:other-1")
    more = tmp_path / "more.jsonl"
    more.write_text(
        json.dumps(
            {
                "messageId": "7",
                "type": "identify",
                "anonymousId": "other-1",
                "userId": "cust-9",
                "timestamp": "2024-03-06T10:00:00Z",
            }
        )
        + "\n"
    )
    import_events(store, [more])
    result = resolve_identities(store)
    assert result.merges == 1
    kept = person_of(store, "anonymous_id:other-1")
    assert kept == person_of(store, "anonymous_id:phone-1")
    assert kept in (phone_person, other)
    log = store.table("identity_merges").to_pyarrow().to_pylist()
    assert {log[0]["kept_person_id"], log[0]["merged_person_id"]} == {phone_person, other}


def test_shared_family_email_is_flagged_and_does_not_merge(store: Store) -> None:
    store.insert(
        "customers",
        pa.table(
            {
                "customer_id": ["mum", "dad"],
                "email": ["family@example.com", "family@example.com"],
            }
        ),
    )
    store.insert(
        "orders",
        pa.table(
            {
                "order_id": ["o1", "o2"],
                "customer_id": ["mum", "dad"],
                "email": ["mum@example.com", "dad@example.com"],
                "currency": ["USD", "USD"],
            }
        ),
    )
    store.insert(
        "events",
        pa.table(
            {
                "message_id": ["k1", "k2", "k3"],
                "type": ["identify"] * 3,
                "anonymous_id": ["kiosk", "kiosk", "kiosk"],
                "user_id": ["mum", "dad", "guest-x"],
                "traits": ['{"email": "guest@example.com"}', None, None],
            }
        ),
    )
    result = resolve_identities(store)
    assert person_of(store, "customer_id:mum") != person_of(store, "customer_id:dad")
    assert person_of(store, "email:mum@example.com") == person_of(store, "customer_id:mum")
    assert flags_of(store) == {
        "email:family@example.com": "links several customers",
        "anonymous_id:kiosk": "links several customers",
        "email:guest@example.com": "shared address",
    }
    assert result.flagged == 3
    assert person_of(store, "email:family@example.com") is None


def flags_of(store: Store) -> dict[str, str]:
    """Flagged identifiers and their reasons (without the resolution's state row)."""
    rows = store.table("identity_flags").to_pyarrow().to_pylist()
    return {r["node"]: r["reason"] for r in rows if r["kind"] != "_resolution"}


def _pairs(groups: Counter[object]) -> int:
    return sum(n * (n - 1) // 2 for n in groups.values())


@pytest.mark.slow
def test_demo_persons_match_the_generator_truth(tmp_path: Path) -> None:
    """Precision and recall of same-person pairs against the demo's true persons."""
    from tenure.demo import generate_demo

    url = f"duckdb://{tmp_path / 'demo.duckdb'}"
    with Store(url) as store:
        generate_demo(store, customers=1500, seed=5)
        resolve_identities(store)
        truth: dict[str, str] = {}
        for cid, email, traits in store.table("customers").select(
            "customer_id", "email", "traits"
        ).to_pyarrow().to_pylist() and [
            (r["customer_id"], r["email"], r["traits"])
            for r in store.table("customers").to_pyarrow().to_pylist()
        ]:
            doc = json.loads(traits)
            truth[f"customer_id:{cid}"] = doc["demo_person"]
            truth[f"email:{email}"] = doc["demo_person"]
            if doc.get("demo_phone"):
                truth[f"phone:{normalize_phone(doc['demo_phone'], 'US')}"] = doc["demo_person"]
            for device in doc["demo_devices"]:
                truth[f"anonymous_id:{device}"] = doc["demo_person"]
        found = {
            f"{r['kind']}:{r['value']}": r["person_id"]
            for r in store.table("identities").to_pyarrow().to_pylist()
        }
    seen = [node for node in found if node in truth]
    assert len(seen) == len(found)  # every resolved identifier is in the truth
    both = _pairs(Counter((found[n], truth[n]) for n in seen))
    precision = both / _pairs(Counter(found[n] for n in seen))
    recall = both / _pairs(Counter(truth[n] for n in seen))
    assert precision >= 0.99 and recall >= 0.99, (precision, recall)


def test_unmerge_splits_a_wrong_merge_along_the_named_edge(store: Store) -> None:
    from datetime import datetime

    from tenure.identity import unmerge

    ts = pa.timestamp("us")
    store.insert(
        "customers",
        pa.table(
            {
                "customer_id": ["mum", "dad"],
                "email": ["mum@example.com", "dad@example.com"],
                "created_at": pa.array([datetime(2024, 1, 1), datetime(2024, 2, 1)], ts),
            }
        ),
    )
    store.insert(
        "events",
        pa.table(
            {
                "message_id": ["m1", "d1"],
                "type": ["track", "track"],
                "anonymous_id": ["mum-phone", "dad-phone"],
                "user_id": ["mum", "dad"],
                "timestamp": pa.array([datetime(2024, 1, 2), datetime(2024, 2, 2)], ts),
            }
        ),
    )
    # dad checks out with mum's address: with the guard relaxed, the two merge
    store.insert(
        "orders",
        pa.table(
            {
                "order_id": ["o1"],
                "customer_id": ["dad"],
                "email": ["mum@example.com"],
                "currency": ["USD"],
                "ordered_at": pa.array([datetime(2024, 3, 1)], ts),
            }
        ),
    )
    resolve_identities(store, max_customers=2)
    merged = person_of(store, "customer_id:mum")
    assert person_of(store, "customer_id:dad") == merged
    result = unmerge(store, "email:mum@example.com", "customer_id:dad", max_customers=2)
    mum, dad = person_of(store, "customer_id:mum"), person_of(store, "customer_id:dad")
    assert mum == merged and dad != mum  # the part with the oldest identifier keeps the id
    assert person_of(store, "anonymous_id:mum-phone") == mum
    assert person_of(store, "anonymous_id:dad-phone") == dad
    assert result.persons == 2
    # the blocked edge stays blocked on the next resolution
    resolve_identities(store, max_customers=2)
    assert person_of(store, "customer_id:dad") == dad
