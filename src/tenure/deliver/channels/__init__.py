"""The channels messages are sent by (docs/delivery.md, "Channels"): :func:`build_channels`
gives the dispatcher one :class:`tenure.deliver.channel.Channel` per channel name."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from tenure.config import Settings
from tenure.deliver.channel import Channel
from tenure.engage.consent import CHANNELS
from tenure.errors import ConfigError
from tenure.store import Store

#: The setting that switches each channel on (unset: the channel is not built).
SWITCH = {
    "email": "smtp_host",
    "sms": "sms_url",
    "webhook": "webhook_url",
    "onsite": None,
    "trait": None,
}
#: The channels that need no setting, only the store: built whenever there is a store.
STORE_ONLY = ("onsite", "trait")


def _need(settings: Settings, channel: str, *names: str) -> None:
    """A ConfigError naming the first of ``names`` that is not set."""
    for name in names:
        if not getattr(settings, name):
            raise ConfigError(
                f"The {channel} channel needs the setting {name} (TENURE_{name.upper()}).",
                hint=f"Set {name} in tenure.toml or the environment (docs/configuration.md).",
            )


def email_channel(settings: Settings, store: Store | None) -> Channel:
    """SMTP, with one-click unsubscribe required (public_url, unsubscribe_secret)."""
    del store
    _need(settings, "email", "smtp_host", "email_from", "public_url", "unsubscribe_secret")
    from tenure.deliver.channels.smtp import SmtpChannel

    assert settings.smtp_host is not None and settings.email_from is not None
    return SmtpChannel(
        settings.smtp_host,
        settings.smtp_port,
        sender=settings.email_from,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout=settings.smtp_timeout,
        per_domain=settings.smtp_connections_per_domain,
    )


def webhook_channel(settings: Settings, store: Store | None) -> Channel:
    del store
    _need(settings, "webhook", "webhook_url", "webhook_secret")
    from tenure.deliver.channels.webhook import WebhookChannel

    assert settings.webhook_url is not None and settings.webhook_secret is not None
    return WebhookChannel(
        settings.webhook_url, settings.webhook_secret, timeout=settings.http_timeout
    )


def sms_channel(settings: Settings, store: Store | None) -> Channel:
    del store
    _need(settings, "sms", "sms_url")
    from tenure.deliver.channels.sms import SmsChannel

    assert settings.sms_url is not None
    return SmsChannel(
        settings.sms_url,
        auth=settings.sms_auth_header,
        sender=settings.sms_from,
        timeout=settings.http_timeout,
    )


def onsite_channel(settings: Settings, store: Store | None) -> Channel:
    del settings
    if store is None:
        raise ConfigError(
            "The onsite channel keeps its messages in the store: build it with a store.",
            hint="Call build_channels(settings, store=store).",
        )
    from tenure.deliver.channels.onsite import OnsiteChannel

    return OnsiteChannel(store)


def trait_channel(settings: Settings, store: Store | None) -> Channel:
    del settings
    if store is None:
        raise ConfigError(
            "The trait channel sets traits on the store's customer records: build it with a store.",
            hint="Call build_channels(settings, store=store).",
        )
    from tenure.deliver.channels.trait import TraitChannel

    return TraitChannel(store)


BUILDERS: dict[str, Callable[[Settings, Store | None], Channel]] = {
    "email": email_channel,
    "sms": sms_channel,
    "webhook": webhook_channel,
    "onsite": onsite_channel,
    "trait": trait_channel,
}


def configured(settings: Settings, store: Store | None = None) -> list[str]:
    """The channel names whose switching setting is set (onsite: when there is a store)."""
    on = []
    for name, switch in SWITCH.items():
        if (switch is None and store is not None) or (switch and getattr(settings, switch)):
            on.append(name)
    return on


def build_channels(
    settings: Settings,
    *,
    store: Store | None = None,
    dry_run: Path | None = None,
    only: Iterable[str] | None = None,
) -> dict[str, Channel]:
    """One channel per channel name, configured by ``settings`` (the on-site channel keeps its
    messages in ``store``). ``dry_run``: every channel writes to files in that directory
    instead of sending (the file channel).

    Without ``only``: every channel whose switching setting is set (``smtp_host``,
    ``sms_url``, ``webhook_url``; onsite with a store), each fully configured or a
    ConfigError naming the missing setting; none of e-mail, SMS or webhook is a ConfigError
    (an on-site-only setup names it: ``only=["onsite"]``). ``only``: exactly
    those channels, each one refused with a ConfigError naming its missing setting."""
    if dry_run is not None:
        from tenure.deliver.channels.files import FileChannel

        return {name: FileChannel(name, dry_run) for name in CHANNELS}
    names = list(only) if only is not None else configured(settings, store)
    if only is None and not [n for n in names if n not in STORE_ONLY]:
        raise ConfigError(
            "No delivery channel is configured.",
            hint="Set smtp_host (e-mail), webhook_url, sms_url, or pass --dry-run DIR to "
            'write the messages to files (docs/delivery.md, "Channels").',
        )
    built: dict[str, Channel] = {}
    try:
        for name in names:
            if name not in BUILDERS:
                raise ConfigError(
                    f"No channel named {name!r}.", hint=f"Channels: {', '.join(BUILDERS)}."
                )
            built[name] = BUILDERS[name](settings, store)
    except ConfigError:
        for channel in built.values():
            channel.close()
        raise
    return built
