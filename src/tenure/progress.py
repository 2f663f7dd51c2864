"""Progress reporting: library code reports, the CLI draws (Rich progress bars).

A long-running library function takes an optional ``progress`` callable and calls it as
``progress(task, completed, total)``; ``total`` may be ``None`` when unknown. The library
never prints.
"""

from __future__ import annotations

from typing import Protocol


class ProgressCallback(Protocol):
    """Called by long-running work: the task's name, units done so far, units in all."""

    def __call__(self, task: str, completed: int, total: int | None) -> None: ...


def no_progress(task: str, completed: int, total: int | None) -> None:
    """The default callback: report nothing."""
