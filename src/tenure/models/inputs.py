"""Input checks and pattern compression shared by every model.

Checks raise :class:`~tenure.models.errors.ModelDataError` naming how many rows break a rule
and a few of them (the pandas index labels when a Series was passed, else positions), and
:class:`~tenure.errors.ConfigError` for a bad scalar argument, in scikit-learn's words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from tenure.errors import ConfigError
from tenure.models.errors import ModelDataError

FloatArray = NDArray[np.float64]

#: How many offending rows a message lists before "...".
_SHOWN_ROWS = 5


def check_scalar(
    owner: str,
    name: str,
    value: Any,
    kind: type,
    low: float = -np.inf,
    high: float = np.inf,
    *,
    low_open: bool = False,
) -> None:
    """Raise ConfigError unless ``value`` is a ``kind`` (float accepts ints) within the range.

    The message matches scikit-learn's: "The 'penalizer' parameter of BetaGeo must be a float
    in the range [0, inf). Got -1 instead."
    """
    numbers: tuple[type, ...] = (int, np.integer)
    if kind is float:
        numbers += (float, np.floating)
    ok = isinstance(value, numbers) and not isinstance(value, bool | np.bool_)
    ok = ok and not np.isnan(value) and (low < value if low_open else low <= value)
    ok = ok and value < high
    if not ok:
        article = "an int" if kind is int else "a float"
        left = "(" if low_open or low == -np.inf else "["
        raise ConfigError(
            f"The {name!r} parameter of {owner} must be {article} in the range "
            f"{left}{_fmt(low)}, {_fmt(high)}). Got {value!r} instead."
        )


def _fmt(bound: float) -> str:
    if np.isinf(bound):
        return "-inf" if bound < 0 else "inf"
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def row_labels(*values: ArrayLike) -> NDArray[Any]:
    """The labels to name rows by: the index of the first pandas object, else positions."""
    for value in values:
        if isinstance(value, pd.Series | pd.Index):
            return np.asarray(value.index if isinstance(value, pd.Series) else value)
    n = np.size(np.asarray(values[0])) if values else 0
    return np.arange(n)


def as_float_array(owner: str, name: str, values: ArrayLike) -> FloatArray:
    """A 1-d float64 copy of ``values`` (a scalar becomes one element)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelDataError(f"{owner}: {name} must be numbers: {exc}.") from exc
    if array.ndim > 1:
        raise ModelDataError(f"{owner}: {name} must be one-dimensional, got shape {array.shape}.")
    return np.atleast_1d(array) + 0.0  # + 0.0 turns -0.0 into 0.0 and copies


def same_lengths(owner: str, columns: dict[str, FloatArray]) -> None:
    """Raise ModelDataError when the columns differ in length."""
    lengths = {name: len(col) for name, col in columns.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ModelDataError(f"{owner}: the inputs must have the same length; got {listed}.")


def fail_rows(
    owner: str, bad: NDArray[np.bool_], labels: NDArray[Any], problem: str, *, hint: str
) -> None:
    """Raise ModelDataError if any row is ``bad``, giving the count and the first labels."""
    if not bad.any():
        return
    where = np.flatnonzero(bad)
    shown = ", ".join(str(labels[i]) for i in where[:_SHOWN_ROWS])
    more = ", ..." if len(where) > _SHOWN_ROWS else ""
    rows = "row" if len(where) == 1 else "rows"
    raise ModelDataError(
        f"{owner}: {len(where)} of {len(bad)} customers {problem} ({rows} {shown}{more}).",
        hint=hint,
    )


@dataclass(frozen=True)
class Transactions:
    """Validated per-customer summaries: repeat purchases, age at the last one, and age."""

    frequency: FloatArray
    recency: FloatArray
    T: FloatArray


def check_transactions(
    owner: str, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, age: str = "T"
) -> Transactions:
    """Validate (frequency, recency, T) as BG/NBD-type models need them.

    Rules: same lengths, finite, non-negative, whole frequencies, recency <= T, and recency 0
    when frequency is 0 (a customer without repeat purchases has no last repeat purchase).
    """
    labels = row_labels(frequency, recency, T)
    cols = {
        "frequency": as_float_array(owner, "frequency", frequency),
        "recency": as_float_array(owner, "recency", recency),
        age: as_float_array(owner, age, T),
    }
    same_lengths(owner, cols)
    x, t_x, t_age = cols.values()
    if len(labels) != len(x):
        labels = np.arange(len(x))
    finite = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(t_age)
    fail_rows(
        owner,
        ~finite,
        labels,
        f"have a missing or infinite frequency, recency or {age}",
        hint="Drop these rows or fill them from the order history.",
    )
    fail_rows(
        owner,
        (x < 0) | (t_x < 0) | (t_age < 0),
        labels,
        f"have a negative frequency, recency or {age}",
        hint="Counts and ages are measured forward from each customer's first purchase.",
    )
    fail_rows(
        owner,
        x != np.floor(x),
        labels,
        "have a frequency that is not a whole number",
        hint="frequency counts repeat purchases (purchase days after the first one).",
    )
    fail_rows(
        owner,
        t_x > t_age,
        labels,
        f"have recency greater than {age}",
        hint=f"recency is the age at the last repeat purchase and cannot exceed the age {age}; "
        "compute both from the same first purchase and the same end date.",
    )
    fail_rows(
        owner,
        (x == 0) & (t_x > 0),
        labels,
        "have frequency 0 but recency above 0",
        hint="A customer without repeat purchases has recency 0 by convention.",
    )
    return Transactions(x, t_x, t_age)


def check_weights(owner: str, weights: ArrayLike | None, n: int) -> FloatArray:
    """Validate optional per-row weights (counts of customers with that row); default ones."""
    if weights is None:
        return np.ones(n)
    w = as_float_array(owner, "weights", weights)
    same_lengths(owner, {"data": np.empty(n), "weights": w})
    fail_rows(
        owner,
        ~np.isfinite(w) | (w < 0),
        row_labels(weights),
        "have a negative or non-finite weight",
        hint="A weight is the number of customers sharing the row.",
    )
    if w.sum() <= 0:
        raise ModelDataError(f"{owner}: the weights add up to 0; there is nothing to fit.")
    return w


#: Scales tried to turn a column into whole numbers: time in days (or counts), and weeks that
#: are whole days / 7.
_CODE_SCALES = (1.0, 7.0)
#: Largest |code| accepted: k / 7 stays exact and one-to-one far below 2^53.
_CODE_LIMIT = 2.0**50
#: Keys up to this many, or this many per row, are counted in an array instead of sorted.
_COUNTED_KEYS = 1 << 16
_COUNTED_PER_ROW = 2
#: Up to this many rows, keys below 2^32 are radix-sorted (3 times faster than np.sort at 1M
#: rows; at 10M the random gathers between the passes cost more than they save).
_RADIX_ROWS = 1 << 23


@dataclass(frozen=True)
class _Keys:
    """Every row of whole-number columns as one key: ``sum_j code_j * prod(sizes after j)``,
    ``code_j = round(column_j * scale_j) - low_j``; float64, exact below 2^53."""

    key: FloatArray
    sizes: list[int]
    lows: list[float]
    scales: list[float]
    #: Some column holds -0.0 (a value the codes cannot give back).
    negative_zero: bool

    @property
    def span(self) -> int:
        return int(np.prod(self.sizes, dtype=object))


def compress(
    columns: Sequence[FloatArray], weights: FloatArray
) -> tuple[list[FloatArray], FloatArray, NDArray[np.intp]]:
    """Unique rows of ``columns`` with their summed weights, and the inverse index.

    ``unique[j][inverse]`` gives back ``columns[j]``. Rows with weight 0 are kept (their
    summed weight may be 0). Rows come out sorted (first column first); a group's value is
    its first row's, and its weights are added in row order.

    Fast paths, when every column is ``k / scale`` for whole numbers ``k`` (scale 1 or 7:
    time in whole days or whole days / 7, counts), through one key per row: with few
    possible keys (a column of days, (x, T) pairs), the keys are counted in an array, no
    sorting; otherwise they are sorted stably, by radix sort (keys below 2^32, up to 8M
    rows) or with the row number in their low bits by np.sort (~1 s for 10M rows of three
    columns), or not at all when they are in order already (compressed patterns). Other
    columns are lexsorted (~4 s for 10M rows). Every path gives the same outputs.
    """
    n = len(columns[0])
    if n == 0:
        return [c.copy() for c in columns], weights.copy(), np.empty(0, dtype=np.intp)
    keys = _keys(columns)
    few = keys is not None and keys.span <= max(_COUNTED_PER_ROW * n, _COUNTED_KEYS)
    if keys is not None and few and not keys.negative_zero:
        return _count_keys(keys, weights, n)
    if keys is None:
        order = np.lexsort(columns[::-1])
        new_group = np.zeros(n, dtype=bool)
        new_group[0] = True
        for col in columns:
            ordered = col[order]
            new_group[1:] |= ordered[1:] != ordered[:-1]
    else:
        order, new_group = _sort_keys(keys.key, keys.span)
    group = np.cumsum(new_group)
    group -= 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    first = order[new_group]
    unique = [col[first] for col in columns]
    starts = np.flatnonzero(new_group)
    if np.all(weights == 1.0):  # counts: the same sums, without gathering the weights
        summed = np.diff(starts, append=n).astype(np.float64)
    else:  # added one by one in row order (np.add.reduceat would add pairwise)
        summed = np.asarray(np.bincount(group, weights=weights[order]), dtype=np.float64)
    return unique, summed, inverse


def _keys(columns: Sequence[FloatArray]) -> _Keys | None:
    """One key per row (:class:`_Keys`); None unless every column is whole numbers at scale
    1 or 7 (:func:`_whole_codes`) and the keys stay below 2^53."""
    n = len(columns[0])
    key = np.zeros(n)
    buffer = np.empty(n)
    sizes: list[int] = []
    lows: list[float] = []
    scales: list[float] = []
    negative_zero = False
    span = 1
    for col in columns:
        coded = _whole_codes(col, buffer)
        if coded is None:
            return None
        size, low, scale = coded
        span *= size
        if span > 2**53:
            return None
        key *= size
        key += buffer
        sizes.append(size)
        lows.append(low)
        scales.append(scale)
        if low <= 0.0 <= low + size - 1:
            negative_zero = negative_zero or bool(np.any(np.signbit(col) & (col == 0.0)))
    return _Keys(key, sizes, lows, scales, negative_zero)


def _whole_codes(col: FloatArray, out: FloatArray) -> tuple[int, float, float] | None:
    """Write ``k - min(k)`` into ``out`` and return ``(max(k) - min(k) + 1, min(k), scale)``
    when ``col == k / scale`` exactly for whole numbers ``k`` (scale 1 or 7), else None.

    The codes sort as the values do and are equal exactly when the values are (-0.0 and 0.0
    included): ``k -> k / scale`` is increasing and one-to-one for ``|k| <= 2^50``."""
    for scale in _CODE_SCALES:
        np.multiply(col, scale, out=out)
        np.rint(out, out=out)
        low, high = float(out.min()), float(out.max())
        if not (low >= -_CODE_LIMIT and high <= _CODE_LIMIT):  # also NaN and inf
            continue
        same = np.array_equal(out, col) if scale == 1.0 else np.array_equal(out / scale, col)
        if same:
            out -= low
            return int(high - low) + 1, low + 0.0, scale
    return None


def _count_keys(
    keys: _Keys, weights: FloatArray, n: int
) -> tuple[list[FloatArray], FloatArray, NDArray[np.intp]]:
    """compress by counting the keys in an array of ``span`` slots (no sort). The values are
    given back from the keys: ``col == k / scale`` exactly, and no -0.0 is among them."""
    key = keys.key.astype(np.intp)
    counts = np.bincount(key, minlength=keys.span)
    present = np.flatnonzero(counts)
    if np.all(weights == 1.0):
        summed = counts[present].astype(np.float64)
    else:  # np.bincount adds each slot's weights in row order, as the sorted paths do
        slots = np.bincount(key, weights=weights, minlength=keys.span)
        summed = np.asarray(slots[present], dtype=np.float64)
    rank = np.zeros(keys.span, dtype=np.intp)
    rank[present] = np.arange(len(present))
    inverse = rank[key]
    unique: list[FloatArray] = []
    rest = present
    for size, low, scale in zip(keys.sizes[::-1], keys.lows[::-1], keys.scales[::-1], strict=True):
        rest, code = np.divmod(rest, size)
        whole = code + low
        unique.append(whole / scale if scale != 1.0 else whole.astype(np.float64))
    return unique[::-1], summed, inverse


def _sort_keys(key: FloatArray, span: int) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """The stable order of the keys and where each distinct key starts in it."""
    n = len(key)
    shift = max(n - 1, 1).bit_length()
    packed: NDArray[Any]
    if np.all(key[1:] >= key[:-1]):  # in order already
        order = np.arange(n)
        packed = key
    elif span <= 2**32 and n <= _RADIX_ROWS:
        # Two stable passes over 16-bit digits, low then high (numpy radix-sorts 16-bit ints).
        whole = key.astype(np.int64)
        order = np.argsort((whole & 0xFFFF).astype(np.uint16), kind="stable")
        if span > 2**16:
            high = (whole >> 16).astype(np.uint16)[order]
            order = order[np.argsort(high, kind="stable")]
        packed = whole[order]
    elif span << shift <= 2**63:
        # Row numbers in the low bits make equal keys sort by row: stable, at quicksort speed.
        packed = key.astype(np.int64)
        packed <<= shift
        packed |= np.arange(n, dtype=np.int64)
        packed.sort()
        order = packed & ((1 << shift) - 1)
        packed >>= shift
    else:
        order = np.argsort(key, kind="stable")
        packed = key[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(packed[1:], packed[:-1], out=new_group[1:])
    return order.astype(np.intp, copy=False), new_group


def like_input(values: FloatArray, *inputs: Any) -> Any:
    """``values`` as a pandas Series when a Series of the same length was passed, else array."""
    for item in inputs:
        if isinstance(item, pd.Series) and len(item) == np.size(values):
            return pd.Series(np.reshape(values, -1), index=item.index)
    return values


def check_time(owner: str, name: str, t: ArrayLike) -> FloatArray:
    """A non-negative, finite time span (a prediction horizon)."""
    values = as_float_array(owner, name, t)
    fail_rows(
        owner,
        ~np.isfinite(values) | (values < 0),
        row_labels(t),
        f"have a negative or non-finite {name}",
        hint=f"{name} is a time span from now, in the unit the model was fitted in.",
    )
    return values


def compressed_transactions(
    owner: str,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None,
) -> tuple[list[FloatArray], FloatArray]:
    """Checked (frequency, recency, T) and weights, compressed to unique patterns."""
    data = check_transactions(owner, frequency, recency, T)
    w = check_weights(owner, weights, len(data.frequency))
    columns, summed, _ = compress([data.frequency, data.recency, data.T], w)
    return columns, summed


def wsum(weights: NDArray[Any], values: NDArray[Any]) -> float:
    """``sum(weights * values)`` without BLAS: a BLAS dot product of 1e5 values takes ~8 ms
    instead of ~0.05 ms when its threads compete for two busy cores."""
    return float(np.einsum("i,i->", weights, values))


def require_repeats(owner: str, frequency: FloatArray, weights: FloatArray, why: str) -> None:
    """Raise :class:`ModelDataError` unless a customer with weight > 0 has a repeat purchase;
    ``why`` ends the message: what cannot be estimated without one."""
    if np.any((frequency > 0) & (weights > 0)):
        return
    total = float(np.sum(weights))
    count = f"{total:,.0f}" if total.is_integer() else f"{total:,.2f}"
    raise ModelDataError(
        f"{owner}: none of the {count} customers has a {why}.",
        hint="Wait for more history, or use a longer calibration period.",
    )
