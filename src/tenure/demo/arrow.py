"""Arrow helpers: exact money from integer cents, and strings built column-wise (no row loops)."""

from __future__ import annotations

import binascii
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

US_PER_DAY = 86_400_000_000
US_PER_MINUTE = 60_000_000


def _decimal(units: np.ndarray, scale: int) -> pa.Array:
    """A decimal(18, scale) array from its unscaled integers (little-endian 128-bit words)."""
    units = np.asarray(units, dtype=np.int64)
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = np.where(units < 0, -1, 0)
    buffer = pa.py_buffer(words.tobytes())
    return pa.Array.from_buffers(pa.decimal128(18, scale), len(units), [None, buffer])


def money(cents: np.ndarray) -> pa.Array:
    """Exact decimal(18,4) money from integer cents."""
    return _decimal(np.asarray(cents, dtype=np.int64) * 100, 4)


def amount_text(cents: np.ndarray) -> pa.Array:
    """Cents as JSON numbers with two decimals: 1234 -> ``12.34``."""
    return pc.cast(_decimal(cents, 2), pa.string())


def int_text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def float_text(values: np.ndarray, digits: int = 8) -> pa.Array:
    """Floats as JSON numbers, rounded to ``digits`` decimals."""
    return pc.cast(pc.round(pa.array(np.asarray(values, dtype=np.float64)), digits), pa.string())


def codes(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number: ``codes("C", [7], 7)`` -> ``["C0000007"]``."""
    padded = pc.utf8_lpad(int_text(numbers), width=width, padding="0")
    return concat(prefix, padded)


def concat(*parts: str | pa.Array | pa.ChunkedArray) -> pa.Array:
    """Element-wise string concatenation; a null part makes the result null."""
    return pc.binary_join_element_wise(*parts, "")


def take(values: pa.Array | list[str | None], index: np.ndarray) -> pa.Array:
    """``values[index]`` as an Arrow array (a lookup table applied to many rows)."""
    table = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return table.take(pa.array(np.asarray(index, dtype=np.int64)))


def take_or_null(values: pa.Array | list[str | None], index: np.ndarray) -> pa.Array:
    """Like :func:`take`, with null where ``index`` is negative."""
    index = np.asarray(index, dtype=np.int64)
    table = values if isinstance(values, pa.Array) else pa.array(values, pa.string())
    return table.take(pa.array(index, mask=index < 0))


def constant(value: str | None, n: int) -> pa.Array:
    if value is None:
        return pa.nulls(n, pa.string())
    return pa.repeat(pa.scalar(value, pa.string()), n)


def where(mask: np.ndarray, yes: pa.Array, no: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), yes, no)


def quoted_list(items: list[pa.Array]) -> pa.Array:
    """A JSON list of strings per row from columns of (possibly null) strings: nulls skipped."""
    quoted = [concat('"', item, '"') for item in items]
    inner = pc.binary_join_element_wise(*quoted, ",", null_handling="skip")
    return concat("[", inner, "]")


def uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` random version-4-looking UUID strings, drawn from ``rng`` (so: seeded)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(binascii.hexlify(raw.tobytes()), dtype="S32")
    text = pc.cast(pa.array(hexed), pa.string())
    pieces = [
        pc.utf8_slice_codeunits(text, lo, hi) for lo, hi in ((0, 8), (8, 12), (12, 16), (16, 20))
    ]
    return pc.binary_join_element_wise(*pieces, pc.utf8_slice_codeunits(text, 20, 32), "-")


def timestamps(start: date, us: np.ndarray) -> pa.Array:
    """Naive UTC timestamps from microseconds since ``start`` (midnight)."""
    origin = np.datetime64(start).astype("datetime64[us]")
    return pa.array(origin + np.asarray(us, dtype=np.int64).astype("timedelta64[us]"))


def days_to_us(day: np.ndarray) -> np.ndarray:
    """Fractional days since the start to whole microseconds."""
    return np.round(np.asarray(day) * US_PER_DAY).astype(np.int64)
