"""Who owns a DuckDB store file: the owner file ``tenure serve`` writes beside the store.

DuckDB lets one process write a file at a time. While ``tenure serve`` holds a store it
writes ``<store>.serve.json`` (its pid, URL and start time) beside it and removes it when it
stops; a command that then finds the file locked reads it to say which server holds the
store and what to do (:func:`owner_message`). A file left by a process that died (its pid is
no longer running) is ignored.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: The suffix of the owner file: ``shop.duckdb`` -> ``shop.duckdb.serve.json``.
OWNER_SUFFIX = ".serve.json"


def owner_path(store_path: Path | str) -> Path:
    """The owner file of the DuckDB file ``store_path``."""
    path = Path(store_path)
    return path.with_name(path.name + OWNER_SUFFIX)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (signal 0: nothing is sent)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    except OSError:
        return False
    return True


def write_owner(store_path: Path | str, *, url: str | None, pid: int | None = None) -> Path:
    """Record this process (or ``pid``) as the owner of ``store_path``; returns the file.
    Written to a temporary file then renamed: a reader never sees half of it."""
    target = owner_path(store_path)
    body = {
        "pid": os.getpid() if pid is None else pid,
        "url": url,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "tenure serve",
    }
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    tmp.replace(target)
    return target


def remove_owner(store_path: Path | str, *, pid: int | None = None) -> None:
    """Remove the owner file of ``store_path`` if this process (or ``pid``) wrote it."""
    target = owner_path(store_path)
    found = _read(target)
    mine = os.getpid() if pid is None else pid
    if found is not None and found.get("pid") != mine:
        return  # another server's: not ours to remove
    target.unlink(missing_ok=True)


def _read(target: Path) -> dict[str, Any] | None:
    try:
        body = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def read_owner(store_path: Path | str) -> dict[str, Any] | None:
    """The owner of ``store_path`` (``pid``, ``url``, ``started``), or None: no owner file,
    an unreadable one, or one whose process no longer runs (stale: ignored)."""
    found = _read(owner_path(store_path))
    if found is None:
        return None
    pid = found.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    return found


def owner_message(store_path: Path | str) -> tuple[str, str] | None:
    """The message and hint for a store held by a live ``tenure serve``, or None."""
    owner = read_owner(store_path)
    if owner is None:
        return None
    where = f"pid {owner['pid']}" + (f", {owner['url']}" if owner.get("url") else "")
    message = (
        f"The store {Path(store_path).name} is owned by `tenure serve` ({where}): use its "
        "HTTP API (docs/service.md) or stop it first."
    )
    hint = (
        "While `tenure serve` runs, it alone opens the store: its worker runs the pipeline, "
        "the flows and the dispatcher, and its admin API answers queries. Stop it (SIGTERM "
        "or Ctrl-C) to run other `tenure` commands on this store."
    )
    return message, hint
