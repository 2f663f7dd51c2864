"""compress: the one-key fast paths (whole days, or days / 7; counted, sorted, or in order
already) give exactly the lexsort's output."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenure.models import inputs
from tenure.models.inputs import compress


def lexsorted(columns: list[np.ndarray], weights: np.ndarray) -> Any:
    """compress with the fast paths switched off (the lexsort fallback)."""
    saved = inputs._keys
    inputs._keys = lambda columns: None
    try:
        return compress(columns, weights)
    finally:
        inputs._keys = saved


def compressed(columns: list[np.ndarray], weights: np.ndarray, *, path: str) -> Any:
    """compress with keys counted (when few enough), or always sorted: radix or np.sort."""
    saved = inputs._COUNTED_KEYS, inputs._COUNTED_PER_ROW, inputs._RADIX_ROWS
    if path != "counted":
        inputs._COUNTED_KEYS, inputs._COUNTED_PER_ROW = -1, -1
    if path == "np.sort":
        inputs._RADIX_ROWS = -1
    try:
        return compress(columns, weights)
    finally:
        inputs._COUNTED_KEYS, inputs._COUNTED_PER_ROW, inputs._RADIX_ROWS = saved


def assert_identical(got: Any, want: Any) -> None:
    (unique, summed, inverse), (unique_w, summed_w, inverse_w) = got, want
    assert len(unique) == len(unique_w)
    for col, col_w in zip(unique, unique_w, strict=True):
        assert col.dtype == col_w.dtype
        # Bitwise: the same representative row of each group (the sign of a zero included).
        assert np.array_equal(col.view(np.int64), col_w.view(np.int64))
    assert np.array_equal(summed.view(np.int64), summed_w.view(np.int64))
    assert inverse.dtype == inverse_w.dtype == np.intp
    assert np.array_equal(inverse, inverse_w)


#: Whole days, days / 7 (weeks), counts with a huge offset, and values that are neither.
unit = st.sampled_from(["days", "weeks", "huge", "float"])


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[np.ndarray], np.ndarray]:
    n = draw(st.integers(1, 60))
    n_cols = draw(st.integers(1, 4))
    columns = []
    for _ in range(n_cols):
        kind = draw(unit)
        whole = np.array(draw(st.lists(st.integers(-5, 40), min_size=n, max_size=n)), float)
        if kind == "days":
            col = whole
        elif kind == "weeks":
            col = whole / 7.0
        elif kind == "huge":
            col = whole + 2.0**45
        else:
            col = whole / 3.0 + draw(st.sampled_from([0.0, 0.1]))
        if draw(st.booleans()):  # signed zeros
            col = np.where(col == 0.0, -0.0, col)
        columns.append(col)
    if draw(st.booleans()):  # rows in order already, as compressed patterns are
        order = np.lexsort(columns[::-1])
        columns = [col[order] for col in columns]
    ones = draw(st.booleans())
    weights = (
        np.ones(n)
        if ones
        else np.array(draw(st.lists(st.floats(0.0, 1e3), min_size=n, max_size=n)), float)
    )
    return columns, weights


@settings(max_examples=400, deadline=None)
@given(tables(), st.sampled_from(["counted", "radix", "np.sort"]))
def test_fast_paths_equal_lexsort(table: tuple[list[np.ndarray], np.ndarray], path: str) -> None:
    columns, weights = table
    got = compressed(columns, weights, path=path)
    assert_identical(got, lexsorted(columns, weights))
    unique, summed, inverse = got
    for col, u in zip(columns, unique, strict=True):
        assert np.array_equal(u[inverse], col)
    assert np.isclose(summed.sum(), weights.sum())


def test_fast_path_is_taken_for_days_and_weeks() -> None:
    rng = np.random.default_rng(0)
    days = rng.integers(0, 730, 1000).astype(float)
    keys = inputs._keys([days, days / 7.0, rng.integers(0, 50, 1000) * 1.0])
    assert keys is not None and keys.sizes[1] <= 730 and keys.scales == [1.0, 7.0, 1.0]
    assert inputs._keys([days * (1.0 / 7.0)]) is None  # not exactly days / 7
    assert inputs._keys([days + 0.5]) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 2.0**60])
def test_unusual_values_fall_back(bad: float) -> None:
    col = np.array([3.0, bad, 1.0, 3.0, bad])
    assert inputs._keys([col]) is None
    got = compress([col, np.zeros(5)], np.arange(5.0))
    assert_identical(got, lexsorted([col, np.zeros(5)], np.arange(5.0)))


def test_negative_zero_is_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """-0.0 cannot be given back from a key: its group's first row must be sorted to."""
    col = np.array([1.0, -0.0, 0.0, 1.0])
    monkeypatch.setattr(inputs, "_count_keys", None)  # would raise if called
    (unique,), summed, inverse = compress([col], np.ones(4))
    assert np.signbit(unique[0]) and unique.tolist() == [0.0, 1.0]
    assert summed.tolist() == [2.0, 2.0] and inverse.tolist() == [1, 0, 0, 1]


def test_key_too_wide_for_row_numbers_uses_a_stable_argsort(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """2^52 keys leave too few of the 63 bits for 2,000 row numbers (and too many to count)."""
    rng = np.random.default_rng(1)
    col = rng.choice([0.0, 5.0, 2.0**50], 2000)
    other = rng.choice([0.0, -0.0, 1.0, 3.0], 2000)
    weights = rng.uniform(0.0, 10.0, 2000)
    seen: list[Any] = []
    argsort = np.argsort

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("kind"))
        return argsort(*args, **kwargs)

    monkeypatch.setattr(np, "argsort", spy)
    got = compress([col, other], weights)
    monkeypatch.undo()
    assert seen == ["stable"]
    assert_identical(got, lexsorted([col, other], weights))
    assert got[0][0].tolist() == [0.0] * 3 + [5.0] * 3 + [2.0**50] * 3


def test_empty() -> None:
    unique, summed, inverse = compress([np.empty(0), np.empty(0)], np.empty(0))
    assert [len(u) for u in unique] == [0, 0] and len(summed) == 0 and len(inverse) == 0
