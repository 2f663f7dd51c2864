"""Unsubscribe tokens (signed, expiring) and the one-click handler."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenure import Store
from tenure.config import load_settings
from tenure.deliver.unsubscribe import (
    ONE_CLICK,
    Token,
    UnsubscribeError,
    list_unsubscribe,
    make_token,
    read_token,
    token_for,
    unsubscribe,
)
from tenure.engage.consent import block, reach
from tenure.errors import ConfigError
from tests.deliver.channels.channelkit import NOW, settings_for

names = st.text(min_size=1, max_size=30)


@given(names, st.sampled_from(["email", "sms"]), names, st.integers(1, 10_000))
def test_a_token_reads_back_what_it_says_until_it_expires(
    person: str, channel: str, flow: str, minutes: int
) -> None:
    expires = NOW + timedelta(minutes=minutes)
    token = make_token("k", Token(person, channel, flow, expires))
    assert token.replace("-", "").replace("_", "").replace(".", "").isalnum()
    assert read_token("k", token, NOW) == Token(person, channel, flow, expires)
    assert read_token("k", token, expires) == Token(person, channel, flow, expires)
    with pytest.raises(UnsubscribeError, match="expired"):
        read_token("k", token, expires + timedelta(seconds=1))


def test_a_tampered_token_or_another_secret_is_refused() -> None:
    token = make_token("k", Token("p_ann", "email", "win_back", NOW + timedelta(days=1)))
    body, signature = token.split(".")
    other = make_token("k", Token("p_bob", "email", "win_back", NOW + timedelta(days=1)))
    forged = other.split(".")[0] + "." + signature  # Bob's body under Ann's signature
    for bad in (forged, body + "." + signature[:-2] + "AA", token.replace(".", ""), "", "x.y"):
        with pytest.raises(UnsubscribeError):
            read_token("k", bad, NOW)
    with pytest.raises(UnsubscribeError, match="signature does not match"):
        read_token("other secret", token, NOW)


def test_headers_follow_rfc_8058(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    headers = list_unsubscribe(settings, "TOKEN.SIG")
    assert headers == {
        "List-Unsubscribe": "<https://crm.shop.example/unsubscribe?token=TOKEN.SIG>, "
        "<mailto:unsub@shop.example?subject=unsubscribe%20TOKEN.SIG>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }
    assert ONE_CLICK == "List-Unsubscribe=One-Click"
    with pytest.raises(ConfigError, match="unsubscribe_secret is not set"):
        token_for(load_settings(), "p", "email", "f", NOW)


def _reach(store: Store, person: str, channel: str, now: datetime) -> str | None:
    persons = ibis.memtable({"person_id": [person], "channel": [channel]})
    return reach(store, persons, now).mutate(why=block).why.execute().tolist()[0]  # type: ignore[no-any-return]


def test_unsubscribe_withdraws_consent_and_suppresses_once(store: Store) -> None:
    settings = store.settings.model_copy(update={"unsubscribe_secret": "unsub-secret"})
    store.settings = settings
    store.insert(
        "consents",
        pa.Table.from_pylist(
            [{"identifier": "ann@example.com", "identifier_kind": "email",
              "channel": "email", "status": "subscribed", "at": NOW - timedelta(days=9)}]
        ),
    )  # fmt: skip
    assert _reach(store, "p_ann", "email", NOW) is None
    token = token_for(settings, "p_ann", "email", "win_back", NOW)
    done = unsubscribe(store, token, NOW + timedelta(days=1))
    assert (done.person_id, done.channel, done.flow) == ("p_ann", "email", "win_back")
    assert done.identifiers == ("ann@example.com",) and done.already == ()
    later = NOW + timedelta(days=2)
    assert _reach(store, "p_ann", "email", later) == "suppressed"
    assert _reach(store, "p_ann", "sms", later) == "no consent"  # sms untouched
    again = unsubscribe(store, token, later)
    assert again.already == ("ann@example.com",)
    sup = store.table("suppressions").to_pandas()
    assert sup[["identifier", "channel", "reason"]].values.tolist() == [
        ["ann@example.com", "email", "unsubscribed"]
    ]
    assert sup.source.tolist() == ["unsubscribe link (win_back)"]
    cons = store.table("consents").to_pandas()
    assert cons.status.tolist().count("unsubscribed") == 2
    with pytest.raises(UnsubscribeError, match="expired"):
        unsubscribe(store, token, NOW + timedelta(days=settings.unsubscribe_days + 1))
    onsite = token_for(settings, "p_ann", "onsite", "cart_cross_sell", NOW)
    with pytest.raises(UnsubscribeError, match="no consent to withdraw"):
        unsubscribe(store, onsite, NOW)
