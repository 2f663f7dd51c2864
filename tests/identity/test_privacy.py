"""Profile, privacy export and delete: after a delete no table holds the person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenure import Store
from tenure.identity import resolve_identities
from tenure.identity.privacy import delete_person, digest, export_person
from tenure.identity.profile import UnknownIdentifierError, profile
from tests.identity.scan import mentions
from tests.identity.test_identity import _scenario

ANN = {
    "anonymous_id": ["laptop-1", "phone-1", "tablet-1"],
    "customer_id": ["cust-9"],
    "email": ["ann.smith@example.com"],
}


def test_profile_gathers_identities_orders_and_timeline(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    resolve_identities(store)
    doc = profile(store, "Ann.Smith@example.com")
    assert doc["identities"] == ANN
    assert [o["order_id"] for o in doc["orders"]] == ["G1"]
    assert len(doc["timeline"]) == 5
    assert doc["computed"] == {}
    with pytest.raises(UnknownIdentifierError, match=r"nobody@example\.com"):
        profile(store, "nobody@example.com")


def test_export_holds_everything(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    resolve_identities(store)
    doc = export_person(store, "customer_id:cust-9")
    assert doc["identities"] == ANN
    assert len(doc["events"]) == 5 and len(doc["orders"]) == 1
    json.dumps(doc)  # JSON-ready
    audit = store.table("privacy_audit").to_pyarrow().to_pylist()
    assert [a["action"] for a in audit] == ["export"]


def test_delete_leaves_no_row_of_the_person(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    resolve_identities(store)
    identifiers = [v for values in ANN.values() for v in values]
    assert {value for _, _, value in mentions(store, identifiers)} == set(identifiers)
    result = delete_person(store, "ann.smith@example.com")
    assert result["rows_deleted"]["events"] == 5
    assert result["rows_deleted"]["orders"] == 1
    assert mentions(store, identifiers) == []
    digests = {r["identifier"] for r in store.table("suppressions").to_pyarrow().to_pylist()}
    assert digest("email", "ann.smith@example.com") in digests
    assert len(digests) == len(identifiers)
    audit = store.table("privacy_audit").to_pyarrow().to_pylist()
    assert audit[0]["action"] == "delete" and "ann" not in json.dumps(audit, default=str)
    # the other visitor is untouched
    assert store.count("events") == 1
