"""How a file's columns become canonical fields: presets and YAML mappings.

A mapping is a small YAML document (or dict)::

    entity: orders                 # optional: checked against the command's entity
    format: csv                    # csv | parquet | jsonl | whitespace (default: by extension)
    delimiter: ","                 # csv only
    header: true                   # csv only; false -> give `names`
    encoding: latin-1              # utf-8 (default), utf-16 or latin-1
    names: [customer_id, date, n]  # column names of a headerless or whitespace file
    columns:                       # source column -> canonical column
      Name: order_id
      Created at: ordered_at
    date_format: "%Y-%m-%d %H:%M:%S %z"   # strptime format; default: ISO 8601
    timezone: Europe/Paris         # zone of naive times; default: the store's setting
    currency: EUR                  # currency of rows without a currency column
    refund_prefix: {column: order_id, prefix: C}  # rows whose column starts with it are refunds
    order_id_from: [customer_id, ordered_at]      # build order_id = values + occurrence number
    fill_order_fields: true        # order-level columns only on an order's first line (Shopify)
    defaults: {kind: review}       # values of fields the file has no column for

Without a mapping, a column whose header is a canonical column name maps to it (for JSON
Lines events: Segment's camelCase names and `context.campaign.*`). Columns that map to
nothing are not imported; the result lists them in ``ignored_columns``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import yaml

from tenure.errors import MappingArgumentError, MappingError
from tenure.ingest.entities import Entity

FORMATS = ("csv", "parquet", "jsonl", "whitespace")
#: The text encodings DuckDB's readers decode (without an extension to download).
ENCODINGS = ("utf-8", "utf-16", "latin-1")
_ENCODING_NAMES = {
    "utf8": "utf-8",
    "utf16": "utf-16",
    "latin1": "latin-1",
    "iso88591": "latin-1",
    "l1": "latin-1",
}
#: Spellings of the tab delimiter a shell passes through unchanged.
_TAB = ("\\t", "tab", "\t")
_KEYS = {
    "entity",
    "format",
    "delimiter",
    "header",
    "quote",
    "encoding",
    "names",
    "columns",
    "date_format",
    "date_formats",
    "timezone",
    "currency",
    "refund_prefix",
    "order_id_from",
    "fill_order_fields",
    "defaults",
    "description",
}

SEGMENT_EVENT_COLUMNS = {
    "messageId": "message_id",
    "type": "type",
    "event": "event",
    "anonymousId": "anonymous_id",
    "userId": "user_id",
    "previousId": "previous_id",
    "timestamp": "timestamp",
    "sentAt": "sent_at",
    "receivedAt": "received_at",
    "properties": "properties",
    "traits": "traits",
    "context": "context",
    "context.campaign.source": "utm_source",
    "context.campaign.medium": "utm_medium",
    "context.campaign.name": "utm_campaign",
    "context.campaign.term": "utm_term",
    "context.campaign.content": "utm_content",
}


#: Segment fields read from other fields when absent: page and screen calls name the page
#: or screen in ``name`` (track calls the event in ``event``); a call sent without
#: ``timestamp`` happened at its ``originalTimestamp`` (device clock), else when Segment
#: received it.
SEGMENT_FALLBACKS: dict[str, tuple[str, ...]] = {
    "event": ("name",),
    "timestamp": ("originalTimestamp", "receivedAt"),
}


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping; ``columns`` maps canonical field -> source column."""

    format: str | None = None
    delimiter: str = ","
    header: bool = True
    quote: str = '"'
    encoding: str = "utf-8"
    names: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    date_format: str | None = None
    #: the date layouts the source is known to use; each file's is detected (one per file)
    date_formats: tuple[str, ...] = ()
    timezone: str | None = None
    currency: str | None = None
    refund_prefix: tuple[str, str] | None = None
    order_id_from: tuple[str, ...] = ()
    fill_order_fields: bool = False
    entity: str | None = None
    name: str = "default"
    #: whether ``delimiter`` was given for this import (``--delimiter``), not the default
    delimiter_given: bool = False
    #: canonical field -> the value (text, parsed as the field's kind) of every row of a
    #: file with no column for the field (a review export: ``kind: review``)
    defaults: dict[str, str] = field(default_factory=dict)


def _as_mapping(doc: dict[str, Any], name: str) -> Mapping:
    unknown = set(doc) - _KEYS
    if unknown:
        raise MappingError(
            f"Mapping {name}: unknown key(s) {', '.join(sorted(unknown))}.",
            hint=f"Known keys: {', '.join(sorted(_KEYS))}.",
        )
    fmt = doc.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise MappingError(
            f"Mapping {name}: format {fmt!r} is not one of {', '.join(FORMATS)}.",
        )
    columns = doc.get("columns") or {}
    if not isinstance(columns, dict):
        raise MappingError(f"Mapping {name}: `columns` must map source column -> canonical.")
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise MappingError(f"Mapping {name}: `defaults` must map canonical column -> value.")
    refund = doc.get("refund_prefix")
    if doc.get("date_format") and doc.get("date_formats"):
        raise MappingError(
            f"Mapping {name}: give `date_format` (the layout) or `date_formats` (the layouts "
            "to detect, one per file), not both.",
        )
    return Mapping(
        format=fmt,
        delimiter=delimiter_value(str(doc.get("delimiter", ","))),
        header=bool(doc.get("header", True)),
        quote=str(doc.get("quote", '"')),
        encoding=encoding_name(str(doc.get("encoding", "utf-8"))),
        names=tuple(doc.get("names") or ()),
        columns={str(canonical): str(source) for source, canonical in columns.items()},
        date_format=doc.get("date_format"),
        date_formats=tuple(str(f) for f in doc.get("date_formats") or ()),
        timezone=doc.get("timezone"),
        currency=doc.get("currency"),
        refund_prefix=(refund["column"], refund["prefix"]) if refund else None,
        order_id_from=tuple(doc.get("order_id_from") or ()),
        fill_order_fields=bool(doc.get("fill_order_fields", False)),
        entity=doc.get("entity"),
        name=name,
        defaults={str(k): str(v) for k, v in defaults.items()},
    )


def encoding_name(value: str) -> str:
    """The encoding ``value`` names, as DuckDB spells it (``UTF8``, ``latin1`` and
    ``ISO-8859-1`` -> ``utf-8``, ``latin-1``, ``latin-1``); an unknown name unchanged."""
    key = value.strip().lower().replace("-", "").replace("_", "")
    if key in ("utf8", "utf16"):
        return f"utf-{key[3:]}"
    return _ENCODING_NAMES.get(key, value.strip())


def delimiter_value(value: str) -> str:
    """The delimiter ``value`` names (``\\t`` and ``tab`` -> a tab character)."""
    return "\t" if value.lower() in _TAB else value


def with_reader_options(
    mapping: Mapping, *, delimiter: str | None = None, encoding: str | None = None
) -> Mapping:
    """``mapping`` with the delimiter and encoding given on the command line (``--delimiter``,
    ``--encoding``) instead of its own; each file checks them (:func:`check_reader_options`)."""
    changes: dict[str, Any] = {}
    if delimiter is not None:
        changes["delimiter"] = delimiter_value(delimiter)
        changes["delimiter_given"] = True
    if encoding is not None:
        changes["encoding"] = encoding_name(encoding)
    return replace(mapping, **changes) if changes else mapping


def check_reader_options(mapping: Mapping, path: Path, fmt: str) -> None:
    """Refuse an encoding DuckDB cannot decode, a delimiter it cannot use, or a delimiter
    given for a file that has none (Parquet, JSON Lines), naming the file and the value
    (:class:`MappingArgumentError`: a bad argument, exit code 2)."""
    if mapping.encoding not in ENCODINGS:
        raise MappingArgumentError(
            f"{path}: cannot read it with the encoding {mapping.encoding!r}: Tenure reads "
            f"{', '.join(ENCODINGS)}.",
            hint="Give --encoding (or the mapping's `encoding:`) one of these; a file saved "
            "by Excel or Windows in Western Europe is usually latin-1. Another encoding: "
            "convert the file to UTF-8 first (e.g. `iconv -f cp1252 -t utf-8`).",
        )
    if mapping.delimiter_given and fmt not in ("csv",):
        raise MappingArgumentError(
            f"{path}: --delimiter {mapping.delimiter!r} applies to CSV files, and this file is "
            f"read as {fmt}.",
            hint="Drop --delimiter, or give `format: csv` in a mapping if the file is CSV.",
        )
    if fmt != "csv":
        return
    delim = mapping.delimiter
    if not delim or len(delim.encode()) > 4 or "\n" in delim or "\r" in delim:
        raise MappingArgumentError(
            f"{path}: cannot split the columns on the delimiter {delim!r}: a delimiter is 1 to "
            "4 bytes, not a line end.",
            hint="Common delimiters: , ; | and tab (--delimiter tab).",
        )
    if delim == mapping.quote:
        raise MappingArgumentError(
            f"{path}: the delimiter {delim!r} is also the quote character.",
            hint="Give another --delimiter, or the mapping's `quote:`.",
        )


def presets() -> list[str]:
    """Names of the presets shipped with Tenure."""
    folder = resources.files("tenure.ingest") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def presets_for(entity_name: str) -> list[str]:
    """Names of the presets for ``entity_name`` (a preset naming no entity fits any)."""
    return [name for name in presets() if load_preset(name).entity in (None, entity_name)]


def choose_mapping(
    entity_name: str,
    preset: str | None,
    mapping: str | Path | dict[str, Any] | Mapping | None,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Mapping:
    """The mapping an import of ``entity_name`` uses: the preset, the mapping (a YAML file,
    a dict or a :class:`Mapping`) or the default, with the ``delimiter`` and ``encoding``
    given on the command line."""
    if preset and mapping:
        raise MappingArgumentError(
            "Give a preset or a mapping, not both.", hint="Drop --preset or --mapping."
        )
    if isinstance(mapping, Mapping):
        result = mapping
    else:
        result = load_preset(preset) if preset else load_mapping(mapping) if mapping else Mapping()
    if result.entity and result.entity != entity_name:
        raise MappingArgumentError(
            f"The {result.name} mapping is for {result.entity}, not {entity_name}.",
            hint=f"Use `tenure import {result.entity}`.",
        )
    return with_reader_options(result, delimiter=delimiter, encoding=encoding)


def load_preset(name: str) -> Mapping:
    """The preset called ``name``."""
    known = presets()
    if name not in known:
        raise MappingArgumentError(
            f"Unknown preset {name!r}.", hint=f"Known presets: {', '.join(known)}."
        )
    text = (resources.files("tenure.ingest") / "presets" / f"{name}.yaml").read_text()
    return _as_mapping(yaml.safe_load(text), f"preset {name!r}")


def load_mapping(mapping: str | Path | dict[str, Any]) -> Mapping:
    """A mapping from a YAML file or a dict."""
    if isinstance(mapping, dict):
        return _as_mapping(mapping, "(dict)")
    path = Path(mapping)
    if not path.is_file():
        raise MappingError(f"Mapping file {str(path)!r} does not exist.")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise MappingError(f"Mapping file {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise MappingError(f"Mapping file {str(path)!r} must hold a YAML mapping (key: value).")
    return _as_mapping(doc, repr(str(path)))


def resolve(
    mapping: Mapping, fields: dict[str, str], source_columns: list[str], file: str, fmt: str
) -> dict[str, str]:
    """Canonical field -> source column for this file; explicit columns must exist."""
    if mapping.columns:
        missing = [src for src in mapping.columns.values() if src not in source_columns]
        if missing and fmt != "jsonl":
            raise MappingError(
                f"{file}: the mapping {mapping.name} names column(s) "
                f"{', '.join(repr(m) for m in missing)} that the file does not have.",
                hint=f"Columns found: {', '.join(repr(c) for c in source_columns)}.",
            )
        unknown = [c for c in [*mapping.columns, *mapping.defaults] if c not in fields]
        if unknown:
            raise MappingError(
                f"Mapping {mapping.name}: {', '.join(repr(u) for u in unknown)} "
                "is not a canonical column.",
                hint=f"Canonical columns: {', '.join(fields)}.",
            )
        field_map = dict(mapping.columns)
    elif fmt == "jsonl" and "message_id" in fields:
        field_map = {canonical: src for src, canonical in SEGMENT_EVENT_COLUMNS.items()}
    else:
        field_map = {c: c for c in source_columns if c in fields}
        unknown = [c for c in mapping.defaults if c not in fields]
        if unknown:
            raise MappingError(
                f"Mapping {mapping.name}: `defaults` names {', '.join(map(repr, unknown))}, "
                "not a canonical column.",
                hint=f"Canonical columns: {', '.join(fields)}.",
            )
    _check_derived(mapping, field_map, file)
    return field_map


def _check_derived(mapping: Mapping, field_map: dict[str, str], file: str) -> None:
    """`order_id_from` and `refund_prefix` must name canonical fields the file gives."""
    derived = {"order_id"} if mapping.order_id_from else set()
    named = [*mapping.order_id_from, *(mapping.refund_prefix or ())[:1]]
    bad = [n for n in named if n not in field_map and n not in derived]
    if bad:
        raise MappingError(
            f"{file}: the mapping {mapping.name} builds on {', '.join(repr(b) for b in bad)} "
            "(in `order_id_from` or `refund_prefix`), which the file does not give.",
            hint="Name canonical columns the file maps: "
            f"{', '.join(repr(f) for f in field_map) or '(none)'}.",
        )


def require_fields(
    entity: Entity, mapping: Mapping, field_map: dict[str, str], sources: list[str], file: str
) -> None:
    """Refuse a file that gives no column for a required field (before any row is read).

    A required field is given by a mapped column, by a stand-in (orders: ``quantity`` and
    ``unit_price`` give the total), or, for the currency, by the mapping's ``currency``.
    """
    given = set(field_map) | ({"order_id"} if mapping.order_id_from else set())
    given |= set(mapping.defaults)
    for name in entity.required:
        stand_in = entity.stand_ins.get(name, ())
        if name in given or (stand_in and set(stand_in) <= given):
            continue
        if entity.fields[name] == "currency" and mapping.currency:
            continue
        raise MappingError(
            f"{file}: no column gives {name!r}, a field {entity.name} require (mapping: "
            f"{mapping.name}). Columns found: "
            f"{', '.join(repr(c) for c in sources) or '(none)'}.",
            hint=_required_hint(name, entity, stand_in, sources),
        )


def _required_hint(name: str, entity: Entity, stand_in: tuple[str, ...], sources: list[str]) -> str:
    column = next((c for c in sources if name.replace("_", "") in c.lower()), "Source column")
    ways = [
        f"Name a column `{name}` in the file's header",
        f"or map one with --mapping: a line `  {column}: {name}` under `columns:` "
        "(docs/import-mapping.md)",
    ]
    if entity.fields[name] == "currency":
        ways.append("or give every row's currency with a mapping line such as `currency: USD`")
    if stand_in:
        ways.append(f"or give the order lines' {' and '.join(f'`{s}`' for s in stand_in)}")
    return "; ".join(ways) + "."


def check_parsing(mapping: Mapping, timezone: str, con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a time zone or a date format DuckDB cannot use, before any file is read."""
    try:
        con.execute("SELECT timezone($tz, TIMESTAMP '2000-01-01')", {"tz": timezone})
    except duckdb.Error:
        where = f"The mapping {mapping.name}" if mapping.timezone else "The `timezone` setting"
        raise MappingError(
            f"{where} names the time zone {timezone!r}, which is not an IANA time zone.",
            hint="Use a name such as UTC, Europe/Paris or America/New_York.",
        ) from None
    for layout in (mapping.date_format, *mapping.date_formats):
        if layout is None:
            continue
        try:
            con.execute("SELECT try_strptime('', $f)", {"f": layout})
        except duckdb.Error as exc:
            raise MappingError(
                f"The mapping {mapping.name} has the date format {layout!r}, "
                f"which cannot be used: {str(exc).splitlines()[0]}",
                hint="Use strptime codes such as '%d/%m/%Y %H:%M' (%z reads a UTC offset).",
            ) from None
