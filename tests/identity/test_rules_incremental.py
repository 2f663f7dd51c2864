"""The verified-email rule, and incremental resolution equal to the full one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa

from tenure import Store
from tenure.identity import person_of, resolve_identities
from tenure.ingest import import_events
from tests.identity.test_identity import _scenario, flags_of


def _family_computer(store: Store) -> None:
    """Mum and dad log in on one computer, each with their own verified e-mail, no account."""
    store.insert(
        "events",
        pa.table(
            {
                "message_id": ["f1", "f2"],
                "type": ["identify", "identify"],
                "anonymous_id": ["family-pc", "family-pc"],
                "traits": [
                    '{"email": "mum@example.com", "email_verified": true}',
                    '{"email": "dad@example.com", "email_verified": true}',
                ],
            }
        ),
    )


def test_two_verified_emails_never_merge(store: Store) -> None:
    _family_computer(store)
    resolve_identities(store)
    assert person_of(store, "email:mum@example.com") != person_of(store, "email:dad@example.com")
    assert flags_of(store)["anonymous_id:family-pc"] == "links two verified emails"


def test_the_rule_can_be_turned_off(store: Store) -> None:
    _family_computer(store)
    resolve_identities(store, verified_emails_never_merge=False, incremental=False)
    assert person_of(store, "email:mum@example.com") == person_of(store, "email:dad@example.com")


def _partition(store: Store) -> set[frozenset[str]]:
    rows = store.table("identities").to_pyarrow().to_pylist()
    groups: dict[str, set[str]] = {}
    for r in rows:
        if r["person_id"] is not None:
            groups.setdefault(r["person_id"], set()).add(f"{r['kind']}:{r['value']}")
    return {frozenset(g) for g in groups.values()}


def test_incremental_resolution_equals_the_full_one(store_url: str, tmp_path: Path) -> None:
    with Store(store_url) as store:
        _scenario(store, tmp_path)
        first = resolve_identities(store)
        more = tmp_path / "more.jsonl"
        more.write_text(
            '{"messageId": "n1", "type": "track", "event": "Signed In", "anonymousId": "other-1",'
            ' "userId": "cust-9", "timestamp": "2024-03-06T09:00:00Z"}\n'
            '{"messageId": "n2", "type": "identify", "anonymousId": "new-phone",'
            ' "traits": {"email": "bob@example.com"}, "timestamp": "2024-03-06T10:00:00Z"}\n'
        )
        import_events(store, [more])
    copy = tmp_path / "copy.duckdb"
    shutil.copy(store_url.removeprefix("duckdb://"), copy)
    with Store(store_url) as store:
        inc = resolve_identities(store)
        assert inc.mode == "incremental", inc
        incremental = _partition(store)
        ann = person_of(store, "anonymous_id:other-1")
        assert ann == person_of(store, "customer_id:cust-9")
    copy_url = f"duckdb://{copy}"
    with Store(copy_url) as store:
        full = resolve_identities(store, incremental=False)
        assert full.mode == "full"
        assert _partition(store) == incremental
        assert person_of(store, "customer_id:cust-9") == ann
    assert first.persons >= 1


def _identify(store: Store, rows: list[tuple[str, str | None, str | None, str]]) -> None:
    """Events (message id, anonymous id, user id, traits JSON) inserted as one import."""
    store.insert(
        "events",
        pa.table(
            {
                "message_id": [r[0] for r in rows],
                "type": ["identify"] * len(rows),
                "anonymous_id": [r[1] for r in rows],
                "user_id": [r[2] for r in rows],
                "traits": [r[3] for r in rows],
            }
        ),
    )


def _full_copy(store_url: str, tmp_path: Path) -> tuple[set[frozenset[str]], dict[str, str]]:
    """The persons and flags a full resolution of a copy of the store gives."""
    copy = tmp_path / f"full-{len(list(tmp_path.iterdir()))}.duckdb"
    shutil.copy(store_url.removeprefix("duckdb://"), copy)
    with Store(f"duckdb://{copy}") as full:
        assert resolve_identities(full, incremental=False).mode == "full"
        return _partition(full), flags_of(full)


VERIFIED = '{"email": "%s", "email_verified": true}'


def test_incremental_rule_check_on_the_touched_persons(store_url: str, tmp_path: Path) -> None:
    """The verified-email rule around the persons new rows touch: a component with one
    e-mail is added incrementally; a component with two e-mails that would join two
    verified addresses, or a person linked to an identifier the rule flagged, makes the run
    a full one; each time the result equals a full resolution."""
    with Store(store_url) as store:
        _identify(store, [("a1", "mum-laptop", "cust-mum", VERIFIED % "mum@example.com")])
        assert resolve_identities(store).mode == "full"
        # one e-mail in the component: nothing for the rule to flag
        _identify(store, [("a2", "mum-phone", "cust-mum", "{}")])
        light = resolve_identities(store)
        assert light.mode == "incremental", light
        assert light.edges == 1
    with Store(store_url) as store:
        assert _partition(store) == _full_copy(store_url, tmp_path)[0]
        # the family computer joins mum's and dad's verified e-mails: the run is a full one
        _identify(
            store,
            [
                ("a3", "family-pc", None, VERIFIED % "mum@example.com"),
                ("a4", "family-pc", None, VERIFIED % "dad@example.com"),
            ],
        )
        heavy = resolve_identities(store)
        assert heavy.mode == "full"
        assert "two verified emails" in (heavy.full_because or ""), heavy
        assert flags_of(store)["anonymous_id:family-pc"] == "links two verified emails"
        # mum's phone again: her person is linked to the flagged family computer
        _identify(store, [("a5", "mum-phone", "cust-mum", "{}")])
        near = resolve_identities(store)
        assert near.mode == "full"
        assert "flagged for linking two verified emails" in (near.full_because or ""), near
        # a visitor of dad's own: one e-mail, far from the flagged device
        _identify(store, [("a6", "dad-phone", None, '{"email": "dad2@example.com"}')])
        far = resolve_identities(store)
        assert far.mode == "incremental", far
        persons, flags = _partition(store), flags_of(store)
    assert (persons, flags) == _full_copy(store_url, tmp_path)
