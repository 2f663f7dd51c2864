"""The channels messages are sent by (docs/delivery.md, "Channels"): :func:`build_channels`
gives the dispatcher one :class:`tenure.deliver.channel.Channel` per channel name."""

from __future__ import annotations

from pathlib import Path

from tenure.config import Settings
from tenure.deliver.channel import Channel
from tenure.engage.consent import CHANNELS
from tenure.errors import ConfigError
from tenure.store import Store


def build_channels(
    settings: Settings, *, store: Store | None = None, dry_run: Path | None = None
) -> dict[str, Channel]:
    """One channel per channel name, configured by ``settings`` (the on-site channel keeps its
    messages in ``store``). ``dry_run``: every channel writes to files in that directory
    instead of sending (the file channel)."""
    del settings, store
    if dry_run is None:
        raise ConfigError(
            "No delivery channel is configured.",
            hint="Pass --dry-run DIR to write the messages to files.",
        )
    from tenure.deliver.channels.files import FileChannel

    return {name: FileChannel(name, dry_run) for name in CHANNELS}
