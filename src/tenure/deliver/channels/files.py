"""The file channel: each message written as one JSON line to ``<dir>/<channel>.jsonl``, for
dry runs and tests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from tenure.deliver.channel import Outgoing, Receipt


class FileChannel:
    """Appends each message to ``<directory>/<name>.jsonl`` (one JSON object per line)."""

    def __init__(self, name: str, directory: Path) -> None:
        self.name = name
        self.directory = Path(directory)

    def send(self, message: Outgoing) -> Receipt:
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(dataclasses.asdict(message), sort_keys=True, default=str)
        with (self.directory / f"{self.name}.jsonl").open("a", encoding="utf-8") as f:
            f.write(line + "\n")
        return Receipt(provider_id=message.message_id, detail="written")

    def close(self) -> None:
        return None
