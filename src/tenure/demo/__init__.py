"""The demo store: a deterministic synthetic online store with its generating truth.

``generate_demo(store)`` writes customers, products, orders and lines, Segment events,
marketing spend, consents and suppressions, feedback (NPS answers, product reviews) and
referrals into ``store``, and every generating parameter
into ``generator_truth`` (docs/demo.md describes the process). Same seed, same store.

Modules: :mod:`~tenure.demo.params` (the parameters), :mod:`~tenure.demo.clock` (seasonality
and operational time), :mod:`~tenure.demo.buyers` (BG/NBD and gamma-gamma draws),
:mod:`~tenure.demo.people` (identifiers, devices, customer records), :mod:`~tenure.demo.catalog`
(products and baskets), :mod:`~tenure.demo.orders`, :mod:`~tenure.demo.sessions` and
:mod:`~tenure.demo.events` (Segment events), :mod:`~tenure.demo.marketing` (spend,
consents), :mod:`~tenure.demo.feedback` (satisfaction, NPS answers, reviews, referrals),
:mod:`~tenure.demo.truth` and :mod:`~tenure.demo.generate` (the entry point).
"""

from tenure.demo.generate import DEFAULT_TASTE, DEMO_TABLES, DemoSummary, generate_demo

__all__ = ["DEFAULT_TASTE", "DEMO_TABLES", "DemoSummary", "generate_demo"]
