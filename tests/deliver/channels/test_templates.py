"""Templates: sandboxed, escaped, strict; one for every template the shipped flows name;
the renderer's context, discount codes and errors; the preview."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tenure import Store
from tenure.deliver.channel import Outgoing
from tenure.deliver.discounts import code_of
from tenure.deliver.render import TemplateRenderer, build_renderer, preview
from tenure.deliver.templates import SHIPPED_DIR, Templates
from tenure.engage.flow_spec import flow_paths, load_flows
from tenure.errors import ConfigError, DeliveryError
from tests.deliver.channels.channelkit import (
    NOW,
    message_row,
    settings_for,
)

CONTEXT = {
    "person": {"id": "p", "first_name": "Ann", "last_name": "Lee", "name": "Ann Lee",
               "country": None, "traits": {}, "email": "ann@example.com"},
    "products": [{"product_id": "P1", "title": "Mug", "price": "12.50", "currency": "EUR",
                  "category": None, "reason": "in your cart"}],
    "discount": {"code": "CART1234ABCD", "percent": 10, "expires": "2026-03-05"},
    "unsubscribe_url": "https://crm.shop.example/unsubscribe?token=t",
    "flow": "f", "step": "s", "variant": None, "subject": "Hi",
}  # fmt: skip


def _shipped_flow_templates() -> list[str]:
    names = set()
    for flow in load_flows(flow_paths(None)):
        for step in flow.steps:
            names |= {step.template} | {v.template for v in step.variants}
    return sorted(n for n in names if n)


def test_every_template_a_shipped_flow_names_is_shipped_and_renders() -> None:
    names = _shipped_flow_templates()
    assert len(names) == 32
    templates = Templates()
    assert set(names) <= set(templates.names())
    for name in names:
        text, html = templates.render(name, CONTEXT)
        assert text.startswith("Hello Ann,") and "CART1234ABCD" in text, name
        assert "- Mug (12.50 EUR): in your cart" in text
        assert html.startswith("<!DOCTYPE html>") and "Unsubscribe</a>" in html, name
        assert (SHIPPED_DIR / f"{name}.html").is_file()


def _user_template(tmp_path: Path, name: str, text: str, html: str | None = None) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.txt").write_text(text)
    if html is not None:
        (folder / f"{name}.html").write_text(html)
    return folder


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ person.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    ],
)
def test_template_injection_is_refused(tmp_path: Path, source: str) -> None:
    templates = Templates(_user_template(tmp_path, "evil", source))
    with pytest.raises(DeliveryError, match=r"evil\.txt.*does not render"):
        templates.render("evil", CONTEXT)


def test_an_undefined_name_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    templates = Templates(_user_template(tmp_path, "typo", "Hi {{ persn.first_name }}"))
    with pytest.raises(DeliveryError, match="'persn' is undefined"):
        templates.render("typo", CONTEXT)


def test_a_user_template_replaces_the_shipped_one_and_names_are_plain(tmp_path: Path) -> None:
    folder = _user_template(tmp_path, "welcome_1", "Yo {{ person.first_name }}", "<b>{{ x }}</b>")
    templates = Templates(folder)
    assert templates.render("welcome_1", {**CONTEXT, "x": "<i>"}) == ("Yo Ann", "<b>&lt;i&gt;</b>")
    with pytest.raises(DeliveryError, match="not a plain name"):
        templates.render("../etc/passwd", CONTEXT)
    with pytest.raises(DeliveryError, match=r"has no nothing_here\.txt"):
        templates.render("nothing_here", CONTEXT)


def test_subject_line_breaks_are_refused_even_from_a_trait() -> None:
    templates = Templates()
    assert templates.subject("Hi {{ person.first_name }}", CONTEXT) == "Hi Ann"
    with pytest.raises(DeliveryError, match="line break"):
        templates.subject("Hi\r\nBcc: x@y.example", CONTEXT)
    crafted = {**CONTEXT, "person": {**CONTEXT["person"], "first_name": "Ann\nBcc: x@y"}}  # type: ignore[dict-item]
    with pytest.raises(DeliveryError, match="line break"):
        templates.subject("Hi {{ person.first_name }}", crafted)


def test_traits_are_data_never_template_code(store: Store, tmp_path: Path) -> None:
    _user_template(
        tmp_path, "traits", "{{ person.traits.plan }}|{{ person.traits.tier }}",
        "{{ person.traits.plan }}|{{ person.traits.tier }}|{{ person.first_name }}",
    )  # fmt: skip
    settings = settings_for(tmp_path)
    (m,) = TemplateRenderer(store, settings, NOW).render([message_row("k", template="traits")])
    assert isinstance(m, Outgoing)
    assert m.text == "{{ ''.__class__.__mro__ }}|gold & co"
    assert m.html == (
        "{{ &#39;&#39;.__class__.__mro__ }}|gold &amp; co|Ann &lt;script&gt;alert(1)&lt;/script&gt;"
    )


def test_rows_without_an_address_or_with_a_broken_payload_fail_alone(
    store: Store, tmp_path: Path
) -> None:
    renderer = build_renderer(store, settings_for(tmp_path), NOW)
    bad = message_row("k3", "p_bob")
    bad["payload"] = "{not json"
    out = renderer.render(
        [message_row("k1", "p_nomail"), message_row("k2", "p_bob"), bad,
         message_row("k4", "p_ann", template="missing_template"),
         message_row("k5", "p_ann", channel="sms", template="birthday")]
    )  # fmt: skip
    assert isinstance(out[0], DeliveryError) and "has no email" in out[0].message
    assert isinstance(out[1], Outgoing) and out[1].to == "bob@example.org"
    assert isinstance(out[2], DeliveryError) and "not JSON" in out[2].message
    assert isinstance(out[3], DeliveryError) and "missing_template.txt" in out[3].message
    assert isinstance(out[4], Outgoing) and out[4].to == "+12125550101"
    bare = message_row("k6", "p_bob")
    bare["payload"] = json.dumps({"subject": "Just a subject"})  # no template: _plain
    (plain,) = renderer.render([bare])
    assert isinstance(plain, Outgoing) and plain.subject == "Just a subject"
    assert plain.text.startswith("Hello Bob,\n\nJust a subject\n")
    assert out[4].headers == {}  # the unsubscribe headers are the e-mail's
    assert "https://crm.shop.example/unsubscribe?token=" in out[4].text


def _discount(code: str = "CARTAB12CD34") -> dict[str, object]:
    return {"code": code, "code_prefix": "CART", "percent": "10", "valid_for": "3d"}


def test_discount_codes_are_recorded_once_per_message(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    rows = [
        message_row("k1", "p_ann", step="last_call", template="cart_discount",
                    discount=_discount("CARTAAAA1111")),
        message_row("k2", "p_bob", step="last_call", template="cart_discount",
                    discount=_discount("CARTBBBB2222")),
    ]  # fmt: skip
    first = TemplateRenderer(store, settings, NOW).render(rows)
    again = TemplateRenderer(store, settings, NOW + timedelta(hours=1)).render(rows)
    assert [m.body["discount"] for m in first] == [m.body["discount"] for m in again]  # type: ignore[union-attr]
    assert "CARTAAAA1111 (10% off, until 2026-03-05)" in first[0].text  # type: ignore[union-attr]
    codes = store.table("discount_codes").to_pandas().sort_values("message_key")
    assert codes.code.tolist() == ["CARTAAAA1111", "CARTBBBB2222"]
    assert codes.person_id.tolist() == ["p_ann", "p_bob"]
    assert codes.percent.tolist() == [10.0, 10.0]
    assert codes.expires.tolist() == [NOW + timedelta(days=3)] * 2
    issued = code_of(store, "CARTBBBB2222")
    assert issued is not None and (issued.flow, issued.step) == ("abandoned_cart", "last_call")
    assert code_of(store, "NOPE") is None


def test_pool_codes_are_unique_and_a_used_up_pool_fails_the_message(
    store: Store, tmp_path: Path
) -> None:
    pool = tmp_path / "codes.txt"
    pool.write_text("# codes\nPOOL-1\nPOOL-2\n\n")
    settings = settings_for(tmp_path, discount_pool=pool)
    rows = [
        message_row(f"k{i}", person, step="last_call", template="cart_discount",
                    discount=_discount())
        for i, person in enumerate(["p_ann", "p_bob", "p_ann"])
    ]  # fmt: skip
    out = TemplateRenderer(store, settings, NOW).render(rows)
    assert [m.body["discount"]["code"] for m in out[:2]] == ["POOL-1", "POOL-2"]  # type: ignore[union-attr]
    assert isinstance(out[2], DeliveryError) and "used up" in out[2].message
    # a resend of k0 reuses its code; the pool stays used up for new keys
    again = TemplateRenderer(store, settings, NOW).render(rows[:1])
    assert again[0].body["discount"]["code"] == "POOL-1"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="discount_pool"):
        build_renderer(store, settings_for(tmp_path, discount_pool=tmp_path / "none"), NOW)


def test_recommended_products_carry_their_own_reason(store: Store, tmp_path: Path) -> None:
    row = message_row(
        "k", "p_ann", flow="post_purchase", step="add_ons",
        template="post_purchase_add_ons", products=["P2", "P_unknown"],
    )  # fmt: skip
    (m,) = TemplateRenderer(store, settings_for(tmp_path), NOW).render([row])
    assert isinstance(m, Outgoing)
    flow = {f.name: f for f in load_flows(flow_paths(None))}["post_purchase"]
    assert flow.step("add_ons").products == "next_products"
    assert [p["reason"] for p in m.body["products"]] == ["goes with your mug", "picked for you"]
    assert m.body["products"][1]["title"] == "P_unknown"


def test_preview_renders_a_real_person_and_records_nothing(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    m = preview(store, settings, "welcome_series", "offer", "ann@example.com", NOW)
    assert m.to == "ann@example.com" and m.subject == "10% off your first order"
    assert m.body["discount"]["code"].startswith("WELCOME")
    assert "Your first order is 10% off" in m.text and "List-Unsubscribe" in m.headers
    assert store.table("discount_codes").count().execute() == 0
    with pytest.raises(ConfigError, match="no send step 'wait_2d'"):
        preview(store, settings, "welcome_series", "wait_2d", "p_ann", NOW)
    with pytest.raises(ConfigError, match="No flow named"):
        preview(store, settings, "welcome", "offer", "p_ann", NOW)
    assert json.loads(json.dumps(m.body, default=str))["template"] == "welcome_3_offer"


def test_the_plain_renderer_needs_no_template(store: Store) -> None:
    from tenure.deliver.render import PlainRenderer

    rows = [message_row("k1", "p_ann", products=["P1"]), message_row("k2", "p_nomail")]
    ok, missing = PlainRenderer(store).render(rows)
    assert isinstance(ok, Outgoing) and ok.text == "Your cart\n- P1\n"
    assert ok.message_id.endswith("@tenure.invalid>") and ok.headers == {}
    assert isinstance(missing, DeliveryError) and "has no email" in missing.message
