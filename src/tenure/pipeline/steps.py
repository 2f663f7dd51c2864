"""The steps of the pipeline, in dependency order: what each builds, what it reads, and the
library function that does the work (the step owns no logic of its own; docs/pipeline.md).

A step's ``full`` function rebuilds its tables from the canonical tables; its
``incremental`` function (optional) brings them up to date from the rows that arrived since
its last successful run (``ctx.since``). Both return the rows written per table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import ibis.expr.types as ir

from tenure.errors import ConfigError
from tenure.progress import ProgressCallback
from tenure.store import Store
from tenure.store.derived import DERIVED


@dataclass
class StepContext:
    """What a step is run with: the as-of day, the watermark of its last successful run
    (None: never ran, or a full rebuild was asked for), and scratch names shared by steps of
    one run (e.g. the orders base).

    ``last_as_of``: the as-of day of that last successful run (an incremental function
    compares it with ``as_of``); ``options``: the step's own parameters (e.g. the model of
    ``tenure predict``); ``outputs``: where a step leaves its library result for the caller
    (``outputs["result"]``) and, when it chose by itself, the mode it ran in
    (``outputs["mode"]``: full or incremental)."""

    as_of: date
    since: datetime | None = None
    shared: dict[str, str] = field(default_factory=dict)
    last_as_of: date | None = None
    options: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    #: where the step reports its own progress (the run's callback; None: nowhere)
    progress: ProgressCallback | None = None
    #: the derived tables current as of ``as_of`` when the step starts: those of the steps
    #: of this run that ran ok or were found current (the runner fills it)
    current: frozenset[str] = frozenset()


StepFn = Callable[[Store, StepContext], dict[str, int]]


@dataclass(frozen=True)
class Step:
    """One named step: ``builds`` the tables it writes, ``after`` the steps it needs first,
    ``reads`` the canonical tables whose new rows make it stale."""

    name: str
    builds: tuple[str, ...]
    after: tuple[str, ...]
    reads: tuple[str, ...]
    full: StepFn
    incremental: StepFn | None = None
    doc: str = ""
    #: runs at every run, stale or not (the flows' tick: waits end as time passes)
    every_run: bool = False

    @property
    def derived(self) -> bool:
        """Whether the step builds derived tables (readers bring these up to date on their
        own; the identity step, which rewrites who is who, runs only when asked)."""
        return all(name in DERIVED for name in self.builds)


#: The orders base (:func:`~tenure.analytics.base.orders_base`) of a running pipeline:
#: written once by the first step that needs it, read by the others, dropped at the end of
#: the run (computing it inside each step cost more than writing it).
SCRATCH_ORDERS = "_refresh_orders_base"
#: The columns of the orders base the steps read: the scratch copy holds only these. Writing a
#: column costs (10M orders: 0.4-1.4 CPU-seconds per string column); a step that needs another
#: one adds it here.
SCRATCH_COLUMNS = ("order_id", "person_id", "ordered_at", "day", "revenue", "margin", "is_purchase")


def shared_orders(store: Store, ctx: StepContext) -> ir.Table:
    """The orders base of the run as of ``ctx.as_of``, written on first use and shared
    through ``ctx.shared["orders"]`` (the runner drops it when the run ends)."""
    from tenure.analytics.base import orders_base

    name = ctx.shared.get("orders")
    if name is None:
        base = orders_base(store, as_of=ctx.as_of).select(*SCRATCH_COLUMNS)
        store.replace(SCRATCH_ORDERS, base, scratch=True)
        name = ctx.shared["orders"] = SCRATCH_ORDERS
    return store.read(name)


def _count(table: ir.Table) -> int:
    return int(table.count().execute())


def identity_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """Resolve identifiers to persons (:func:`tenure.identity.resolve_identities`): only the
    rows imported since the last resolution when that gives the same persons as a full run
    (the resolution keeps its own state and says why it ran in full); every identifier anew
    with ``ctx.options["incremental"] = False`` (``tenure run --full``)."""
    from tenure.identity import resolve_identities

    incremental = bool(ctx.options.get("incremental", True))
    ctx.outputs["result"] = result = resolve_identities(
        store, incremental=incremental, progress=ctx.progress
    )
    ctx.outputs["mode"] = result.mode
    return {"identities": result.identifiers}


def facts_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """``customer_facts`` and ``purchase_gaps`` (:func:`tenure.analytics.incremental.build_facts`,
    from the run's orders base)."""
    from tenure.analytics.incremental import build_facts

    shared_orders(store, ctx)
    return build_facts(store, ctx)


def facts_incremental(store: Store, ctx: StepContext) -> dict[str, int]:
    """The touched persons' facts computed again, the others' moved to the day
    (:func:`tenure.analytics.incremental.update_facts`; docs/incremental.md)."""
    from tenure.analytics.incremental import update_facts

    return update_facts(store, ctx)


def rfm_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """``customer_rfm`` from the stored facts (:func:`tenure.analytics.rfm.rfm`)."""
    from tenure.analytics.rfm import rfm

    expr = rfm(store, as_of=ctx.as_of, facts=store.read("customer_facts"))
    return {"customer_rfm": _count(store.replace("customer_rfm", expr))}


def status_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """``customer_status`` from the facts and purchase gaps
    (:func:`tenure.analytics.incremental.build_status`; no order read, so both modes)."""
    from tenure.analytics.incremental import build_status

    return build_status(store, ctx)


def stages_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """Append the day's statuses to ``stage_history`` (:func:`record_stages`)."""
    from tenure.analytics.stages import TABLE, record_stages

    return {TABLE: record_stages(store, store.read("customer_status"), ctx.as_of)}


def journey_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """Append the day's journey stages to ``journey_history`` (:func:`record_journey`)."""
    from tenure.analytics.journey import TABLE, record_journey

    return {TABLE: record_journey(store, ctx.as_of)}


def predictions_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """``customer_predictions`` fitted and scored, the fit recorded
    (:func:`tenure.predictions.rescore.build_predictions`, with the step's ``options``:
    model, clv_model, horizon_months, discount_rate, floor, refit)."""
    from tenure.predictions.rescore import build_predictions

    return build_predictions(store, ctx)


def predictions_incremental(store: Store, ctx: StepContext) -> dict[str, int]:
    """Every buyer re-scored with the stored fit unless a refit is due
    (:func:`tenure.predictions.rescore.update_predictions`; docs/incremental.md)."""
    from tenure.predictions.rescore import update_predictions

    return update_predictions(store, ctx)


def recommendations_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """``product_pairs``, ``product_recommendations`` and ``category_candidates``
    (:func:`tenure.recommend.build_recommendations`, with the step's ``options``: top,
    categories, min_together); its notes in ``ctx.outputs["result"]``."""
    from tenure.recommend import build_recommendations

    ctx.outputs["result"] = result = build_recommendations(
        store, as_of=ctx.as_of, options=ctx.options, progress=ctx.progress
    )
    return result.rows


def segments_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """``segment_membership`` brought to the end of the as-of day (or the present, when that
    day is today): the entries and exits of every segment
    (:func:`tenure.engage.segments.refresh_segments`; ``ctx.options["now"]``: the clock).
    A run as of a day before the last refresh leaves the history as it is (it moves forward
    only) and says so in ``ctx.outputs["result"]``."""
    from tenure.engage.segments import TABLE, clock, last_refresh, refresh_segments

    now = clock(store, ctx.options.get("now"), ctx.as_of)
    last = last_refresh(store)
    if last is not None and now < last:
        ctx.outputs["result"] = (
            f"segment_membership left as refreshed at {last}: the history moves forward only."
        )
        return {TABLE: int(store.read(TABLE).count().execute())}
    return refresh_segments(store, now)


def flows_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """One tick of every flow (the shipped ones and those of ``flows_dir``, with the send
    policy of its ``policy.yaml``) at ``ctx.options["now"]``, else the tick clock
    (:func:`tenure.engage.flows.tick_clock`: the end of a frozen store's day, else now); the
    messages decided and the persons entered (:func:`tenure.engage.flows.run_tick`)."""
    from pathlib import Path

    from tenure.engage.flow_spec import flow_paths, load_flows
    from tenure.engage.flows import run_tick, tick_clock
    from tenure.engage.settings import load_policy

    folder = Path(store.settings.flows_dir)
    now = ctx.options.get("now") or tick_clock(store)
    result = run_tick(store, load_flows(flow_paths(folder)), now, policy=load_policy(folder))
    ctx.outputs["result"] = result
    decided = sum(sum(f.messages.values()) for f in result.flows)
    return {"messages": decided, "flow_state": sum(f.entered for f in result.flows)}


def goals_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """Append one ``goal_progress`` row per active goal: its value to date and forecast as
    of ``ctx.as_of`` (:func:`tenure.advisor.goals.record_progress`; docs/advisor.md)."""
    from tenure.advisor.goals import PROGRESS, record_progress

    return {PROGRESS: record_progress(store, ctx.as_of)}


#: The derived tables the dashboard's page builders can read as stored
#: (:func:`tenure.dashboard.stored.stored_table`).
PAGE_TABLES = (
    "customer_facts",
    "purchase_gaps",
    "customer_rfm",
    "customer_status",
    "journey_history",
    "customer_predictions",
)


def dashboard_step(store: Store, ctx: StepContext) -> dict[str, int]:
    """Build every page of the dashboard's default period and keep it in ``dashboard_pages``
    (:func:`tenure.dashboard.report.keep`; the pages kept already and still true are left
    alone), reading as stored the derived tables this run left current (``ctx.current``);
    the outcome per page in ``ctx.outputs["result"]``. A run as of another day than the
    default period's end (``tenure run --as-of``) keeps nothing: the pages show that day."""
    from tenure.analytics.base import store_end
    from tenure.dashboard.report import keep
    from tenure.dashboard.stored import Stored

    if store_end(store) != ctx.as_of:
        ctx.outputs["result"] = f"no page kept: the dashboard shows {store_end(store)}."
        return {"dashboard_pages": 0}
    tables = frozenset(t for t in PAGE_TABLES if t in ctx.current)
    ctx.outputs["result"] = result = keep(store, store.settings, Stored(ctx.as_of, tables))
    return {"dashboard_pages": len(result.built)}


#: What new data makes the analytics stale: every table the orders base, the facts and the
#: statuses read, the identities, and the store facts (reporting currency, frozen clock).
ANALYTICS_READS = (
    "orders",
    "order_items",
    "products",
    "fx_rates",
    "customers",
    "events",
    "identities",
    "store_meta",
)

STEPS: tuple[Step, ...] = (
    Step(
        "identity",
        ("identities",),
        (),
        ("customers", "orders", "events"),
        identity_step,
        doc="Resolve identifiers to persons (tenure identity resolve).",
    ),
    Step(
        "customer_facts",
        ("customer_facts", "purchase_gaps", "facts_identities"),
        ("identity",),
        ANALYTICS_READS,
        facts_step,
        facts_incremental,
        doc="One row per person: BTYD summary, gaps, acquisition, value.",
    ),
    Step(
        "customer_rfm",
        ("customer_rfm",),
        ("customer_facts",),
        ANALYTICS_READS,
        rfm_step,
        rfm_step,  # the quintiles depend on everyone: from the facts, no order read
        doc="RFM scores, segment and value tier per buyer.",
    ),
    Step(
        "customer_status",
        ("customer_status",),
        ("customer_facts",),
        ANALYTICS_READS,
        status_step,
        status_step,
        doc="The lifecycle status of every person.",
    ),
    Step(
        "stage_history",
        ("stage_history",),
        ("customer_status",),
        ANALYTICS_READS,
        stages_step,
        stages_step,  # a daily append
        doc="Status spells: the day the statuses of this run were recorded.",
    ),
    Step(
        "journey",
        ("journey_history",),
        ("customer_status",),
        (*ANALYTICS_READS, "feedback", "referrals", "flagged_values"),
        journey_step,
        journey_step,  # a daily append
        doc="Journey stays: the day the journey stages of this run were recorded.",
    ),
    Step(
        "predictions",
        ("customer_predictions", "prediction_fits"),
        ("customer_facts",),
        ANALYTICS_READS,
        predictions_step,
        predictions_incremental,
        doc="CLV, P(alive), expected orders, next purchase, future VIP per buyer.",
    ),
    Step(
        "recommendations",
        ("product_pairs", "product_recommendations", "category_candidates"),
        ("customer_facts",),
        ANALYTICS_READS,
        recommendations_step,
        doc="Products bought together, the next products per buyer, cross-category candidates.",
    ),
    Step(
        "segments",
        ("segment_membership",),
        ("customer_rfm", "customer_status", "journey", "predictions", "recommendations"),
        (*ANALYTICS_READS, "feedback", "referrals", "consents", "suppressions"),
        segments_step,
        segments_step,  # set-based over every person: the same either way
        doc="Segment membership: who entered and who left each segment (docs/segments.md).",
    ),
    Step(
        "flows",
        ("messages", "flow_state", "flow_ticks"),
        ("segments", "journey", "customer_status", "stage_history"),
        (*ANALYTICS_READS, "consents", "suppressions", "flow_controls"),
        flows_step,
        doc="One tick of every flow: entries, steps, the messages decided (docs/flows.md).",
        every_run=True,
    ),
    Step(
        "goals",
        ("goal_progress",),
        ("customer_facts", "segments"),
        (*ANALYTICS_READS, "goals"),
        goals_step,
        doc="Each goal's progress and forecast, one row per goal and run (docs/advisor.md).",
        every_run=True,
    ),
    Step(
        "dashboard",
        ("dashboard_pages",),
        (
            "customer_facts",
            "customer_rfm",
            "customer_status",
            "stage_history",
            "journey",
            "predictions",
            "segments",
            "flows",
        ),
        (*ANALYTICS_READS, "feedback", "referrals", "consents", "marketing_spend"),
        dashboard_step,
        doc="The dashboard's pages of the default period, kept in the store (docs/dashboard.md).",
        every_run=True,
    ),
)

#: The steps ``tenure refresh`` runs.
REFRESH_STEPS = ("customer_facts", "customer_rfm", "customer_status", "stage_history")


def step(name: str) -> Step:
    """The step called ``name``; a ConfigError naming the steps there are otherwise."""
    for s in STEPS:
        if s.name == name:
            return s
    raise ConfigError(
        f"No pipeline step named {name!r}.",
        hint=f"Steps: {', '.join(s.name for s in STEPS)}.",
    )


def builder_of(table: str) -> Step:
    """The step that builds derived table ``table`` (its owner in :data:`DERIVED`)."""
    if table not in DERIVED:
        raise ConfigError(
            f"{table!r} is not a derived table.",
            hint=f"Derived tables: {', '.join(DERIVED)}.",
        )
    return step(DERIVED[table].step)
