"""The service's Prometheus metrics (``GET /metrics``, the text exposition format).

One :class:`Metrics` per application (its own registry, so two apps in one process, as in the
tests, never share counts). The collector counts what it receives, stores and rejects and
reports its queue; the worker times its steps; the messages by state are read from the store
when scraped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def _registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@dataclass
class Metrics:
    """The counters, gauges and histograms of one application."""

    registry: CollectorRegistry = field(default_factory=_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_received = Counter(
            "tenure_events_received", "Events received by the collector (valid or not).", registry=r
        )
        self.events_durable = Counter(
            "tenure_events_durable",
            "Events written to the collector's log and acknowledged.",
            registry=r,
        )
        self.events_stored = Counter(
            "tenure_events_stored", "Events loaded into the store's events table.", registry=r
        )
        self.events_rejected = Counter(
            "tenure_events_rejected",
            "Events refused (kept with their reason), by reason.",
            ["reason"],
            registry=r,
        )
        self.events_suppressed = Counter(
            "tenure_events_suppressed",
            "Events of deleted (suppressed) persons: acknowledged, counted, never stored.",
            registry=r,
        )
        self.queue_depth = Gauge(
            "tenure_collector_queue_depth",
            "Events acknowledged and not yet loaded into the store.",
            registry=r,
        )
        self.step_seconds = Histogram(
            "tenure_step_seconds",
            "Duration of the worker's steps (pipeline steps, flow ticks, dispatch passes).",
            ["step"],
            registry=r,
        )
        self.messages = Gauge(
            "tenure_messages",
            "Messages of the outbox by state (read when scraped).",
            ["state"],
            registry=r,
        )
