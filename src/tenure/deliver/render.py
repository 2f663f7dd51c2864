"""Turning decided ``messages`` rows into messages to send (the :class:`Renderer` contract of
:mod:`tenure.deliver.channel`; docs/delivery.md, "Templates").

:func:`build_renderer` is what the dispatcher and ``tenure dispatch`` call. For a batch of
rows the :class:`TemplateRenderer` reads, in one query each, the persons' addresses (the
identity graph), their customer records (name, traits), the products the payloads name (with
the reason each is shown) and the discount codes already issued; then renders each row's
template (:mod:`tenure.deliver.templates`), tracks an e-mail's links
(:mod:`tenure.deliver.links`), adds the unsubscribe headers and records the discount codes it
issued. :func:`preview` renders one person's message without recording.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from tenure.config import Settings
from tenure.deliver.channel import Outgoing, Renderer
from tenure.deliver.discounts import Issued, issue_codes, pool_codes, record_codes
from tenure.deliver.links import wrap_links
from tenure.deliver.templates import Templates, check_header
from tenure.deliver.unsubscribe import list_unsubscribe, token_for, unsubscribe_url
from tenure.engage.flow_spec import Flow, flow_paths, load_flows
from tenure.engage.flows import utc_naive
from tenure.errors import ConfigError, DeliveryError, TenureError
from tenure.store import Store

#: The identity kind that gives each channel its address (on-site: the person id itself).
ADDRESS_KINDS: Mapping[str, str] = {"email": "email", "sms": "phone"}
#: The template of a payload that names none (subject and products, plainly).
PLAIN_TEMPLATE = "_plain"
#: Why a product is shown, by the send's ``products`` source (next_products: the
#: recommendation's own reason).
SOURCE_REASONS: Mapping[str, str] = {
    "cart": "in your cart",
    "frequently_bought_together": "often bought with what you added",
    "next_products": "picked for you",
}


def message_id(message_key: str, domain: str = "tenure.invalid") -> str:
    """The RFC 5322 Message-ID of a message: the same for every send of the same key, so a
    resend after a crash carries the id of the first send."""
    digest = hashlib.sha256(message_key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def sender_domain(settings: Settings) -> str:
    """The domain of ``email_from`` (the Message-ID's right-hand side), else tenure.invalid."""
    address = parseaddr(settings.email_from or "")[1]
    return address.rpartition("@")[2] or "tenure.invalid"


def wanted(values: Sequence[str], column: str = "w_person") -> ir.Table:
    """The distinct ``values`` as a one-column in-memory table, to join on: bound as data,
    never spliced; and a claim's thousands of ids as an ``isin`` list of literals cost Ibis
    seconds to compile, a join on this table costs the same whatever their number."""
    return ibis.memtable(pa.table({column: pa.array(sorted(set(values)), pa.string())}))


def person_addresses(store: Store, persons: Sequence[str]) -> dict[tuple[str, str], str]:
    """``(person_id, kind) -> value`` for the e-mail and phone of each person (the smallest
    value when a person has several), read in one query; the ids are bound, never spliced."""
    if not persons:
        return {}
    ids = store.table("identities")
    kinds = sorted(set(ADDRESS_KINDS.values()))
    mine = wanted(persons)
    picked = (
        ids.filter(ids.kind.isin(kinds))
        .semi_join(mine, ids.person_id == mine.w_person)
        .group_by(["person_id", "kind"])
        .aggregate(value=ids.value.min())
        .to_pyarrow()
        .to_pylist()
    )
    return {(str(r["person_id"]), str(r["kind"])): str(r["value"]) for r in picked}


def _traits(text: object) -> dict[str, Any]:
    try:
        value = json.loads(str(text)) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def person_records(store: Store, persons: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``person_id -> {first_name, last_name, name, country, traits}`` from each person's
    customer record (the smallest customer id when they have several)."""
    if not persons:
        return {}
    ids, cust = store.table("identities"), store.table("customers")
    who = wanted(persons)
    mine = ids.filter(ids.kind == "customer_id").semi_join(who, ids.person_id == who.w_person)
    j = mine.inner_join(cust, mine.value == cust.customer_id)
    rows = j.select(
        "person_id", "customer_id", "first_name", "last_name", "country", "traits"
    ).to_pyarrow()
    found: dict[str, dict[str, Any]] = {}
    for r in sorted(rows.to_pylist(), key=lambda r: str(r["customer_id"]), reverse=True):
        first, last = r["first_name"] or "", r["last_name"] or ""
        found[str(r["person_id"])] = {
            "first_name": first,
            "last_name": last,
            "name": f"{first} {last}".strip(),
            "country": r["country"],
            "traits": _traits(r["traits"]),
        }
    return found


def product_records(store: Store, products: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``product_id -> {title, price, currency, category}`` from the catalogue."""
    if not products:
        return {}
    p = store.table("products")
    rows = (
        p.filter(p.product_id.isin(sorted(set(products))))
        .select("product_id", "title", "price", "currency", "category")
        .to_pyarrow()
        .to_pylist()
    )
    return {
        str(r["product_id"]): {
            "title": r["title"] or str(r["product_id"]),
            "price": None if r["price"] is None else f"{r['price']:.2f}",
            "currency": r["currency"],
            "category": r["category"],
        }
        for r in rows
    }


def recommendation_reasons(store: Store, persons: Sequence[str]) -> dict[tuple[str, str], str]:
    """``(person_id, product_id) -> reason`` from ``product_recommendations`` (when built)."""
    if not persons or not store.exists("product_recommendations"):
        return {}
    r, who = store.read("product_recommendations"), wanted(persons)
    rows = r.semi_join(who, r.person_id == who.w_person).select("person_id", "product_id", "reason")
    return {
        (str(x["person_id"]), str(x["product_id"])): str(x["reason"])
        for x in rows.to_pyarrow().to_pylist()
        if x["reason"]
    }


class PlainRenderer:
    """Subject and product ids as plain text, the address from the identity graph: no
    templates, codes or unsubscribe headers (the outbox's tests and benchmarks, dry runs)."""

    def __init__(self, store: Store, *, domain: str = "tenure.invalid") -> None:
        self.store = store
        self.domain = domain

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Outgoing | DeliveryError]:
        addresses = person_addresses(self.store, [str(r["person_id"]) for r in rows])
        out: list[Outgoing | DeliveryError] = []
        for row in rows:
            try:
                out.append(self._one(row, addresses))
            except DeliveryError as exc:
                out.append(exc)
        return out

    def _one(self, row: Mapping[str, Any], addresses: Mapping[tuple[str, str], str]) -> Outgoing:
        channel, person = str(row["channel"]), str(row["person_id"])
        kind = ADDRESS_KINDS.get(channel)
        to = person if kind is None else addresses.get((person, kind))
        if to is None:
            raise DeliveryError(
                f"Message {row['message_key']}: person {person} has no {kind} to send "
                f"the {channel} of flow {row['flow']!r} step {row['step']!r} to.",
                hint=f"Import the person's {kind} (customers or identify events).",
            )
        payload = payload_of(row)
        subject = check_header("subject", str(payload.get("subject") or ""))
        lines = [subject] + [f"- {p}" for p in payload.get("products") or [] if p]
        return Outgoing(
            message_key=str(row["message_key"]),
            flow=str(row["flow"]),
            step=str(row["step"]),
            person_id=person,
            channel=channel,
            to=to,
            message_id=message_id(str(row["message_key"]), self.domain),
            subject=subject,
            text="\n".join(lines).strip() + "\n",
            body=payload,
        )


@dataclass
class _Batch:
    """What the rows of one render call share, read once."""

    addresses: dict[tuple[str, str], str]
    people: dict[str, dict[str, Any]]
    products: dict[str, dict[str, Any]]
    reasons: dict[tuple[str, str], str]
    codes: dict[str, Issued | DeliveryError]


def payload_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row's payload JSON as a dict (a DeliveryError when it is not a JSON object)."""
    try:
        payload = json.loads(row.get("payload") or "{}")
    except ValueError as exc:
        raise DeliveryError(f"Message {row['message_key']}: payload is not JSON ({exc}).") from None
    if not isinstance(payload, dict):
        raise DeliveryError(f"Message {row['message_key']}: payload is not a JSON object.")
    return payload


class TemplateRenderer:
    """Renders rows with the templates, unsubscribe headers and discount codes
    (``record=False``: the codes are not recorded, for previews)."""

    def __init__(
        self, store: Store, settings: Settings, now: datetime, *, record: bool = True
    ) -> None:
        self.store = store
        self.settings = settings
        self.now = utc_naive(now)
        self.record = record
        self.domain = sender_domain(settings)
        self.templates = Templates(Path(settings.templates_dir))
        self._flows: dict[str, Flow] | None = None

    def flows(self) -> dict[str, Flow]:
        """The flow definitions by name (read once, for the steps' product sources)."""
        if self._flows is None:
            flows = load_flows(flow_paths(Path(self.settings.flows_dir)))
            self._flows = {f.name: f for f in flows}
        return self._flows

    def _source(self, flow: str, step: str) -> str | None:
        try:
            found = self.flows().get(flow)
        except TenureError:  # a broken flow file: the reasons are only less specific
            return None
        ids = {s.id: s for s in found.steps} if found is not None else {}
        return ids[step].products if step in ids else None

    def render(self, rows: Sequence[Mapping[str, Any]]) -> list[Outgoing | DeliveryError]:
        persons = [str(r["person_id"]) for r in rows]
        payloads: list[dict[str, Any] | DeliveryError] = []
        for row in rows:
            try:
                payloads.append(payload_of(row))
            except DeliveryError as exc:
                payloads.append(exc)
        good = [(r, p) for r, p in zip(rows, payloads, strict=True) if isinstance(p, dict)]
        items = sorted({str(i) for _, p in good for i in p.get("products") or [] if i})
        batch = _Batch(
            addresses=person_addresses(self.store, persons),
            people=person_records(self.store, persons),
            products=product_records(self.store, items),
            reasons=recommendation_reasons(self.store, persons),
            codes=issue_codes(self.store, self.settings, good, self.now),
        )
        out: list[Outgoing | DeliveryError] = []
        for row, payload in zip(rows, payloads, strict=True):
            if isinstance(payload, DeliveryError):
                out.append(payload)
                continue
            try:
                out.append(self._one(row, payload, batch))
            except DeliveryError as exc:
                out.append(exc)
        if self.record:
            sent = {m.message_key for m in out if isinstance(m, Outgoing)}
            fresh = [c for c in batch.codes.values() if isinstance(c, Issued) and c.fresh]
            record_codes(self.store, [c for c in fresh if c.message_key in sent])
        return out

    def _address(self, row: Mapping[str, Any], batch: _Batch) -> str:
        channel, person = str(row["channel"]), str(row["person_id"])
        kind = ADDRESS_KINDS.get(channel)
        if kind is None:
            if channel == "webhook" and self.settings.webhook_url:
                return self.settings.webhook_url
            return person
        to = batch.addresses.get((person, kind))
        if to is None:
            raise DeliveryError(
                f"Message {row['message_key']}: person {person} has no {kind} to send "
                f"the {channel} of flow {row['flow']!r} step {row['step']!r} to.",
                hint=f"Import the person's {kind} (customers or identify events).",
            )
        return check_header("address", to)

    def _products(self, row: Mapping[str, Any], ids: Sequence[Any], batch: _Batch) -> list[Any]:
        source = self._source(str(row["flow"]), str(row["step"]))
        person = str(row["person_id"])
        shown = []
        for pid in (str(i) for i in ids if i):
            known = batch.products.get(pid, {"title": pid, "price": None})
            reason = batch.reasons.get((person, pid)) if source == "next_products" else None
            shown.append(
                {
                    "product_id": pid,
                    "currency": None,
                    "category": None,
                    **known,
                    "reason": reason or SOURCE_REASONS.get(source or ""),
                }
            )
        return shown

    def context(
        self,
        row: Mapping[str, Any],
        payload: Mapping[str, Any],
        batch: _Batch,
        token: str | None,
    ) -> dict[str, Any]:
        """What a template sees (docs/delivery.md, "Templates")."""
        person = str(row["person_id"])
        record = batch.people.get(person, {})
        issued = batch.codes.get(str(row["message_key"]))
        if isinstance(issued, DeliveryError):
            raise issued
        discount = None if issued is None else issued.context()
        url = None if token is None else unsubscribe_url(self.settings, token)
        return {
            "person": {
                "id": person,
                "first_name": record.get("first_name", ""),
                "last_name": record.get("last_name", ""),
                "name": record.get("name", ""),
                "country": record.get("country"),
                "traits": record.get("traits", {}),
                "email": batch.addresses.get((person, "email")),
            },
            "products": self._products(row, payload.get("products") or [], batch),
            "discount": discount,
            "unsubscribe_url": url,
            "flow": str(row["flow"]),
            "step": str(row["step"]),
            "variant": row.get("variant"),
            "subject": str(payload.get("subject") or ""),
        }

    def _unsubscribes(self) -> bool:
        return bool(self.settings.unsubscribe_secret and self.settings.public_url)

    def _one(self, row: Mapping[str, Any], payload: dict[str, Any], batch: _Batch) -> Outgoing:
        key, channel = str(row["message_key"]), str(row["channel"])
        to = self._address(row, batch)
        token = None
        if channel in ADDRESS_KINDS and self._unsubscribes():
            person, flow = str(row["person_id"]), str(row["flow"])
            token = token_for(self.settings, person, channel, flow, self.now)
        ctx = self.context(row, payload, batch, token)
        subject = self.templates.subject(ctx["subject"], ctx)
        ctx["subject"] = subject
        text, html = self.templates.render(str(payload.get("template") or PLAIN_TEMPLATE), ctx)
        if channel == "email" and self._unsubscribes():
            text, html = wrap_links(self.settings, key, text, html)
        headers: dict[str, str] = {}
        if channel == "email" and token is not None:
            headers = list_unsubscribe(self.settings, token)
        body = {**payload, "products": ctx["products"]}
        if ctx["discount"] is not None:
            body["discount"] = ctx["discount"]
        return Outgoing(
            message_key=key,
            flow=str(row["flow"]),
            step=str(row["step"]),
            person_id=str(row["person_id"]),
            channel=channel,
            to=to,
            message_id=message_id(key, self.domain),
            subject=subject,
            text=text,
            html=html,
            headers=headers,
            body=body,
        )


def build_renderer(store: Store, settings: Settings, now: datetime) -> Renderer:
    """The renderer ``tenure dispatch`` uses for ``store`` at ``now`` (a ConfigError now,
    not at the first message, when ``discount_pool`` cannot be read)."""
    pool_codes(settings)
    return TemplateRenderer(store, settings, now)


def _preview_row(store: Store, flow: Flow, step_id: str, person: str) -> dict[str, Any]:
    """The person's latest ``messages`` row of the step, else one made as the flow engine
    would (the discount code derived from the step's prefix, the person's recommendations
    as ``next_products``; a cart or a trigger's product cannot be known without a trigger)."""
    from tenure.engage.steps import payload_text

    m = store.table("messages")
    mine = m.filter((m.flow == flow.name) & (m.step == step_id) & (m.person_id == person))
    found = mine.order_by(m.decided_at.desc()).limit(1).to_pyarrow().to_pylist()
    if found:
        return found[0]
    step = flow.step(step_id)
    variant = step.variants[0] if step.variants else None
    template = (variant.template if variant else None) or step.template
    subject = (variant.subject if variant else None) or step.subject
    payload = payload_text(flow, step, template, subject)
    if variant is not None:
        payload["variant"] = variant.name
    offer = payload.get("discount")
    if isinstance(offer, dict):
        seed = hashlib.sha256(f"{flow.name}|{person}|preview".encode()).hexdigest()
        payload["discount"] = {
            **offer,
            "code": str(offer.get("code_prefix") or "") + seed[:8].upper(),
        }
    if step.products is not None:
        picks: list[str] = []
        if step.products == "next_products" and store.exists("product_recommendations"):
            r = store.read("product_recommendations")
            mine_r = r.filter(r.person_id == person).order_by(r["rank"]).limit(step.count)
            picks = [str(x) for x in mine_r.product_id.to_pyarrow().to_pylist()]
        payload["products"] = picks
    key = hashlib.sha256(f"preview|{flow.name}|{step_id}|{person}".encode()).hexdigest()
    return {
        "message_key": key,
        "flow": flow.name,
        "step": step_id,
        "variant": payload.get("variant"),
        "person_id": person,
        "channel": step.channel,
        "payload": json.dumps(payload, sort_keys=True),
    }


def preview(
    store: Store, settings: Settings, flow_name: str, step_id: str, person: str, now: datetime
) -> Outgoing:
    """The message step ``step_id`` of flow ``flow_name`` gives ``person`` (any identifier
    :func:`tenure.identity.lookup.find_person` reads) at ``now``: rendered, nothing recorded
    (no discount code issued, nothing sent). What ``tenure flows preview`` prints."""
    from tenure.engage.flow_spec import pick
    from tenure.identity.lookup import find_person

    flow = pick(load_flows(flow_paths(Path(settings.flows_dir))), flow_name)
    sends = [s.id for s in flow.steps if s.kind == "send"]
    if step_id not in sends:
        raise ConfigError(
            f"Flow {flow.name!r} has no send step {step_id!r}.",
            hint=f"Its send steps: {', '.join(sends) or 'none'}.",
        )
    person_id = find_person(store, person).person_id
    row = _preview_row(store, flow, step_id, person_id)
    renderer = TemplateRenderer(store, settings, now, record=False)
    (result,) = renderer.render([row])
    if isinstance(result, DeliveryError):
        raise result
    return result
