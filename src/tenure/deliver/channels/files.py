"""The file channel: each message written as one JSON line to ``<dir>/<channel>.jsonl``, for
dry runs and tests."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import IO

from tenure.deliver.channel import Outgoing, Receipt


class FileChannel:
    """Appends each message to ``<directory>/<name>.jsonl`` (one JSON object per line).
    Thread-safe: the dispatcher's threads share one file handle behind a lock; each line is
    flushed to the operating system before ``send`` returns, so a process killed afterwards
    (even by SIGKILL) leaves it in the file, as a provider that accepted a message keeps it."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = Path(directory)
        self.path = self.directory / f"{name}.jsonl"
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def send(self, message: Outgoing) -> Receipt:
        line = json.dumps(dataclasses.asdict(message), sort_keys=True, default=str) + "\n"
        with self._lock:
            if self._file is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            self._file.write(line)
            self._file.flush()
        return Receipt(provider_id=message.message_id, detail="written")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class NullChannel:
    """Accepts every message and keeps nothing but a count (benchmarks: the dispatcher's own
    cost). Thread-safe."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent = 0
        self._lock = threading.Lock()

    def send(self, message: Outgoing) -> Receipt:
        with self._lock:
            self.sent += 1
        return Receipt(provider_id=message.message_id, detail="dropped")

    def close(self) -> None:
        return None
