"""A flow's ``set_trait`` goes out as a ``trait`` message that the dispatcher applies to the
person's customer records: no send policy (the store's quiet hours do not hold it), applied
once even when resent, a terminal error for a person without a customer record."""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa

from tenure import Store
from tenure.deliver.channels import build_channels, configured
from tenure.deliver.dispatcher import dispatch
from tenure.deliver.render import build_renderer
from tenure.engage.settings import SendPolicy
from tenure.engage.steps import TRAIT_CHANNEL

#: 03:00 UTC, inside the default quiet hours of a UTC person.
AT = datetime(2026, 3, 2, 3, 0)


def _seed(store: Store) -> None:
    store.insert(
        "customers",
        pa.Table.from_pylist(
            [
                {"customer_id": "c1", "email": "a@example.com", "traits": '{"size": "M"}'},
                {"customer_id": "c1-old", "email": "a@example.com", "traits": None},
            ]
        ),
    )
    ids = [("customer_id", "c1", "p1"), ("customer_id", "c1-old", "p1"), ("email", "b@x", "p2")]
    store.insert(
        "identities",
        pa.Table.from_pylist([{"kind": k, "value": v, "person_id": p} for k, v, p in ids]),
    )
    body = {"flow": "vip", "step": "tag", "trait": "tier", "value": "vip"}
    rows = [
        {
            "message_key": f"key-{p}",
            "flow": "vip",
            "step": "tag",
            "person_id": p,
            "trigger_id": f"t-{p}",
            "channel": TRAIT_CHANNEL,
            "payload": json.dumps(body),
            "state": "pending",
            "decided_at": AT,
            "due_at": AT,
            "attempts": 0,
            "resends": 0,
            "updated_at": AT,
        }
        for p in ("p1", "p2")
    ]
    store.insert("messages", pa.Table.from_pylist(rows))


def _traits(store: Store) -> dict[str, dict[str, str]]:
    c = store.table("customers").to_pyarrow().to_pylist()
    return {r["customer_id"]: json.loads(r["traits"] or "{}") for r in c}


def test_set_trait_is_applied_to_every_customer_record_of_the_person(store: Store) -> None:
    _seed(store)
    assert "trait" in configured(store.settings, store)
    channels = build_channels(store.settings, store=store, only=["trait"])
    policy = SendPolicy()  # its quiet hours hold e-mails at 03:00, not a trait
    result = dispatch(
        store,
        channels=channels,
        renderer=build_renderer(store, store.settings, AT),
        now=AT,
        policy=policy,
    )
    assert (result.sent, result.failed, result.held, result.suppressed) == (1, 1, 0, 0)
    assert _traits(store) == {"c1": {"size": "M", "tier": "vip"}, "c1-old": {"tier": "vip"}}
    m = store.table("messages").to_pyarrow().to_pylist()
    state = {r["message_key"]: (r["state"], r["last_error"]) for r in m}
    assert state["key-p1"] == ("sent", None)
    assert state["key-p2"][0] == "failed"
    assert "person p2 has no customer record" in state["key-p2"][1]
    again = dispatch(store, channels=channels, renderer=build_renderer(store, store.settings, AT))
    assert again.claimed == 0


def test_the_trait_channel_applied_twice_gives_the_same_records(store: Store) -> None:
    _seed(store)
    channel = build_channels(store.settings, store=store, only=["trait"])["trait"]
    from tenure.deliver.channel import Outgoing

    out = Outgoing(
        message_key="key-p1",
        flow="vip",
        step="tag",
        person_id="p1",
        channel="trait",
        to="p1",
        message_id="<x>",
        body={"trait": "tier", "value": "vip"},
    )
    channel.send(out)
    once = _traits(store)
    channel.send(out)
    assert _traits(store) == once
    assert store.count("customers") == 2
