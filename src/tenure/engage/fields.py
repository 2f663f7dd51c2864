"""The field catalogue of segments: one row per person (the *profile*) that segment conditions
compile against, each column typed and described (docs/segments.md, "Fields").

The profile joins what the pipeline built: ``customer_facts``, ``customer_status``,
``customer_rfm``, the open stays of ``journey_history``, ``customer_predictions``, the top
row of ``category_candidates``; and what the canonical tables say: the customer record
(``customers``: e-mail, country, time zone, traits), the latest consent per channel
(``consents``, else the record's ``accepts_marketing`` for e-mail), ``suppressions``, and the
feedback and referrals aggregates (:func:`tenure.analytics.journey.person_feedback`,
:func:`~tenure.analytics.journey.counted_referrals`). A derived table the store lacks is
computed from the canonical tables where a function builds it (facts, statuses, RFM, journey
stages); predictions and candidates a store has not built are null (unknown, never 0).

Every person the store knows is a row: the persons of ``identities`` and of the facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import ibis
import ibis.expr.types as ir

from tenure.analytics.base import F64
from tenure.analytics.journey import counted_referrals, journey_stages, person_feedback
from tenure.analytics.touch import earliest
from tenure.store import Store

#: The value types of fields, and the Ibis type of each.
TYPES = {
    "string": "string",
    "int": "int64",
    "float": "float64",
    "bool": "boolean",
    "timestamp": "timestamp",
    "date": "date",
}


@dataclass(frozen=True)
class Field:
    """One field of the profile: its ``name``, value ``type`` (a key of :data:`TYPES`), the
    table it comes from (``source``) and one line on what it holds."""

    name: str
    type: str
    source: str
    doc: str


def _fields(source: str, *rows: tuple[str, str, str]) -> list[Field]:
    return [Field(name, kind, source, doc) for name, kind, doc in rows]


#: (profile column, column of the source table) where the names differ.
_FACTS = (
    ("is_buyer", "bool", "Bought at least once."),
    ("orders", "int", "Purchases (orders that count as purchases) to date."),
    ("repeat_orders", "int", "Purchases after the first."),
    ("revenue", "float", "Net revenue to date, in the reporting currency."),
    ("margin", "float", "Margin to date, in the reporting currency."),
    ("aov", "float", "Average order value."),
    ("first_order_at", "timestamp", "When the first purchase was made."),
    ("last_order_at", "timestamp", "When the latest purchase was made."),
    ("days_since_last_order", "int", "Days from the latest purchase day to the as-of day."),
    ("first_category", "string", "The category of the first purchase's main line."),
    ("first_product", "string", "The product of the first purchase's main line."),
    ("acquisition_channel", "string", "The channel that acquired the buyer."),
    ("known_since", "timestamp", "When the person became known (record or e-mail)."),
    ("gap_mean", "float", "The mean number of days between purchase days."),
)
_STATUS = (
    ("status", "string", "Lifecycle status: prospect, new, active, at_risk, lapsed, vip."),
    ("is_vip", "bool", "Among the top value share of buyers (the `vip_share` setting)."),
    ("tier", "string", "Value tier of the buyer."),
    ("expected_gap_days", "float", "The purchase rhythm: the expected days between orders."),
    ("at_risk_after_days", "float", "Days without an order after which the buyer is at risk."),
    ("purchase_days", "int", "Distinct days with a purchase."),
)
_RFM = (
    ("rfm_segment", "string", "RFM segment (Champions, Loyal, At risk, ...)."),
    ("r_score", "int", "RFM recency score, 1-5."),
    ("f_score", "int", "RFM frequency score, 1-5."),
    ("m_score", "int", "RFM monetary score, 1-5."),
)
_JOURNEY = (
    (
        "stage",
        "string",
        "Journey stage: reach, acquire, develop, retain, advocate, at_risk, lapsed.",
    ),
    ("stage_since", "date", "The day the person entered the stage (where known)."),
)
_PREDICTIONS = (
    ("p_alive", "float", "Probability the buyer is still a customer."),
    ("clv", "float", "Predicted customer lifetime value over the horizon (clv_<n>m)."),
    ("expected_orders", "float", "Expected orders over the horizon (expected_orders_<n>m)."),
    ("expected_next_purchase_days", "float", "Expected days to the next purchase."),
    ("future_vip_probability", "float", "Probability of becoming a VIP."),
)
_ADVOCACY = (
    ("nps", "float", "The latest NPS answer (0-10)."),
    ("nps_at", "timestamp", "When the latest NPS answer was given."),
    ("reviews", "int", "Scored product reviews written."),
    ("review_stars", "float", "Average review score on a 5-star scale."),
    ("feedback_count", "int", "Scored feedback answers of any kind."),
    ("referrals", "int", "Referrals made that count (no cycle, both sides known)."),
    ("referred_buyers", "int", "Persons referred who bought."),
)
_RECORD = (
    ("customer_id", "string", "The store's customer id (the latest record)."),
    ("email", "string", "The customer record's e-mail."),
    ("country", "string", "The customer record's country."),
    ("timezone", "string", "The customer record's time zone."),
    ("created_at", "timestamp", "When the customer record was created."),
)
_CONSENT = (
    ("email_subscribed", "bool", "Latest e-mail consent (else the record's accepts_marketing)."),
    ("sms_subscribed", "bool", "Latest SMS consent."),
    ("suppressed", "bool", "An identifier of the person is on the suppression list."),
)
_CANDIDATES = (
    ("top_candidate_category", "string", "The best category the buyer never bought."),
    ("top_candidate_propensity", "float", "The propensity of that category."),
)

#: Every field of the profile by name (the catalogue docs/segments.md lists).
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        *_fields("customer_facts", *_FACTS),
        *_fields("customer_status", *_STATUS),
        *_fields("customer_rfm", *_RFM),
        *_fields("journey_history", *_JOURNEY),
        *_fields("customer_predictions", *_PREDICTIONS),
        *_fields("feedback, referrals", *_ADVOCACY),
        *_fields("customers", *_RECORD),
        *_fields("consents, suppressions", *_CONSENT),
        *_fields("category_candidates", *_CANDIDATES),
    )
}
#: A trait of the customer record (``customers.traits``, a JSON object): ``traits.<key>``.
TRAIT = re.compile(r"traits\.([A-Za-z_][A-Za-z0-9_]*)")


def field_type(name: str) -> str | None:
    """The type of field ``name`` (a trait is a string), or None when there is no such
    field."""
    if name in FIELDS:
        return FIELDS[name].type
    return "string" if TRAIT.fullmatch(name) else None


def json_value(column: ir.StringValue, key: str) -> ir.StringValue:
    """The top-level value of ``key`` in a JSON object held as text (a string's text, a
    number or boolean as written; null when absent). ``key`` is a checked name
    (``[A-Za-z0-9_]``): the pattern is a bound literal, never SQL text."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", key):
        raise ValueError(f"not a plain key: {key!r}")
    pattern = '"' + key + r'"\s*:\s*"?([^",}]*)"?'
    return column.re_extract(pattern, 1).nullif("")


def _optional(store: Store, name: str) -> ir.Table | None:
    return store.read(name) if store.exists(name) else None


def _persons(store: Store, facts: ir.Table) -> ir.Table:
    ids = store.table("identities")
    ids = ids.filter(ids.person_id.notnull()).select("person_id")
    return ibis.union(ids, facts.select("person_id"), distinct=True)


def _nulls(rows: tuple[tuple[str, str, str], ...]) -> dict[str, ir.Value]:
    return {name: ibis.null(TYPES[kind]) for name, kind, _ in rows}


def _stages(store: Store, end: date, built: bool) -> ir.Table:
    """person_id, stage, stage_since: the open stays of ``journey_history`` (else the stages
    computed as of ``end``)."""
    h = _optional(store, "journey_history") if built else None
    if h is None:
        j = journey_stages(store, end)
        return j.select("person_id", "stage", stage_since="since")
    h = h.filter(h.left_at.isnull())
    return h.select("person_id", "stage", stage_since="entered_at")


def _predictions(store: Store) -> ir.Table | None:
    p = _optional(store, "customer_predictions")
    if p is None:
        return None
    clv = next((c for c in p.columns if re.fullmatch(r"clv_\d+m", c)), None)
    exp = next((c for c in p.columns if re.fullmatch(r"expected_orders_\d+m", c)), None)
    return p.select(
        "person_id",
        "p_alive",
        clv=p[clv].cast(F64) if clv else ibis.null(F64),
        expected_orders=p[exp].cast(F64) if exp else ibis.null(F64),
        expected_next_purchase_days=p.expected_next_purchase_days,
        future_vip_probability=p.future_vip_probability,
    )


def _advocacy(store: Store, end: date, facts: ir.Table, need: set[str] | None) -> ir.Table:
    """person_id and the feedback and referrals aggregates as of ``end`` (of ``need``'s
    fields only: the feedback, the referrals, or both; the others null)."""
    parts: list[ir.Table] = []
    if need is None or need & {"nps", "nps_at", "reviews", "review_stars", "feedback_count"}:
        f = person_feedback(store, end)
        nps = f.filter(f.kind == "nps")
        w = ibis.window(group_by=nps.fp, order_by=[ibis.desc(nps.submitted_at), nps.feedback_id])
        ranked = nps.mutate(_r=ibis.row_number().over(w))
        ranked = ranked.filter(ranked._r == 0)
        latest = ranked.select(
            person_id=ranked.fp, nps=ranked.score.cast(F64), nps_at=ranked.submitted_at
        )
        is_review = (f.kind == "review") & (f.scale_max > 0)
        stars = ibis.ifelse(is_review, f.score.cast(F64) / f.scale_max.cast(F64) * 5.0, None)
        per = f.group_by(person_id=f.fp).agg(
            reviews=is_review.cast("int64").sum(),
            review_stars=stars.mean(),
            feedback_count=f.count(),
        )
        parts += [per, latest]
    if need is None or need & {"referrals", "referred_buyers"}:
        r = counted_referrals(store, end)
        buyers = facts.filter(facts.is_buyer).select(_buyer="person_id")
        r = r.left_join(buyers, r.dp == buyers._buyer)
        refs = r.group_by(person_id=r.rp).agg(
            referrals=r.count(), referred_buyers=r._buyer.notnull().cast("int64").sum()
        )
        parts.append(refs)
    j = ibis.union(*[p.select("person_id") for p in parts], distinct=True)
    for i, part in enumerate(parts):
        key = f"_a{i}"
        part = part.rename(**{key: "person_id"})
        j = j.left_join(part, j.person_id == part[key]).drop(key)
    nulls = {n: ibis.null(TYPES[k]) for n, k, _ in _ADVOCACY if n not in j.columns}
    return j.mutate(**nulls)


#: The counts of :func:`_advocacy`: 0 for a person with no feedback or referral (known).
_COUNTS = ("reviews", "feedback_count", "referrals", "referred_buyers")


def _identified(store: Store, rows: ir.Table) -> ir.Table:
    """``rows`` (with ``identifier`` and ``identifier_kind``) with the person of each
    identifier (``identities``; e-mails compared in lower case), known persons only."""
    ids = store.table("identities")
    ids = ids.filter(ids.person_id.notnull()).select(_kind="kind", _value="value", _pid="person_id")
    value = ibis.ifelse(
        rows.identifier_kind == "email", rows.identifier.strip().lower(), rows.identifier.strip()
    )
    keyed = rows.mutate(_key=value)
    j = keyed.join(ids, (keyed.identifier_kind == ids._kind) & (keyed._key == ids._value))
    return j.drop("_key", "_kind", "_value").rename(person_id="_pid")


def _latest(t: ir.Table, by: list[str], order: list[ir.Value]) -> ir.Table:
    w = ibis.window(group_by=[t[c] for c in by], order_by=order)
    ranked = t.mutate(_r=ibis.row_number().over(w))
    return ranked.filter(ranked._r == 0).drop("_r")


def _consents(store: Store, now: datetime) -> ir.Table:
    """person_id, email_consent, sms_subscribed: each person's latest consent per channel
    (given by ``now``), across their identifiers."""
    c = store.table("consents")
    c = _identified(store, c.filter(c.at.isnull() | (c.at <= now)))
    latest = _latest(c, ["person_id", "channel"], [ibis.desc(c.at), c.identifier])
    yes = latest.status == "subscribed"
    per = latest.group_by("person_id").agg(
        email_consent=yes.max(where=latest.channel == "email"),
        sms_subscribed=yes.max(where=latest.channel == "sms"),
    )
    return per


def _suppressed(store: Store) -> ir.Table:
    s = _identified(store, store.table("suppressions"))
    return s.select(_sp="person_id").distinct()


def _records(store: Store) -> ir.Table:
    """person_id and the latest customer record's columns (the person of its customer id,
    else the customer id itself, as :func:`tenure.analytics.facts.known_persons`)."""
    c = store.table("customers")
    ids = store.table("identities")
    cid = ids.filter(ids.kind == "customer_id").select(_cid="value", _pid="person_id")
    j = c.left_join(cid, c.customer_id == cid._cid)
    j = j.mutate(person_id=ibis.coalesce(j._pid, j.customer_id.strip().nullif("")))
    j = j.filter(j.person_id.notnull())
    latest = _latest(j, ["person_id"], [ibis.desc(j.created_at), ibis.desc(j.customer_id)])
    return latest.select(
        "person_id",
        "customer_id",
        "email",
        "country",
        "timezone",
        "created_at",
        "traits",
        _accepts="accepts_marketing",
    )


def _candidates(store: Store) -> ir.Table | None:
    c = _optional(store, "category_candidates")
    if c is None:
        return None
    # the best candidate by one hash aggregate (ranking every row cost ~2 s at 1M persons)
    c = c.filter(c.person_id.notnull(), c["rank"].notnull(), c.category.notnull())
    top = earliest(c, "person_id", ("rank", "category"), ("category", "propensity"))
    return top.select(
        "person_id", top_candidate_category="category", top_candidate_propensity="propensity"
    )


def _derived(store: Store, end: date, built: bool) -> tuple[ir.Table, ir.Table, ir.Table]:
    """The stored facts, statuses and RFM (each computed as of ``end`` when not built, or
    when not ``built``)."""
    from tenure.analytics.facts import customer_facts
    from tenure.analytics.rfm import rfm
    from tenure.analytics.status import customer_status

    facts = _optional(store, "customer_facts") if built else None
    if facts is None:
        facts = customer_facts(store, as_of=end)
    status = _optional(store, "customer_status") if built else None
    if status is None:
        status = customer_status(store, as_of=end)
    scores = _optional(store, "customer_rfm") if built else None
    if scores is None:
        scores = rfm(store, as_of=end, facts=facts)
    return facts, status, scores


def _joined(t: ir.Table, i: int, part: ir.Table | None, rows: tuple, **renamed: str) -> ir.Table:
    """``t`` with the columns ``rows`` (name, type, doc) of ``part`` by person (profile name
    -> source column in ``renamed``), cast to their type; null when ``part`` is None."""
    if part is None:
        return t.mutate(**_nulls(rows))
    key = f"_k{i}"
    cols = {n: part[renamed.get(n, n)].cast(TYPES[kind]) for n, kind, _ in rows}
    picked = part.select(**{key: part.person_id}, **cols)
    return t.left_join(picked, t.person_id == picked[key]).drop(key)


_HIDDEN = (("traits", "string", ""), ("_accepts", "bool", ""))
_CONSENTS = (("email_consent", "bool", ""), _CONSENT[1])


def profile(
    store: Store,
    now: datetime,
    end: date,
    *,
    built: bool = True,
    fields: Iterable[str] | None = None,
    persons: ir.Table | None = None,
) -> ir.Table:
    """One row per person: ``person_id``, ``traits`` (the record's JSON text) and every
    field of :data:`FIELDS`, as of ``end`` (the derived tables as built) and ``now`` (the
    consents). Not ``built``: from the canonical tables only (the facts, statuses, RFM and
    journey stages computed as of ``end``; predictions and candidates null). ``fields``:
    only these are wanted (a preview reads the fields of one condition): the parts no wanted
    field comes from are not joined, and the table has ``person_id``, the wanted fields and
    ``traits`` only when a ``traits.<key>`` is wanted. ``persons`` (``person_id``): only
    their rows (a preview's sample)."""
    need = None if fields is None else set(fields)
    traits = need is None or any(n.startswith("traits.") for n in need)

    def wanted(rows: tuple[tuple[str, str, str], ...], *also: str) -> bool:
        names = {n for n, _, _ in rows} | set(also)
        return need is None or bool(names & need)

    facts, status, scores = _derived(store, end, built)
    t = _persons(store, facts)
    if persons is not None:
        t = t.semi_join(persons, t.person_id == persons.person_id)
    t = _joined(t, 0, facts if wanted(_FACTS) else None, _FACTS)
    t = _joined(t, 1, status if wanted(_STATUS) else None, _STATUS)
    t = _joined(t, 2, scores if wanted(_RFM) else None, _RFM, rfm_segment="segment")
    journey = _stages(store, end, built) if wanted(_JOURNEY) else None
    t = _joined(t, 3, journey, _JOURNEY)
    t = _joined(t, 4, _predictions(store) if built and wanted(_PREDICTIONS) else None, _PREDICTIONS)
    advocacy = _advocacy(store, end, facts, need) if wanted(_ADVOCACY) else None
    t = _joined(t, 5, advocacy, _ADVOCACY)
    records = wanted(_RECORD, "email_subscribed") or traits
    t = _joined(t, 6, _records(store) if records else None, (*_RECORD, *_HIDDEN))
    consents = _consents(store, now) if wanted(_CONSENTS, "email_subscribed") else None
    t = _joined(t, 7, consents, _CONSENTS)
    t = _joined(t, 8, _candidates(store) if built and wanted(_CANDIDATES) else None, _CANDIDATES)
    if wanted((), "suppressed"):
        sup = _suppressed(store)
        t = t.left_join(sup, t.person_id == sup._sp)
        t = t.mutate(suppressed=t._sp.notnull())
    else:
        t = t.mutate(suppressed=ibis.null("boolean"))
    counts = {c: t[c].fill_null(0) for c in _COUNTS} if advocacy is not None else {}
    t = t.mutate(email_subscribed=ibis.coalesce(t.email_consent, t._accepts), **counts)
    shown = [f for f in FIELDS if need is None or f in need]
    return t.select("person_id", *(["traits"] if traits else []), *shown)
