"""What each step does to the stays due at it, set-based (docs/flows.md, "Steps").

A stay is a ``flow_state`` row plus ``touched`` (changed by this tick). A stay due at a step
(``status = 'active'``, ``next_at <= now``) runs it at its own time ``next_at``, so a tick run
late gives the same messages as ticks run on time: a wait moves ``next_at`` on, a branch picks
the next step, a send makes a candidate message due at ``next_at``. Every function here is
Ibis over all the stays at a step; nothing loops over persons.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.journey import persons_of
from tenure.engage.flow_spec import GUARDRAIL_EXIT, Condition, Flow, Step
from tenure.engage.policy import CANDIDATE_COLUMNS
from tenure.engage.products import with_products
from tenure.engage.triggers import (
    TS,
    Context,
    membership,
    property_text,
    time_seconds,
    zone_offsets,
)

#: The columns of a stay in the tick (``flow_state``'s and ``touched``).
STAY = (
    "flow",
    "person_id",
    "trigger_id",
    "trigger_at",
    "entered_at",
    "step",
    "next_at",
    "variant",
    "holdout",
    "status",
    "exit_reason",
    "updated_at",
    "touched",
)
#: The types of a stay's and a candidate's columns (a union needs them equal).
TYPES = {
    **{c: "string" for c in (*STAY, *CANDIDATE_COLUMNS, "state", "reason")},
    **{
        c: "timestamp"
        for c in ("trigger_at", "entered_at", "next_at", "updated_at", "due_at", "release_at")
    },
    "holdout": "boolean",
    "touched": "boolean",
}


def conform(table: ir.Table, columns: tuple[str, ...]) -> ir.Table:
    """``columns`` of ``table``, each cast to its type of :data:`TYPES`."""
    return table.select(*[table[c].cast(TYPES[c]).name(c) for c in columns])


#: The channel of a recorded ``set_trait`` action (not a send: no policy applies).
TRAIT_CHANNEL = "trait"
_BUCKETS = 16**6
_CODE = "\u0000code\u0000"
_PRODUCTS = "\u0000products\u0000"

HoldoutFn = Callable[[ir.StringValue, str, float], ir.BooleanValue]


def digest(*parts: ir.StringValue | str) -> ir.StringValue:
    """SHA-256 (hex) of the parts joined by ``|``: the same text on every engine."""
    text: ir.StringValue = ibis.literal("")
    for i, part in enumerate(parts):
        value = ibis.literal(part) if isinstance(part, str) else part
        text = value if i == 0 else text + ibis.literal("|") + value
    return text.hexdigest("sha256")


def bucket(text: ir.StringValue) -> ir.FloatingValue:
    """A uniform number in [0, 1) from the MD5 of ``text`` (its first six hex digits): the
    same on every engine, unlike the engines' hash functions."""
    h = text.hexdigest("md5")
    digits = ibis.literal("0123456789abcdef")
    number = sum(digits.find(h.substr(i, 1)).cast("int64") * 16 ** (5 - i) for i in range(6))
    return number.cast("float64") / float(_BUCKETS)


def variant_of(flow: Flow, step: Step, person: ir.StringValue) -> ir.StringValue:
    """The A/B variant of a send: the person's bucket for the flow against the cumulative
    shares (the same person keeps the same position in every send of the flow)."""
    if not step.variants:
        return ibis.null("string")
    u = bucket(ibis.literal(f"{flow.name}|variant|") + person)
    cases = []
    edge = 0.0
    for v in step.variants[:-1]:
        edge += v.share
        cases.append((u < edge, ibis.literal(v.name)))
    return ibis.cases(*cases, else_=ibis.literal(step.variants[-1].name))


def advance(
    rows: ir.Table, step: Step, target: ir.StringValue | str | None, **changes: ir.Value
) -> ir.Table:
    """``rows`` moved to ``target`` (None: the flow completed), with ``changes``."""
    if target is None:
        moved = {"status": ibis.literal("completed"), "exit_reason": ibis.literal("completed")}
    else:
        moved = {"step": ibis.literal(target) if isinstance(target, str) else target}
    return rows.mutate(**moved, **changes, touched=ibis.literal(True))


@dataclass
class Applied:
    """A step's stays afterwards, its candidate messages and recorded actions."""

    stays: ir.Table
    candidates: ir.Table | None = None
    actions: ir.Table | None = None


def apply(ctx: Context, flow: Flow, step: Step, rows: ir.Table) -> Applied:
    """Run ``step`` for the stays ``rows`` due at it."""
    if step.kind == "wait":
        assert step.wait is not None
        later = rows.next_at + ibis.interval(seconds=int(step.wait.total_seconds()))
        return Applied(advance(rows, step, step.next, next_at=later))
    if step.kind == "wait_until":
        return Applied(_wait_until(ctx, step, rows))
    if step.kind == "branch":
        assert step.condition is not None and step.then and step.otherwise
        tested = condition(ctx, step.condition, rows)
        target = ibis.ifelse(tested.hit, ibis.literal(step.then), ibis.literal(step.otherwise))
        return Applied(advance(tested, step, target).drop("hit"))
    if step.kind == "exit":
        return Applied(
            rows.mutate(
                status=ibis.literal("exited"),
                exit_reason=ibis.literal("exit step"),
                touched=ibis.literal(True),
            )
        )
    if step.kind == "send":
        variant = variant_of(flow, step, rows.person_id)
        sent = rows.mutate(variant=ibis.coalesce(variant, rows.variant))
        if step.products is not None:
            shift = flow.trigger.no_order_within or timedelta(0)
            rows = with_products(ctx, step.products, step.count, rows, shift=shift)
        return Applied(advance(sent, step, step.next), candidates=candidates(flow, step, rows))
    if step.kind == "set_trait":
        return Applied(advance(rows, step, step.next), actions=_trait(flow, step, rows))
    if dict(step.discount).get("guardrail") == "margin":
        return Applied(_margin_guardrail(ctx, step, rows))
    return Applied(advance(rows, step, step.next))  # discount: recorded in the next sends


def _margin_guardrail(ctx: Context, step: Step, rows: ir.Table) -> ir.Table:
    """A discount's margin guardrail: a stay goes on when the margin rate (margin / revenue)
    of the person's latest purchase up to the step's time is at least the percent; the
    others (lower margin, or no purchase with a known margin) exit with
    ``exit_reason`` ``margin guardrail``, so they get neither the code nor its send."""
    floor = float(dict(step.discount)["percent"]) / 100
    p = ctx.purchase_values(rows)
    j = rows.inner_join(p, [rows.person_id == p.p_person, p.p_at <= rows.next_at])
    rate = (j.p_margin / j.p_revenue).name("rate")
    last = (
        j.select(
            g_person="person_id",
            g_trigger="trigger_id",
            rate=ibis.ifelse(j.p_revenue > 0, rate, ibis.null("float64")),
            rank=ibis.row_number().over(
                group_by=[j.person_id, j.trigger_id], order_by=[j.p_at.desc()]
            ),
        )
        .filter(lambda t: t["rank"] == 0)
        .drop("rank")
    )
    k = rows.left_join(last, [rows.person_id == last.g_person, rows.trigger_id == last.g_trigger])
    k = k.select(*rows.columns, ok=ibis.coalesce(k.rate >= floor, ibis.literal(False)))
    gone = k.filter(~k.ok).drop("ok")
    gone = gone.mutate(
        status=ibis.literal("exited"),
        exit_reason=ibis.literal(GUARDRAIL_EXIT),
        touched=ibis.literal(True),
    )
    return advance(k.filter(k.ok).drop("ok"), step, step.next).union(gone)


def _wait_until(ctx: Context, step: Step, rows: ir.Table) -> ir.Table:
    """``rows`` due next at the first time at or after each stay's ``next_at`` that reads
    ``step.until`` on the person's clock (their zone's offset at that time, so a late tick
    gives what ticks on time would have across a daylight saving change)."""
    assert step.until is not None
    earliest = rows.next_at.min().execute()
    if earliest is None or pd.isna(earliest):
        return advance(rows, step, step.next)
    spans = zone_offsets(ctx, pd.Timestamp(earliest).to_pydatetime() - timedelta(days=1))
    zones = ctx.zones()
    default = ibis.literal(ctx.store.settings.timezone)
    j = rows.left_join(zones, rows.person_id == zones.z_person)
    j = j.select(*rows.columns, w_zone=ibis.coalesce(j.zone, default))
    local = j.next_at.epoch_seconds() + _offset(spans, j.w_zone, j.next_at)
    target = local - local % 86400 + time_seconds(step.until)
    target = ibis.ifelse(target < local, target + 86400, target)
    guess = j.next_at + (target - local).as_interval("s")
    # the offset at the target itself (a night with a daylight saving change in it)
    utc = target - _offset(spans, j.w_zone, guess)
    out = j.mutate(next_at=utc.as_timestamp("s").cast(TS))
    return advance(out.select(*rows.columns), step, step.next)


def _offset(
    spans: dict[str, list[tuple[datetime | None, datetime | None, int]]],
    zone: ir.StringValue,
    at: ir.TimestampValue,
) -> ir.IntegerValue:
    """The UTC offset (seconds) at ``at`` in ``zone``: a case per zone and span (a few per
    zone; no join)."""
    cases = []
    for name, parts in spans.items():
        for start, stop, seconds in parts:
            hit = zone == name
            if start is not None:
                hit &= at >= ibis.literal(start, type=TS)
            if stop is not None:
                hit &= at < ibis.literal(stop, type=TS)
            cases.append((hit, ibis.literal(seconds, type="int64")))
    return ibis.cases(*cases, else_=ibis.literal(0, type="int64"))


def condition(ctx: Context, cond: Condition, rows: ir.Table) -> ir.Table:
    """``rows`` with ``hit``: whether each stay meets ``cond`` at its time ``next_at``."""
    if cond.kind == "ordered_since_entry":
        return ordered(ctx, rows)
    if cond.kind == "in_segment":
        m = membership(ctx.store)
        m = m.filter(m.segment == cond.name)
        at = rows.next_at
        hit = rows.semi_join(
            m,
            [
                rows.person_id == m.person_id,
                m.entered_at.cast(TS) <= at,
                m.exited_at.isnull() | (m.exited_at.cast(TS) > at),
            ],
        )
        return _member(rows, hit)
    if cond.kind == "event_since_entry":
        e = ctx.events()
        e = e.filter(e.event == cond.name)
        hit = rows.semi_join(
            e,
            [
                rows.person_id == e.person_id,
                e.timestamp > rows.entered_at,
                e.timestamp <= rows.next_at,
            ],
        )
        return _member(rows, hit)
    return _field_equals(ctx, cond, rows)


def ordered(ctx: Context, rows: ir.Table, until: ir.TimestampValue | None = None) -> ir.Table:
    """``rows`` with ``hit``: whether each stay's person bought after entering, up to
    ``until`` (default: the stay's ``next_at``)."""
    p = ctx.purchases()
    end = rows.next_at if until is None else until
    hit = rows.semi_join(p, [rows.person_id == p.p_person, p.p_at > rows.entered_at, p.p_at <= end])
    return _member(rows, hit)


def _member(rows: ir.Table, hit: ir.Table) -> ir.Table:
    """``rows`` with ``hit``: whether each is among ``hit`` (a semi-join of it), by stay key."""
    keys = hit.select(h_person="person_id", h_trigger="trigger_id").distinct()
    j = rows.left_join(keys, [rows.person_id == keys.h_person, rows.trigger_id == keys.h_trigger])
    return j.select(*rows.columns, hit=j.h_person.notnull())


def _field_equals(ctx: Context, cond: Condition, rows: ir.Table) -> ir.Table:
    """A customer column or trait equal to the value (text comparison)."""
    store = ctx.store
    c = persons_of(store, store.table("customers"), [("customer_id", "customer_id")], "f_person")
    name = str(cond.name)
    text = (
        c[name].cast("string")
        if name in c.columns
        else property_text(ibis.coalesce(c.traits, ibis.literal("")), name)
    )
    hit_persons = c.filter(text == cond.value).select(f_person="f_person").distinct()
    hit = rows.semi_join(hit_persons, rows.person_id == hit_persons.f_person)
    return _member(rows, hit)


def payload_text(
    flow: Flow, step: Step, template: str | None, subject: str | None
) -> dict[str, object]:
    body: dict[str, object] = {"flow": flow.name, "step": step.id, "template": template}
    if subject is not None:
        body["subject"] = subject
    discount = _discount_before(flow, step)
    if discount is not None:
        body["discount"] = {"code": _CODE, **dict(discount.discount)}
    if step.products is not None:
        body["products"] = _PRODUCTS
    return body


def _discount_before(flow: Flow, step: Step) -> Step | None:
    """The last discount step listed before ``step`` (its offer goes with the send)."""
    found = None
    for s in flow.steps:
        if s.id == step.id:
            return found
        if s.kind == "discount":
            found = s
    return found


def _payload(flow: Flow, step: Step, rows: ir.Table, variant: ir.StringValue) -> ir.StringValue:
    """The payload JSON text of each candidate (template, subject, variant, discount code)."""
    options: list[tuple[str | None, str | None, str | None]] = [(None, step.template, step.subject)]
    if step.variants:
        options = [
            (v.name, v.template or step.template, v.subject or step.subject) for v in step.variants
        ]
    code = ibis.literal("")
    discount = _discount_before(flow, step)
    if discount is not None:
        prefix = dict(discount.discount)["code_prefix"]
        seed = digest(flow.name, rows.person_id, rows.trigger_id)
        code = ibis.literal(prefix) + seed.substr(0, 8).upper()
    texts = []
    for name, template, subject in options:
        body = payload_text(flow, step, template, subject)
        if name is not None:
            body["variant"] = name
        text = json.dumps(body, sort_keys=True)
        pieces = {
            json.dumps(_CODE): ibis.literal('"') + code + ibis.literal('"'),
            json.dumps(_PRODUCTS): rows.products if step.products is not None else None,
        }
        texts.append((name, _filled(text, pieces)))
    if len(texts) == 1:
        return texts[0][1]
    return ibis.cases(*[(variant == n, t) for n, t in texts[:-1]], else_=texts[-1][1])


def _filled(text: str, pieces: dict[str, ir.StringValue | None]) -> ir.StringValue:
    """``text`` with each placeholder of ``pieces`` found in it replaced by its expression."""
    out: ir.StringValue = ibis.literal("")
    rest = text
    while True:
        at = [(rest.find(k), k) for k, v in pieces.items() if v is not None and k in rest]
        if not at:
            return out + ibis.literal(rest)
        index, key = min(at)
        piece = pieces[key]
        assert piece is not None
        out = out + ibis.literal(rest[:index]) + piece
        rest = rest[index + len(key) :]


def candidates(flow: Flow, step: Step, rows: ir.Table) -> ir.Table:
    """The candidate messages of a send step (the send policy decides their state)."""
    variant = variant_of(flow, step, rows.person_id)
    return rows.select(
        message_key=digest(flow.name, step.id, rows.person_id, rows.trigger_id),
        flow=rows.flow,
        step=ibis.literal(step.id),
        variant=variant,
        person_id=rows.person_id,
        trigger_id=rows.trigger_id,
        channel=ibis.literal(step.channel),
        payload=_payload(flow, step, rows, variant),
        due_at=rows.next_at,
        holdout=ibis.coalesce(rows.holdout, ibis.literal(False)),
    )


def _trait(flow: Flow, step: Step, rows: ir.Table) -> ir.Table:
    """A ``set_trait`` recorded as a message of channel ``trait`` (the dispatcher applies it)."""
    assert step.trait is not None
    name, value = step.trait
    body = json.dumps({"flow": flow.name, "step": step.id, "trait": name, "value": value})
    return rows.select(
        message_key=digest(flow.name, step.id, rows.person_id, rows.trigger_id),
        flow=rows.flow,
        step=ibis.literal(step.id),
        variant=ibis.null("string"),
        person_id=rows.person_id,
        trigger_id=rows.trigger_id,
        channel=ibis.literal(TRAIT_CHANNEL),
        payload=ibis.literal(body),
        due_at=rows.next_at,
        holdout=ibis.literal(False),
    )
