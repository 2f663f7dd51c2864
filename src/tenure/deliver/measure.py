"""What each flow earned, against its holdout (docs/delivery.md, "Measurement").

:func:`flow_stats` reads ``flow_state`` (one row per stay), ``messages`` (one per decided
message), the purchases (:func:`tenure.analytics.base.orders_base`: net revenue in the
reporting currency per person) and ``suppressions`` / ``consents``, set-based in the engine
(a handful of grouped queries, whatever the number of persons), and gives per flow:

* the funnel of each step: messages by state, sent, failed, then bounced and unsubscribed
  (a suppression or a withdrawn consent of the person for the message's channel after the
  send), the messages clicked and the clicks (``link_clicks``, by message key), conversions
  within the window after the send, their revenue, the coupon orders (an order whose coupon
  is the message's discount code) and their discount;
* the comparison: the persons of the stays whose attribution window has closed by ``now``,
  treated (not held out) against the holdout, every stay counted whatever happened to its
  messages (intention to treat: the holdout is held out before consent and caps, so
  comparing only the sent would compare different persons); conversion and revenue per
  person, the uplift and its interval (:mod:`tenure.deliver.uplift`), the A/B variants of
  the treated, the incremental conversions and revenue, the discount cost and the part of it
  estimated to have gone to persons who would have bought anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import orders_base
from tenure.deliver.clicks import CLICKS
from tenure.deliver.uplift import (
    CONFIDENCE,
    MIN_PER_ARM,
    Arm,
    Estimate,
    Verdict,
    check_confidence,
    compare_variants,
    conversion_uplift,
    revenue_uplift,
    wasted_share,
)
from tenure.engage.consent import person_identifiers
from tenure.engage.flows import tick_clock, utc_naive
from tenure.errors import ConfigError
from tenure.ingest.identifiers import email_expr
from tenure.store import Store, reporting_currency

#: The default attribution window: a purchase within this many days after entering (or
#: after a send, for a step) counts.
WINDOW_DAYS = 7
#: Message states meaning the provider took the message.
SENT = ("sent", "delivered", "opened", "clicked")
#: Message states still on their way.
WAITING = ("pending", "held", "sending")
#: The discount code in a message's payload JSON (``"discount": {"code": "CART1A2B3C4D", ...}``).
CODE = r'"code"\s*:\s*"([^"]+)"'
#: The per-step counts, in the order they are shown.
STEP_COLUMNS = (
    "step",
    "channel",
    "messages",
    "sent",
    "failed",
    "suppressed",
    "capped",
    "holdout",
    "waiting",
    "bounced",
    "unsubscribed",
    "clicked",
    "clicks",
    "converted",
    "orders",
    "revenue",
    "coupon_orders",
    "discount_cost",
)
F64 = "float64"


@dataclass(frozen=True)
class Group:
    """The persons of one arm (treated, holdout, or a variant) whose window has closed."""

    name: str
    arm: Arm
    orders: int = 0
    coupon_orders: int = 0
    coupon_converted: int = 0
    discount_cost: float = 0.0
    unknown_revenue: int = 0

    def to_dict(self) -> dict[str, Any]:
        a = self.arm
        return {
            "group": self.name,
            "persons": a.persons,
            "converted": a.converted,
            "conversion": a.conversion,
            "orders": self.orders,
            "revenue": round(a.revenue, 4),
            "revenue_per_person": a.revenue_per_person,
            "coupon_orders": self.coupon_orders,
            "coupon_converted": self.coupon_converted,
            "discount_cost": round(self.discount_cost, 4),
            "unknown_revenue_orders": self.unknown_revenue,
        }


@dataclass(frozen=True)
class Incremental:
    """What the flow added over its holdout, scaled to the treated persons."""

    conversions: Estimate | None
    revenue: Estimate | None
    discount_cost: float
    wasted_share: float | None
    wasted_discount: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversions": self.conversions.to_dict() if self.conversions else None,
            "revenue": self.revenue.to_dict() if self.revenue else None,
            "discount_cost": round(self.discount_cost, 4),
            "wasted_share": self.wasted_share,
            "wasted_discount": self.wasted_discount,
        }


@dataclass
class FlowReport:
    """One flow's figures (docs/delivery.md, "Measurement")."""

    flow: str
    entered: int
    persons: int
    held_out: int
    measured: int
    messages: dict[str, int]
    steps: pd.DataFrame
    treated: Group
    holdout: Group
    conversion_uplift: Estimate | None
    revenue_uplift: Estimate | None
    incremental: Incremental | None
    variants: list[Group] = field(default_factory=list)
    verdict: Verdict | None = None

    @property
    def clicked(self) -> int:
        """The flow's messages with at least one click (the sum of its steps')."""
        return int(self.steps["clicked"].sum()) if not self.steps.empty else 0

    @property
    def clicks(self) -> int:
        """Every click on a link of the flow's messages."""
        return int(self.steps["clicks"].sum()) if not self.steps.empty else 0

    def channels(self) -> pd.DataFrame:
        """The step counts summed per channel."""
        cols = ["messages", "sent", "failed", "bounced", "unsubscribed", "clicked", "clicks"]
        if self.steps.empty:
            return pd.DataFrame(columns=["channel", *cols])
        return self.steps.groupby("channel", as_index=False)[cols].sum()

    def to_dict(self) -> dict[str, Any]:
        def est(e: Estimate | None) -> dict[str, float | None] | None:
            return e.to_dict() if e else None

        verdict = None
        if self.verdict is not None:
            verdict = {
                "winner": self.verdict.winner,
                "reason": self.verdict.reason,
                "min_per_arm": self.verdict.min_per_arm,
                "comparisons": [
                    {
                        "variant": c.variant,
                        "against": c.against,
                        "conversion": est(c.conversion),
                        "revenue_per_person": est(c.revenue),
                    }
                    for c in self.verdict.comparisons
                ],
            }
        return {
            "flow": self.flow,
            "entered": self.entered,
            "persons": self.persons,
            "held_out": self.held_out,
            "measured": self.measured,
            "maturing": self.entered - self.measured,
            "messages": self.messages,
            "clicked": self.clicked,
            "clicks": self.clicks,
            "steps": _records(self.steps),
            "channels": _records(self.channels()),
            "treated": self.treated.to_dict(),
            "holdout": self.holdout.to_dict(),
            "uplift": {
                "conversion": est(self.conversion_uplift),
                "revenue_per_person": est(self.revenue_uplift),
            },
            "incremental": self.incremental.to_dict() if self.incremental else None,
            "variants": [v.to_dict() for v in self.variants],
            "ab": verdict,
        }


@dataclass
class FlowStats:
    """:func:`flow_stats`' answer: the clock, the window, and one report per flow."""

    now: datetime
    window_days: int
    confidence: float
    flows: list[FlowReport]

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "window_days": self.window_days,
            "confidence": self.confidence,
            "flows": [f.to_dict() for f in self.flows],
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _plain(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return value


def check_window(window_days: object) -> int:
    """``window_days`` as a positive int, or a ConfigError."""
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise ConfigError(
            "The 'window_days' parameter must be an int in the range [1, inf). "
            f"Got {window_days!r}.",
            hint="The attribution window counts purchases within N days; "
            f"the default is {WINDOW_DAYS}.",
        )
    return window_days


def flow_stats(
    store: Store,
    flow: str | None = None,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    min_per_arm: int = MIN_PER_ARM,
    confidence: float = CONFIDENCE,
) -> FlowStats:
    """The figures of ``flow`` (every flow with stays or messages when None) at ``now``
    (default: the flows' clock, :func:`tenure.engage.flows.tick_clock`), with purchases
    attributed within ``window_days`` after entering (after sending, per step)."""
    check_window(window_days)
    level = check_confidence(confidence)
    clock = utc_naive(now) if now is not None else tick_clock(store)
    window = ibis.interval(days=window_days)
    stays = _stays(store, flow, clock)
    messages = _messages(store, flow)
    purchases = _purchases(store, clock)
    names = sorted(
        set(stays.select("flow").distinct().to_pandas()["flow"])
        | set(messages.select("flow").distinct().to_pandas()["flow"])
    )
    counts = _index(_entered(stays, clock, window), "flow")
    states = messages.group_by("flow", "state").agg(n=messages.count()).to_pandas()
    steps = _steps(store, messages, purchases, clock, window)
    units = _units(stays, messages, purchases, clock, window)
    arms = _index(_arms(units, "flow", "holdout").to_pandas(), "flow", "holdout")
    treated = units.filter(~units.holdout & units.variant.notnull())
    variants = _arms(treated, "flow", "variant").to_pandas()
    reports = []
    for name in names:
        per_state = states[states["flow"] == name]
        reports.append(
            _report(
                name,
                counts.get((name,), {}),
                dict(zip(per_state["state"], per_state["n"].astype(int), strict=True)),
                steps[steps["flow"] == name].drop(columns="flow").reset_index(drop=True),
                (arms.get((name, False)), arms.get((name, True))),
                variants[variants["flow"] == name],
                min_per_arm,
                level,
            )
        )
    return FlowStats(now=clock, window_days=window_days, confidence=level, flows=reports)


def _index(frame: pd.DataFrame, *keys: str) -> dict[tuple[Any, ...], Mapping[Any, Any]]:
    return {
        tuple(bool(r[k]) if k == "holdout" else r[k] for k in keys): r
        for r in frame.to_dict("records")
    }


def _stays(store: Store, flow: str | None, now: datetime) -> ir.Table:
    s = store.table("flow_state")
    keep = s.entered_at <= ibis.literal(now)
    if flow is not None:
        keep = keep & (s.flow == flow)
    s = s.filter(keep)
    return s.select(
        "flow",
        "person_id",
        "trigger_id",
        "entered_at",
        "variant",
        holdout=ibis.coalesce(s.holdout, ibis.literal(False)),
    )


def _messages(store: Store, flow: str | None) -> ir.Table:
    """The flow's messages with their discount code: the one issued when it was sent
    (``discount_codes``: a pool's code), else the one its payload names."""
    m = store.table("messages")
    if flow is not None:
        m = m.filter(m.flow == flow)
    issued = store.table("discount_codes").select(d_key="message_key", d_code="code")
    m = m.left_join(issued, m.message_key == issued.d_key)
    return m.select(
        "message_key",
        "flow",
        "step",
        "variant",
        "person_id",
        "trigger_id",
        "channel",
        "state",
        "sent_at",
        code=ibis.coalesce(
            m.d_code.strip().upper().nullif(""),
            m.payload.re_extract(CODE, 1).strip().upper().nullif(""),
        ),
    )


def _purchases(store: Store, now: datetime) -> ir.Table:
    """The purchases up to ``now``: person, time, net revenue, coupon and discount (both in
    the reporting currency: the order's own rate, ``gross / total``, for another currency)."""
    o = orders_base(store)
    o = o.filter(o.is_purchase & (o.ordered_at <= ibis.literal(now)))
    raw = store.table("orders")
    raw = raw.select(
        r_id=raw.order_id, r_discount=raw.discount.cast(F64), r_total=raw.total.cast(F64)
    )
    j = o.left_join(raw, o.order_id == raw.r_id)
    rate = ibis.ifelse(
        j.currency.upper() == reporting_currency(store),
        ibis.literal(1.0),
        j.gross / j.r_total.nullif(0.0),
    )
    return j.select(
        o_person=j.person_id,
        o_id=j.order_id,
        o_at=j.ordered_at,
        o_rev=j.revenue,
        o_coupon=j.coupon.strip().upper().nullif(""),
        o_discount=ibis.coalesce(j.r_discount, ibis.literal(0.0)) * rate,
    )


def _entered(stays: ir.Table, now: datetime, window: ir.IntervalScalar) -> pd.DataFrame:
    closed = stays.entered_at + window <= ibis.literal(now)
    return (
        stays.group_by("flow")
        .agg(
            entered=stays.count(),
            persons=stays.person_id.nunique(),
            held_out=stays.holdout.cast("int64").sum(),
            measured=closed.cast("int64").sum(),
        )
        .to_pandas()
    )


def _any(flag: ir.BooleanValue) -> ir.IntegerScalar:
    """1 when ``flag`` holds for a row of the group (the same on every engine)."""
    return ibis.coalesce(flag.cast("int64").max(), ibis.literal(0))


def _count(flag: ir.BooleanValue) -> ir.IntegerScalar:
    return ibis.coalesce(flag.cast("int64").sum(), ibis.literal(0))


def _steps(
    store: Store,
    messages: ir.Table,
    purchases: ir.Table,
    now: datetime,
    window: ir.IntervalScalar,
) -> pd.DataFrame:
    """Per flow and step: the messages by state, bounced and unsubscribed after the send,
    and the purchases within the window after the send."""
    m = messages
    funnel = m.group_by("flow", "step", "channel").agg(
        messages=m.count(),
        sent=_count(m.state.isin(SENT)),
        failed=_count(m.state == "failed"),
        suppressed=_count(m.state == "suppressed"),
        capped=_count(m.state == "capped"),
        holdout=_count(m.state == "holdout"),
        waiting=_count(m.state.isin(WAITING)),
    )
    sent = m.filter(m.state.isin(SENT) & m.sent_at.notnull())
    later = _after_send(store, sent, now)
    clicked = _clicked(store, m, now)
    bought = _bought_after_send(sent, purchases, window)
    frame = funnel.to_pandas()
    for extra in (later.to_pandas(), clicked.to_pandas(), bought.to_pandas()):
        frame = frame.merge(extra, on=["flow", "step"], how="left")
    if frame.empty:
        return pd.DataFrame(columns=["flow", *STEP_COLUMNS])
    counts = [c for c in STEP_COLUMNS if c not in ("step", "channel", "revenue", "discount_cost")]
    frame[counts] = frame[counts].fillna(0).astype("int64")
    for money in ("revenue", "discount_cost"):
        frame[money] = frame[money].fillna(0.0).astype(float).round(4)
    return frame[["flow", *STEP_COLUMNS]].sort_values(["flow", "step"]).reset_index(drop=True)


def _withdrawals(store: Store, persons: ir.Table) -> ir.Table:
    """person_id, w_channel, w_at, w_unsub: the suppressions of the persons' identifiers
    (``w_unsub`` when the reason says unsubscribe) and their ``unsubscribed`` consents."""
    ids = person_identifiers(store, persons)
    s = store.table("suppressions")
    kind = s.identifier_kind.strip().lower()
    s = s.select(
        s_kind=kind,
        s_value=ibis.ifelse(kind == "email", email_expr(s.identifier), s.identifier.strip()),
        w_channel=s.channel.strip().lower(),
        w_at=s.at,
        w_unsub=ibis.coalesce(s.reason.lower().contains("unsub"), ibis.literal(False)),
    )
    sup = ids.join(s, (ids.value == s.s_value) & (ids.kind == s.s_kind))
    c = store.table("consents")
    ckind = c.identifier_kind.strip().lower()
    c = c.filter(c.status.strip().lower() == "unsubscribed").select(
        c_kind=ckind,
        c_value=ibis.ifelse(ckind == "email", email_expr(c.identifier), c.identifier.strip()),
        w_channel=c.channel.strip().lower(),
        w_at=c.at,
        w_unsub=ibis.literal(True),
    )
    con = ids.join(c, (ids.value == c.c_value) & (ids.kind == c.c_kind))
    cols = ("person_id", "w_channel", "w_at", "w_unsub")
    return ibis.union(sup.select(*cols), con.select(*cols))


def _after_send(store: Store, sent: ir.Table, now: datetime) -> ir.Table:
    """flow, step, bounced, unsubscribed: the sent messages whose person was suppressed
    (not for an unsubscribe: a bounce or a complaint) or unsubscribed for the message's
    channel (or ``all``) at or after the send, up to ``now``."""
    w = _withdrawals(store, sent.select("person_id").distinct())
    j = sent.join(
        w,
        [
            sent.person_id == w.person_id,
            (w.w_channel == sent.channel) | (w.w_channel == "all"),
            w.w_at >= sent.sent_at,
            w.w_at <= ibis.literal(now),
        ],
    )
    per = j.group_by("flow", "step", "message_key").agg(b=_any(~j.w_unsub), u=_any(j.w_unsub))
    return per.group_by("flow", "step").agg(bounced=per.b.sum(), unsubscribed=per.u.sum())


def _clicked(store: Store, messages: ir.Table, now: datetime) -> ir.Table:
    """flow, step, clicked (messages with at least one click up to ``now``), clicks (all of
    them): the ``link_clicks`` rows joined to the messages by ``message_key``."""
    c = store.table(CLICKS)
    c = c.filter(c.clicked_at <= ibis.literal(now)).select(c_key=c.message_key)
    m = messages.select("flow", "step", "message_key")
    j = m.join(c, m.message_key == c.c_key)
    return j.group_by("flow", "step").agg(clicked=j.message_key.nunique(), clicks=j.count())


def _bought_after_send(sent: ir.Table, purchases: ir.Table, window: ir.IntervalScalar) -> ir.Table:
    """flow, step, converted (sent messages followed by a purchase of the person within the
    window), orders, revenue, coupon_orders, discount_cost (each order once per step)."""
    p = purchases
    j = sent.join(
        p,
        [sent.person_id == p.o_person, p.o_at > sent.sent_at, p.o_at <= sent.sent_at + window],
    )
    hit = ibis.coalesce(j.code == j.o_coupon, ibis.literal(False))
    per_order = j.group_by("flow", "step", "o_id").agg(
        rev=j.o_rev.max(), hit=_any(hit), disc=j.o_discount.max()
    )
    orders = per_order.group_by("flow", "step").agg(
        orders=per_order.count(),
        revenue=ibis.coalesce(per_order.rev.sum(), ibis.literal(0.0)),
        coupon_orders=per_order.hit.sum(),
        discount_cost=ibis.coalesce(
            per_order.disc.sum(where=per_order.hit == 1), ibis.literal(0.0)
        ),
    )
    conv = j.group_by("flow", "step").agg(converted=j.message_key.nunique())
    conv = conv.rename(c_flow="flow", c_step="step")
    out = orders.join(conv, [orders.flow == conv.c_flow, orders.step == conv.c_step])
    return out.drop("c_flow", "c_step")


def _units(
    stays: ir.Table,
    messages: ir.Table,
    purchases: ir.Table,
    now: datetime,
    window: ir.IntervalScalar,
) -> ir.Table:
    """One row per (flow, person, holdout) of the stays whose window has closed: variant,
    orders within the window after an entry (each once), revenue, coupon orders (coupon =
    a code the flow sent the person) and their discount."""
    s = stays.filter(stays.entered_at + window <= ibis.literal(now))
    units = s.group_by("flow", "person_id", "holdout").agg(variant=s.variant.max())
    p = purchases
    j = s.join(
        p, [s.person_id == p.o_person, p.o_at > s.entered_at, p.o_at <= s.entered_at + window]
    )
    orders = j.group_by("flow", "person_id", "holdout", "o_id").agg(
        rev=j.o_rev.max(), coupon=j.o_coupon.max(), disc=j.o_discount.max()
    )
    m = messages
    codes = m.filter(m.state.isin(SENT) & m.code.notnull())
    codes = codes.select(k_flow="flow", k_person="person_id", k_code="code").distinct()
    orders = orders.left_join(
        codes,
        [
            orders.flow == codes.k_flow,
            orders.person_id == codes.k_person,
            orders.coupon == codes.k_code,
        ],
    )
    hit = orders.k_code.notnull()
    per = orders.group_by("flow", "person_id", "holdout").agg(
        n_orders=orders.o_id.nunique(),
        revenue=ibis.coalesce(orders.rev.sum(), ibis.literal(0.0)),
        unknown=_count(orders.rev.isnull()),
        coupon_orders=_count(hit),
        discount=ibis.coalesce(orders.disc.sum(where=hit), ibis.literal(0.0)),
    )
    per = per.rename(u_flow="flow", u_person="person_id", u_holdout="holdout")
    j2 = units.left_join(
        per,
        [
            units.flow == per.u_flow,
            units.person_id == per.u_person,
            units.holdout == per.u_holdout,
        ],
    )
    return j2.select(
        "flow",
        "person_id",
        "holdout",
        "variant",
        n_orders=ibis.coalesce(j2.n_orders, ibis.literal(0)),
        revenue=ibis.coalesce(j2.revenue, ibis.literal(0.0)),
        unknown=ibis.coalesce(j2.unknown, ibis.literal(0)),
        coupon_orders=ibis.coalesce(j2.coupon_orders, ibis.literal(0)),
        discount=ibis.coalesce(j2.discount, ibis.literal(0.0)),
    )


def _arms(units: ir.Table, *keys: str) -> ir.Table:
    """Per ``keys``: persons, converted, orders, revenue and its sum of squares, coupon
    orders and converters, discount cost, orders of unknown revenue."""
    u = units
    return u.group_by(*keys).agg(
        persons=u.count(),
        converted=_count(u.n_orders > 0),
        orders=u.n_orders.sum(),
        revenue=u.revenue.sum(),
        revenue_squares=(u.revenue * u.revenue).sum(),
        coupon_orders=u.coupon_orders.sum(),
        coupon_converted=_count(u.coupon_orders > 0),
        discount_cost=u.discount.sum(),
        unknown=u.unknown.sum(),
    )


def _group(name: str, row: Mapping[Any, Any] | None) -> Group:
    if row is None:
        return Group(name, Arm(0, 0, 0.0, 0.0))
    arm = Arm(
        int(row["persons"]),
        int(row["converted"]),
        float(row["revenue"] or 0.0),
        float(row["revenue_squares"] or 0.0),
    )
    return Group(
        name,
        arm,
        orders=int(row["orders"] or 0),
        coupon_orders=int(row["coupon_orders"] or 0),
        coupon_converted=int(row["coupon_converted"] or 0),
        discount_cost=float(row["discount_cost"] or 0.0),
        unknown_revenue=int(row["unknown"] or 0),
    )


def _scaled(e: Estimate | None, n: int) -> Estimate | None:
    if e is None:
        return None
    return Estimate(
        e.estimate * n,
        None if e.low is None else e.low * n,
        None if e.high is None else e.high * n,
        e.confidence,
    )


def _report(
    name: str,
    counts: Mapping[Any, Any],
    states: dict[str, int],
    steps: pd.DataFrame,
    arms: tuple[Mapping[Any, Any] | None, Mapping[Any, Any] | None],
    variants: pd.DataFrame,
    min_per_arm: int,
    confidence: float,
) -> FlowReport:
    treated, held = _group("treated", arms[0]), _group("holdout", arms[1])
    conv = conversion_uplift(treated.arm, held.arm, confidence)
    rev = revenue_uplift(treated.arm, held.arm, confidence)
    incremental = None
    if conv is not None:
        share = wasted_share(treated.arm.conversion, held.arm.conversion)
        incremental = Incremental(
            conversions=_scaled(conv, treated.arm.persons),
            revenue=_scaled(rev, treated.arm.persons),
            discount_cost=treated.discount_cost,
            wasted_share=share,
            wasted_discount=None if share is None else round(treated.discount_cost * share, 4),
        )
    groups = [_group(str(r["variant"]), r) for r in variants.to_dict("records")]
    groups.sort(key=lambda g: g.name)
    verdict = None
    if len(groups) >= 2:
        verdict = compare_variants(
            {g.name: g.arm for g in groups}, min_per_arm=min_per_arm, confidence=confidence
        )
    return FlowReport(
        flow=name,
        entered=int(counts.get("entered", 0)),
        persons=int(counts.get("persons", 0)),
        held_out=int(counts.get("held_out", 0) or 0),
        measured=int(counts.get("measured", 0) or 0),
        messages=states,
        steps=steps,
        treated=treated,
        holdout=held,
        conversion_uplift=conv,
        revenue_uplift=rev,
        incremental=incremental,
        variants=groups,
        verdict=verdict,
    )
