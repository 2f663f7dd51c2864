"""One error hierarchy for Tenure.

Every error a user can cause derives from :class:`TenureError`. Errors are either
*terminal* (retrying the same thing gives the same failure: bad input, bad settings)
or *transient* (a later retry may succeed: a locked store file, a busy network peer).
The outbox and the CLI decide what to do from ``error.transient``, never from the text.
"""

from __future__ import annotations


class TenureError(Exception):
    """Root of every error Tenure raises on purpose."""

    transient: bool = False
    #: Exit code the CLI uses for this error.
    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\nHint: {hint}")


class TerminalError(TenureError):
    """An error that a retry of the same operation cannot fix."""

    transient = False


class TransientError(TenureError):
    """An error that may go away if the same operation is retried later."""

    transient = True


class ConfigError(TerminalError):
    """A setting or a parameter has an invalid value."""

    exit_code = 2


class NotFoundError(TerminalError):
    """A value the user gave (a person, an identifier, an id) names nothing in the store, or
    names several things where one is needed."""


class ForecastError(TerminalError):
    """A series cannot be forecast: too little history for the model, or a horizon longer
    than the history (the goals' forecast, :mod:`tenure.advisor.forecast`)."""

    exit_code = 2


class StoreError(TerminalError):
    """The store cannot be opened or used as asked."""


class StoreLockedError(TransientError):
    """Another process holds the store file open for writing."""


class StoreReadOnlyError(StoreError):
    """Something was to be written to a store opened read-only (``--read-only``)."""

    #: what was to be written (a table name)
    table: str = ""


class StoreUrlError(StoreError):
    """The store URL names no store that can be opened: a bad argument (exit code 2)."""

    exit_code = 2


class StoreVersionError(StoreError):
    """The store was written by a newer Tenure than this one."""


class UnknownTableError(StoreError):
    """A canonical table name was asked for that the data model does not have."""


class IngestError(TerminalError):
    """An input file cannot be imported at all (missing, unreadable, wrong shape)."""


class MappingError(IngestError):
    """A column mapping or preset is invalid for the file it is applied to."""


class MappingArgumentError(MappingError, ConfigError):
    """The preset or mapping asked for cannot be used at all (an unknown preset, a preset and
    a mapping together, another entity's mapping): a bad argument, exit code 2."""

    exit_code = 2


class QuarantineThresholdError(IngestError):
    """More rows were quarantined than the allowed share."""

    exit_code = 3


class PipelineStepError(TerminalError):
    """A pipeline step failed: its previous tables are kept, the steps after it skipped."""

    #: the step that failed, and the run's result (every step's outcome)
    step: str = ""
    result: object = None


class DeliveryError(TerminalError):
    """A message cannot be delivered and retrying will not help (a bad address, a permanent
    SMTP reply, a 4xx webhook answer other than 429, a template that does not render)."""


class DeliveryRetryError(TransientError):
    """A message could not be delivered this time but may be later (a timeout, a refused
    connection, a 4xx SMTP reply, a 429 or 5xx webhook answer): retried with backoff."""


class TransitionError(TerminalError):
    """The outbox refused a transition: the message is not in a state it may leave that way
    (docs/delivery.md, "The outbox: states and transitions")."""


def translate_driver_error(exc: BaseException, *, store_url: str) -> TenureError | None:
    """Map a database driver exception to a Tenure error, by type, in one place.

    Returns ``None`` when the exception is not one Tenure knows how to explain.
    """
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a hard dependency
        return None
    if isinstance(exc, duckdb.IOException):
        return StoreLockedError(
            f"Cannot open the store {store_url!r}: {exc}",
            hint="Another process may hold the file (another `tenure` command): wait for it "
            "to finish, or stop it; or point --store at another file.",
        )
    if isinstance(exc, duckdb.SerializationException | duckdb.InvalidInputException):
        return StoreError(
            f"The store {store_url!r} cannot be read: {exc}",
            hint="Is it a DuckDB file written by a compatible DuckDB version?",
        )
    return None
