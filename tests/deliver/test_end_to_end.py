"""Delivery end to end (issue 17): ``messages`` rows in a DuckDB store, as the flows write
them, go through the real dispatcher, the shipped templates and the real channels to a real
SMTP server and a webhook receiver on loopback, both started here (channelkit).

E-mail: the server receives exactly the expected messages, one each, with every header, both
MIME parts and escaped content; a line break in a subject, a name or an address is refused
(``failed``, never sent); no consent or a suppression ends ``suppressed`` (and issues no
discount code); a second pass sends nothing. Webhook: the receiver verifies every signature
and drops a resend by its idempotency key; a dispatcher that dies after the receiver took a
message resends it with the same key, counted as a resend.
"""

from __future__ import annotations

import email
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tenure import Store
from tenure.config import Settings
from tenure.deliver.channel import Channel, Outgoing, Receipt
from tenure.deliver.channels import build_channels
from tenure.deliver.dispatcher import DispatchResult, dispatch
from tenure.deliver.outbox import RetryPolicy
from tenure.deliver.render import build_renderer, message_id
from tenure.deliver.unsubscribe import ONE_CLICK, read_token
from tests.deliver.channels.channelkit import SECRET, HttpReceiver, SmtpServer, settings_for
from tests.deliver.outboxkit import Scripted, row, states

#: The dispatcher's clock: a Monday noon UTC, outside the e-mail quiet hours.
NOW = datetime(2026, 3, 2, 12, 0)
DOMAIN = "shop.example"
SCRIPT = "<script>alert(1)</script>"
LEASE = RetryPolicy(lease=timedelta(minutes=5))


# -- the store, as the flows leave it ------------------------------------------------------


def person(
    pid: str, mail: str, first: str, *, traits: Mapping[str, str] | None = None
) -> dict[str, Any]:
    return {"pid": pid, "mail": mail, "first": first, "traits": dict(traits or {})}


#: An injected header: what a line break in a header value would add.
BCC = "\r\nBcc: all@victim.example"
#: e-mail persons: two to receive (one with markup in their name and traits, one with
#: template syntax), one without consent, one suppressed, three whose message would carry
#: a header injection (a line break in the flow's subject, in a first name, in an address)
PEOPLE = [
    person("p_ann", "ann@example.com", f"Ann {SCRIPT}", traits={"tier": f"gold {SCRIPT}"}),
    person("p_bob", "bob@example.org", "Bob", traits={"plan": "{{ 7 * 7 }}"}),
    person("p_cy", "cy@example.net", "Cy"),
    person("p_dee", "dee@example.net", "Dee"),
    person("p_eve", "eve@example.net", "Eve"),
    person("p_fay", "fay@example.net", f"Fay{BCC}"),
    person("p_gus", f"gus@example.net{BCC}", "Gus"),
]
#: the offer of the abandoned cart flow's discount step, as its last send carries it
OFFER = {"code": "CART1A2B3C4D", "code_prefix": "CART", "percent": "10", "valid_for": "3d"}
NO_CONSENT = {"p_cy"}
SUPPRESSED = {"p_dee"}


def seed_people(store: Store, people: Sequence[Mapping[str, Any]]) -> None:
    """Identities, customer records and e-mail consents (``subscribed`` unless the person
    is in NO_CONSENT); a bounce suppression for SUPPRESSED."""
    ids, customers, consents = [], [], []
    for i, p in enumerate(people):
        cid = f"c{i}"
        ids += [
            {"kind": "customer_id", "value": cid, "person_id": p["pid"]},
            # spelled as identity resolution spells e-mails: trimmed, lower-cased
            {"kind": "email", "value": p["mail"].strip().lower(), "person_id": p["pid"]},
        ]
        customers.append(
            {"customer_id": cid, "email": p["mail"], "first_name": p["first"],
             "last_name": "Lee", "traits": json.dumps(p["traits"])}
        )  # fmt: skip
        if p["pid"] not in NO_CONSENT:
            consents.append(
                {"identifier": p["mail"], "identifier_kind": "email", "channel": "email",
                 "status": "subscribed", "at": NOW - timedelta(days=30)}
            )  # fmt: skip
    store.insert("identities", pa.Table.from_pylist(ids))
    store.insert("customers", pa.Table.from_pylist(customers))
    store.insert("consents", pa.Table.from_pylist(consents))
    suppressed = [p["mail"] for p in people if p["pid"] in SUPPRESSED]
    store.insert(
        "suppressions",
        pa.Table.from_pylist(
            [{"identifier": m, "identifier_kind": "email", "channel": "email", "reason": "bounce"}
             for m in suppressed]
        ),
    )  # fmt: skip
    store.insert(
        "products",
        pa.Table.from_pylist(
            [{"product_id": "P1", "title": "Blue <b>mug</b>", "price": 12.5, "currency": "EUR"}]
        ),
    )


def pending(
    key: str,
    pid: str,
    *,
    channel: str = "email",
    flow: str = "abandoned_cart",
    step: str = "email_cart",
    **payload: Any,
) -> dict[str, Any]:
    """A ``messages`` row as the flow engine writes it: decided ``pending``, due now, its
    payload the step's template and subject (:func:`tenure.engage.steps.payload_text`)."""
    body = {"flow": flow, "step": step, "template": "cart_reminder", **payload}
    return {
        "message_key": key,
        "flow": flow,
        "step": body["step"],
        "variant": None,
        "person_id": pid,
        "trigger_id": f"t-{key}",
        "channel": channel,
        "payload": json.dumps(body, sort_keys=True),
        "state": "pending",
        "decided_at": NOW - timedelta(minutes=1),
        "due_at": NOW,
        "attempts": 0,
        "resends": 0,
        "updated_at": NOW - timedelta(minutes=1),
    }


def run(store: Store, settings: Settings, channels: Mapping[str, Channel], **kw: Any) -> Any:
    """One dispatcher pass with the shipped templates' renderer and the real send policy."""
    at = kw.pop("now", NOW)
    renderer = build_renderer(store, settings, at)
    return dispatch(store, channels=channels, renderer=renderer, now=at, **kw)


def close(channels: Mapping[str, Channel]) -> None:
    for channel in channels.values():
        channel.close()


# -- e-mail ----------------------------------------------------------------------------


def parsed(raw: bytes | None) -> EmailMessage:
    """A received message's bytes, exactly as the server got them, parsed."""
    assert raw is not None
    got = email.message_from_bytes(raw, policy=default)
    assert isinstance(got, EmailMessage)
    return got


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body((kind,))
    assert body is not None, f"no text/{kind} part"
    return str(body.get_content())


def check_headers(message: EmailMessage, key: str, to: str, subject: str, pid: str) -> None:
    """From, To, Subject, Date, the Message-ID of the key, one-click unsubscribe with a
    token for the recipient, and a multipart/alternative of text then HTML."""
    assert message["From"] == f"Shop <news@{DOMAIN}>"
    assert message["To"] == to
    assert message["Subject"] == subject
    assert message["Date"]
    assert message["Message-ID"] == message_id(key, DOMAIN)
    assert message["List-Unsubscribe-Post"] == ONE_CLICK
    link = message["List-Unsubscribe"].split(", ")[0]
    prefix = "<https://crm.shop.example/unsubscribe?token="
    assert link.startswith(prefix) and link.endswith(">")
    token = read_token("unsub-secret", link[len(prefix) : -1], NOW)
    assert (token.person_id, token.channel, token.flow) == (pid, "email", "abandoned_cart")
    assert message.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    assert link[1:-1] in part(message, "plain")


def test_emails_reach_a_real_smtp_server_once_each_with_every_header(
    store: Store, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    seed_people(store, PEOPLE)
    rows = [
        pending("m_ann", "p_ann", subject="{{ person.traits.tier }}: your cart", products=["P1"]),
        pending("m_bob", "p_bob", step="last_call", template="cart_discount", discount=OFFER,
                subject="{{ person.traits.plan }}: 10% off your cart"),
        pending("m_cy", "p_cy", step="last_call", template="cart_discount",
                discount={**OFFER, "code": "CART9F8E7D6C"}, subject="Your cart"),
        pending("m_dee", "p_dee", subject="Your cart"),
        pending("m_eve", "p_eve", subject=f"Your cart{BCC}"),
        pending("m_fay", "p_fay", subject="{{ person.first_name }}, your cart"),
        pending("m_gus", "p_gus", subject="Your cart"),
    ]  # fmt: skip
    store.insert("messages", pa.Table.from_pylist(rows))
    settings = settings_for(
        tmp_path, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="none"
    )
    channels = build_channels(settings, store=store)
    assert sorted(channels) == ["email", "onsite", "trait"]
    result = run(store, settings, channels)
    assert (result.claimed, result.sent, result.suppressed, result.failed) == (7, 2, 2, 3)
    assert (result.retried, result.resent, result.lost_leases) == (0, 0, 0)

    got = smtp_server.sink.messages
    assert sorted(r for e in got for r in e.rcpt_tos) == ["ann@example.com", "bob@example.org"]
    assert len(got) == 2 and {e.mail_from for e in got} == {f"news@{DOMAIN}"}
    mails = {e.rcpt_tos[0]: parsed(e.original_content) for e in got}
    ann, bob = mails["ann@example.com"], mails["bob@example.org"]
    check_headers(ann, "m_ann", "ann@example.com", f"gold {SCRIPT}: your cart", "p_ann")
    # a trait is data, never template: its braces arrive as they are
    check_headers(bob, "m_bob", "bob@example.org", "{{ 7 * 7 }}: 10% off your cart", "p_bob")

    # the person's data is escaped in the HTML part, left as it is in the plain text part
    html, text = part(ann, "html"), part(ann, "plain")
    assert "<script>" not in html
    assert "Hello Ann &lt;script&gt;alert(1)&lt;/script&gt;," in html
    assert "<title>gold &lt;script&gt;alert(1)&lt;/script&gt;: your cart</title>" in html
    assert "Blue &lt;b&gt;mug&lt;/b&gt; (12.50 EUR)" in html
    assert f"Hello Ann {SCRIPT}," in text and "- Blue <b>mug</b> (12.50 EUR)" in text
    assert "Hello Bob," in part(bob, "plain") and "Hello Bob," in part(bob, "html")
    assert "Your code: CART1A2B3C4D (10% off, until 2026-03-05)." in part(bob, "plain")
    assert "<strong>CART1A2B3C4D</strong> (10% off, until 2026-03-05)" in part(bob, "html")
    codes = store.table("discount_codes").to_pyarrow().to_pylist()  # none for m_cy: not sent
    assert [(c["message_key"], c["code"]) for c in codes] == [("m_bob", "CART1A2B3C4D")]

    final = states(store)
    assert final == {
        "m_ann": "sent",
        "m_bob": "sent",
        "m_cy": "suppressed",
        "m_dee": "suppressed",
        "m_eve": "failed",
        "m_fay": "failed",
        "m_gus": "failed",
    }
    for key in ("m_ann", "m_bob"):
        sent = row(store, key)
        assert sent["message_id"] == message_id(key, DOMAIN) and sent["sent_at"] == NOW
        assert sent["provider_id"] and sent["provider_id"].startswith("Q")
    assert row(store, "m_cy")["reason"] == "no consent"
    assert row(store, "m_dee")["reason"] == "suppressed"
    for key in ("m_eve", "m_fay", "m_gus"):  # a terminal error: recorded once, never retried
        failed = row(store, key)
        assert "line break" in failed["last_error"] and failed["next_attempt_at"] is None
    log = store.table("delivery_attempts").to_pyarrow().to_pylist()
    outcomes = sorted((r["message_key"], r["outcome"]) for r in log)
    assert outcomes == [
        ("m_ann", "sent"), ("m_bob", "sent"), ("m_cy", "suppressed"), ("m_dee", "suppressed"),
        ("m_eve", "failed"), ("m_fay", "failed"), ("m_gus", "failed"),
    ]  # fmt: skip

    again = run(store, settings, channels, now=NOW + timedelta(days=1))
    close(channels)
    assert (again.claimed, again.sent) == (0, 0)
    assert len(smtp_server.sink.messages) == 2 and states(store) == final


def test_a_message_stopped_at_sending_takes_no_code_from_the_pool(
    store: Store, tmp_path: Path
) -> None:
    """The re-check comes before rendering: a message suppressed at sending is not rendered,
    so it issues (and records) no discount code and takes none from ``discount_pool``."""
    seed_people(store, [p for p in PEOPLE if p["pid"] in ("p_ann", "p_cy")])
    rows = [
        pending(k, p, step="last_call", template="cart_discount", discount=OFFER)
        for k, p in (("m_ann", "p_ann"), ("m_cy", "p_cy"))
    ]
    store.insert("messages", pa.Table.from_pylist(rows))
    pool = tmp_path / "pool.txt"
    pool.write_text("POOL1\nPOOL2\n")
    settings = settings_for(tmp_path, discount_pool=pool)
    channel = Scripted("email")
    result = run(store, settings, {"email": channel})
    assert (result.sent, result.suppressed) == (1, 1)
    assert [m.body["discount"]["code"] for m in channel.accepted] == ["POOL1"]
    codes = store.table("discount_codes").to_pyarrow().to_pylist()
    assert [(c["message_key"], c["code"]) for c in codes] == [("m_ann", "POOL1")]


# -- webhook ---------------------------------------------------------------------------


class Crash(BaseException):
    """The dispatcher's process dies (not an error the dispatcher may catch)."""


class DiesAfterSending:
    """The real channel for ``n`` messages; the next one reaches the receiver too, then the
    process dies before the dispatcher records it (the crash window): nothing more is sent."""

    def __init__(self, channel: Channel, n: int) -> None:
        self.name = channel.name
        self.channel = channel
        self.left = n
        self.last: str | None = None

    def send(self, message: Outgoing) -> Receipt:
        if self.last is not None:  # dead: the pool's queued sends never run
            raise Crash
        receipt = self.channel.send(message)
        if self.left <= 0:
            self.last = message.message_key
            raise Crash
        self.left -= 1
        return receipt

    def close(self) -> None:
        self.channel.close()


def seen_keys(http: HttpReceiver) -> Counter[str]:
    """How many requests the receiver got per idempotency key (the header)."""
    heads = [{k.lower(): v for k, v in r["headers"].items()} for r in http.received.requests]
    return Counter(h["idempotency-key"] for h in heads)


def pass_counts(result: DispatchResult) -> tuple[int, int, int]:
    return result.claimed, result.sent, result.resent


def test_webhooks_are_signed_and_a_resend_after_a_crash_is_dropped_by_its_key(
    store: Store, tmp_path: Path, receiver: HttpReceiver
) -> None:
    keys = [f"w{i}" for i in range(5)]
    rows = [
        pending(k, f"p_{k}", channel="webhook", flow="detractor_recovery", template=None,
                subject=f"Low rating from {k}")
        for k in keys
    ]  # fmt: skip
    store.insert("messages", pa.Table.from_pylist(rows))
    settings = settings_for(tmp_path, webhook_url=receiver.url, webhook_secret=SECRET)
    real = build_channels(settings, only=["webhook"])
    dying = DiesAfterSending(real["webhook"], 2)
    with pytest.raises(Crash):  # batch 1 sent and recorded; batch 2's first sent, then death
        run(store, settings, {"webhook": dying}, batch=2, concurrency=1, retry=LEASE)
    dying.close()
    crashed = dying.last
    assert crashed is not None
    assert Counter(states(store).values()) == Counter({"sent": 2, "sending": 3})
    assert sum(seen_keys(receiver).values()) == 3

    channels = build_channels(settings, only=["webhook"])
    early = run(store, settings, channels, retry=LEASE)
    assert early.claimed == 0  # the dead dispatcher's lease still holds
    later = NOW + LEASE.lease + timedelta(seconds=1)
    after = run(store, settings, channels, now=later, batch=2, retry=LEASE)
    # batch 2 (handed over) is resent, one of its two had reached the receiver; the last
    # message, claimed but never handed over, is just sent
    assert pass_counts(after) == (3, 3, 2)
    assert after.per_channel == {"webhook": {"sent": 3}}

    got = receiver.received
    assert got.bad_signatures == 0, "every request carries a valid signature"
    assert seen_keys(receiver) == Counter({k: 2 if k == crashed else 1 for k in keys})
    assert sorted(got.kept) == keys and got.duplicates == 1
    copies = [r["body"] for r in got.requests if r["body"]["id"] == crashed]
    assert len(copies) == 2 and copies[0] == copies[1]  # the same body both times
    assert copies[0]["message_id"] == message_id(crashed, DOMAIN)
    assert got.kept[crashed]["subject"] == f"Low rating from {crashed}"
    assert Counter(states(store).values()) == Counter({"sent": 5})
    resends = {k: row(store, k)["resends"] for k in keys}
    assert resends[crashed] == 1 and sum(resends.values()) == 2
    log = store.table("delivery_attempts").to_pyarrow().to_pylist()
    assert (crashed, "sent", True) in {(r["message_key"], r["outcome"], r["resend"]) for r in log}

    last = run(store, settings, channels, now=later + timedelta(hours=1))
    close(channels)
    assert pass_counts(last) == (0, 0, 0) and len(got.requests) == 6
