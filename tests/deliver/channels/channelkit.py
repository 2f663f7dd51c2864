"""Fixtures of the channel tests: a small store (persons with awkward names and traits, a
catalogue, recommendations), settings with every channel configured, an SMTP server
(aiosmtpd) and an HTTP receiver on loopback, both started by the test."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from tenure import Store
from tenure.config import Settings, load_settings
from tenure.deliver.channels.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_signature

NOW = datetime(2026, 3, 2, 9, 0)
SECRET = "webhook-secret"
#: person -> (customer id, e-mail, phone, first name, traits)
PERSONS = {
    "p_ann": ("c1", "ann@example.com", "+12125550101", "Ann <script>alert(1)</script>", {
        "plan": "{{ ''.__class__.__mro__ }}", "tier": "gold & co"
    }),
    "p_bob": ("c2", "bob@example.org", None, "Bob", {}),
    "p_nomail": ("c3", None, None, "Nomail", {}),
}  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def empty_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("deliver") / "empty.duckdb"
    Store(f"duckdb://{path}").close()
    return path


def seed(store: Store) -> None:
    ids, customers = [], []
    for pid, (cid, email, phone, first, traits) in PERSONS.items():
        for kind, value in (("customer_id", cid), ("email", email), ("phone", phone)):
            if value is not None:
                ids.append({"kind": kind, "value": value, "person_id": pid})
        customers.append(
            {"customer_id": cid, "email": email, "first_name": first, "last_name": "Lee",
             "traits": json.dumps(traits)}
        )  # fmt: skip
    store.insert("identities", pa.Table.from_pylist(ids))
    store.insert("customers", pa.Table.from_pylist(customers))
    store.insert(
        "products",
        pa.Table.from_pylist(
            [
                {"product_id": "P1", "title": "Blue <b>mug</b>", "price": 12.5, "currency": "EUR"},
                {"product_id": "P2", "title": "Teapot", "price": 30, "currency": "EUR"},
            ]
        ),
    )
    recs = pa.Table.from_pylist(
        [{"person_id": "p_ann", "rank": 1, "product_id": "P2", "reason": "goes with your mug"}]
    )
    store.replace("product_recommendations", ibis.memtable(recs))


@pytest.fixture
def store(empty_store_path: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "store.duckdb"
    shutil.copy(empty_store_path, path)
    with Store(f"duckdb://{path}") as st:
        seed(st)
        yield st


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "email_from": "Shop <news@shop.example>",
        "public_url": "https://crm.shop.example",
        "unsubscribe_secret": "unsub-secret",
        "unsubscribe_mailto": "unsub@shop.example",
        "templates_dir": tmp_path / "templates",
        "flows_dir": tmp_path / "flows",
    }
    return load_settings(**{**base, **overrides})


def message_row(
    key: str,
    person: str = "p_ann",
    *,
    channel: str = "email",
    flow: str = "abandoned_cart",
    step: str = "email_cart",
    **payload: Any,
) -> dict[str, Any]:
    body = {"flow": flow, "step": step, "template": "cart_reminder", "subject": "Your cart"}
    body.update(payload)
    return {
        "message_key": key,
        "flow": flow,
        "step": step,
        "variant": None,
        "person_id": person,
        "channel": channel,
        "payload": json.dumps(body),
    }


# -- SMTP -------------------------------------------------------------------------------


class Sink:
    """An aiosmtpd handler keeping every message (and the sessions that sent them);
    recipients starting with ``temp`` get a 4xx, with ``bad`` a 5xx, with ``stale`` a 421
    the first time."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.sessions: set[tuple[str, int]] = set()
        self.staled: set[str] = set()
        self.lock = threading.Lock()

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        options: list[str],
    ) -> str:
        if address.startswith("stale") and address not in self.staled:
            self.staled.add(address)  # the first time only: as a server timing a session out
            return "421 4.4.2 Idle too long, closing"
        if address.startswith("temp"):
            return "451 4.3.0 Try again later"
        if address.startswith("bad"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.messages.append(envelope)
            self.sessions.add(tuple(session.peer))  # type: ignore[arg-type]
        return "250 OK queued as Q" + str(len(self.messages))


@dataclass
class SmtpServer:
    host: str
    port: int
    sink: Sink
    controller: Controller = field(repr=False)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, sink, controller)
    finally:
        controller.stop()


# -- HTTP -------------------------------------------------------------------------------


@dataclass
class Received:
    """What the HTTP receiver saw: every request, the bad signatures, the keys it kept."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(received: Received, secret: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            data = json.loads(body)
            key = self.headers.get(IDEMPOTENCY_HEADER, "")
            with received.lock:
                received.requests.append({"headers": dict(self.headers), "body": data})
            if secret is not None:
                ok = verify_signature(
                    secret, self.headers.get(SIGNATURE_HEADER, ""), body, now=time.time()
                )
                if not ok:
                    with received.lock:
                        received.bad_signatures += 1
                    return self._answer(401)
            behaviour = str(data.get("id") or data.get("to") or "")
            for prefix, status in (("s503", 503), ("s429", 429), ("s400", 400), ("s404", 404)):
                if behaviour.startswith(prefix):
                    return self._answer(status)
            if behaviour.startswith("slow"):
                time.sleep(1.0)
            with received.lock:
                if key in received.kept:
                    received.duplicates += 1
                else:
                    received.kept[key] = data
            self._answer(202, {"id": "prov-" + key[:8]})

        def _answer(self, status: int, payload: dict[str, Any] | None = None) -> None:
            out = json.dumps(payload or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    return Handler


@dataclass
class HttpReceiver:
    url: str
    received: Received


def start_receiver(secret: str | None) -> tuple[ThreadingHTTPServer, HttpReceiver]:
    received = Received()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(received, secret))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    return server, HttpReceiver(url, received)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server, found = start_receiver(SECRET)
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sms_receiver() -> Iterator[HttpReceiver]:
    server, found = start_receiver(None)
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
