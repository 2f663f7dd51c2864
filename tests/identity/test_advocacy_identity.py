"""Feedback and referrals in the identity graph and in privacy export/delete."""

from __future__ import annotations

from pathlib import Path

from tenure import Store
from tenure.identity import person_of, resolve_identities
from tenure.identity.privacy import delete_person, export_person
from tenure.ingest import import_feedback, import_referrals
from tests.identity.scan import mentions
from tests.identity.test_identity import _scenario

FEEDBACK = (
    "feedback_id,customer_id,email,anonymous_id,kind,score,submitted_at\n"
    "F1,,Ann.Smith@example.com,,nps,10,2024-03-10\n"  # Ann, by her e-mail
    "F2,cust-new,new@example.com,,review,4,2024-03-11\n"  # a new person of two identifiers
    "F3,,,tablet-1,csat,5,2024-03-12\n"  # Ann, by her device
    "F4,,,,nps,3,2024-03-12\n"  # nobody: kept, unlinked
)
REFERRALS = (
    "referral_id,referrer_customer_id,referred_customer_id,referred_email,referred_at\n"
    "R1,cust-9,cust-20,friend@example.com,2024-03-15\n"  # Ann referred a friend
    "R2,cust-20,cust-9,,2024-03-16\n"  # ... who referred Ann: a cycle, flagged
    "R3,cust-30,cust-31,other@example.com,2024-03-16\n"  # not Ann's
)


def _advocacy(store: Store, tmp_path: Path) -> None:
    _scenario(store, tmp_path)
    (tmp_path / "feedback.csv").write_text(FEEDBACK)
    (tmp_path / "referrals.csv").write_text(REFERRALS)
    assert import_feedback(store, [tmp_path / "feedback.csv"]).stored == 4
    assert import_referrals(store, [tmp_path / "referrals.csv"]).flagged == 2
    resolve_identities(store)


def test_feedback_and_referrals_link_to_persons(store: Store, tmp_path: Path) -> None:
    _advocacy(store, tmp_path)
    ann = person_of(store, "cust-9")
    assert ann is not None
    assert person_of(store, "email:ann.smith@example.com") == ann
    assert person_of(store, "customer_id:cust-new") == person_of(store, "new@example.com")
    assert person_of(store, "customer_id:cust-20") == person_of(store, "friend@example.com")
    assert person_of(store, "customer_id:cust-20") not in (None, ann)
    identities = store.table("identities")
    sources = identities.filter(identities.value == "friend@example.com").source
    assert sources.to_pyarrow().to_pylist() == ["referrals"]


def test_export_holds_and_delete_removes_feedback_and_referrals(
    store: Store, tmp_path: Path
) -> None:
    _advocacy(store, tmp_path)
    doc = export_person(store, "cust-9")
    assert [f["feedback_id"] for f in doc["feedback"]] == ["F1", "F3"]
    assert [r["referral_id"] for r in doc["referrals"]] == ["R1", "R2"]
    deleted = delete_person(store, "cust-9")["rows_deleted"]
    assert (deleted["feedback"], deleted["referrals"], deleted["flagged_values"]) == (2, 2, 2)
    assert mentions(store, ["cust-9", "ann.smith@example.com", "tablet-1"]) == []
    assert store.table("feedback").feedback_id.to_pyarrow().to_pylist() == ["F2", "F4"]
    assert store.table("referrals").referral_id.to_pyarrow().to_pylist() == ["R3"]
    # the deleted person's referrals do not come back with the file
    again = import_referrals(store, [tmp_path / "referrals.csv"])
    assert (again.suppressed, again.stored, again.already_present) == (2, 0, 1)
