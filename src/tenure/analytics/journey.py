"""The journey stage of every person: reach, acquire, develop, retain, advocate, and the exits
at risk and lapsed (docs/metrics.md, "Journey stages").

A person's stage as of a day ``d`` is the first that applies:

1. ``reach``: seen (an identifier in ``identities`` first seen on or before ``d``) but not
   identified: no customer record, no e-mail (not a known person of the statuses);
2. ``acquire``: identified, no purchase yet (the status ``prospect``);
3. ``develop``: one purchase day, the first fewer than ``onboarding_days`` days ago (whatever
   the status), or later while the status is not at risk or lapsed: until the second order;
4. ``at_risk`` / ``lapsed``: the status's exits, kept as they are;
5. ``advocate``: a repeat buyer, active by the status rule, who is a promoter: their latest
   NPS answer up to ``d`` scores ``nps_promoter`` or more, or a review of theirs scores at
   least ``review_share`` of its scale's top (4 of 5 stars), or a referral of theirs brought
   a person who bought (a referral flagged as on a cycle in ``flagged_values`` never counts);
6. ``retain``: every other repeat buyer (active by the status rule).

``since`` is the day the person entered the stage, where the data dates it: reach the first
sighting, acquire the day the person became known, develop the first purchase day, retain the
second, advocate the later of the second purchase day and the first promoter evidence, lapsed
the last purchase day + ``lapsed_days``; null for at risk (the rhythm's threshold is per
person: ``journey_history`` dates it). Everything is Ibis (DuckDB and PySpark alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.base import F64, orders_base, store_end
from tenure.analytics.facts import known_persons
from tenure.analytics.stages import next_history
from tenure.analytics.status import customer_status, purchase_day_gaps
from tenure.errors import ConfigError
from tenure.store import Store

#: The journey stages, in lifecycle order, then the exits.
STAGES = ("reach", "acquire", "develop", "retain", "advocate", "at_risk", "lapsed")
#: The columns of :func:`journey_stages`.
COLUMNS = ("person_id", "stage", "since", "reason")


@dataclass(frozen=True)
class JourneyRules:
    """The journey's thresholds (docs/metrics.md, "Journey stages").

    ``onboarding_days`` (90): the develop stage's window after the first purchase, during
    which the exits (at risk, lapsed) do not apply. ``nps_promoter`` (9.0): the lowest NPS
    score (0-10) of a promoter. ``review_share`` (0.8): the lowest review score, as a share
    of its scale's top (``score / scale_max``), of a promoter (4 of 5 stars).
    ``referrals_count`` (True): a referral whose referred person bought makes a promoter.
    """

    onboarding_days: int = 90
    nps_promoter: float = 9.0
    review_share: float = 0.8
    referrals_count: bool = True

    def __post_init__(self) -> None:
        days = self.onboarding_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigError(
                f"The 'onboarding_days' parameter must be an integer of at least 1. Got {days!r}."
            )
        nps = self.nps_promoter
        if isinstance(nps, bool) or not isinstance(nps, int | float) or not 0 <= nps <= 10:
            raise ConfigError(
                f"The 'nps_promoter' parameter must be a number in the range [0, 10]. Got {nps!r}."
            )
        share = self.review_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise ConfigError(
                f"The 'review_share' parameter must be a number in the range (0, 1]. Got {share!r}."
            )


def persons_of(store: Store, rows: ir.Table, keys: list[tuple[str, str]], name: str) -> ir.Table:
    """``rows`` with ``name``: the person of the first of ``keys`` ((identifier kind, column)
    pairs) that ``identities`` knows; null when none does."""
    ids = store.table("identities")
    out = rows
    picks: list[str] = []
    for i, (kind, column) in enumerate(keys):
        raw = out[column].strip()
        key = raw.lower() if kind == "email" else raw
        look = ids.filter(ids.kind == kind).select(_v=ids.value, **{f"_p{i}": ids.person_id})
        keyed = out.mutate(_key=key)
        j = keyed.left_join(look, keyed._key == look._v)
        out = j.select(*out.columns, f"_p{i}")
        picks.append(f"_p{i}")
    person = ibis.coalesce(*(out[p] for p in picks)) if len(picks) > 1 else out[picks[0]]
    return out.mutate(**{name: person}).drop(*picks)


def person_feedback(store: Store, end: date) -> ir.Table:
    """The scored feedback given on or before ``end`` by a known person (``fp``)."""
    f = persons_of(
        store,
        store.table("feedback"),
        [("customer_id", "customer_id"), ("email", "email"), ("anonymous_id", "anonymous_id")],
        "fp",
    )
    return f.filter(f.fp.notnull() & f.score.notnull() & (f.submitted_at.date() <= end))


def counted_referrals(store: Store, end: date) -> ir.Table:
    """The referrals that count as of ``end``, with referrer ``rp`` and referred ``dp``:
    dated on or before it or undated, not flagged (cycles), both sides known and not the
    same person."""
    r = store.table("referrals")
    r = r.filter(r.referred_at.isnull() | (r.referred_at.date() <= end))
    flags = store.table("flagged_values")
    flags = flags.filter((flags.entity == "referrals") & (flags.column == "referral_id"))
    flagged = flags.select(_flagged=flags.value)
    r = r.anti_join(flagged, r.referral_id == flagged._flagged)
    r = persons_of(
        store, r, [("customer_id", "referrer_customer_id"), ("email", "referrer_email")], "rp"
    )
    r = persons_of(
        store, r, [("customer_id", "referred_customer_id"), ("email", "referred_email")], "dp"
    )
    return r.filter(r.rp.notnull() & r.dp.notnull() & (r.rp != r.dp))


def promoters(store: Store, end: date, buyers: ir.Table, rules: JourneyRules) -> ir.Table:
    """p_person, p_since, p_reason: the persons who are promoters as of ``end`` (``buyers``:
    person_id of the persons who bought by ``end``, for the referrals)."""
    f = person_feedback(store, end)
    nps = f.filter(f.kind == "nps")
    w = ibis.window(group_by=nps.fp, order_by=[ibis.desc(nps.submitted_at), nps.feedback_id])
    latest = nps.mutate(_r=ibis.row_number().over(w))
    latest = latest.filter((latest._r == 0) & (latest.score >= rules.nps_promoter))
    by_nps = latest.select(
        p_person=latest.fp,
        p_since=latest.submitted_at.date(),
        p_reason=ibis.literal("NPS ") + latest.score.cast("int64").cast("string"),
    )
    rev = f.filter(
        (f.kind == "review")
        & (f.scale_max > 0)
        & (f.score.cast(F64) / f.scale_max.cast(F64) >= rules.review_share)
    )
    by_review = rev.group_by(p_person=rev.fp).agg(p_since=rev.submitted_at.min().date())
    by_review = by_review.mutate(p_reason=ibis.literal("review of 4+ stars"))
    parts = [by_nps, by_review.select("p_person", "p_since", "p_reason")]
    if rules.referrals_count:
        parts.append(_referral_promoters(store, end, buyers))
    both = ibis.union(*parts)
    w2 = ibis.window(group_by=both.p_person, order_by=[both.p_since, both.p_reason])
    first = both.mutate(_r=ibis.row_number().over(w2))
    return first.filter(first._r == 0).drop("_r")


def _referral_promoters(store: Store, end: date, buyers: ir.Table) -> ir.Table:
    """The referrers of a person who bought by ``end`` (cycle referrals left out)."""
    r = counted_referrals(store, end)
    b = buyers.select(_b="person_id", _first=buyers.first_order_day)
    j = r.join(b, r.dp == b._b)
    at = ibis.greatest(ibis.coalesce(j.referred_at.date(), j._first), j._first)
    per = j.group_by(p_person=j.rp).agg(p_since=at.min())
    return per.mutate(p_reason=ibis.literal("a referral who bought"))


def _seen(store: Store, end: date) -> ir.Table:
    """r_person, r_since: every person with an identifier first seen on or before ``end``."""
    ids = store.table("identities")
    ids = ids.filter(ids.person_id.notnull())
    per = ids.group_by(r_person=ids.person_id).agg(r_since=ids.first_seen.min().date())
    return per.filter(per.r_since.isnull() | (per.r_since <= ibis.literal(end)))


def _stage(s: ir.Table, rules: JourneyRules) -> tuple[ir.StringValue, ir.StringValue]:
    """The stage and reason of each row of the joined status table ``s``."""
    one = s.purchase_days == 1
    early = s.days_since_first < rules.onboarding_days
    exit_ = s.status.isin(("at_risk", "lapsed"))
    window = f"{rules.onboarding_days}-day onboarding window"
    stage = ibis.cases(
        (s.status.isnull(), "reach"),
        (s.status == "prospect", "acquire"),
        (one & (early | ~exit_), "develop"),
        (exit_, s.status),
        (s.p_person.notnull(), "advocate"),
        else_="retain",
    )
    reason = ibis.cases(
        (s.status.isnull(), "seen, not identified"),
        (s.status == "prospect", "identified, no purchase yet"),
        (one & early, f"first purchase within the {window}"),
        (one & ~exit_, f"one purchase, past the {window}, not at risk"),
        (exit_, ibis.literal("status ") + s.status),
        (s.p_person.notnull(), ibis.literal("repeat buyer, promoter: ") + s.p_reason),
        else_="repeat buyer, active",
    )
    return stage, reason


def journey_stages(
    store: Store, as_of: date | None = None, *, rules: JourneyRules | None = None
) -> ir.Table:
    """One row per person seen by ``as_of`` (default: the as-of day): person_id, stage (one
    of :data:`STAGES`), since (the day the stage began, where the data dates it), reason."""
    rules = rules if rules is not None else JourneyRules()
    end = as_of if as_of is not None else store_end(store)
    orders = orders_base(store, as_of=end)
    status = customer_status(store, as_of=end, orders=orders)
    days = purchase_day_gaps(orders)
    second = days.filter(days.k == 2).select(_sp="person_id", second_day="day")
    known = known_persons(store, end)
    seen = _seen(store, end)
    everyone = ibis.union(
        seen.select(person_id="r_person"), status.select("person_id"), distinct=True
    )
    proms = promoters(store, end, status.filter(status.purchase_days > 0), rules)
    s = (
        everyone.left_join(status, everyone.person_id == status.person_id)
        .select(everyone.person_id, *(c for c in status.columns if c != "person_id"))
        .left_join(second, ibis._.person_id == second._sp)
        .left_join(seen, ibis._.person_id == seen.r_person)
        .left_join(known, ibis._.person_id == known.k_person)
        .left_join(proms, ibis._.person_id == proms.p_person)
    )
    s = s.mutate(days_since_first=ibis.literal(end).delta(s.first_order_day, unit="day"))
    stage, reason = _stage(s, rules)
    lapsed_on = s.last_order_day + ibis.interval(days=store.settings.lapsed_days)
    since = ibis.cases(
        (stage == "reach", s.r_since),
        (stage == "acquire", s.known_since.date()),
        (stage == "develop", s.first_order_day),
        (stage == "retain", s.second_day),
        (stage == "advocate", ibis.greatest(s.second_day, s.p_since)),
        (stage == "lapsed", lapsed_on.cast("date")),
        else_=ibis.null("date"),
    )
    return s.select("person_id", stage=stage, since=since, reason=reason)


TABLE = "journey_history"
SCHEMA = ibis.schema(
    {"person_id": "string", "stage": "string", "entered_at": "date", "left_at": "date"}
)
PERIODS = {"day": "D", "week": "W", "month": "M"}


def record_journey(
    store: Store, as_of: date | None = None, *, rules: JourneyRules | None = None
) -> int:
    """Append the stages as of ``as_of`` to ``journey_history`` (as ``stage_history``: a
    changed stage closes the open stay and opens one; refreshing a day again first rolls the
    history back); return its row count."""
    end = as_of if as_of is not None else store_end(store)
    history = store.create(TABLE, SCHEMA).rename(status="stage")
    now = journey_stages(store, end, rules=rules).select("person_id", status="stage")
    nxt = next_history(history, now, end).rename(stage="status")
    # written first: the next history reads the current one, which replacing drops
    with store.scratch("journey_next", nxt) as scratch:
        table = store.replace(TABLE, store.read(scratch))
        return int(table.count().execute())


def journey_counts(
    store: Store,
    as_of: date | None = None,
    *,
    rules: JourneyRules | None = None,
    stages: ir.Table | None = None,
) -> pd.DataFrame:
    """`tenure stages`: stage, persons, share, in :data:`STAGES` order (every stage, 0 when
    empty); ``attrs["as_of"]``: the day. ``stages``: the :func:`journey_stages` rows (person_id,
    stage) as of that day when the caller has them (:func:`open_stages` of a current
    ``journey_history``)."""
    end = as_of if as_of is not None else store_end(store)
    t = stages if stages is not None else journey_stages(store, end, rules=rules)
    got = t.group_by("stage").agg(persons=t.count()).to_pandas().set_index("stage")
    frame = pd.DataFrame({"stage": list(STAGES)})
    frame["persons"] = [int(got["persons"].get(s, 0)) for s in STAGES]
    total = frame["persons"].sum()
    frame["share"] = frame["persons"] / total if total else float("nan")
    frame.attrs["as_of"] = end
    return frame


def open_stages(history: ir.Table) -> ir.Table:
    """person_id, stage: the open stays of ``journey_history``, which are the stages of its
    last recorded day (:func:`record_journey` closes the stay of a person not in it)."""
    return history.filter(history.left_at.isnull()).select("person_id", "stage")


def journey_transitions(store: Store, *, period: str = "month") -> pd.DataFrame:
    """Per ``period`` (day, week, month: the period's first day) and stage: the entries into
    the stage (stays of ``journey_history`` begun in the period; a person's first recorded
    stage counts) and the exits from it (stays ended in the period)."""
    if period not in PERIODS:
        raise ConfigError(
            f"The 'period' parameter must be one of {', '.join(PERIODS)}. Got {period!r}."
        )
    h = store.create(TABLE, SCHEMA)
    unit = PERIODS[period]
    ins = h.select("stage", period=h.entered_at.truncate(unit), entries=ibis.literal(1))
    ins = ins.mutate(exits=ibis.literal(0))
    gone = h.filter(h.left_at.notnull())
    outs = gone.select("stage", period=gone.left_at.truncate(unit), entries=ibis.literal(0))
    outs = outs.mutate(exits=ibis.literal(1))
    both = ibis.union(ins, outs)
    per = both.group_by(["period", "stage"]).agg(
        entries=both.entries.sum().cast("int64"), exits=both.exits.sum().cast("int64")
    )
    frame = per.to_pandas()
    frame["period"] = pd.to_datetime(frame["period"]).dt.date
    frame["_o"] = frame["stage"].map({s: i for i, s in enumerate(STAGES)})
    frame = frame.sort_values(["period", "_o"]).reset_index(drop=True)
    return frame[["period", "stage", "entries", "exits"]]
