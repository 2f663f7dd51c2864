"""Discount discipline (docs/flows.md, "Discount discipline"): the ladder of
discount_escalation (content, then 10% to those who did not order, then 15%), the flow's
``max_discount`` refused at validation with the file and line, and the margin guardrail on a
hand-built store whose orders have known margins."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from tenure import Store
from tenure.engage.flow_spec import GUARDRAIL_EXIT, load_flows, parse_flow, shipped_dir
from tenure.errors import ConfigError
from tests.engage.flowkit import T0, build, event, order
from tests.engage.test_flows import messages, stays, tick

D = timedelta(days=1)
LADDER = """name: ladder
trigger: {event: Signed Up}
exit_when: ordered_since_entry
max_discount: 15
steps:
  - {id: content, send: {channel: email, template: content}}
  - {id: wait_7d, wait: 7d}
  - id: ten
    discount: {code_prefix: TEN, percent: "10", valid_for: 7d, guardrail: margin}
  - {id: ten_mail, send: {channel: email, template: ten}}
  - {id: wait_again, wait: 7d}
  - id: fifteen
    discount: {code_prefix: FIFTEEN, percent: "15", valid_for: 7d, guardrail: margin}
  - {id: fifteen_mail, send: {channel: email, template: fifteen}}
"""


def test_a_discount_above_max_discount_is_refused_with_file_and_line() -> None:
    text = LADDER.replace('percent: "15"', 'percent: "20"')
    with pytest.raises(ConfigError) as err:
        parse_flow(text, "ladder.yaml")
    assert str(err.value).startswith("ladder.yaml, line 13, `percent`: step 'fifteen' gives 20%")
    assert "max_discount of 15%" in str(err.value)
    with pytest.raises(ConfigError, match="line 5, `guardrail`: 'cost' is not valid"):
        parse_flow(
            "name: x\ntrigger: {event: A}\nsteps:\n"
            "  - id: d\n    discount: {code_prefix: X, percent: '5', guardrail: cost}\n",
            "x.yaml",
        )
    with pytest.raises(ConfigError, match="`guardrail`: a margin guardrail needs a `percent`"):
        parse_flow(
            "name: x\ntrigger: {event: A}\nsteps:\n"
            "  - {id: d, discount: {code_prefix: X, free_shipping: 'true', guardrail: margin}}\n",
            "x.yaml",
        )


def test_every_shipped_discount_is_within_its_flow_and_after_a_no_order_branch() -> None:
    """The naked offer first: every shipped percent discount follows a branch on
    ``ordered_since_entry`` (welcome_series' first-order offer aside: its persons never
    ordered), and the ladder's steps carry the margin guardrail."""
    flows = {f.name: f for f in load_flows(sorted(shipped_dir().glob("*.yaml")))}
    ladder = flows["discount_escalation"]
    assert ladder.max_discount == 15
    percents = [dict(s.discount) for s in ladder.steps if s.kind == "discount"]
    assert [(d["percent"], d["guardrail"]) for d in percents] == [
        ("10", "margin"),
        ("15", "margin"),
    ]
    for flow in flows.values():
        seen_branch = False
        for step in flow.steps:
            if step.kind == "branch" and step.condition is not None:
                seen_branch |= step.condition.kind == "ordered_since_entry"
            if "percent" in dict(step.discount) and flow.name != "welcome_series":
                assert seen_branch, (flow.name, step.id)


def _margined(store: Store) -> None:
    """p1 bought at a 40% margin, p2 at 12%, p3 at 5%, p4 never; all signed up at T0-20d."""
    orders = [order(f"o{i}", p, T0 - 30 * D, 100.0) for i, p in enumerate(("p1", "p2", "p3"))]
    events = [event(f"s{p}", p, "Signed Up", T0 - 20 * D) for p in ("p1", "p2", "p3", "p4")]
    build(store, events, orders)
    store.insert(
        "products",
        pd.DataFrame({"product_id": ["a", "b", "c"], "unit_cost": [60.0, 88.0, 95.0]}),
    )
    store.insert(
        "order_items",
        pd.DataFrame(
            {
                "order_id": ["o0", "o1", "o2"],
                "product_id": ["a", "b", "c"],
                "quantity": [1, 1, 1],
                "unit_price": [100.0, 100.0, 100.0],
            }
        ),
    )


def test_the_ladder_and_its_margin_guardrail_exactly(flow_store: Store) -> None:
    _margined(flow_store)
    flow = parse_flow(LADDER + "lookback: 30d\n", "ladder.yaml")
    tick(flow_store, [flow], T0)
    m = messages(flow_store)
    sent = sorted(zip(m.person_id, m.step, strict=True))
    # content to all four; 10%: margin 40% and 12% pass, 5% and unknown exit; 15%: only 40%
    assert sent == [
        ("p1", "content"),
        ("p1", "fifteen_mail"),
        ("p1", "ten_mail"),
        ("p2", "content"),
        ("p2", "ten_mail"),
        ("p3", "content"),
        ("p4", "content"),
    ]
    s = stays(flow_store).set_index("person_id")
    assert list(s.exit_reason) == ["completed", GUARDRAIL_EXIT, GUARDRAIL_EXIT, GUARDRAIL_EXIT]
    codes = {
        (p, step): json.loads(text)["discount"]["percent"]
        for p, step, text in zip(m.person_id, m.step, m.payload, strict=True)
        if step != "content"
    }
    assert codes == {
        ("p1", "ten_mail"): "10",
        ("p1", "fifteen_mail"): "15",
        ("p2", "ten_mail"): "10",
    }


def test_a_buyer_leaves_the_ladder_before_any_discount(flow_store: Store) -> None:
    _margined(flow_store)
    flow_store.insert("orders", pd.DataFrame([order("o9", "p1", T0 - 15 * D, 100.0)]))
    flow = parse_flow(LADDER + "lookback: 30d\n", "ladder.yaml")
    tick(flow_store, [flow], T0)
    m = messages(flow_store)
    assert sorted(m[m.person_id == "p1"].step) == ["content"]
    assert stays(flow_store).set_index("person_id").exit_reason["p1"] == "ordered"
