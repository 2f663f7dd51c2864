"""The webhook and SMS channels against an HTTP receiver on loopback (http.server in a
thread) that verifies every signature and drops a resend by its idempotency key; the
on-site channel."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenure import Store
from tenure.deliver.channel import Outgoing
from tenure.deliver.channels import build_channels
from tenure.deliver.channels.onsite import onsite_messages
from tenure.deliver.channels.sms import SmsChannel
from tenure.deliver.channels.webhook import WebhookChannel, sign, verify_signature
from tenure.deliver.render import TemplateRenderer
from tenure.errors import ConfigError, DeliveryError, DeliveryRetryError
from tests.deliver.channels.channelkit import (
    NOW,
    SECRET,
    HttpReceiver,
    free_port,
    message_row,
    settings_for,
)


def _outgoing(key: str, *, to: str = "p1", channel: str = "webhook", **kw: object) -> Outgoing:
    return Outgoing(
        message_key=key, flow="detractor_recovery", step="service", person_id="p1",
        channel=channel, to=to, message_id=f"<{key}@shop.example>", subject="s",
        text="A customer left a low rating.", body={"rating": 1, **kw},
    )  # fmt: skip


def test_every_webhook_is_signed_and_a_resend_is_dropped_by_its_key(
    receiver: HttpReceiver,
) -> None:
    channel = WebhookChannel(receiver.url, SECRET)
    messages = [_outgoing(f"key{i}") for i in range(20)]
    with ThreadPoolExecutor(4) as pool:
        receipts = list(pool.map(channel.send, messages + messages[:5]))  # 5 resends
    channel.close()
    got = receiver.received
    assert got.bad_signatures == 0 and len(got.requests) == 25
    assert sorted(got.kept) == sorted(f"key{i}" for i in range(20)) and got.duplicates == 5
    assert receipts[0].provider_id == "prov-key0" and receipts[0].detail == "HTTP 202"
    first = got.kept["key0"]
    assert first["id"] == "key0" and first["message_id"] == "<key0@shop.example>"
    assert first["data"] == {"rating": 1} and first["text"] == "A customer left a low rating."
    header = got.requests[0]["headers"]
    assert header["Content-Type"] == "application/json"


def test_a_wrong_secret_is_caught_by_the_receiver(receiver: HttpReceiver) -> None:
    channel = WebhookChannel(receiver.url, "not-the-secret")
    with pytest.raises(DeliveryError, match="HTTP 401"):
        channel.send(_outgoing("k"))
    assert receiver.received.bad_signatures == 1 and not receiver.received.kept


@pytest.mark.parametrize(
    ("key", "error", "status"),
    [
        ("s503x", DeliveryRetryError, "503"),
        ("s429x", DeliveryRetryError, "429"),
        ("s400x", DeliveryError, "400"),
        ("s404x", DeliveryError, "404"),
    ],
)
def test_webhook_answers_are_classified(
    receiver: HttpReceiver, key: str, error: type[Exception], status: str
) -> None:
    channel = WebhookChannel(receiver.url, SECRET)
    with pytest.raises(error, match=f"HTTP {status}"):
        channel.send(_outgoing(key))
    channel.close()


def test_timeouts_and_refused_connections_are_transient(receiver: HttpReceiver) -> None:
    channel = WebhookChannel(receiver.url, SECRET, timeout=0.2)
    with pytest.raises(DeliveryRetryError, match="did not answer in time"):
        channel.send(_outgoing("slow1"))
    closed = WebhookChannel(f"http://127.0.0.1:{free_port()}/", SECRET)
    with pytest.raises(DeliveryRetryError, match="cannot reach"):
        closed.send(_outgoing("k"))


def test_verify_signature_refuses_tampering_other_secrets_and_old_stamps() -> None:
    body = b'{"id":"k"}'
    now = 1_800_000_000
    header = sign("s", body, now)
    assert verify_signature("s", header, body, now=now)
    assert verify_signature("s", header, body, now=now + 299)
    assert not verify_signature("s", header, body, now=now + 301)
    assert not verify_signature("s", header, b'{"id":"K"}', now=now)
    assert not verify_signature("t", header, body, now=now)
    assert not verify_signature("s", header.replace(f"t={now}", f"t={now + 1}"), body, now=now)
    assert not verify_signature("s", "garbage", body, now=now)
    rotated = f"{header},v1={'0' * 64}"
    assert verify_signature("s", rotated, body, now=now)


@given(st.binary(max_size=200), st.text(min_size=1, max_size=20), st.integers(0, 2**40))
def test_signature_round_trip(body: bytes, secret: str, stamp: int) -> None:
    assert verify_signature(secret, sign(secret, body, stamp), body, now=stamp)


def test_sms_goes_to_the_provider_with_its_auth_header(sms_receiver: HttpReceiver) -> None:
    channel = SmsChannel(sms_receiver.url, auth="Authorization: Bearer T0K", sender="SHOP")
    receipt = channel.send(_outgoing("sms1", to="+12125550101", channel="sms"))
    assert receipt.detail == "HTTP 202"
    (request,) = sms_receiver.received.requests
    assert request["body"] == {
        "to": "+12125550101",
        "text": "A customer left a low rating.",
        "from": "SHOP",
        "id": "sms1",
    }
    assert request["headers"]["Authorization"] == "Bearer T0K"
    assert request["headers"]["Idempotency-Key"] == "sms1"
    with pytest.raises(DeliveryError, match=r"not an E\.164"):
        channel.send(_outgoing("sms2", to="ann@example.com", channel="sms"))
    with pytest.raises(DeliveryRetryError, match="HTTP 503"):
        channel.send(_outgoing("s503sms", to="+12125550101", channel="sms"))
    channel.close()


def test_sms_auth_header_must_be_name_colon_value() -> None:
    with pytest.raises(ConfigError, match="sms_auth_header"):
        SmsChannel("http://127.0.0.1:1/", auth="Bearer only")


def test_onsite_messages_are_kept_once_and_fetched_newest_first(
    store: Store, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path)
    channel = build_channels(settings, store=store, only=["onsite"])["onsite"]
    rows = [
        message_row("on1", "p_ann", channel="onsite", flow="cart_cross_sell",
                    step="bought_together", template="frequently_bought_together",
                    products=["P2"]),
    ]  # fmt: skip
    (message,) = TemplateRenderer(store, settings, NOW).render(rows)
    assert isinstance(message, Outgoing) and message.to == "p_ann"
    assert channel.send(message).detail == "kept"
    assert channel.send(message).detail == "already kept"
    time.sleep(0.01)
    later = Outgoing(**{**message.__dict__, "message_key": "on2", "subject": "later"})
    channel.send(later)
    got = onsite_messages(store, "p_ann")
    assert [m["message_key"] for m in got] == ["on2", "on1"]
    assert got[1]["body"]["products"][0]["title"] == "Teapot"
    assert got[1]["body"]["products"][0]["reason"] == "often bought with what you added"
    assert "Teapot" in got[1]["text"] and onsite_messages(store, "p_bob") == []
    with pytest.raises(ConfigError, match="with a store"):
        build_channels(settings, only=["onsite"])


def test_build_channels_builds_the_configured_ones(tmp_path: Path, receiver: HttpReceiver) -> None:
    settings = settings_for(
        tmp_path, webhook_url=receiver.url, webhook_secret=SECRET, sms_url=receiver.url
    )
    channels = build_channels(settings)
    assert sorted(channels) == ["sms", "webhook"]
    for channel in channels.values():
        channel.close()
    with pytest.raises(ConfigError, match="needs the setting webhook_secret"):
        build_channels(settings_for(tmp_path, webhook_url=receiver.url))
    body = json.dumps({"x": 1}).encode()
    assert verify_signature(SECRET, sign(SECRET, body, 5), body, now=5)
