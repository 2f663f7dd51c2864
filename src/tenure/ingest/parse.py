"""Turn staged text into typed canonical fields, and name the first problem of each row.

Builds one ``SELECT`` over a staged file (see :mod:`tenure.ingest.readers`) whose output has
``__rn``, one typed column per canonical field, and ``__reason`` / ``__column`` /
``__raw_value`` for rows that must be quarantined (null for good rows). Every value from the
user (date formats, time zones, currencies, JSON paths) is a bound parameter; identifiers in
the SQL are canonical field names or generated ones, never text from the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from tenure.ingest.entities import (
    EVENT_TYPES,
    FEEDBACK_KINDS,
    FEEDBACK_SCALES,
    ID_FIELDS,
    ITEM_FIELDS,
    ORDER_LEVEL,
    Entity,
)
from tenure.ingest.mapping import SEGMENT_FALLBACKS, Mapping
from tenure.ingest.readers import Staged

TYPES = {
    "money": "DECIMAL(18,4)",
    "rate": "DECIMAL(18,8)",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
}
#: a time followed by a zone: Z, +01, -05:00, +0100, UTC or GMT (with or without a space)
_OFFSET = r"[Tt ]\d\d?:\d\d(:\d\d(\.\d+)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?|UTC|GMT)$"
#: zoned forms DuckDB's cast does not read (no seconds, a space before the offset); tried one
#: by one: DuckDB 1.5's try_strptime with a list of formats rolls 2024-02-30 over to March
_ZONED_FORMATS = [f"%Y-%m-%d{t}%H:%M{s}%z" for t in "T " for s in ("", " ", ":%S ", ":%S.%f ")]
REFUND_STATUSES = ["refunded", "refund", "partially_refunded", "returned"]


@dataclass(frozen=True)
class DateBounds:
    """The dates an import accepts: from ``earliest`` to ``latest`` (naive UTC)."""

    earliest: datetime
    latest: datetime


@dataclass
class ParsePlan:
    """The SQL of the parse step, its parameters, and what it found out about the file."""

    sql: str
    params: dict[str, Any]
    fields: list[str]
    key: tuple[str, ...]
    has_items: bool
    mapped: set[str]
    #: False when the output has no ``__rn``: it is ``rowid + 1`` of the table created from it
    has_rn: bool
    ignored_columns: list[str] = field(default_factory=list)


class _Params:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


def _json_path(source: str) -> str:
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in source.split("."))


def _raw_columns(
    staged: Staged, mapping: Mapping, field_map: dict[str, str], params: _Params
) -> dict[str, str]:
    """Canonical field -> SQL expression of its raw text (null when empty); ids written as
    whole-number floats are read as integers here, for every entity (:func:`_whole_id`)."""
    out: dict[str, str] = {}
    for canonical, source in field_map.items():
        if staged.fmt == "jsonl":
            fallback = () if mapping.columns else SEGMENT_FALLBACKS.get(source, ())
            paths = [params.add(_json_path(s)) for s in (source, *fallback)]
            values = ", ".join(f"nullif(json_extract_string(raw, {p}), '')" for p in paths)
            text = f"nullif(trim(CASE WHEN json_valid(raw) THEN coalesce({values}) END), '')"
        elif staged.fmt == "whitespace":  # fields hold no spaces: nothing to trim
            text = f"nullif(__parts[{mapping.names.index(source) + 1}], '')"
        elif staged.types and staged.types[staged.columns.index(source)] != "VARCHAR":
            text = f"s{staged.columns.index(source)}"  # typed Parquet: cast later
            if canonical in ID_FIELDS:
                text = f"CAST({text} AS VARCHAR)"
        else:
            text = _trimmed(f"s{staged.columns.index(source)}")
        out[canonical] = _whole_id(text) if canonical in ID_FIELDS else text
    return out


def _whole_id(text: str) -> str:
    """An id written as a whole-number float (``17850.0``, as spreadsheet tools save
    numbers) as the integer it is (``17850``); any other text unchanged."""
    return (
        f"CASE WHEN contains({text}, '.') "
        f"THEN regexp_replace({text}, '^(-?[0-9]+)\\.0+$', '\\1') ELSE {text} END"
    )


def _trimmed(column: str) -> str:
    """A text column without surrounding spaces, null when empty. ``trim`` copies every
    string, so it runs only on values that start or end with a space (2x faster parse)."""
    return (
        f"nullif(CASE WHEN {column} LIKE ' %' OR {column} LIKE '% ' THEN trim({column}) "
        f"ELSE {column} END, '')"
    )


def _source_type(staged: Staged, source: str | None) -> str | None:
    """The DuckDB type of a typed (non-text) Parquet source column, else None."""
    if source is None or not staged.types or source not in staged.columns:
        return None
    source_type = staged.types[staged.columns.index(source)]
    return None if source_type == "VARCHAR" else source_type


def _typed_source(kind: str, v: str, source_type: str, tz: str, params: _Params) -> str:
    """Parse a typed (Parquet) source column: cast it, text only for text-like kinds."""
    if kind == "timestamp":
        if "WITH TIME ZONE" in source_type:
            return f"timezone('UTC', {v})"
        cast = f"try_cast({v} AS TIMESTAMP)"
        return cast if tz == "UTC" else f"timezone('UTC', timezone({params.add(tz)}, {cast}))"
    if kind == "date":
        return f"try_cast({v} AS DATE)"
    if kind in TYPES:
        return f"try_cast({v} AS {TYPES[kind]})"
    return f"nullif(trim(CAST({v} AS VARCHAR)), '')"


def _timestamp(v: str, mapping: Mapping, tz: str, params: _Params) -> str:
    def local(expr: str) -> str:
        return expr if tz == "UTC" else f"timezone('UTC', timezone({params.add(tz)}, {expr}))"

    if mapping.date_format:
        fmt = params.add(mapping.date_format)
        if "%z" in mapping.date_format or "%Z" in mapping.date_format:
            return f"timezone('UTC', try_strptime({v}, {fmt}))"
        return local(f"try_strptime({v}, {fmt})")
    offset = params.add(_OFFSET)
    utc = f"regexp_replace({v}, '[Zz]$', '+00:00')"
    tries = [f"try_strptime({utc}, {params.add(f)})" for f in _ZONED_FORMATS]
    zoned = f"coalesce(try_cast({utc} AS TIMESTAMPTZ), {', '.join(tries)})"
    # the regex runs only on text that can hold a zone: 'YYYY-MM-DD HH:MM:SS' cannot, unless
    # its 17th character starts an offset ('YYYY-MM-DDTHH:MM-05')
    maybe = f"(length({v}) <> 19 OR {v}[17] IN ('+', '-'))"
    return (
        f"CASE WHEN {maybe} AND regexp_matches({v}, {offset}) "
        f"THEN timezone('UTC', {zoned}) "
        f"ELSE {local(f'try_cast({v} AS TIMESTAMP)')} END"
    )


def _typed(kind: str, v: str, mapping: Mapping, tz: str, params: _Params) -> str:
    if kind == "timestamp":
        return _timestamp(v, mapping, tz, params)
    if kind == "date":
        if mapping.date_format:
            return f"CAST(try_strptime({v}, {params.add(mapping.date_format)}) AS DATE)"
        return f"try_cast({v} AS DATE)"
    if kind in TYPES:
        return f"try_cast({v} AS {TYPES[kind]})"
    if kind == "currency":
        default = f", {params.add(mapping.currency.upper())}" if mapping.currency else ""
        return f"coalesce(upper({v}){default})"
    if kind == "json":
        return f"CASE WHEN json_valid({v}) THEN {v} END"
    return v


def _derived_stages(
    entity: Entity, mapping: Mapping, raw: dict[str, str], has_items: bool
) -> tuple[list[str], list[str]]:
    """SELECT lists (over the previous stage) adding generated order ids, order-level fill
    and line numbers; and the raw fields they create."""
    stages: list[str] = []
    created: list[str] = []
    if mapping.order_id_from:
        parts = ", ".join(f"r_{f}" for f in mapping.order_id_from)
        expr = (
            f"concat_ws('-', {parts}, "
            f"CAST(row_number() OVER (PARTITION BY {parts} ORDER BY __rn) AS VARCHAR))"
        )
        stages.append(f"*, {expr} AS r_order_id")
        created.append("order_id")
    fills = []
    if mapping.fill_order_fields and "order_id" in raw:
        for name in ORDER_LEVEL:
            if name in raw and name != "order_id":
                fills.append(
                    f"coalesce(r_{name}, first_value(r_{name}) "
                    f"OVER (PARTITION BY r_order_id ORDER BY __rn)) AS r_{name}"
                )
    if fills:
        stages.append(f"* REPLACE ({', '.join(fills)})")
    if entity.name == "orders" and "line" not in raw:
        oid = "r_order_id" if ("order_id" in raw or created) else "NULL"
        line = (
            f"CAST(row_number() OVER (PARTITION BY {oid} ORDER BY __rn) AS VARCHAR)"
            if has_items
            else "'1'"
        )
        stages.append(f"*, {line} AS r_line")
        created.append("line")
    return stages, created


def _entity_stages(entity: Entity, raw: dict[str, str]) -> tuple[list[str], list[str]]:
    """SELECT lists (over the previous stage) of feedback and referrals: a feedback's kind in
    lower case and the usual scale of its kind where the row gives none; a referral's id,
    ``referrer>referred``, when the file has no ``referral_id`` column."""
    if entity.name == "feedback" and "kind" in raw:
        stages = ["* REPLACE (lower(r_kind) AS r_kind)"]
        created = []
        for i, bound in enumerate(("scale_min", "scale_max")):
            usual = " ".join(f"WHEN '{k}' THEN '{s[i]}'" for k, s in FEEDBACK_SCALES.items())
            expr = f"CASE r_kind {usual} END"
            if bound in raw:
                stages.append(
                    f"* REPLACE (coalesce(CAST(r_{bound} AS VARCHAR), {expr}) AS r_{bound})"
                )
            else:
                stages.append(f"*, {expr} AS r_{bound}")
                created.append(bound)
        return stages, created
    if entity.key_from and entity.key[0] not in raw and set(entity.key_from) & set(raw):
        half = len(entity.key_from) // 2

        def side(fields: tuple[str, ...]) -> str:
            given = [
                f"lower(r_{f})" if f.endswith("email") else f"r_{f}" for f in fields if f in raw
            ]
            return "coalesce(" + ", ".join([*given, "''"]) + ")"

        ends = side(entity.key_from[:half]), side(entity.key_from[half:])
        expr = f"nullif({ends[0]} || '>' || {ends[1]}, '>')"
        return [f"*, {expr} AS r_{entity.key[0]}"], [entity.key[0]]
    return [], []


def _entity_checks(
    entity: Entity, mapped: set[str], params: _Params
) -> list[tuple[str, str, str | None, str]]:
    """The checks of feedback (its kind, its score within its scale) and referrals (a
    referrer, a referred person, not the same)."""
    if entity.name == "feedback":
        kinds = params.add(list(FEEDBACK_KINDS))
        return [
            (
                f"NOT list_contains({kinds}, coalesce(kind, ''))",
                "unknown kind",
                "kind",
                "r_kind" if "kind" in mapped else "NULL",
            ),
            (
                "score < scale_min OR score > scale_max",
                "score outside the scale",
                "score",
                "r_score" if "score" in mapped else "NULL",
            ),
        ]
    if entity.name != "referrals":
        return []
    return [
        (
            "coalesce(referrer_customer_id, referrer_email, code) IS NULL",
            "missing value",
            "referrer_email",
            "NULL",
        ),
        (
            "coalesce(referred_customer_id, referred_email, order_id) IS NULL",
            "missing value",
            "referred_email",
            "NULL",
        ),
        (
            "referrer_customer_id = referred_customer_id",
            "referral to oneself",
            "referred_customer_id",
            "referred_customer_id",
        ),
        (
            "lower(referrer_email) = lower(referred_email)",
            "referral to oneself",
            "referred_email",
            "referred_email",
        ),
    ]


def _checks(
    entity: Entity,
    mapping: Mapping,
    staged: Staged,
    kinds: dict[str, str],
    mapped: set[str],
    key: tuple[str, ...],
    accepted: list[str],
    params: _Params,
    bounds: DateBounds | None = None,
) -> list[tuple[str, str, str | None, str]]:
    """(condition, reason, column, raw value) in the order the checks run."""
    out: list[tuple[str, str, str | None, str]] = []
    if staged.fmt == "whitespace":
        out.append((f"len(__parts) <> {len(mapping.names)}", "wrong column count", None, "raw"))
    if staged.fmt == "jsonl":
        out.append(("NOT coalesce(json_valid(raw), false)", "unreadable json", None, "raw"))
    out += [
        (f"{k} IS NULL", "missing key", k, f"r_{k}") for k in key if k not in entity.optional_key
    ]
    if entity.name == "events":
        types = params.add(list(EVENT_TYPES))
        out.append(
            (
                f"NOT list_contains({types}, coalesce(type, ''))",
                "invalid event type",
                "type",
                "r_type",
            )
        )
    groups = (
        (("timestamp", "date"), "unreadable date"),
        (("money", "rate", "int", "float"), "unreadable number"),
        (("bool",), "unreadable value"),
        (("json",), "unreadable json"),
    )
    for group, reason in groups:
        for name, kind in kinds.items():
            if kind in group and name in mapped and name not in key:
                out.append((f"r_{name} IS NOT NULL AND {name} IS NULL", reason, name, f"r_{name}"))
                stand_in = entity.stand_ins.get(name)
                if name in entity.required and not (stand_in and set(stand_in) <= mapped):
                    out.append((f"r_{name} IS NULL", "missing value", name, f"r_{name}"))
        if reason == "unreadable date":
            out += _date_bounds(entity, mapped, bounds, params)
    if "currency" in kinds:
        acc = params.add(accepted)
        raw = "r_currency" if "currency" in mapped else "NULL"
        needed = f"{entity.currency_for} IS NOT NULL AND " if entity.currency_for else ""
        out.append(
            (
                f"{needed}(currency IS NULL OR NOT list_contains({acc}, currency))",
                "unknown currency",
                "currency",
                raw,
            )
        )
    if entity.name == "orders" and "quantity" in mapped:
        out.append(
            (
                f"quantity < 0 AND NOT ({_refund(mapping, mapped, params)})",
                "negative quantity outside a refund",
                "quantity",
                "r_quantity",
            )
        )
    for name in ("total", "subtotal", "unit_price"):
        if entity.name == "orders" and name in mapped:
            out.append(
                (
                    f"{name} < 0 AND NOT ({_refund(mapping, mapped, params)})",
                    "negative amount outside a refund",
                    name,
                    f"r_{name}",
                )
            )
    return out + _entity_checks(entity, mapped, params)


def _date_bounds(
    entity: Entity, mapped: set[str], bounds: DateBounds | None, params: _Params
) -> list[tuple[str, str, str | None, str]]:
    """The checks that the field dating a record lies between the floor and now (+ skew)."""
    name = entity.dated
    if bounds is None or name is None or name not in mapped:
        return []
    latest, earliest = params.add(bounds.latest), params.add(bounds.earliest)
    return [
        (f"{name} > {latest}", "date in the future", name, f"r_{name}"),
        (f"{name} < {earliest}", "date before the floor", name, f"r_{name}"),
    ]


def _refund(mapping: Mapping, mapped: set[str], params: _Params) -> str:
    terms = ["coalesce(is_refund, false)"]
    if "status" in mapped:
        terms.append(f"list_contains({params.add(REFUND_STATUSES)}, lower(coalesce(status, '')))")
    if mapping.refund_prefix:
        column, prefix = mapping.refund_prefix
        terms.append(f"coalesce(starts_with(r_{column}, {params.add(prefix)}), false)")
    return " OR ".join(terms)


def _outcome(checks: list[tuple[str, str, str | None, str]], params: _Params) -> tuple[str, str]:
    """``__reason``, ``__column``, ``__raw_value`` from one evaluation of the checks.

    The checks run once, giving the index of the first that fails; the reason, column and raw
    value are looked up by that index (cheap for the many good rows, whose index is null).
    """
    if not checks:
        nulls = "CAST(NULL AS VARCHAR)"
        return f"{nulls} AS __reason, {nulls} AS __column, {nulls} AS __raw_value", "NULL"
    index = "CASE " + " ".join(f"WHEN {c[0]} THEN {i + 1}" for i, c in enumerate(checks)) + " END"
    reasons = params.add([c[1] for c in checks])
    columns = params.add([c[2] for c in checks])
    raws = " ".join(f"WHEN {i + 1} THEN CAST({c[3]} AS VARCHAR)" for i, c in enumerate(checks))
    return (
        f"{reasons}[__check] AS __reason, {columns}[__check] AS __column, "
        f"CASE __check {raws} END AS __raw_value"
    ), index


def _typed_columns(
    kinds: dict[str, str],
    raw: dict[str, str],
    staged: Staged,
    field_map: dict[str, str],
    mapping: Mapping,
    timezone: str,
    params: _Params,
) -> list[str]:
    """``CAST(<parsed> AS <type>) AS <field>`` for every field of the entity."""
    typed = []
    for name, kind in kinds.items():
        cast = TYPES.get(kind, "DATE" if kind == "date" else "VARCHAR")
        if kind == "timestamp":
            cast = "TIMESTAMP"
        source_type = _source_type(staged, field_map.get(name))
        if not source_type:
            expr = _typed(kind, f"r_{name}", mapping, timezone, params) if name in raw else "NULL"
        else:
            inner = _typed_source(kind, f"r_{name}", source_type, timezone, params)
            text_kinds = ("string", "currency", "json")
            expr = _typed(kind, inner, mapping, timezone, params) if kind in text_kinds else inner
        if name not in raw and kind == "currency" and mapping.currency:
            expr = params.add(mapping.currency.upper())
        if name == "status" and mapping.refund_prefix and "order_id" in kinds:
            column, prefix = mapping.refund_prefix
            expr = (
                f"CASE WHEN coalesce(starts_with(r_{column}, {params.add(prefix)}), false) "
                f"THEN coalesce({expr}, 'refunded') ELSE {expr} END"
            )
        typed.append(f"CAST({expr} AS {cast}) AS {name}")
    return typed


def date_trials(
    staged: Staged,
    mapping: Mapping,
    field_map: dict[str, str],
    dates: dict[str, str],
    timezone: str,
    layouts: list[str | None],
    head: str,
) -> tuple[str, dict[str, Any]]:
    """SQL over ``head`` (a reader query of the first rows) and its parameters: the raw text
    of each date field of ``dates`` (field -> kind), then, for each layout in turn (None:
    ISO 8601), whether each field's text reads as a date with it."""
    params = _Params()
    raw = _raw_columns(staged, mapping, {f: field_map[f] for f in dates}, params)
    extra = r", regexp_extract_all(raw, '\S+') AS __parts" if staged.fmt == "whitespace" else ""
    tries = [
        f"r_{f} IS NOT NULL AND "
        f"{_typed(kind, f'r_{f}', replace(mapping, date_format=layout), timezone, params)} "
        "IS NOT NULL"
        for layout in layouts
        for f, kind in dates.items()
    ]
    sql = (
        f"WITH src AS (SELECT *{extra} FROM ({head})), "
        f"r AS (SELECT {', '.join(f'{e} AS r_{f}' for f, e in raw.items())} FROM src) "
        f"SELECT {', '.join([*(f'r_{f}' for f in dates), *tries])} FROM r"
    )
    return sql, params.values


def plan(
    entity: Entity,
    mapping: Mapping,
    staged: Staged,
    field_map: dict[str, str],
    *,
    timezone: str,
    accepted: list[str],
    bounds: DateBounds | None = None,
) -> ParsePlan:
    """The parse step's SQL for one staged file; ``bounds``: the dates it accepts."""
    params = _Params()
    mapped = set(field_map) | ({"order_id"} if mapping.order_id_from else set())
    has_items = entity.name == "orders" and bool(mapped & set(ITEM_FIELDS) - {"line"})
    key = ("order_id", "line") if has_items else entity.key
    base = _raw_columns(staged, mapping, field_map, params)
    for name, value in mapping.defaults.items():
        if name not in base:  # a file with no column for the field: the mapping's value
            base[name] = params.add(value)
    stages, created = _derived_stages(entity, mapping, base, has_items)
    more, made = _entity_stages(entity, base)
    stages, created = stages + more, created + made
    raw = {**base, **dict.fromkeys(created, "")}
    mapped |= set(raw)
    present = mapped | ({"currency"} if mapping.currency else set())
    if entity.name == "orders" and mapping.refund_prefix:
        present.add("status")  # rows with the refund prefix are `refunded`
    kinds = dict(entity.fields)
    fields = [f for f in kinds if f != "is_refund"]
    extra = ""
    if staged.fmt == "whitespace":
        extra = r", regexp_extract_all(raw, '\S+') AS __parts"
    keep = {"whitespace": ", __parts, raw", "jsonl": ", raw"}.get(staged.fmt, "")
    raw_select = ", ".join(f"{expr} AS r_{name}" for name, expr in base.items())
    typed = _typed_columns(kinds, raw, staged, field_map, mapping, timezone, params)
    checks = _checks(entity, mapping, staged, kinds, mapped, key, accepted, params, bounds)
    outputs = [f for f in fields if f in present]
    outcome, index = _outcome(checks, params)
    has_rn = bool(stages) or staged.plain is None
    reader = staged.reader if has_rn else staged.plain
    sql = (
        f"WITH src AS (SELECT *{extra} FROM ({reader})), "
        f"rawv0 AS (SELECT {'__rn, ' if has_rn else ''}{keep.lstrip(', ')}"
        f"{', ' if keep else ''}{raw_select} FROM src), "
        + "".join(f"rawv{i + 1} AS (SELECT {sel} FROM rawv{i}), " for i, sel in enumerate(stages))
        + f"typed AS (SELECT *, {', '.join(typed)} FROM rawv{len(stages)}), "
        f"checked AS (SELECT *, {index} AS __check FROM typed) "
        f"SELECT {'__rn, ' if has_rn else ''}{', '.join(outputs)}, "
        f"{outcome} FROM checked"
    )
    ignored = []
    if staged.fmt in ("csv", "parquet"):
        used = set(field_map.values())
        ignored = [c for c in staged.columns if c not in used]
    all_params = {**staged.params, **params.values}
    return ParsePlan(sql, all_params, outputs, key, has_items, present, has_rn, ignored)
