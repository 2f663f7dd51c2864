"""Delivery: the outbox over the flows' decided messages, the channels that send them
(SMTP, webhooks, SMS, on-site, files), templates, unsubscribe and measurement
(docs/delivery.md)."""
