"""Benchmark: the dispatcher's throughput (issue 17, "Benchmark"): one dispatch pass over a
store of N pending messages, timed, in messages per second.

    PYTHONPATH=src python bench/bench_dispatch.py --messages 20000 --kind email --channel null
    PYTHONPATH=src python bench/bench_dispatch.py --messages 20000 --kind webhook --channel file
    PYTHONPATH=src python bench/bench_dispatch.py --messages 20000 --kind email --channel smtp
    PYTHONPATH=src python bench/bench_dispatch.py --messages 20000 --kind webhook --channel webhook

The store holds N persons, each with an e-mail address and a subscribed e-mail consent, and
one pending message each (``--kind email``, ``webhook`` or ``both``: half and half), due an
hour ago. It is built once per size in ``--dir`` and copied before each run (not timed). A
run opens the copy, builds the channels (``--channel``, :data:`CHANNELS`) and the renderer
(``--renderer``: ``plain``, the one ``tenure dispatch`` uses,
:func:`tenure.deliver.render.build_renderer`; or ``row``, built from the row alone, to time
the dispatcher without the renderer), then times :func:`tenure.deliver.dispatcher.dispatch`
(the send policy re-checked, as always).

Channels: ``null`` accepts and counts; ``file`` writes one JSON line per message; ``smtp``
(``--kind email``) and ``webhook`` (``--kind webhook``) are the real channels, built by
:func:`tenure.deliver.channels.build_channels` from settings pointing at a loopback receiver
the bench starts in a subprocess (:func:`serve`, so it has its own interpreter, on the same
2 cores): an aiosmtpd sink counting the e-mails by Message-ID, or an HTTP receiver
(``--receiver``: ``asyncio``, a minimal HTTP/1.1 keep-alive server, or ``threaded``, the
standard library's ``ThreadingHTTPServer``) checking each request's signature
(:func:`tenure.deliver.channels.webhook.verify_signature`) and counting by idempotency key.

After each run every message must be ``sent``, and the receiver must have received each
exactly once: zero duplicates, zero lost (and no bad signature). Each run prints its
messages sent, received, duplicates, lost and messages/s; the report gives the median and
range of ``--repeats`` runs (the machine is shared: timings are noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import re
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyarrow as pa

from tenure import Store
from tenure.config import Settings, load_settings
from tenure.deliver.channel import Channel, Outgoing
from tenure.deliver.channels import build_channels
from tenure.deliver.channels.files import FileChannel, NullChannel
from tenure.deliver.channels.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify_signature
from tenure.deliver.dispatcher import dispatch
from tenure.deliver.render import build_renderer, message_id, sender_domain
from tenure.errors import DeliveryError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import free_port

NAMES = ("email", "webhook")
SECRET = "bench-webhook-secret"
#: The settings of the e-mail channel besides the server (the renderer's unsubscribe links).
EMAIL_SETTINGS = {
    "smtp_security": "none",
    "email_from": "Bench <bench@shop.example>",
    "public_url": "https://crm.shop.example",
    "unsubscribe_secret": "bench-unsubscribe-secret",
}


# -- the receivers (run in a subprocess) ------------------------------------------------


class Tally:
    """What a receiver counted: key -> copies, and requests refused (bad signature)."""

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.refused = 0
        self.lock = threading.Lock()

    def add(self, key: str) -> None:
        with self.lock:
            self.keys[key] += 1

    def refuse(self) -> None:
        with self.lock:
            self.refused += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "keys": dict(self.keys),
                "refused": self.refused,
                "cpu": time.process_time(),  # the receiver process's CPU seconds
            }


_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.MULTILINE | re.IGNORECASE)


class SmtpSink:
    """An aiosmtpd handler counting each e-mail by its Message-ID header."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or envelope.content
        found = _MESSAGE_ID.search(raw.partition(b"\r\n\r\n")[0])
        self.tally.add(found.group(1).decode() if found else "")
        return "250 OK"


def accept(tally: Tally, headers: Mapping[str, str], body: bytes) -> int:
    """A webhook request's status: 401 for a bad signature, else 202 (counted by key)."""
    signature = headers.get(SIGNATURE_HEADER.lower(), "")
    if not verify_signature(SECRET, signature, body, now=time.time()):
        tally.refuse()
        return 401
    tally.add(headers.get(IDEMPOTENCY_HEADER.lower(), ""))
    return 202


def _threaded_handler(tally: Tally) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.send_response(accept(tally, headers, body))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    return Handler


def _answer(status: int) -> bytes:
    reason = {202: "Accepted", 401: "Unauthorized"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\n\r\n{}"
    ).encode()


def _head(raw: bytes) -> dict[str, str]:
    lines = raw.decode("latin-1").split("\r\n")[1:]
    pairs = (line.partition(":") for line in lines if line)
    return {name.strip().lower(): value.strip() for name, _, value in pairs}


async def _connection(tally: Tally, reader: asyncio.StreamReader, writer: Any) -> None:
    """One keep-alive connection: request after request (Content-Length bodies)."""
    try:
        while True:
            headers = _head(await reader.readuntil(b"\r\n\r\n"))
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            writer.write(_answer(accept(tally, headers, body)))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def start_smtp(tally: Tally) -> int:
    from aiosmtpd.controller import Controller

    port = free_port()
    Controller(SmtpSink(tally), hostname="127.0.0.1", port=port).start()
    return port


def start_threaded(tally: Tally) -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _threaded_handler(tally))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return int(server.server_address[1])


def start_asyncio(tally: Tally) -> int:
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        asyncio.start_server(partial(_connection, tally), "127.0.0.1", 0, backlog=256)
    )
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return int(server.sockets[0].getsockname()[1])


#: receiver name -> start it (in the receiver's process) and give its port.
RECEIVERS: dict[str, Callable[[Tally], int]] = {
    "smtp": start_smtp,
    "threaded": start_threaded,
    "asyncio": start_asyncio,
}


def serve(receiver: str, conn: Connection) -> None:
    """The receiver process: start ``receiver``, send its port, wait for the word to stop,
    send what it counted."""
    tally = Tally()
    conn.send(RECEIVERS[receiver](tally))
    conn.recv()
    conn.send(tally.snapshot())


class Receiver:
    """A receiver running in its own process (spawned, so it shares nothing with the
    dispatcher's process but the machine)."""

    def __init__(self, receiver: str) -> None:
        self.conn, child = mp.get_context("spawn").Pipe()
        self.process = mp.get_context("spawn").Process(
            target=serve, args=(receiver, child), daemon=True
        )
        self.process.start()
        self.port: int = self.conn.recv()

    def finish(self) -> dict[str, Any]:
        """Stop it; what it counted (``keys``: key -> copies, ``refused``)."""
        self.conn.send("stop")
        counted: dict[str, Any] = self.conn.recv()
        self.process.terminate()
        self.process.join()
        return counted


# -- the channels of a run --------------------------------------------------------------


@dataclass
class Received:
    """What a target received: copies per message key, requests refused (a bad
    signature), the receiver process's CPU seconds (from its start)."""

    copies: Counter[str]
    refused: int = 0
    cpu: float | None = None


class Target:
    """The channels of one run and what they received (message key -> copies)."""

    def settings(self) -> dict[str, Any]:
        """Setting overrides the channels need."""
        return {}

    def channels(self, settings: Settings, store: Store) -> dict[str, Channel]:
        raise NotImplementedError

    def received(self, channels: Mapping[str, Channel]) -> Received:
        """Copies per message key, requests refused, the receiver's CPU seconds."""
        raise NotImplementedError


class FileTarget(Target):
    def __init__(self, kind: str, directory: Path, receiver: str) -> None:
        self.directory = directory

    def channels(self, settings: Settings, store: Store) -> dict[str, Channel]:
        return {name: FileChannel(name, self.directory) for name in NAMES}

    def received(self, channels: Mapping[str, Channel]) -> Received:
        copies: Counter[str] = Counter()
        for path in self.directory.glob("*.jsonl"):
            lines = path.read_text().splitlines()
            copies.update(json.loads(line)["message_key"] for line in lines)
        return Received(copies)


class NullTarget(Target):
    """Counts only: the keys are taken on trust (each counted once)."""

    def __init__(self, kind: str, directory: Path, receiver: str) -> None:
        self.keys: list[str] = []

    def channels(self, settings: Settings, store: Store) -> dict[str, Channel]:
        self.keys = [str(k) for k in store.table("messages").message_key.to_pyarrow()]
        return {name: NullChannel(name) for name in NAMES}

    def received(self, channels: Mapping[str, Channel]) -> Received:
        count = sum(c.sent for c in channels.values() if isinstance(c, NullChannel))
        return Received(Counter(self.keys[:count]))


class SmtpTarget(Target):
    """The SMTP channel to an aiosmtpd sink counting by Message-ID."""

    def __init__(self, kind: str, directory: Path, receiver: str) -> None:
        self.sink = Receiver("smtp")
        self.ids: dict[str, str] = {}

    def settings(self) -> dict[str, Any]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.sink.port, **EMAIL_SETTINGS}

    def channels(self, settings: Settings, store: Store) -> dict[str, Channel]:
        keys = [str(k) for k in store.table("messages").message_key.to_pyarrow()]
        domains = {sender_domain(settings), "tenure.invalid"}  # plain, row
        self.ids = {message_id(k, d): k for k in keys for d in domains}
        return build_channels(settings, store=store, only=["email"])

    def received(self, channels: Mapping[str, Channel]) -> Received:
        counted = self.sink.finish()
        copies = Counter({self.ids.get(i, i): n for i, n in counted["keys"].items()})
        return Received(copies, int(counted["refused"]), float(counted["cpu"]))


class WebhookTarget(Target):
    """The webhook channel to a loopback receiver checking signatures, counting by key."""

    def __init__(self, kind: str, directory: Path, receiver: str) -> None:
        self.receiver = Receiver(receiver)

    def settings(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.receiver.port}/hook"
        return {"webhook_url": url, "webhook_secret": SECRET}

    def channels(self, settings: Settings, store: Store) -> dict[str, Channel]:
        return build_channels(settings, store=store, only=["webhook"])

    def received(self, channels: Mapping[str, Channel]) -> Received:
        counted = self.receiver.finish()
        keys = Counter(counted["keys"])
        return Received(keys, int(counted["refused"]), float(counted["cpu"]))


#: ``--channel`` -> the target of a run, from (kind, a working directory, ``--receiver``).
CHANNELS: dict[str, Callable[[str, Path, str], Target]] = {
    "file": FileTarget,
    "null": NullTarget,
    "smtp": SmtpTarget,
    "webhook": WebhookTarget,
}
#: The only kind each real channel sends.
KIND_OF = {"smtp": "email", "webhook": "webhook"}


class RowRenderer:
    """Every message from its row alone (no query): the dispatcher's own cost."""

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Outgoing | DeliveryError]:
        return [
            Outgoing(
                message_key=r["message_key"],
                flow=r["flow"],
                step=r["step"],
                person_id=r["person_id"],
                channel=r["channel"],
                to=f"{r['person_id']}@example.com",
                message_id=message_id(r["message_key"]),
                subject="Hello",
                text="Hello\n",
            )
            for r in rows
        ]


def build(path: Path, n: int, kind: str) -> None:
    """The store of ``n`` persons and messages (the module says which)."""
    due = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    ids = [f"p{i:07d}" for i in range(n)]
    emails = [f"u{i:07d}@example.com" for i in range(n)]
    if kind == "both":
        channels = ["email" if i % 2 == 0 else "webhook" for i in range(n)]
    else:
        channels = [kind] * n
    with Store(f"duckdb://{path}") as store:
        store.insert(
            "identities",
            pa.table({"kind": ["email"] * n, "value": emails, "person_id": ids}),
        )
        store.insert(
            "consents",
            pa.table(
                {
                    "identifier": emails,
                    "identifier_kind": ["email"] * n,
                    "channel": ["email"] * n,
                    "status": ["subscribed"] * n,
                    "at": pa.array([due - timedelta(days=30)] * n, pa.timestamp("us")),
                }
            ),
        )
        stamp = pa.array([due] * n, pa.timestamp("us"))
        store.insert(
            "messages",
            pa.table(
                {
                    "message_key": [f"k{i:07d}" for i in range(n)],
                    "flow": ["bench"] * n,
                    "step": ["hello"] * n,
                    "person_id": ids,
                    "trigger_id": [f"t{i}" for i in range(n)],
                    "channel": channels,
                    "payload": ['{"subject": "Hello"}'] * n,
                    "state": ["pending"] * n,
                    "decided_at": stamp,
                    "due_at": stamp,
                    "attempts": pa.array([0] * n, pa.int64()),
                    "resends": pa.array([0] * n, pa.int64()),
                    "updated_at": stamp,
                }
            ),
        )


def settings_for(path: Path, work: Path, target: Target, args: argparse.Namespace) -> Settings:
    """The run's settings: the store, the target's channel settings, no user templates."""
    extra: dict[str, Any] = {}
    if args.connections is not None:
        extra["smtp_connections_per_domain"] = args.connections
    return load_settings(
        store_url=f"duckdb://{path}",
        templates_dir=work / "templates",
        flows_dir=work / "flows",
        **target.settings(),
        **extra,
    )


def tally(args: argparse.Namespace, got: Received) -> dict[str, Any]:
    """Received, duplicates (copies past the first), lost (expected, not received)."""
    expected = {f"k{i:07d}" for i in range(args.messages)}
    copies = got.copies
    return {
        "received": sum(copies.values()),
        "duplicates": sum(n - 1 for n in copies.values() if n > 1),
        "lost": len(expected - copies.keys()),
        "unexpected": sum(n for k, n in copies.items() if k not in expected),
        "refused": got.refused,
        "receiver_cpu_s": None if got.cpu is None else round(got.cpu, 2),
    }


def run_once(args: argparse.Namespace, built: Path, work: Path) -> dict[str, Any]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    path = work / "store.duckdb"
    shutil.copy(built, path)
    target = CHANNELS[args.channel](args.kind, work / "out", args.receiver)
    settings = settings_for(path, work, target, args)
    with Store(settings.store_url, settings=settings) as store:
        channels = target.channels(settings, store)
        renderer = (
            RowRenderer()
            if args.renderer == "row"
            else build_renderer(store, settings, datetime.now(UTC).replace(tzinfo=None))
        )
        started = time.perf_counter()
        result = dispatch(
            store,
            channels=channels,
            renderer=renderer,
            batch=args.batch,
            concurrency=args.concurrency,
        )
        seconds = time.perf_counter() - started
        for channel in channels.values():
            channel.close()
        m = store.table("messages")
        states = {
            r["state"]: r["n"]
            for r in m.group_by("state").agg(n=m.count()).to_pyarrow().to_pylist()
        }
    run = {
        "seconds": round(seconds, 3),
        "per_second": round(args.messages / seconds, 1),
        "sent": result.sent,
        "batches": result.batches,
        **tally(args, target.received(channels)),
    }
    print(json.dumps(run), file=sys.stderr)
    assert states == {"sent": args.messages}, states
    checks = ("duplicates", "lost", "unexpected", "refused")
    assert run["received"] == args.messages and not any(run[c] for c in checks), run
    return run


def summary(runs: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    rates = [float(r["per_second"]) for r in runs]
    return {
        "median": round(statistics.median(rates), 1),
        "min": min(rates),
        "max": max(rates),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--kind", choices=("email", "webhook", "both"), default="email")
    parser.add_argument("--channel", choices=sorted(CHANNELS), default="null")
    parser.add_argument("--receiver", choices=("asyncio", "threaded"), default="asyncio")
    parser.add_argument("--renderer", choices=("plain", "row"), default="plain")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--connections", type=int, default=None, help="SMTP, per domain")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("bench-data/dispatch"))
    args = parser.parse_args(argv)
    if KIND_OF.get(args.channel, args.kind) != args.kind:
        parser.error(f"--channel {args.channel} sends --kind {KIND_OF[args.channel]} only")
    args.dir.mkdir(parents=True, exist_ok=True)
    built = args.dir / f"outbox_{args.kind}_{args.messages}.duckdb"
    if not built.exists():
        started = time.perf_counter()
        build(built, args.messages, args.kind)
        print(f"built {built} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    runs = [run_once(args, built, args.dir / "run") for _ in range(args.repeats)]
    report = {
        "messages": args.messages,
        "kind": args.kind,
        "channel": args.channel,
        "receiver": args.receiver if args.channel == "webhook" else None,
        "renderer": args.renderer,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "per_second": summary(runs),
        "best": min(runs, key=lambda r: r["seconds"]),
        "runs": runs,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
