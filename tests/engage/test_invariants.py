"""Invariants of the condition algebra (hypothesis), on the hand-built store: ``X`` and
``not X`` split every person in two; ``all`` is within each of its parts, ``any`` holds each;
the shipped segments on the demo store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure import Store
from tenure.engage.compile import Context, condition
from tenure.engage.segments import TABLE, list_segments, read_definitions
from tenure.engage.spec import (
    All,
    AnyOf,
    Condition,
    EventCondition,
    FieldCondition,
    Not,
    Place,
)
from tests.conftest import examples
from tests.engage.segkit import NOW, PROFILE

HERE = Place("test", 1)
ATOMS: list[Condition] = [
    FieldCondition("status", "in", ("vip", "new"), HERE),
    FieldCondition("orders", "ge", 2, HERE),
    FieldCondition("email_subscribed", "eq", True, HERE),  # unknown for c5
    FieldCondition("nps", "lt", 5.0, HERE),  # unknown for most
    FieldCondition("traits.plan", "eq", "gold", HERE),
    EventCondition("Product Added", timedelta(hours=1), (), None, "Order Completed", HERE),
]
CONDITIONS = st.recursive(
    st.sampled_from(ATOMS),
    lambda inner: st.one_of(
        inner.map(Not),
        st.lists(inner, min_size=1, max_size=3).map(lambda parts: All(tuple(parts))),
        st.lists(inner, min_size=1, max_size=3).map(lambda parts: AnyOf(tuple(parts))),
    ),
    max_leaves=5,
)


def _members(ctx: Context, *conditions: Condition) -> list[set[str]]:
    """The members of each condition, from one query."""
    p = ctx.profile
    flags = p.select("person_id", **{f"c{i}": condition(c, ctx) for i, c in enumerate(conditions)})
    frame = flags.to_pandas()
    return [set(frame.person_id[frame[f"c{i}"].astype(bool)]) for i in range(len(conditions))]


@examples(40)
def test_not_splits_everyone_and_all_any_bound_their_parts(tiny: Store, examples: int) -> None:
    ctx = Context(tiny, NOW, tiny.read(PROFILE))
    everyone = set(ctx.profile.person_id.to_pandas())

    def check(c: Any) -> None:
        parts = list(c.parts) if isinstance(c, All | AnyOf) else []
        got = _members(ctx, c, Not(c), *parts)
        x, not_x, each = got[0], got[1], got[2:]
        assert x | not_x == everyone and not x & not_x
        for part in each:
            assert (x <= part) if isinstance(c, All) else (part <= x)

    settings(max_examples=examples, deadline=None)(given(CONDITIONS)(check))()


#: Shipped segments the demo store has no data for: one year of history (lapsed: no order
#: for `lapsed_days`, 365). Its NPS answers fill promoters and detractors.
EMPTY_ON_DEMO = {"lapsed"}


def test_shipped_segments_are_valid_and_filled_on_the_demo(ran_demo_url: str) -> None:
    shipped = read_definitions(None)
    assert len(shipped) >= 10
    with Store(ran_demo_url, read_only=True) as store:
        frame = list_segments(store).set_index("segment")
        h = store.read(TABLE)
        h = h.filter(h.exited_at.isnull())
        stays = h.group_by("segment").agg(n=h.count()).to_pandas()
    for name in set(shipped) - EMPTY_ON_DEMO:
        assert frame.loc[name, "size"] > 0, name
    # `tenure run` refreshed the membership at the same clock: nothing changed since
    open_stays = dict(zip(stays.segment, stays.n, strict=True))
    assert {n: int(s) for n, s in frame["size"].items() if s} == open_stays
    assert (frame["change"] == 0).all() and not frame["last_refresh"].isna().any()
    assert frame.loc["vip", "size"] == 20 and frame.loc["at_risk", "size"] == 408
    assert pd.Series(frame["file"]).str.endswith(".yaml").all()


def test_recommendation_conditions_on_the_demo(ran_demo_url: str) -> None:
    from tenure.engage.segments import clock, context, members
    from tenure.engage.spec import parse_segment

    with Store(ran_demo_url, read_only=True) as store:
        recs = store.read("product_recommendations").to_pandas()
        cands = store.read("category_candidates").to_pandas()
        product = recs[recs["rank"] == 1]["product_id"].mode()[0]
        category = cands[cands["rank"] == 1]["category"].mode()[0]
        ctx = context(store, clock(store))
        found = {}
        for name, text in {
            "rec": f"{{recommended: {product}, top: 3}}",
            "cand": f"{{candidate: '{category}', top: 1}}",
        }.items():
            seg = parse_segment(f"name: {name}\ncondition: {text}\n", "x.yaml")
            found[name] = set(members(ctx, seg).to_pandas()["person_id"])
    expected_rec = set(recs[(recs["product_id"] == product) & (recs["rank"] <= 3)]["person_id"])
    expected_cand = set(cands[(cands["category"] == category) & (cands["rank"] == 1)]["person_id"])
    assert found == {"rec": expected_rec, "cand": expected_cand}
    assert expected_rec and expected_cand
