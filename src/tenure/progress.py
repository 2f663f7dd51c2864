"""Progress reporting: library code reports, the CLI draws (Rich progress bars on stderr).

A long-running library function takes an optional ``progress`` callable and calls it as
``progress(task, completed, total)``; ``total`` may be ``None`` when unknown. The library
never prints.

A task named ``"Group: step"`` is one named step of a group (``"Pipeline: customer_facts"``,
2 of 6): a renderer shows one line per group, with the step it is on and the group's count
(:func:`split_task`). :class:`Steps` reports such named steps, ``k of n``; a plain task name
counts units of one kind (rows, customers, models fitted, propagation rounds).
"""

from __future__ import annotations

from typing import Protocol

#: Between a task's group and its current step: ``"Pipeline: customer_facts"``.
STEP_SEPARATOR = ": "


class ProgressCallback(Protocol):
    """Called by long-running work: the task's name, units done so far, units in all."""

    def __call__(self, task: str, completed: int, total: int | None) -> None: ...


def no_progress(task: str, completed: int, total: int | None) -> None:
    """The default callback: report nothing."""


def step_task(group: str, step: str) -> str:
    """The task name of step ``step`` of ``group``: ``"Pipeline: customer_facts"``."""
    return f"{group}{STEP_SEPARATOR}{step}"


def split_task(task: str) -> tuple[str, str | None]:
    """``(group, step)`` of a task name; ``step`` is None for a plain task."""
    group, sep, step = task.partition(STEP_SEPARATOR)
    return (group, step) if sep else (task, None)


class Steps:
    """Reports the named steps of ``group``, one after another, as ``k of n``.

    ``steps("fit BetaGeo")`` says that step is starting (the steps before it are done);
    ``steps.done()`` that the last one finished. With no callback it reports nothing."""

    def __init__(self, progress: ProgressCallback | None, group: str, total: int) -> None:
        self.progress = progress or no_progress
        self.group = group
        self.total = total
        self.completed = 0
        self.current: str | None = None

    def __call__(self, step: str) -> None:
        if self.current is not None:
            self.completed += 1
        self.current = step
        self.progress(step_task(self.group, step), min(self.completed, self.total), self.total)

    def done(self) -> None:
        """The last step has finished."""
        self.completed = self.total
        self.progress(step_task(self.group, self.current or "done"), self.total, self.total)

    def detail(self, text: str) -> None:
        """Say how far the current step is (``"round 3"``, ``"1,200 of 5,000 rows"``),
        shown after its name; the count of steps does not move."""
        name = f"{self.current} ({text})" if self.current else text
        self.progress(step_task(self.group, name), min(self.completed, self.total), self.total)
