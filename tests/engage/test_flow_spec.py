"""Flow YAML: what parses, and errors that name the file, the line, the key and what it
could have meant (docs/flows.md)."""

from __future__ import annotations

import re
from datetime import time, timedelta
from pathlib import Path

import pytest

from tenure.engage.flow_spec import KEYS, load_flows, parse_flow, pick, read_flow, shipped_dir
from tenure.errors import ConfigError

DOC = Path(__file__).parents[2] / "docs" / "flows.md"

GOOD = """\
name: cart
trigger:
  event: Checkout Started
  where: {currency: EUR}
  no_order_within: 1h
exit_when: [ordered_since_entry]
reentry: {after: 30d}
holdout: 0.1
steps:
  - id: first
    send: {channel: email, template: t1, subject: Hi}
  - id: pause
    wait: 2d
  - id: morning
    wait_until: "09:30"
  - id: check
    branch: {if: {field: tier, equals: gold}, then: gold, else: first}
  - id: gold
    send:
      channel: sms
      variants: [{name: a, share: 0.25, template: ta}, {name: b, share: 0.75, template: tb}]
"""


def test_a_good_flow_parses() -> None:
    flow = parse_flow(GOOD, "cart.yaml")
    assert flow.name == "cart" and flow.holdout == 0.1
    assert flow.trigger.kind == "event" and flow.trigger.name == "Checkout Started"
    assert flow.trigger.where == (("currency", "EUR"),)
    assert flow.trigger.no_order_within == timedelta(hours=1)
    assert (flow.reentry, flow.reentry_after) == ("after", timedelta(days=30))
    assert flow.exit_when == ("ordered_since_entry",)
    assert [s.id for s in flow.steps] == ["first", "pause", "morning", "check", "gold"]
    assert [s.next for s in flow.steps] == ["pause", "morning", "check", "gold", None]
    assert flow.step("morning").until == time(9, 30)
    check = flow.step("check")
    assert check.condition is not None and check.condition.value == "gold"
    assert [v.share for v in flow.step("gold").variants] == [0.25, 0.75]


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_flow(text, "flows/cart.yaml")
    return str(info.value)


def test_a_misspelled_key_names_file_line_key_and_the_close_match() -> None:
    message = _error(GOOD.replace("    wait: 2d", "    wiat: 2d"))
    assert message.startswith("flows/cart.yaml, line 13, `wiat`: unknown key 'wiat' in step.")
    assert "Did you mean 'wait'?" in message


def test_a_misspelled_step_id_names_the_ids_it_could_mean() -> None:
    message = _error(GOOD.replace("then: gold", "then: golt"))
    assert "flows/cart.yaml, line 16, `then`: no step has the id 'golt'." in message
    assert "Did you mean 'gold'?" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("share: 0.75", "share: 0.5"), r"line 21, `variants`: the shares sum to 0.75, not 1"),
        (("channel: sms", "channel: pigeon"), r"line 20, `channel`: 'pigeon' is not valid"),
        (("wait: 2d", "wait: 2 days"), r"line 13, `wait`: '2 days' is not a duration"),
        (("holdout: 0.1", "holdout: 2"), r"line 8, `holdout`: '2' is not a number in \[0, 0.9\]"),
        (("reentry: {after: 30d}", "reentry: sometimes"), r"line 7, `reentry`: 'sometimes'"),
        (("  event: Checkout Started", "  evnt: Checkout Started"), r"line 3, `evnt`: .*'event'"),
        (('"09:30"', '"9h30"'), r"line 15, `wait_until`: '9h30' is not a time of day"),
        (("  - id: pause\n", "  - id: first\n"), r"line 12, `id`: step id 'first' is used twice"),
        (("name: cart", "name: 'a cart'"), r"line 1, `name`: 'a cart' is not a name"),
    ],
)
def test_each_mistake_is_named(change: tuple[str, str], expected: str) -> None:
    message = _error(GOOD.replace(*change))
    assert re.search(expected, message), message


def test_a_status_trigger_names_the_statuses() -> None:
    message = _error("name: x\ntrigger: {status: lapsd}\nsteps:\n  - {id: a, exit: true}\n")
    assert "line 2, `status`: 'lapsd' is not valid. Did you mean 'lapsed'?" in message


def test_a_loop_without_a_wait_is_refused() -> None:
    text = (
        "name: x\ntrigger: {event: E}\nsteps:\n"
        "  - id: a\n    branch: {if: {ordered_since_entry: true}, then: b, else: a}\n"
        "  - {id: b, send: {channel: email, template: t}}\n"
    )
    assert "step 'a' loops back to itself without a wait" in _error(text)


def test_broken_yaml_and_empty_files() -> None:
    assert _error("name: [x\n").startswith("flows/cart.yaml, line 2: not valid YAML")
    assert _error("").startswith("flows/cart.yaml, line 1: the file is empty")


def test_a_user_flow_replaces_the_shipped_one_of_its_name(tmp_path: Path) -> None:
    mine = tmp_path / "cart.yaml"
    mine.write_text(
        "name: abandoned_cart\ntrigger: {event: Product Added}\nsteps:\n  - {id: a, exit: true}\n"
    )
    flows = load_flows([*sorted(shipped_dir().glob("*.yaml")), mine])
    assert pick(flows, "abandoned_cart").trigger.name == "Product Added"
    with pytest.raises(ConfigError, match="Did you mean 'abandoned_cart'"):
        pick(flows, "abandoned_crt")
    with pytest.raises(ConfigError, match="Cannot read flow file"):
        read_flow(tmp_path / "missing.yaml")


def test_every_key_the_parser_accepts_is_in_the_reference() -> None:
    doc = DOC.read_text()
    for section, keys in KEYS.items():
        for key in keys:
            assert f"`{key}`" in doc, f"{section}.{key} is not in docs/flows.md"
