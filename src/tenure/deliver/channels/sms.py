"""The SMS channel: each message POSTed to a provider's HTTP endpoint (``sms_url``) as
``{"to": E.164 number, "text": ..., "from": sms_from, "id": message key}`` with the
``sms_auth_header`` and ``Idempotency-Key``; the answers are classified as the webhook's
(2xx sent; 408, 429, 5xx and timeouts retried; other statuses final)."""

from __future__ import annotations

import json

from tenure.deliver.channel import Outgoing, Receipt
from tenure.deliver.channels.webhook import IDEMPOTENCY_HEADER, http_client, post_json
from tenure.errors import ConfigError, DeliveryError


def auth_header(value: str | None) -> dict[str, str]:
    """``Name: value`` as a header dict (empty for None); a ConfigError naming
    ``sms_auth_header`` when it is not of that form."""
    if not value:
        return {}
    name, colon, content = value.partition(":")
    if not colon or not name.strip() or any(c in value for c in "\r\n"):
        raise ConfigError(
            "sms_auth_header must be one line, `Name: value` (e.g. `Authorization: Bearer TOKEN`).",
            hint="Fix TENURE_SMS_AUTH_HEADER.",
        )
    return {name.strip(): content.strip()}


class SmsChannel:
    """Sends each message's text through the provider endpoint (thread-safe)."""

    name = "sms"

    def __init__(
        self,
        url: str,
        *,
        auth: str | None = None,
        sender: str | None = None,
        timeout: float = 10.0,
        connections: int = 16,
    ) -> None:
        self.url = url
        self.headers = auth_header(auth)
        self.sender = sender
        self.client = http_client(timeout, connections)

    def send(self, message: Outgoing) -> Receipt:
        if not message.to.startswith("+") or not message.to[1:].isdigit():
            raise DeliveryError(
                f"SMS {message.message_key}: {message.to!r} is not an E.164 phone number."
            )
        text = message.text.strip()
        if not text:
            raise DeliveryError(f"SMS {message.message_key}: the rendered text is empty.")
        fields = {"to": message.to, "text": text, "id": message.message_key}
        if self.sender:
            fields["from"] = self.sender
        body = json.dumps(fields, sort_keys=True).encode()
        headers = {**self.headers, IDEMPOTENCY_HEADER: message.message_key}
        return post_json(self.client, self.url, body, headers, what=f"SMS {message.message_key}")

    def close(self) -> None:
        self.client.close()
