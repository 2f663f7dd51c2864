"""Fixtures of the channel tests (tests/deliver/channels/channelkit.py)."""

from tests.deliver.channels.channelkit import (  # noqa: F401 (fixtures)
    empty_store_path,
    receiver,
    sms_receiver,
    smtp_server,
    store,
)
