"""The canonical data model: every table Tenure stores, its columns and its natural key.

This module is the single source of truth; ``docs/data-model.md`` documents it column by
column and a test checks that the two agree. Conventions:

* timestamps are stored in UTC without a zone (``timestamp``), dates as ``date``;
* money is ``decimal(18, 4)`` next to an ISO 4217 ``currency`` column, never a float;
* free-form structures (traits, event properties and context) are JSON text;
* every imported table records the ``source`` it came from (file or preset) and when.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt

MONEY = dt.Decimal(18, 4)
RATE = dt.Decimal(18, 8)


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its name, Ibis schema and natural key columns."""

    name: str
    schema: ibis.Schema
    key: tuple[str, ...]
    doc: str

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)


def _spec(table_name: str, key: tuple[str, ...], doc: str, **columns: object) -> TableSpec:
    return TableSpec(name=table_name, schema=ibis.schema(columns), key=key, doc=doc)


_AUDIT = {"source": "string", "imported_at": "timestamp"}
_UTM = {
    "utm_source": "string",
    "utm_medium": "string",
    "utm_campaign": "string",
    "utm_term": "string",
    "utm_content": "string",
}

CUSTOMERS = _spec(
    "customers",
    ("customer_id",),
    "Customer records as the store knows them (one row per store customer id).",
    customer_id="string",
    email="string",
    phone="string",
    first_name="string",
    last_name="string",
    country="string",
    timezone="string",
    created_at="timestamp",
    accepts_marketing="boolean",
    traits="string",
    **_AUDIT,
    # added by migration 11: who referred the customer (customer id, email or code)
    referred_by="string",
)

IDENTITIES = _spec(
    "identities",
    ("kind", "value"),
    "Every identifier seen (email, phone, user_id, anonymous_id, customer_id) and its person.",
    kind="string",
    value="string",
    person_id="string",
    first_seen="timestamp",
    last_seen="timestamp",
    source="string",
)

EVENTS = _spec(
    "events",
    ("message_id",),
    "Behavioural events in Segment's spec (track, identify, page, screen, alias, group).",
    message_id="string",
    type="string",
    event="string",
    anonymous_id="string",
    user_id="string",
    previous_id="string",
    timestamp="timestamp",
    sent_at="timestamp",
    received_at="timestamp",
    properties="string",
    traits="string",
    context="string",
    **_UTM,
    **_AUDIT,
)

ORDERS = _spec(
    "orders",
    ("order_id",),
    "Orders: one row per order, money in the order's currency.",
    order_id="string",
    customer_id="string",
    email="string",
    ordered_at="timestamp",
    currency="string",
    subtotal=MONEY,
    discount=MONEY,
    shipping=MONEY,
    tax=MONEY,
    total=MONEY,
    refunded=MONEY,
    status="string",
    coupon="string",
    channel="string",
    utm_source="string",
    utm_medium="string",
    utm_campaign="string",
    **_AUDIT,
    # added by migration 11: the referral code the order came with
    referral_code="string",
)

ORDER_ITEMS = _spec(
    "order_items",
    ("order_id", "line"),
    "Order lines: one row per product line of an order.",
    order_id="string",
    line="int64",
    product_id="string",
    sku="string",
    title="string",
    quantity="int64",
    unit_price=MONEY,
    currency="string",
    category="string",
    **_AUDIT,
)

PRODUCTS = _spec(
    "products",
    ("product_id",),
    "The catalogue: price and unit cost (or margin) per product, whether it is on sale and in "
    "stock.",
    product_id="string",
    sku="string",
    title="string",
    category="string",
    price=MONEY,
    unit_cost=MONEY,
    margin="float64",
    currency="string",
    **_AUDIT,
    # added by migration 10 (recommendations honour them); null = unknown
    active="boolean",
    inventory="int64",
)

MARKETING_SPEND = _spec(
    "marketing_spend",
    ("date", "channel", "campaign"),
    "Acquisition spend per day, channel and campaign.",
    date="date",
    channel="string",
    campaign="string",
    cost=MONEY,
    currency="string",
    **_AUDIT,
)

CONSENTS = _spec(
    "consents",
    ("identifier", "channel", "at"),
    "Consent history: subscribed / unsubscribed per identifier and channel.",
    identifier="string",
    identifier_kind="string",
    channel="string",
    status="string",
    source="string",
    at="timestamp",
)

SUPPRESSIONS = _spec(
    "suppressions",
    ("identifier", "channel"),
    "Identifiers that must never be messaged (or, for `all`, never stored again).",
    identifier="string",
    identifier_kind="string",
    channel="string",
    reason="string",
    source="string",
    at="timestamp",
)

FX_RATES = _spec(
    "fx_rates",
    ("date", "currency"),
    "Optional FX rates: 1 unit of `currency` = `rate` units of the reporting currency.",
    date="date",
    currency="string",
    rate=RATE,
    source="string",
    imported_at="timestamp",
)

QUARANTINE = _spec(
    "quarantine",
    ("import_id", "line", "column"),
    "Rejected input rows, kept with the reason so nothing is silently lost.",
    import_id="string",
    entity="string",
    file="string",
    line="int64",
    column="string",
    raw_value="string",
    reason="string",
    raw_row="string",
    quarantined_at="timestamp",
)

IMPORTS = _spec(
    "imports",
    ("import_id",),
    "One row per import run: what was read, stored, updated, already present, quarantined, "
    "suppressed.",
    import_id="string",
    entity="string",
    file="string",
    preset="string",
    started_at="timestamp",
    finished_at="timestamp",
    rows_read="int64",
    stored="int64",
    already_present="int64",
    quarantined="int64",
    suppressed="int64",
    updated="int64",
)

GENERATOR_TRUTH = _spec(
    "generator_truth",
    ("name", "scope"),
    "The true parameters the demo generator drew the store from, to check models against.",
    name="string",
    scope="string",
    value="float64",
    description="string",
)

IDENTITY_FLAGS = _spec(
    "identity_flags",
    ("node",),
    "Identifiers not used to merge persons (shared or over-linked), with the reason.",
    node="string",
    kind="string",
    value="string",
    reason="string",
    flagged_at="timestamp",
)

IDENTITY_MERGES = _spec(
    "identity_merges",
    ("merged_person_id", "merged_at"),
    "Persons merged into an older person when new edges joined them.",
    kept_person_id="string",
    merged_person_id="string",
    merged_at="timestamp",
    reason="string",
)

PRIVACY_AUDIT = _spec(
    "privacy_audit",
    ("audit_id",),
    "Privacy requests carried out (export, delete): what and when, no personal data.",
    audit_id="string",
    action="string",
    person_id="string",
    identifiers="int64",
    rows_deleted="string",
    at="timestamp",
)

IDENTITY_BLOCKED_EDGES = _spec(
    "identity_blocked_edges",
    ("a", "b"),
    "Edges an unmerge ruled out: never used to join persons again.",
    a="string",
    b="string",
    reason="string",
    at="timestamp",
)

STORE_META = _spec(
    "store_meta",
    ("name",),
    "Facts about the store itself, one value per key (e.g. `reporting_currency`, decided at "
    "the first import; `as_of`, the frozen clock of a synthetic store).",
    name="string",
    value="string",
    set_at="timestamp",
    set_by="string",
)

FLAGGED_VALUES = _spec(
    "flagged_values",
    ("import_id", "entity", "record_key", "column"),
    "Stored values an import flagged as implausible (e.g. an amount far beyond the store's "
    "own distribution): the row is kept, the flag says why it deserves a look.",
    import_id="string",
    entity="string",
    file="string",
    line="int64",
    record_key="string",
    column="string",
    value="string",
    reason="string",
    flagged_at="timestamp",
)

ROW_HISTORY = _spec(
    "row_history",
    ("entity", "record_key", "replaced_at"),
    "Previous versions of rows that an import with the update path replaced by a newer "
    "version with the same natural key.",
    entity="string",
    record_key="string",
    row="string",
    replaced_at="timestamp",
    import_id="string",
)

PIPELINE_RUNS = _spec(
    "pipeline_runs",
    ("run_id", "step"),
    "One row per pipeline step run (docs/pipeline.md): when, as of which day, the rows it "
    "wrote, the newest data it consumed (watermark), full or incremental, and its outcome.",
    run_id="string",
    step="string",
    started_at="timestamp",
    finished_at="timestamp",
    as_of="date",
    rows="int64",
    watermark="timestamp",
    mode="string",
    outcome="string",
    error="string",
)

FEEDBACK = _spec(
    "feedback",
    ("feedback_id",),
    "Feedback: NPS and satisfaction answers, survey scores and product reviews, each with "
    "its score and the scale it was given on.",
    feedback_id="string",
    customer_id="string",
    email="string",
    anonymous_id="string",
    kind="string",
    score="float64",
    scale_min="float64",
    scale_max="float64",
    product_id="string",
    title="string",
    body="string",
    submitted_at="timestamp",
    **_AUDIT,
)

REFERRALS = _spec(
    "referrals",
    ("referral_id",),
    "Referrals: who referred whom, with the code, the referred person's order and the reward paid.",
    referral_id="string",
    referrer_customer_id="string",
    referrer_email="string",
    referred_customer_id="string",
    referred_email="string",
    code="string",
    order_id="string",
    referred_at="timestamp",
    reward=MONEY,
    currency="string",
    **_AUDIT,
)

MESSAGES = _spec(
    "messages",
    ("message_key",),
    "Messages the flows decided to send (docs/flows.md): one row per (flow, step, person, "
    "trigger instance), with its state; the dispatcher sends the pending ones.",
    message_key="string",
    flow="string",
    step="string",
    variant="string",
    person_id="string",
    trigger_id="string",
    channel="string",
    payload="string",
    state="string",
    reason="string",
    decided_at="timestamp",
    due_at="timestamp",
    release_at="timestamp",
    sent_at="timestamp",
    attempts="int64",
    last_error="string",
    updated_at="timestamp",
    # added by migration 13: the outbox (docs/delivery.md)
    next_attempt_at="timestamp",
    lease_owner="string",
    lease_until="timestamp",
    handed_at="timestamp",
    resends="int64",
    message_id="string",
    provider_id="string",
)

DELIVERY_ATTEMPTS = _spec(
    "delivery_attempts",
    ("message_key", "attempt"),
    "One row per attempt of the dispatcher to deliver a message (docs/delivery.md): who tried, "
    "when, and what came of it.",
    message_key="string",
    attempt="int64",
    worker="string",
    channel="string",
    at="timestamp",
    outcome="string",
    error="string",
    provider_id="string",
    resend="boolean",
)

FLOW_STATE = _spec(
    "flow_state",
    ("flow", "person_id", "trigger_id"),
    "Where each person is in each flow they entered (one row per trigger instance): the "
    "current step, when it is due, the A/B variant, holdout, and how the stay ended.",
    flow="string",
    person_id="string",
    trigger_id="string",
    trigger_at="timestamp",
    entered_at="timestamp",
    step="string",
    next_at="timestamp",
    variant="string",
    holdout="boolean",
    status="string",
    exit_reason="string",
    updated_at="timestamp",
)

FLOW_TICKS = _spec(
    "flow_ticks",
    ("flow", "tick_at"),
    "One row per flow per tick of the flow engine: the clock, the watermark of the data it "
    "read, persons entered and messages decided.",
    flow="string",
    tick_at="timestamp",
    watermark="timestamp",
    entered="int64",
    messages="int64",
    started_at="timestamp",
    finished_at="timestamp",
)

FLOW_CONTROLS = _spec(
    "flow_controls",
    ("flow",),
    "Flows paused by hand (`tenure flows pause`): a paused flow enters nobody and decides "
    "no message until resumed.",
    flow="string",
    paused="boolean",
    at="timestamp",
    by="string",
)

DISCOUNT_CODES = _spec(
    "discount_codes",
    ("message_key",),
    "Every discount code a message carried (docs/delivery.md): issued once per message, so "
    "the `coupon` of a later order names the flow, step and person it came from.",
    code="string",
    flow="string",
    step="string",
    person_id="string",
    message_key="string",
    issued_at="timestamp",
    percent="float64",
    expires="timestamp",
)

ONSITE_MESSAGES = _spec(
    "onsite_messages",
    ("message_key",),
    "On-site messages kept for the site to fetch (channel `onsite`), newest first per person.",
    message_key="string",
    person_id="string",
    flow="string",
    step="string",
    subject="string",
    text="string",
    html="string",
    body="string",
    created_at="timestamp",
)

BOUNCES = _spec(
    "bounces",
    ("email", "kind", "at"),
    "Bounces and complaints reported by the e-mail provider or found in a bounce mailbox: "
    "hard bounces and complaints also suppress the address; soft bounces are only counted.",
    email="string",
    kind="string",
    status="string",
    reason="string",
    message_id="string",
    source="string",
    at="timestamp",
    imported_at="timestamp",
)

LINK_CLICKS = _spec(
    "link_clicks",
    ("message_key", "clicked_at"),
    "Clicks on the tracked links of sent messages (`GET /c/<token>` of the service), one row "
    "per click, for the flows' measurement.",
    message_key="string",
    person_id="string",
    flow="string",
    step="string",
    url="string",
    clicked_at="timestamp",
)

FLOW_BACKTESTS = _spec(
    "flow_backtests",
    ("flow",),
    "The last backtest of each flow (`tenure flows backtest`, the admin API, any library "
    "call): when it ran, the window and parameters replayed, and its figures, aggregates "
    "only (no person's row).",
    flow="string",
    ran_at="timestamp",
    by="string",
    seconds="float64",
    start_at="timestamp",
    end_at="timestamp",
    tick_hours="float64",
    window_days="int64",
    holdout_share="float64",
    ticks="int64",
    entered="int64",
    persons="int64",
    holdout="int64",
    capped="int64",
    currency="string",
    steps="string",
    daily="string",
    outcome="string",
    notes="string",
)

DATA_VERSIONS = _spec(
    "data_versions",
    (),
    "The data version of each table, kept in the store so a result kept there can tell "
    "whether the tables it read changed since: every write appends a row (name, 1, time) and "
    "a table's version is the sum of its rows (the pipeline folds them into one).",
    name="string",
    version="int64",
    written_at="timestamp",
)

DASHBOARD_PAGES = _spec(
    "dashboard_pages",
    ("page", "params"),
    "The dashboard's pages built by the pipeline for the default period, as JSON, with the "
    "data versions of the tables each read: served while those versions hold.",
    page="string",
    params="string",
    settings="string",
    body="string",
    tables="string",
    versions="string",
    built_at="timestamp",
    seconds="float64",
)

GOALS = _spec(
    "goals",
    ("goal_id",),
    'The store\'s goals (`tenure goals add`, docs/advisor.md "Goals and their forecast"): '
    "a KPI, overall or of a channel or segment, its baseline and the target to reach by the "
    "deadline.",
    goal_id="int64",
    text="string",
    metric="string",
    scope="string",
    scope_value="string",
    change="string",
    baseline_start="date",
    baseline_end="date",
    baseline_value="float64",
    target_value="float64",
    start="date",
    deadline="date",
    created_at="timestamp",
)

GOAL_PROGRESS = _spec(
    "goal_progress",
    ("goal_id", "run_at"),
    "Each goal's progress as recorded by each `tenure run` (step `goals`): the value to "
    "date, the forecast at the deadline with its 80% interval, and the chance of meeting it.",
    goal_id="int64",
    run_at="timestamp",
    as_of="date",
    value_to_date="float64",
    forecast="float64",
    low="float64",
    high="float64",
    p_meet="float64",
    on_track="boolean",
    note="string",
)

#: Tables created by migration 1 (the first data model).
CORE_TABLES: tuple[TableSpec, ...] = (
    CUSTOMERS,
    IDENTITIES,
    EVENTS,
    ORDERS,
    ORDER_ITEMS,
    PRODUCTS,
    MARKETING_SPEND,
    CONSENTS,
    SUPPRESSIONS,
    QUARANTINE,
)
#: Tables added by migration 2.
V2_TABLES: tuple[TableSpec, ...] = (FX_RATES, IMPORTS, GENERATOR_TRUTH)

#: Tables added by migration 3 (identity resolution).
V3_TABLES: tuple[TableSpec, ...] = (IDENTITY_FLAGS, IDENTITY_MERGES)
#: Tables added by migration 4 (privacy requests, unmerges).
V4_TABLES: tuple[TableSpec, ...] = (PRIVACY_AUDIT, IDENTITY_BLOCKED_EDGES)

#: Tables added by migration 6 (store facts, flagged values, replaced rows).
V6_TABLES: tuple[TableSpec, ...] = (STORE_META, FLAGGED_VALUES, ROW_HISTORY)

#: Tables added by migration 8 (the pipeline's run records).
V8_TABLES: tuple[TableSpec, ...] = (PIPELINE_RUNS,)

#: Tables added by migration 11 (feedback and referrals).
V11_TABLES: tuple[TableSpec, ...] = (FEEDBACK, REFERRALS)
#: Tables added by migration 12 (the flows' state and decided messages).
V12_TABLES: tuple[TableSpec, ...] = (MESSAGES, FLOW_STATE, FLOW_TICKS, FLOW_CONTROLS)
#: Tables added by migration 13 (the outbox's attempts log).
V13_TABLES: tuple[TableSpec, ...] = (DELIVERY_ATTEMPTS,)
#: Tables added by migration 14 (delivery: discount codes, on-site messages, bounces).
V14_TABLES: tuple[TableSpec, ...] = (DISCOUNT_CODES, ONSITE_MESSAGES, BOUNCES)
#: Tables added by migration 15 (the clicks of tracked links).
V15_TABLES: tuple[TableSpec, ...] = (LINK_CLICKS,)
#: Tables added by migration 17 (the last backtest of each flow).
V17_TABLES: tuple[TableSpec, ...] = (FLOW_BACKTESTS,)
#: Tables added by migration 18 (the data versions, the dashboard's kept pages).
V18_TABLES: tuple[TableSpec, ...] = (DATA_VERSIONS, DASHBOARD_PAGES)
#: Tables added by migration 19 (the advisor's goals and their recorded progress).
V19_TABLES: tuple[TableSpec, ...] = (GOALS, GOAL_PROGRESS)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in CORE_TABLES
    + V2_TABLES
    + V3_TABLES
    + V4_TABLES
    + V6_TABLES
    + V8_TABLES
    + V11_TABLES
    + V12_TABLES
    + V13_TABLES
    + V14_TABLES
    + V15_TABLES
    + V17_TABLES
    + V18_TABLES
    + V19_TABLES
}
