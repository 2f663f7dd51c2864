"""Segment conditions compiled to Ibis: one boolean expression over the profile
(:func:`tenure.engage.fields.profile`) per condition. Field names were checked against the
catalogue when parsed; every value is an Ibis literal, never SQL text.

A condition on an unknown (null) value is false (``is_null`` aside), so ``not X`` holds
exactly where ``X`` does not, and ``X`` or ``not X`` is every person. An event condition is
the persons with events that match it, then ``person_id IN`` that set.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import F64
from tenure.analytics.touch import attributed_events
from tenure.engage.fields import TRAIT, json_value
from tenure.engage.spec import (
    All,
    AnyOf,
    CandidateCondition,
    Condition,
    EventCondition,
    FieldCondition,
    ListCondition,
    Not,
    RecommendedCondition,
)
from tenure.errors import ConfigError
from tenure.store import Store

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


@dataclass
class Context:
    """What conditions compile against: the store, the clock ``now`` and the ``profile``
    (one row per person); the events with a person up to ``now`` are read once, on demand.
    ``built``: whether the derived tables are read (else the recommendation conditions
    hold for no one, as the profile's predictions are null)."""

    store: Store
    now: datetime
    profile: ir.Table
    built: bool = True
    _events: ir.Table | None = field(default=None, repr=False)

    def events(self) -> ir.Table:
        if self._events is None:
            e = attributed_events(self.store)
            e = e.filter(e.person_id.notnull() & (e.timestamp <= ibis.literal(self.now)))
            self._events = e.select("person_id", "event", "timestamp", "properties")
        return self._events


def compare(column: ir.Value, op: str, value: Any) -> ir.BooleanValue:
    """``column op value`` with ``value`` bound as a literal (null when ``column`` is)."""
    if op == "is_null":
        return column.isnull() if value else column.notnull()
    if op in _COMPARE:
        return _COMPARE[op](column, ibis.literal(value))
    if op == "in":
        return column.isin([ibis.literal(v) for v in value])
    if op == "not_in":
        return column.notin([ibis.literal(v) for v in value])
    if op == "between":
        return column.between(ibis.literal(value[0]), ibis.literal(value[1]))
    if op == "contains":
        return column.contains(ibis.literal(value))
    raise ValueError(f"unknown operator {op!r}")


def _as_text(column: ir.Value, value: Any) -> tuple[ir.Value, Any]:
    """A JSON-held value (trait, event property) and the value compared with it: numbers as
    numbers, booleans as ``true``/``false``, the rest as text."""
    sample = value[0] if isinstance(value, tuple) else value
    if isinstance(sample, bool):
        text = tuple(str(v).lower() for v in value) if isinstance(value, tuple) else None
        return column.lower(), text if text is not None else str(value).lower()
    if isinstance(sample, int | float):
        return column.try_cast(F64), value
    return column, value


def _field(c: FieldCondition, ctx: Context) -> ir.BooleanValue:
    p = ctx.profile
    trait = TRAIT.fullmatch(c.field)
    if trait is None:
        column, value = p[c.field], c.value
    else:
        column, value = _as_text(json_value(p.traits, trait.group(1)), c.value)
    return compare(column, c.op, value).fill_null(False)


def _matched_events(c: EventCondition, ctx: Context) -> ir.Table:
    e = ctx.events()
    m = e.filter(e.event == ibis.literal(c.event))
    if c.within is not None:
        m = m.filter(m.timestamp >= ibis.literal(ctx.now - c.within))
    for prop in c.where:
        column, value = _as_text(json_value(m.properties, prop.key), prop.value)
        m = m.filter(compare(column, prop.op, value).fill_null(False))
    if c.not_followed_by is not None:
        f = e.filter(e.event == ibis.literal(c.not_followed_by))
        if c.within is not None:  # a follow-up before the window is before every match
            f = f.filter(f.timestamp >= ibis.literal(ctx.now - c.within))
        last = f.group_by(_fp=f.person_id).agg(_last=f.timestamp.max())
        m = m.left_join(last, m.person_id == last._fp)
        m = m.filter(m._last.isnull() | (m.timestamp > m._last)).drop("_fp", "_last")
    return m


def _event(c: EventCondition, ctx: Context) -> ir.BooleanValue:
    m = _matched_events(c, ctx)
    pid = ctx.profile.person_id
    if c.count is None:
        return pid.isin(m.person_id)
    op, value = c.count
    counts = m.group_by("person_id").agg(n=m.count())
    holds = pid.isin(counts.filter(compare(counts.n, op, value)).person_id)
    if compare_python(0, op, value):  # no event at all satisfies it too
        holds = holds | pid.notin(counts.person_id)
    return holds


def compare_python(left: int, op: str, value: Any) -> bool:
    """The count comparison on plain numbers (whether 0 events satisfy it)."""
    if op == "between":
        return bool(value[0] <= left <= value[1])
    return bool(_COMPARE[op](left, value))


def _ranked(ctx: Context, table: str, column: str, value: str, top: int | None) -> ir.BooleanValue:
    if not ctx.built or not ctx.store.exists(table):
        return ibis.literal(False)
    t = ctx.store.read(table)
    keep = t[column] == ibis.literal(value)
    if top is not None:
        keep = keep & (t["rank"] <= top)
    return ctx.profile.person_id.isin(t.filter(keep).person_id)


def list_persons(store: Store, c: ListCondition) -> ir.Table:
    """person_id of the rows of a static list (a CSV with ``customer_id`` or ``email``):
    each identifier's person (``identities``; a customer id identity resolution has not
    seen stands for itself)."""
    try:
        frame = pd.read_csv(c.path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise ConfigError(f"{c.at}: cannot read the list {str(c.path)!r}: {e}.") from None
    kinds = [k for k in ("customer_id", "email") if k in frame.columns]
    if not kinds:
        raise ConfigError(
            f"{c.at}: the list {str(c.path)!r} has no customer_id or email column.",
            hint=f"Its columns: {', '.join(map(str, frame.columns)) or 'none'}.",
        )
    kind = kinds[0]
    values = frame[kind].str.strip()
    if kind == "email":
        values = values.str.lower()
    rows = pd.DataFrame({"value": values[values != ""].drop_duplicates()}, dtype=object)
    listed = ibis.memtable(rows, schema={"value": "string"})
    ids = store.table("identities")
    ids = ids.filter(ids.kind == kind).select(_v="value", _p="person_id")
    j = listed.left_join(ids, listed.value == ids._v)
    fallback = j.value if kind == "customer_id" else ibis.null("string")
    return j.select(person_id=ibis.coalesce(j._p, fallback)).filter(ibis._.person_id.notnull())


def condition(c: Condition, ctx: Context) -> ir.BooleanValue:
    """The boolean expression of condition ``c`` over ``ctx.profile`` (never null)."""
    if isinstance(c, All):
        return functools.reduce(operator.and_, (condition(p, ctx) for p in c.parts))
    if isinstance(c, AnyOf):
        return functools.reduce(operator.or_, (condition(p, ctx) for p in c.parts))
    if isinstance(c, Not):
        return ~condition(c.part, ctx)
    if isinstance(c, FieldCondition):
        return _field(c, ctx)
    if isinstance(c, EventCondition):
        return _event(c, ctx)
    if isinstance(c, RecommendedCondition):
        return _ranked(ctx, "product_recommendations", "product_id", c.product, c.top)
    if isinstance(c, CandidateCondition):
        return _ranked(ctx, "category_candidates", "category", c.category, c.top)
    return ctx.profile.person_id.isin(list_persons(ctx.store, c).person_id)
