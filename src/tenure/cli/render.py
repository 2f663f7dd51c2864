"""How a result looks in the terminal, in CSV and in JSON, whatever its data holds.

The terminal: every cell is formatted by its column's kind (money at the currency's minor unit
with thousands separators, rates in percent, timestamps to the second, "1 day", blank for
unknown), made plain text (never Rich markup; control characters shown as escapes), and the
table is fitted to the console's width: columns by priority (identifiers never cut), long
tables wrapped into blocks that repeat their key columns, and what was left out said under
the table. CSV cells that a spreadsheet would run as a formula are neutralised
(:func:`neutralise`); JSON is the data, exact."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

import numpy as np
import pandas as pd
from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

#: Rates (fractions) shown in percent in the terminal, under these short headers.
PERCENT = {
    "repeat_purchase_rate": "repeat %",
    "retention_rate": "retention %",
    "churn_rate": "churn %",
    "prospect_conversion": "conversion %",
    "yearly_churn": "yearly churn %",
    "share": "share %",
    "rate": "rate %",
    "retention": "retention %",
    "p_alive": "P(alive) %",
    "future_vip_probability": "future VIP %",
}
#: Terminal headers of their own.
HEADERS = {"clv_cac": "CLV:CAC", "T_days": "T days", "T_weeks": "T weeks"}
#: Words of a column name shown in capitals.
ACRONYMS = {"aov": "AOV", "cac": "CAC", "clv": "CLV", "rfm": "RFM", "vip": "VIP", "id": "id"}
#: Columns holding identifiers a person copies: never cut (folded only past the terminal).
ID_COLUMNS = frozenset(
    {"person_id", "customer_id", "order_id", "email", "identifier", "run_id", "import_id"}
)
#: Control characters (C0, DEL, C1) and the bidirectional overrides that reorder a line.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
#: What a spreadsheet runs as a formula when a cell starts with it (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
#: A timestamp written as text with its fraction of a second (cut in the terminal).
FRACTION = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)\.\d+")
#: Rows per CSV / JSON chunk written (the output never becomes one string).
CHUNK = 10_000
#: The width of a box table's borders and padding: 3 per column and 1.
BORDER = 3


def visible(text: str, *, newlines: bool = False) -> str:
    """``text`` with its control characters shown as escapes (``\\n``, ``\\x1b``, ``\\u202e``)
    so they can neither move the cursor nor reorder the line; ``newlines`` keeps line breaks
    (messages). Right-to-left letters are left as they are."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if newlines and char == "\n":
            return char
        named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char)
        if named:
            return named
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return CONTROL.sub(escape, text)


def plain(text: object, style: str = "") -> Text:
    """``text`` as a Rich :class:`Text` (never read as markup), control characters visible."""
    return Text(visible(str(text), newlines=True), style=style)


def neutralise(value: str) -> str:
    """A CSV cell a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``,
    ``@``, a tab or a carriage return) prefixed with ``'``; a real number (``-12.5``) stays."""
    if value.startswith(FORMULA_START) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def unknown(value: Any) -> bool:
    """Whether ``value`` is a null of any kind (None, NaN, NaT, pd.NA)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    return False


def days(delta: dt.timedelta) -> str:
    """A duration as a person reads it: "1 day", "3 days", "2 days 04:00:00", "00:30:00"."""
    whole = int(delta.total_seconds())
    sign, whole = ("-", -whole) if whole < 0 else ("", whole)
    count, rest = divmod(whole, 86_400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}" if rest else ""
    day = f"{count:,} day{'' if count == 1 else 's'}" if count or not clock else ""
    return sign + " ".join(part for part in (day, clock) if part)


def stamp(value: Any) -> str:
    """:func:`cell`, and a timestamp held as text (a JSON document's) to the second."""
    if isinstance(value, str):
        return visible(FRACTION.sub(r"\1 \2", value))
    return cell(value)


def moment(value: dt.datetime, date_only: bool) -> str:
    """A timestamp to the second (never microseconds); its day alone when ``date_only``."""
    return value.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M:%S")


@dataclass
class Column:
    """One column of a terminal table: its header, formatted cells and widths."""

    name: str
    header: str
    cells: list[str]
    numeric: bool
    is_id: bool

    @property
    def ideal(self) -> int:
        """The width showing every cell and the header on one line."""
        return max([cell_len(self.header), *(cell_len(c) for c in self.cells)])

    @property
    def least(self) -> int:
        """The narrowest width that cuts nothing: a number whole, an id whole (up to 40
        characters; a longer one is folded, never cut), text folded from 12 characters,
        the header wrapped at its spaces."""
        words = max(cell_len(w) for w in self.header.split(" ")) if self.header else 1
        widest = max([0, *(cell_len(c) for c in self.cells)])
        if self.numeric:
            return max(words, widest)
        if self.is_id:
            return max(words, min(widest, 40))
        return max(min(words, 16), min(widest, 12), 1)


def column_kind(name: str, values: pd.Series, money: Iterable[str], percent: Iterable[str]) -> str:
    """How column ``name`` is formatted: money, percent, id, or by its values."""
    if name in set(money):
        return "money"
    if name in set(percent) or name in PERCENT:
        return "percent"
    if name in ID_COLUMNS or name.endswith("_id"):
        return "id"
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    if pd.api.types.is_integer_dtype(values):
        return "int"
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        return "int" if len(whole) and (whole == whole.round()).all() else "float"
    known = [v for v in values if not unknown(v)]
    if known and all(isinstance(v, Decimal) for v in known):
        return "money"  # decimals at their minor unit (money_frame)
    return "value"


def cell(value: Any, kind: str = "value", date_only: bool = False) -> str:
    """One value as the terminal shows it: blank when unknown, never ``nan``/``NaT``/``None``."""
    if unknown(value):
        return ""
    if isinstance(value, np.generic):  # a numpy scalar (int64, float64, bool_) as Python's
        value = value.item()
    if kind == "percent" and isinstance(value, int | float | Decimal):
        return f"{float(value) * 100:,.1f}%"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):  # money, already at its minor unit
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return moment(value, date_only)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return days(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if kind == "int" and value == round(value):
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    return visible(str(value))


def header(name: object) -> str:
    """A column's terminal header: its short name, or its name with spaces to wrap at (and
    the acronyms a store owner knows in capitals: ``clv_cac`` is "CLV:CAC")."""
    text = visible(str(name))
    if text in PERCENT or text in HEADERS:
        return PERCENT.get(text) or HEADERS[text]
    return " ".join(ACRONYMS.get(word, word) for word in text.split("_"))


def columns_of(frame: pd.DataFrame, money: Iterable[str], percent: Iterable[str]) -> list[Column]:
    """The formatted terminal columns of ``frame`` (money already at its minor unit)."""
    out = []
    for name in frame.columns:
        values = frame[name]
        kind = column_kind(str(name), values, money, percent)
        stamps = [v for v in values if isinstance(v, dt.datetime) and not unknown(v)]
        date_only = bool(stamps) and all(v.time() == dt.time(0) for v in stamps)
        cells = [cell(v, kind, date_only) for v in values]
        numeric = kind in ("money", "percent", "int", "float") or (
            kind == "value" and pd.api.types.is_numeric_dtype(values)
        )
        out.append(Column(str(name), header(name), cells, numeric, kind == "id"))
    return out


def table_width(widths: Sequence[int]) -> int:
    """The printed width of a box table whose columns are ``widths`` wide."""
    return sum(widths) + BORDER * len(widths) + 1


def choose(columns: list[Column], width: int, keys: Sequence[str]) -> list[Column]:
    """The columns that fit ``width`` at their least width: the ``keys`` first, then the
    others in their order (their priority), each while it fits. Order kept."""
    ordered = [c for c in columns if c.name in keys] + [c for c in columns if c.name not in keys]
    chosen: list[Column] = []
    for column in ordered:
        if not chosen or table_width([c.least for c in [*chosen, column]]) <= width:
            chosen.append(column)
    return [c for c in columns if c in chosen]


def widths_for(columns: list[Column], width: int) -> list[int]:
    """Each column's width: its ideal when all fit, else the text columns narrowed (widest
    first) toward their least width so the table fits ``width``."""
    widths = [c.ideal for c in columns]
    excess = table_width(widths) - width
    while excess > 0:
        slack = [(w - c.least, i) for i, (c, w) in enumerate(zip(columns, widths, strict=True))]
        give, index = max(slack)
        if give <= 0:
            break
        step = min(give, excess, max(1, give // 2))
        widths[index] -= step
        excess -= step
    return widths


def build(columns: list[Column], rows: int, width: int, title: str | None) -> Table:
    """A Rich table of ``columns`` (``rows`` rows) fitted to ``width``: plain text cells,
    numbers right-aligned and whole, everything else folded, never cut with "…"."""
    table = Table(
        title=plain(title) if title else None,
        title_justify="left",
        box=box.HEAVY_HEAD,
        expand=False,
    )
    for column, w in zip(columns, widths_for(columns, width), strict=True):
        table.add_column(
            Text(column.header),
            justify="right" if column.numeric else "left",
            width=w,
            overflow="fold",
        )
    for i in range(rows):
        table.add_row(*[Text(c.cells[i]) for c in columns])
    return table


def blocks(columns: list[Column], width: int, keys: Sequence[str]) -> list[list[Column]]:
    """``columns`` cut into consecutive blocks that fit ``width``, each starting with the
    ``keys`` (a long table wrapped, as R prints a wide data frame); a key that would leave
    no room for the other columns is wrapped like them."""
    head = [c for c in columns if c.name in keys]
    rest = [c for c in columns if c not in head]
    while (
        len(head) > 1
        and table_width([c.least for c in head]) + max([BORDER + c.least for c in rest] or [0])
        > width
    ):  # the keys leave no room for the widest other column: wrap the last key
        rest.append(head.pop())
    keys = [c.name for c in head]
    out: list[list[Column]] = []
    current: list[Column] = []
    for column in (c for c in columns if c.name not in keys):
        trial = [*head, *current, column]
        if current and table_width([c.least for c in trial]) > width:
            out.append([*head, *current])
            current = []
        current.append(column)
    if current or not out:
        out.append([*head, *current])
    return out


def write_csv(frame: pd.DataFrame, out: IO[str], *, raw: bool = False) -> None:
    """``frame`` as CSV in chunks of :data:`CHUNK` rows; text cells neutralised
    (:func:`neutralise`) unless ``raw``."""
    names = [str(c) if raw else neutralise(str(c)) for c in frame.columns]
    for start in range(0, max(len(frame), 1), CHUNK):
        part = frame.iloc[start : start + CHUNK]
        if not raw:
            part = part.copy()
            for column in part.columns:
                if part[column].dtype == object:
                    part[column] = [
                        neutralise(v) if isinstance(v, str) else v for v in part[column]
                    ]
        out.write(part.to_csv(index=False, header=names if start == 0 else False))


def write_json(rows: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """Records as a JSON array, one record per line, written as they come."""
    out.write("[")
    first = True
    for row in rows:
        out.write(("\n  " if first else ",\n  ") + json.dumps(row, default=str, ensure_ascii=False))
        first = False
    out.write("\n]\n" if not first else "]\n")
