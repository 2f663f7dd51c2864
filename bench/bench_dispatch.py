"""Benchmark: the dispatcher's throughput (issue 17, "Benchmark"): one dispatch pass over a
store of N pending messages, timed, in messages per second.

    PYTHONPATH=src python bench/bench_dispatch.py --messages 20000 --kind email --channel null
    PYTHONPATH=src python bench/bench_dispatch.py --messages 20000 --kind webhook --channel file

The store holds N persons, each with an e-mail address and a subscribed e-mail consent, and
one pending message each (``--kind email``, ``webhook`` or ``both``: half and half), due an
hour ago. It is built once per size in ``--dir`` and copied before each run (not timed). A
run opens the copy, builds the channels (``--channel``, :data:`CHANNELS`: a function of the
kind giving the channel of each channel name, so ``smtp`` and ``webhook`` against loopback
sinks slot in beside ``file`` and ``null``) and the renderer (``--renderer``: ``plain``, the
one ``tenure dispatch`` uses, :func:`tenure.deliver.render.build_renderer`; or ``row``, built
from the row alone, to time the dispatcher without the renderer), then times
:func:`tenure.deliver.dispatcher.dispatch` (the send policy re-checked, as always). After
each run every message must be ``sent``, and the channel must have received each exactly
once (``file``: the lines of its files; ``null``: its count): zero duplicates, zero lost.
Best of ``--repeats`` (the machine is shared: timings are noisy).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from tenure import Store
from tenure.deliver.channel import Channel, Outgoing
from tenure.deliver.channels.files import FileChannel, NullChannel
from tenure.deliver.dispatcher import dispatch
from tenure.deliver.render import build_renderer, message_id
from tenure.errors import DeliveryError

NAMES = ("email", "webhook")


def file_channels(kind: str, directory: Path) -> dict[str, Channel]:
    return {name: FileChannel(name, directory) for name in NAMES}


def null_channels(kind: str, directory: Path) -> dict[str, Channel]:
    return {name: NullChannel(name) for name in NAMES}


#: ``--channel`` -> a function of (kind, a working directory) giving the channels by name.
CHANNELS: dict[str, Callable[[str, Path], dict[str, Channel]]] = {
    "file": file_channels,
    "null": null_channels,
}


def received(channels: Mapping[str, Channel], directory: Path) -> Counter[str] | int:
    """What the channels received: message key -> copies (file), or a count (null)."""
    if all(isinstance(c, NullChannel) for c in channels.values()):
        return sum(c.sent for c in channels.values() if isinstance(c, NullChannel))
    copies: Counter[str] = Counter()
    for path in directory.glob("*.jsonl"):
        copies.update(json.loads(line)["message_key"] for line in path.read_text().splitlines())
    return copies


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


def run_once(args: argparse.Namespace, built: Path, work: Path) -> dict[str, Any]:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    path = work / "store.duckdb"
    shutil.copy(built, path)
    out = work / "out"
    with Store(f"duckdb://{path}") as store:
        channels = CHANNELS[args.channel](args.kind, out)
        renderer = (
            RowRenderer()
            if args.renderer == "row"
            else build_renderer(store, store.settings, datetime.now(UTC).replace(tzinfo=None))
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
    got = received(channels, out)
    if isinstance(got, int):
        lost, duplicates = args.messages - got, 0
    else:
        lost = args.messages - len(got)
        duplicates = sum(c - 1 for c in got.values())
    assert states == {"sent": args.messages}, states
    assert lost == 0 and duplicates == 0, (lost, duplicates)
    return {
        "seconds": round(seconds, 3),
        "per_second": round(args.messages / seconds, 1),
        "sent": result.sent,
        "batches": result.batches,
        "lost": lost,
        "duplicates": duplicates,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--kind", choices=("email", "webhook", "both"), default="email")
    parser.add_argument("--channel", choices=sorted(CHANNELS), default="null")
    parser.add_argument("--renderer", choices=("plain", "row"), default="plain")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("bench-data/dispatch"))
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    built = args.dir / f"outbox_{args.kind}_{args.messages}.duckdb"
    if not built.exists():
        started = time.perf_counter()
        build(built, args.messages, args.kind)
        print(f"built {built} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    runs = [run_once(args, built, args.dir / "run") for _ in range(args.repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    report = {
        "messages": args.messages,
        "kind": args.kind,
        "channel": args.channel,
        "renderer": args.renderer,
        "batch": args.batch,
        "concurrency": args.concurrency,
        "best": best,
        "runs": [r["seconds"] for r in runs],
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
