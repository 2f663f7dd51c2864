"""The SMTP channel against a real SMTP server on loopback (aiosmtpd, started here)."""

from __future__ import annotations

import email
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from email.policy import default
from pathlib import Path

import pytest

from tenure import Store
from tenure.deliver.channel import Outgoing
from tenure.deliver.channels import build_channels
from tenure.deliver.channels.smtp import SmtpChannel, build_email
from tenure.deliver.render import TemplateRenderer
from tenure.deliver.unsubscribe import read_token
from tenure.errors import ConfigError, DeliveryError, DeliveryRetryError
from tests.deliver.channels.channelkit import (
    NOW,
    SmtpServer,
    message_row,
    settings_for,
)


def _channel(server: SmtpServer, **kw: object) -> SmtpChannel:
    return SmtpChannel(
        server.host, server.port, sender="Shop <news@shop.example>", security="none", **kw
    )  # type: ignore[arg-type]


def _parsed(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=default)


def _outgoing(key: str, to: str, **kw: object) -> Outgoing:
    fields = {"subject": "Hi", "text": "text part\n", "html": "<p>html part</p>"}
    fields.update(kw)  # type: ignore[arg-type]
    return Outgoing(
        message_key=key, flow="f", step="s", person_id="p", channel="email", to=to,
        message_id=f"<{key}@shop.example>", **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def test_rendered_messages_arrive_with_every_header_and_escaped_html(
    store: Store, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    settings = settings_for(
        tmp_path, smtp_host=smtp_server.host, smtp_port=smtp_server.port, smtp_security="none"
    )
    rows = [message_row("k1", "p_ann", products=["P1", "P2"]), message_row("k2", "p_bob")]
    rendered = TemplateRenderer(store, settings, NOW).render(rows)
    channels = build_channels(settings, store=store)
    assert set(channels) == {"email", "onsite", "trait"}
    for message in rendered:
        assert isinstance(message, Outgoing)
        receipt = channels["email"].send(message)
        assert receipt.detail.startswith("250 OK queued as Q")
    channels["email"].close()

    got = smtp_server.sink.messages
    assert [e.rcpt_tos for e in got] == [["ann@example.com"], ["bob@example.org"]]
    assert {e.mail_from for e in got} == {"news@shop.example"}
    ann = _parsed(got[0].original_content)
    assert ann["From"] == "Shop <news@shop.example>"
    assert ann["To"] == "ann@example.com"
    assert ann["Subject"] == "Your cart"
    assert ann["Message-ID"] == rendered[0].message_id  # type: ignore[union-attr]
    assert ann["Message-ID"].endswith("@shop.example>") and ann["Date"]
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = ann["List-Unsubscribe"].split(", ")
    assert https.startswith("<https://crm.shop.example/unsubscribe?token=")
    assert mailto.startswith("<mailto:unsub@shop.example?subject=unsubscribe%20")
    token = https[len("<https://crm.shop.example/unsubscribe?token=") : -1]
    assert read_token("unsub-secret", token, NOW).person_id == "p_ann"
    assert ann.get_content_type() == "multipart/alternative"
    text = ann.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = ann.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hello Ann <script>alert(1)</script>," in text  # plain text is not HTML
    assert "Hello Ann &lt;script&gt;alert(1)&lt;/script&gt;," in html
    assert "<script>" not in html
    assert "Blue &lt;b&gt;mug&lt;/b&gt; (12.50 EUR): <em>in your cart</em>" in html
    assert "- Blue <b>mug</b> (12.50 EUR): in your cart" in text
    assert "https://crm.shop.example/unsubscribe?token=" in text


def test_connections_are_reused_and_capped_per_domain(smtp_server: SmtpServer) -> None:
    channel = _channel(smtp_server, per_domain=2)
    messages = [_outgoing(f"k{i}", f"user{i}@same.example") for i in range(12)]
    with ThreadPoolExecutor(6) as pool:
        receipts = list(pool.map(channel.send, messages))
    assert len(receipts) == 12 and len(smtp_server.sink.messages) == 12
    assert channel.opened <= 2
    assert len(smtp_server.sink.sessions) == channel.opened
    channel.send(_outgoing("other", "x@other.example"))
    assert channel.opened <= 3
    channel.close()


def test_replies_are_classified_and_the_connection_survives_a_refusal(
    smtp_server: SmtpServer,
) -> None:
    channel = _channel(smtp_server)
    with pytest.raises(DeliveryRetryError, match=r"451 4\.3\.0 Try again later"):
        channel.send(_outgoing("t", "temp@x.example"))
    with pytest.raises(DeliveryError, match=r"550 5\.1\.1 No such user"):
        channel.send(_outgoing("b", "bad@x.example"))
    channel.send(_outgoing("ok", "fine@x.example"))
    assert channel.opened == 1  # the refused transactions were reset, not the connection
    assert [e.rcpt_tos for e in smtp_server.sink.messages] == [["fine@x.example"]]
    channel.close()


def test_no_server_is_transient_and_cleartext_is_only_for_loopback() -> None:
    from tests.deliver.channels.channelkit import free_port

    channel = SmtpChannel("127.0.0.1", free_port(), sender="a@b.example", security="none")
    with pytest.raises(DeliveryRetryError, match="Cannot connect"):
        channel.send(_outgoing("k", "x@y.example"))
    with pytest.raises(ConfigError, match="only allowed to a loopback server"):
        SmtpChannel("smtp.example.com", 25, sender="a@b.example", security="none")


def test_starttls_required_when_the_server_does_not_offer_it(smtp_server: SmtpServer) -> None:
    channel = _channel(smtp_server)
    channel.security = "starttls"
    with pytest.raises(DeliveryRetryError, match="does not offer STARTTLS"):
        channel.send(_outgoing("k", "x@y.example"))


def test_a_header_with_a_line_break_is_refused() -> None:
    for bad in (
        _outgoing("k", "x@y.example", subject="Hi\r\nBcc: all@victim.example"),
        _outgoing("k", "x@y.example\nBcc: all@victim.example"),
        _outgoing("k", "x@y.example", headers={"List-Unsubscribe": "<a>\nX: y"}),
    ):
        with pytest.raises(DeliveryError, match="line break"):
            build_email(bad, "Shop <news@shop.example>")
    with pytest.raises(DeliveryError, match="line break"):
        SmtpChannel("127.0.0.1", 1, sender="a@b.example", security="none").send(
            _outgoing("k", "x@y.example\r\nBcc: z@z.example")
        )


def test_text_only_message_when_there_is_no_html(smtp_server: SmtpServer) -> None:
    channel = _channel(smtp_server)
    channel.send(_outgoing("k", "x@y.example", html=""))
    got = _parsed(smtp_server.sink.messages[0].original_content)
    assert got.get_content_type() == "text/plain"
    assert got.get_content() == "text part\r\n"  # type: ignore[attr-defined]
    channel.close()


def test_email_channel_refused_without_its_settings(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, smtp_host="127.0.0.1", unsubscribe_secret=None)
    with pytest.raises(ConfigError, match="needs the setting unsubscribe_secret"):
        build_channels(settings)
    bare = settings_for(tmp_path, email_from=None)
    with pytest.raises(ConfigError, match="needs the setting smtp_host"):
        build_channels(bare, only=["email"])
    with pytest.raises(ConfigError, match="No delivery channel is configured"):
        build_channels(bare)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), and its key."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _auth(
    server: object, session: object, envelope: object, mechanism: str, data: object
) -> object:
    from aiosmtpd.smtp import AuthResult

    login = (getattr(data, "login", None), getattr(data, "password", None))
    return AuthResult(success=login == (b"shop", b"pw"), handled=False)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_encrypted_and_authenticated(certificate: tuple[Path, Path], security: str) -> None:
    import ssl

    from aiosmtpd.controller import Controller

    from tests.deliver.channels.channelkit import Sink, free_port

    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    sink, port = Sink(), free_port()
    # aiosmtpd offers AUTH on implicit TLS only when it is not told to require STARTTLS
    options: dict[str, object] = {"authenticator": _auth, "auth_require_tls": security != "tls"}
    if security == "tls":
        options["ssl_context"] = server_tls
    else:
        options |= {"tls_context": server_tls, "require_starttls": True}
    controller = Controller(sink, hostname="127.0.0.1", port=port, **options)  # type: ignore[arg-type]
    controller.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert))
        kw = {"sender": "a@shop.example", "security": security, "context": client_tls, "timeout": 5}
        good = SmtpChannel("127.0.0.1", port, username="shop", password="pw", **kw)  # type: ignore[arg-type]
        good.send(_outgoing("k", "x@y.example"))
        good.close()
        assert [e.rcpt_tos for e in sink.messages] == [["x@y.example"]]
        wrong = SmtpChannel("127.0.0.1", port, username="shop", password="no", **kw)  # type: ignore[arg-type]
        with pytest.raises(DeliveryRetryError, match=r"login .* refused"):
            wrong.send(_outgoing("k2", "x@y.example"))
        untrusted = SmtpChannel("127.0.0.1", port, sender="a@shop.example", security=security)
        with pytest.raises(DeliveryRetryError, match="CERTIFICATE_VERIFY_FAILED"):
            untrusted.send(_outgoing("k3", "x@y.example"))
    finally:
        controller.stop()


def test_non_ascii_subject_names_and_parts_arrive_intact(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel(
        smtp_server.host, smtp_server.port, sender="Café Zoë <news@shop.example>", security="none"
    )
    text = "Bonjour Zoë ☕\n.a line starting with a dot\n" + "long " * 40 + "\n"
    html = "<p>Crème brûlée &amp; ☕</p>"
    subject = "Votre panier: crème brûlée, café, thé " * 2
    channel.send(_outgoing("k", "zoe@x.example", subject=subject.strip(), text=text, html=html))
    got = _parsed(smtp_server.sink.messages[0].original_content)
    assert got["Subject"] == subject.strip()
    assert got["From"] == "Café Zoë <news@shop.example>"
    plain = got.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert plain.replace("\r\n", "\n") == text
    assert got.get_body(("html",)).get_content().strip() == html  # type: ignore[union-attr]
    with pytest.raises(DeliveryError, match="not an ASCII address"):
        channel.send(_outgoing("k2", "zoë@x.example"))
    channel.close()


def test_a_connection_the_server_closes_is_replaced_and_idle_ones_are_capped(
    smtp_server: SmtpServer,
) -> None:
    channel = _channel(smtp_server, max_idle=1)
    channel.send(_outgoing("a", "one@a.example"))
    channel.send(_outgoing("b", "stale@a.example"))  # 421 on the reused one: once more, fresh
    assert channel.opened == 2
    with pytest.raises(DeliveryRetryError, match="421"):  # on a fresh connection: transient
        channel.send(_outgoing("c", "stale2@b.example"))
    channel.send(_outgoing("d", "x@b.example"))  # b's connection: a's idle one is evicted
    channel.send(_outgoing("e", "y@a.example"))
    assert channel.opened == 5 and len(channel.idle) == 1
    rcpts = [e.rcpt_tos[0] for e in smtp_server.sink.messages]
    assert rcpts == ["one@a.example", "stale@a.example", "x@b.example", "y@a.example"]
    channel.close()
