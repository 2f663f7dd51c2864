"""Run one benchmark step in a fresh process and read its result and peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def in_child(script: str, step: str, path: Path) -> dict[str, Any]:
    """Run ``python script --child step path``; its last stdout line is a JSON result.

    Adds ``peak_rss_mb``, the child's own peak resident memory.
    """
    proc = subprocess.Popen(
        [sys.executable, script, "--child", step, str(path)], stdout=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    assert proc.stdout is not None
    output = proc.stdout.read()
    if status != 0:
        raise SystemExit(f"{step} on {path} failed (status {status})")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result
