"""The e-mail channel over SMTP (smtplib).

* Security: ``starttls`` (refused when the server does not offer it), implicit ``tls``, or
  ``none``, allowed only to a server on the loopback interface; AUTH when a username is set.
* Connections are kept open and reused; at most ``per_domain`` at once per recipient domain
  (a semaphore per domain, idle connections kept per domain, at most ``max_idle`` idle in
  all, the longest idle closed first). A reused connection the server closed meanwhile (or
  answers 421 on) is replaced once, transparently.
* Replies: a 4xx to MAIL, RCPT or DATA is transient (``DeliveryRetryError``), a 5xx terminal
  (``DeliveryError``); connection errors, timeouts, a failed STARTTLS or login are transient
  (the message waits, it is not failed for a configuration problem).
* The message: From, To, Subject, Date, Message-ID (``Outgoing.message_id``, the same on a
  resend), the renderer's headers (List-Unsubscribe, List-Unsubscribe-Post), and
  multipart/alternative with the text and HTML parts (text only when there is no HTML).
"""

from __future__ import annotations

import binascii
import contextlib
import ipaddress
import smtplib
import ssl
import threading
import uuid
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr

from tenure.deliver.channel import Outgoing, Receipt
from tenure.deliver.templates import check_header
from tenure.errors import ConfigError, DeliveryError, DeliveryRetryError

SECURITIES = ("starttls", "tls", "none")


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine's loopback interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _header(value: str) -> str:
    """A header value as sent: ASCII as is, else RFC 2047 encoded words (UTF-8), folded."""
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name="Subject").encode(linesep="\r\n")


def _part(content_type: str, body: str) -> bytes:
    """One MIME part, quoted-printable UTF-8, CRLF line ends."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    encoded = binascii.b2a_qp(lines.encode("utf-8"), istext=True)
    head = (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return head.encode("ascii") + encoded + (b"" if encoded.endswith(b"\r\n") else b"\r\n")


def build_email(message: Outgoing, sender: str) -> bytes:
    """The MIME message of ``message`` from ``sender``, as the bytes sent: the headers, then
    multipart/alternative text and HTML parts (text only without HTML), quoted-printable,
    CRLF line ends. A DeliveryError for a header value with CR or LF, or an address that is
    not ASCII. Assembled directly: the :mod:`email` package's generator costs ~4 ms a
    message (250 a second per core), this a few tens of microseconds."""
    if not message.to.isascii():
        raise DeliveryError(
            f"E-mail {message.message_key}: {message.to!r} is not an ASCII address "
            "(internationalised addresses need SMTPUTF8, not supported)."
        )
    fields = [
        ("From", sender),
        ("To", message.to),
        ("Subject", message.subject),
        ("Date", formatdate(usegmt=True)),
        ("Message-ID", message.message_id),
        *message.headers.items(),
        ("MIME-Version", "1.0"),
    ]
    head = "".join(f"{n}: {_header(check_header(n, str(v)))}\r\n" for n, v in fields)
    text = _part("text/plain", message.text or message.subject or " ")
    if not message.html:
        return head.encode("ascii") + text
    boundary = f"=_tenure_{uuid.uuid4().hex}"  # "=_" cannot appear in quoted-printable text
    html = _part("text/html", message.html)
    alternative = f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    return b"".join(
        [
            (head + alternative).encode("ascii"),
            f"--{boundary}\r\n".encode(),
            text,
            f"\r\n--{boundary}\r\n".encode(),  # the CRLF before a delimiter is its own
            html,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )


def _refused(
    stage: str, code: int, reply: bytes | str, to: str
) -> DeliveryError | DeliveryRetryError:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    detail = f"SMTP {stage} for {to}: {code} {text}".strip()
    if 400 <= code < 500:
        return DeliveryRetryError(detail)
    return DeliveryError(detail, hint="A permanent refusal (5xx): the address or message is bad.")


class SmtpChannel:
    """Sends e-mails through one SMTP server (thread-safe)."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        per_domain: int = 2,
        max_idle: int = 16,
        context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in SECURITIES:
            raise ConfigError(f"smtp_security {security!r} is not one of {', '.join(SECURITIES)}.")
        if security == "none" and not is_loopback(host):
            raise ConfigError(
                f"smtp_security 'none' sends in clear: only allowed to a loopback server, "
                f"not {host!r}.",
                hint="Use smtp_security = 'starttls' (port 587) or 'tls' (port 465).",
            )
        self.host, self.port, self.security = host, port, security
        name, self.envelope = parseaddr(check_header("From", sender))
        self.sender = formataddr((name, self.envelope), charset="utf-8")
        if "@" not in self.envelope:
            raise ConfigError(f"email_from {sender!r} has no e-mail address.")
        self.username, self.password = username, password
        self.timeout, self.per_domain = timeout, per_domain
        self.context = context or ssl.create_default_context()
        self.lock = threading.Lock()
        self.slots: dict[str, threading.BoundedSemaphore] = {}
        #: idle connections, (recipient domain, connection), the longest idle first
        self.idle: list[tuple[str, smtplib.SMTP]] = []
        self.max_idle = max_idle
        self.opened = 0  # connections opened so far (reuse shows as few)

    def _slot(self, domain: str) -> threading.BoundedSemaphore:
        with self.lock:
            if domain not in self.slots:
                self.slots[domain] = threading.BoundedSemaphore(self.per_domain)
            return self.slots[domain]

    def _open(self) -> smtplib.SMTP:
        try:
            if self.security == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self.context
                )
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            conn.ehlo()
            if self.security == "starttls":
                if not conn.has_extn("starttls"):
                    conn.close()
                    raise DeliveryRetryError(
                        f"SMTP server {self.host}:{self.port} does not offer STARTTLS.",
                        hint="Set smtp_security = 'tls' or use a server that offers STARTTLS.",
                    )
                conn.starttls(context=self.context)
                conn.ehlo()
            if self.username:
                conn.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryRetryError(
                f"SMTP login to {self.host} as {self.username!r} refused: {exc.smtp_code}.",
                hint="Check smtp_username and smtp_password.",
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryRetryError(
                f"Cannot connect to SMTP server {self.host}:{self.port}: {exc}."
            ) from None
        with self.lock:
            self.opened += 1
        return conn

    def _take(self, domain: str) -> tuple[smtplib.SMTP, bool]:
        with self.lock:
            for i, (where, conn) in enumerate(self.idle):
                if where == domain:
                    del self.idle[i]
                    return conn, True
        return self._open(), False

    def _give(self, domain: str, conn: smtplib.SMTP) -> None:
        """Keep ``conn`` for the next e-mail to ``domain``; past ``max_idle`` idle
        connections, the one idle longest is closed."""
        with self.lock:
            self.idle.append((domain, conn))
            evicted = self.idle.pop(0)[1] if len(self.idle) > self.max_idle else None
        if evicted is not None:
            self._quit(evicted)

    @staticmethod
    def _quit(conn: smtplib.SMTP) -> None:
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            with contextlib.suppress(OSError):
                conn.close()

    @staticmethod
    def _drop(conn: smtplib.SMTP) -> None:
        with contextlib.suppress(OSError):
            conn.close()

    def _transact(self, conn: smtplib.SMTP, to: str, data: bytes) -> Receipt:
        """MAIL, RCPT, DATA on ``conn``; a refusal resets the transaction (the connection
        stays usable) and raises the classified error."""
        reply: bytes | str
        try:
            code, reply = conn.mail(self.envelope)
            stage = "MAIL FROM"
            if code == 250:
                code, reply = conn.rcpt(to)
                stage = "RCPT TO"
            if code in (250, 251):
                code, reply = conn.data(data)
                stage = "DATA"
        except smtplib.SMTPResponseException as exc:  # DATA not accepted (no 354)
            code, reply, stage = exc.smtp_code, exc.smtp_error, "DATA"
        if code == 421:  # the server is closing this connection (idle too long, shutting down)
            self._drop(conn)
            raise smtplib.SMTPServerDisconnected(f"{code} {reply!r}")
        if code == 250:
            text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
            queued = text.partition("queued as ")[2].split()
            return Receipt(provider_id=queued[0] if queued else None, detail=f"{code} {text}")
        conn.rset()
        raise _refused(stage, code, reply, to)

    def _run(self, conn: smtplib.SMTP, domain: str, to: str, data: bytes) -> Receipt:
        """One transaction; the connection goes back to the pool unless it broke."""
        try:
            receipt = self._transact(conn, to, data)
        except (DeliveryError, DeliveryRetryError):
            self._give(domain, conn)
            raise
        except (smtplib.SMTPException, OSError):
            self._drop(conn)
            raise
        self._give(domain, conn)
        return receipt

    def send(self, message: Outgoing) -> Receipt:
        to = check_header("To", message.to)
        if "@" not in to:
            raise DeliveryError(f"E-mail {message.message_key}: {to!r} is not an e-mail address.")
        data = build_email(message, self.sender)
        domain = to.rpartition("@")[2].lower()
        with self._slot(domain):
            conn, reused = self._take(domain)
            try:
                try:
                    return self._run(conn, domain, to, data)
                except smtplib.SMTPServerDisconnected:
                    if not reused:
                        raise
                # closed by the server while idle: once more, on a fresh connection
                return self._run(self._open(), domain, to, data)
            except (smtplib.SMTPException, OSError) as exc:
                raise DeliveryRetryError(
                    f"SMTP connection to {self.host}:{self.port} failed while sending "
                    f"{message.message_key}: {type(exc).__name__}: {exc}."
                ) from None

    def close(self) -> None:
        with self.lock:
            conns = [c for _, c in self.idle]
            self.idle.clear()
        for conn in conns:
            self._quit(conn)
