"""Segments on a hand-built store (tests/engage/segkit.py): who is in each, exactly; event
windows at their edges; the membership history; injection attempts refused or bound."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from tenure import Store
from tenure.engage.compile import Context
from tenure.engage.fields import FIELDS
from tenure.engage.segments import (
    TABLE,
    context,
    export_segment,
    get_segment,
    list_segments,
    members,
    preview_segment,
    read_definitions,
    refresh_segments,
    segment_members,
)
from tenure.engage.spec import Segment, parse_segment
from tenure.errors import ConfigError, NotFoundError
from tests.engage.segkit import NOW, PROFILE


def _who(store: Store, yaml_condition: str, now=NOW) -> set[str]:  # type: ignore[no-untyped-def]
    """The customer ids of the members of a condition (written as YAML) at ``now``."""
    text = "name: t\ncondition:\n" + "".join(f"  {line}\n" for line in yaml_condition.splitlines())
    seg = parse_segment(text, "t.yaml")
    return _customers(store, seg, now)


def _customers(store: Store, seg: Segment, now=NOW) -> set[str]:  # type: ignore[no-untyped-def]
    ctx = Context(store, now, store.read(PROFILE))
    p = ctx.profile
    got = members(ctx, seg).join(p, "person_id").select("customer_id").to_pandas()
    return set(got["customer_id"])


def test_field_conditions(tiny: Store) -> None:
    assert _who(tiny, "{field: status, in: [vip, new]}") == {"c1", "c2"}
    assert _who(tiny, "{field: status, not_in: [vip, new]}") == {"c3", "c4", "c5"}
    assert _who(tiny, "{field: orders, ge: 2}") == {"c1", "c5"}
    assert _who(tiny, "{field: days_since_last_order, between: [10, 29]}") == {"c1", "c2"}
    assert _who(tiny, "{field: stage, eq: advocate}") == {"c1"}
    assert _who(tiny, "{field: rfm_segment, eq: Lost}") == {"c3"}
    assert _who(tiny, "{field: nps, ge: 9}") == {"c1"}
    assert _who(tiny, "{field: email, contains: C3}") == {"c3"}
    assert _who(tiny, "{field: last_order_at, lt: 2024-01-31}") == {"c3", "c5"}
    assert _who(tiny, "{field: aov, is_null: true}") == {"c4"}
    assert _who(tiny, "{field: suppressed, eq: true}") == {"c5"}
    # e-mail consent: the latest (c1 unsubscribed), else the record's accepts_marketing (c3);
    # c4's subscription comes after the clock; c5 says nothing: unknown, not in either
    assert _who(tiny, "{field: email_subscribed, eq: true}") == {"c2", "c3"}
    assert _who(tiny, "{field: email_subscribed, eq: false}") == {"c1", "c4"}
    assert _who(tiny, "{field: p_alive, lt: 0.3}") == set()  # no predictions built: unknown


def test_the_profile_from_the_derived_tables_is_the_one_from_the_canonical_tables(
    tiny: Store,
) -> None:
    live = tiny.read(PROFILE).order_by("person_id").to_pandas()
    built = context(tiny, NOW).profile.order_by("person_id").to_pandas()
    assert list(built.columns) == list(live.columns) == ["person_id", "traits", *FIELDS]
    assert len(built) == 5
    # the journey history dates a stay from the day it was recorded; the rest is equal
    pd.testing.assert_frame_equal(
        built.drop(columns="stage_since"), live.drop(columns="stage_since"), check_dtype=False
    )


def test_traits(tiny: Store) -> None:
    assert _who(tiny, "{field: traits.plan, eq: gold}") == {"c1"}
    assert _who(tiny, "{field: traits.plan, in: [gold, silver]}") == {"c1", "c2"}
    assert _who(tiny, "{field: traits.age, gt: 40}") == {"c1"}
    assert _who(tiny, "{field: traits.plan, is_null: true}") == {"c3", "c4", "c5"}


def test_combinators(tiny: Store) -> None:
    both = "all:\n  - {field: orders, ge: 1}\n  - {field: nps, is_null: false}"
    assert _who(tiny, both) == {"c1", "c2"}
    either = "any:\n  - {field: status, eq: lapsed}\n  - {field: status, eq: prospect}"
    assert _who(tiny, either) == {"c3", "c4"}
    # not: the unknown (c5's consent) is not "subscribed", so it is in the complement
    assert _who(tiny, "not: {field: email_subscribed, eq: true}") == {"c1", "c4", "c5"}


def test_cart_abandoners_at_the_edges_of_the_hour(tiny: Store) -> None:
    cart = get_segment(tiny, "cart_abandoners")
    # c1 59m59s ago: in; c2 1h01s ago: out (its later add is after the clock); c3 ordered
    # after adding; c4 ordered before adding: in; c5 exactly an hour ago: in
    assert _customers(tiny, cart) == {"c1", "c4", "c5"}
    assert _customers(tiny, cart, NOW - timedelta(seconds=2)) == {"c1", "c2", "c4", "c5"}
    assert _customers(tiny, cart, NOW + timedelta(seconds=1)) == {"c1", "c4"}  # c1 on the edge
    assert _customers(tiny, cart, NOW + timedelta(seconds=2)) == {"c4"}


def test_event_counts_and_properties(tiny: Store) -> None:
    shoes = "{event: Product Viewed, where: {category: shoes}, count: {ge: 3}, within: 7d}"
    assert _who(tiny, shoes) == {"c1"}  # c2's third view is 8 days old; c3 viewed hats
    assert _who(tiny, shoes.replace("7d", "9d")) == {"c1", "c2"}
    pricey = "{event: Product Viewed, where: {price: {ge: 50}}, within: 7d}"
    assert _who(tiny, pricey) == {"c1", "c3"}
    # no view in 7 days counts too when the count allows 0
    none = "{event: Product Viewed, within: 7d, count: {eq: 0}}"
    assert _who(tiny, none) == {"c4", "c5"}
    assert _who(tiny, "{event: Product Viewed, where: {category: [shoes, hats]}, within: 2d}") == {
        "c1",
        "c2",
        "c3",
    }


def test_static_lists(tiny: Store, tmp_path: Path) -> None:
    (tmp_path / "ids.csv").write_text("customer_id\nc2\n c4 \nc9\n\n")
    (tmp_path / "mails.csv").write_text("email,name\nc3@EXAMPLE.com,x\nnobody@example.com,y\n")
    for name, expected in (("ids.csv", {"c2", "c4"}), ("mails.csv", {"c3"})):
        text = f"name: listed\ncondition: {{list: {name}}}\n"
        seg = parse_segment(text, "listed.yaml", base=tmp_path)
        assert _customers(tiny, seg) == expected
    (tmp_path / "bad.csv").write_text("phone\n+15550001\n")
    seg = parse_segment("name: x\ncondition: {list: bad.csv}\n", "x.yaml", base=tmp_path)
    with pytest.raises(ConfigError, match=r"x.yaml line 2: the list .* has no customer_id or e"):
        _customers(tiny, seg)
    with pytest.raises(ConfigError, match=r"x.yaml line 2: the list .*missing.csv.* is not a file"):
        parse_segment("name: x\ncondition: {list: missing.csv}\n", "x.yaml", base=tmp_path)


INJECTION = '"; drop table orders; --'


def test_injection_is_refused_or_bound(tiny_copy: Store) -> None:
    store = tiny_copy
    orders = store.table("orders").count().execute()
    with pytest.raises(ConfigError, match="unknown field"):
        parse_segment(f"name: x\ncondition: {{field: '{INJECTION}', eq: 1}}\n", "x.yaml")
    with pytest.raises(ConfigError, match="unknown field"):
        parse_segment(f"name: x\ncondition: {{field: 'traits.{INJECTION}', eq: 1}}\n", "x.yaml")
    with pytest.raises(ConfigError, match="an event property is letters"):
        text = f"name: x\ncondition: {{event: A, where: {{'{INJECTION}': 1}}}}\n"
        parse_segment(text, "x.yaml")
    bound = [
        f"{{field: email, eq: '{INJECTION}'}}",
        f"{{field: status, in: ['{INJECTION}', x]}}",
        f"{{field: traits.plan, contains: '{INJECTION}'}}",
        f"{{event: '{INJECTION}', within: 1d}}",
        f"{{event: Product Viewed, where: {{category: '{INJECTION}'}}}}",
        f"{{event: Product Added, not_followed_by: '{INJECTION}', "
        f"where: {{product_id: '{INJECTION}'}}}}",
    ]
    segments = []
    for i, condition in enumerate(bound):
        seg = parse_segment(f"name: x{i}\ncondition: {condition}\n", "x.yaml")
        assert _customers(store, seg) == set(), condition
        segments.append(seg)
    assert refresh_segments(store, NOW, segments=segments) == {TABLE: 0}
    assert store.table("orders").count().execute() == orders


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_segment(text, "segments/mine.yaml")
    return str(info.value)


def test_invalid_definitions_name_the_file_line_field_and_close_matches() -> None:
    text = (
        "name: mine\n"
        "condition:\n"
        "  all:\n"
        "    - {field: status, eq: vip}\n"
        "    - {field: statuss, in: [active]}\n"
    )
    message = _error(text)
    assert message.startswith("segments/mine.yaml line 5: unknown field 'statuss'.")
    assert "Did you mean status" in message
    wrong = _error("name: mine\ncondition:\n  field: orders\n  gt: three\n")
    assert wrong.startswith(
        "segments/mine.yaml line 4: the value 'three' of 'gt' does not fit field 'orders', "
        "which holds a whole number."
    )
    assert "line 3: 'lt' compares numbers" in _error(
        "name: m\ncondition:\n  {field: status, lt: a}\n"
    )
    assert "line 2: unknown condition 'fild'" in _error("name: m\ncondition: {fild: status}\n")
    assert "Did you mean field" in _error("name: m\ncondition: {fild: status}\n")
    assert "line 2: within takes a duration" in _error(
        "name: m\ncondition: {event: A, within: 1y}\n"
    )
    assert "exactly one operator" in _error("name: m\ncondition: {field: orders, gt: 1, lt: 3}\n")
    assert "line 1: unknown key 'nam'" in _error("nam: m\ncondition: {field: orders, gt: 1}\n")
    assert "not valid YAML" in _error("name: [m\n")
    assert "is_null takes true or false" in _error("name: m\ncondition: {field: aov, is_null: 1}\n")
    assert "count 'ge' takes a whole number" in _error(
        "name: m\ncondition: {event: A, count: {ge: -1}}\n"
    )


def test_user_definitions_add_and_override_the_shipped_ones(tmp_path: Path) -> None:
    shipped = read_definitions(None)
    assert {"cart_abandoners", "vip", "at_risk", "future_vips"} <= set(shipped)
    assert all(s.shipped for s in shipped.values())
    (tmp_path / "vip.yaml").write_text("name: vip\ncondition: {field: orders, ge: 10}\n")
    (tmp_path / "big.yaml").write_text("name: big\ncondition: {field: revenue, ge: 1000}\n")
    mine = read_definitions(tmp_path)
    assert set(mine) == set(shipped) | {"big"}
    assert not mine["vip"].shipped and mine["vip"].file == str(tmp_path / "vip.yaml")
    assert read_definitions(tmp_path / "missing") == shipped
    (tmp_path / "again.yaml").write_text("name: big\ncondition: {field: revenue, ge: 1}\n")
    with pytest.raises(ConfigError, match="the segment 'big' is defined twice"):
        read_definitions(tmp_path)


def _open_stays(store: Store, segment: str) -> set[str]:
    h = store.read(TABLE)
    h = h.filter((h.segment == segment) & h.exited_at.isnull())
    p = store.read(PROFILE)
    return set(h.join(p, "person_id").select("customer_id").to_pandas()["customer_id"])


def test_membership_history_entries_exits_and_idempotence(tiny_copy: Store) -> None:
    store = tiny_copy
    cart = get_segment(store, "cart_abandoners")
    vip = get_segment(store, "vip")
    rows = refresh_segments(store, NOW, segments=[cart, vip])
    assert rows == {TABLE: 4}
    assert _open_stays(store, "cart_abandoners") == {"c1", "c4", "c5"}
    before = store.read(TABLE).order_by(["segment", "person_id"]).to_pandas()
    assert refresh_segments(store, NOW, segments=[cart, vip]) == {TABLE: 4}  # nothing changes
    again = store.read(TABLE).order_by(["segment", "person_id"]).to_pandas()
    assert again.equals(before)
    later = NOW + timedelta(seconds=2)  # c1 and c5 leave the window
    assert refresh_segments(store, later, segments=[cart, vip]) == {TABLE: 4}
    assert _open_stays(store, "cart_abandoners") == {"c4"}
    h = store.read(TABLE).to_pandas()
    assert sorted(h["exited_at"].dropna()) == [later, later]
    assert set(h["entered_at"]) == {NOW}
    runs = store.read("segment_runs").order_by(["refreshed_at", "segment"]).to_pandas()
    assert runs[["segment", "members", "entered", "exited"]].values.tolist() == [
        ["cart_abandoners", 3, 3, 0],
        ["vip", 1, 1, 0],
        ["cart_abandoners", 1, 0, 2],
        ["vip", 1, 0, 0],
    ]
    with pytest.raises(ConfigError, match="moves forward only"):
        refresh_segments(store, NOW, segments=[cart])


def test_list_preview_members_export(tiny_copy: Store, tmp_path: Path) -> None:
    store = tiny_copy
    frame = list_segments(store, NOW)
    sizes = dict(zip(frame["segment"], frame["size"], strict=True))
    assert sizes["cart_abandoners"] == 3 and sizes["vip"] == 1 and sizes["at_risk"] == 1
    assert sizes["promoters"] == 1 and sizes["detractors"] == 1 and sizes["lapsed"] == 1
    assert frame["last_size"].isna().all()
    p = preview_segment(store, "cart_abandoners", now=NOW, sample=2)
    assert (p.size, len(p.sample), p.entering, p.leaving) == (3, 2, None, None)
    assert list(p.sample.columns) == [
        "person_id",
        "customer_id",
        "email",
        "other_id",
        "status",
        "stage",
        "orders",
    ]
    refresh_segments(store, NOW)
    later = NOW + timedelta(seconds=2)
    p = preview_segment(store, "cart_abandoners", now=later)
    assert (p.size, p.entering, p.leaving, p.last_refresh) == (1, 0, 2, NOW)
    assert _open_stays(store, "cart_abandoners") == {"c1", "c4", "c5"}  # preview wrote nothing
    listed = list_segments(store, later).set_index("segment")
    assert listed.loc["cart_abandoners", ["size", "last_size", "change"]].tolist() == [1, 3, -2]
    got = segment_members(store, "promoters", now=NOW)
    assert got[["customer_id", "email", "nps"]].values.tolist() == [["c1", "c1@example.com", 10.0]]
    out = tmp_path / "cart.csv"
    assert export_segment(store, "cart_abandoners", out, now=NOW) == 3
    lines = out.read_text().splitlines()
    assert lines[0] == "customer_id,email,person_id"
    assert sorted(line.split(",")[0] for line in lines[1:]) == ["c1", "c4", "c5"]
    with pytest.raises(NotFoundError, match="No segment named 'vipp'") as info:
        get_segment(store, "vipp")
    assert "Did you mean vip?" in str(info.value)


def test_the_pipeline_step_refreshes_and_never_moves_back(tiny_copy: Store) -> None:
    from tenure.pipeline.steps import StepContext, segments_step

    store = tiny_copy
    ctx = StepContext(as_of=NOW.date(), options={"now": NOW})
    rows = segments_step(store, ctx)
    assert rows == {TABLE: int(store.read(TABLE).count().execute())} and rows[TABLE] > 0
    assert _open_stays(store, "cart_abandoners") == {"c1", "c4", "c5"}
    earlier = StepContext(as_of=NOW.date(), options={"now": NOW - timedelta(days=1)})
    assert segments_step(store, earlier) == rows
    assert "moves forward only" in earlier.outputs["result"]
    # the default clock: the end of the as-of day
    day = StepContext(as_of=NOW.date())
    segments_step(store, day)
    assert _open_stays(store, "cart_abandoners") == set()  # no add in the day's last hour


def test_no_segment_closes_every_stay(tiny_copy: Store) -> None:
    store = tiny_copy
    refresh_segments(store, NOW, segments=[get_segment(store, "vip")])
    assert _open_stays(store, "vip") == {"c1"}
    refresh_segments(store, NOW + timedelta(hours=1), segments=[])  # vip no longer defined
    assert _open_stays(store, "vip") == set()
    assert store.read(TABLE).count().execute() == 1


def test_a_profile_of_some_fields_equals_the_whole_one_on_them(tiny: Store) -> None:
    """`profile(fields=...)` (what a preview builds) joins only the parts those fields come
    from: on them it equals the whole profile; the table holds those fields only."""
    from tenure.engage.fields import profile

    whole = profile(tiny, NOW, NOW.date()).to_pandas().set_index("person_id").sort_index()
    for wanted in (["status", "stage", "orders"], ["nps", "traits.tier"], ["email_subscribed"]):
        part = profile(tiny, NOW, NOW.date(), fields=wanted).to_pandas()
        part = part.set_index("person_id").sort_index()
        assert list(part.index) == list(whole.index)
        columns = [f for f in wanted if f in FIELDS] + (
            ["traits"] if "traits.tier" in wanted else []
        )
        pd.testing.assert_frame_equal(part[columns], whole[columns], check_dtype=False)
    bare = profile(tiny, NOW, NOW.date(), fields=["status"]).to_pandas()
    assert list(bare.columns) == ["person_id", "status"]
