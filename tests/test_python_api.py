"""docs/python-api.md cannot drift: every function it names exists and returns the shape it
documents (DataFrame, ibis.Table, a result class...) on a small demo store, and every public
name of tenure.analytics and tenure.predictions is documented."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pytest

from tenure import Store

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "python-api.md").read_text()
#: | `tenure.module.name` | command | Shape: what it is |
ROWS = re.findall(r"^\| `(tenure\.[\w.]+)` \| [^|]+ \| ([\w.\[\]]+(?: \\\| None)?):", DOC, re.M)
DOCUMENTED = dict(ROWS)
END = date(2025, 12, 30)  # the demo store's last day

#: Made by the fixture (they build the store): their result is checked.
BUILT = {"tenure.analytics.demo", "tenure.pipeline.predict", "tenure.predictions.backtest"}
#: The arguments after the store, where a function needs some.
ARGS: dict[str, Callable[[Store], tuple[tuple[Any, ...], dict[str, Any]]]] = {
    "tenure.analytics.customer_row": lambda s: ((_person(s),), {}),
    "tenure.analytics.backfill_stages": lambda s: ((), {"start": END, "end": END}),
    "tenure.predictions.top_customers": lambda s: ((5,), {}),
    "tenure.analytics.search_customers": lambda s: (("example",), {}),
    "tenure.identity.find_person": lambda s: ((_person(s),), {}),
    "tenure.identity.person_of": lambda s: ((_person(s),), {}),
    "tenure.identity.with_labels": lambda s: ((s.read("customer_facts").limit(3).to_pandas(),), {}),
}
SHAPES: dict[str, Callable[[Any], bool]] = {
    "DataFrame": lambda v: isinstance(v, pd.DataFrame),
    "ibis.Table": lambda v: isinstance(v, ir.Table),
    "int": lambda v: isinstance(v, int),
    "date": lambda v: isinstance(v, date),
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "str \\| None": lambda v: v is None or isinstance(v, str),
}


def _fn(name: str) -> Callable[..., Any]:
    module, attr = name.rsplit(".", 1)
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def _person(store: Store) -> str:
    return str(store.read("customer_facts").person_id.min().execute())


@pytest.fixture(scope="module")
def api_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, dict]]:
    """A 200-customer demo store, predicted, with a recorded backtest (heuristic only)."""
    from tenure.analytics import demo
    from tenure.pipeline import predict
    from tenure.predictions import backtest

    tmp = tmp_path_factory.mktemp("api")
    with Store(str(tmp / "api.duckdb")) as store:
        runs = {"tenure.analytics.demo": demo(store, customers=200, seed=5)}
        runs["tenure.pipeline.predict"] = predict(store)
        runs["tenure.predictions.backtest"] = backtest(
            store, calibration_end=date(2025, 6, 30), holdout="26w", models=["heuristic"]
        )
        yield store, runs


def test_the_doc_names_each_function_once() -> None:
    assert len(ROWS) == len(DOCUMENTED) > 20, "a function is documented twice"
    assert BUILT | set(ARGS) <= set(DOCUMENTED)


@pytest.mark.parametrize("package", ["tenure.analytics", "tenure.predictions"])
def test_every_public_name_is_documented(package: str) -> None:
    for name in importlib.import_module(package).__all__:
        if name[0].isupper():  # a result class: documented as what a function returns
            assert re.search(rf"\| {name}: ", DOC), name
        else:
            assert f"`{package}.{name}`" in DOC, f"{package}.{name} is not in docs/python-api.md"


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_name_returns_its_shape(name: str, api_store: tuple[Store, dict]) -> None:
    store, runs = api_store
    shape = DOCUMENTED[name]
    if name in BUILT:
        value = runs[name]
    else:
        args, kwargs = ARGS[name](store) if name in ARGS else ((), {})
        value = _fn(name)(store, *args, **kwargs)
    check = SHAPES.get(shape, lambda v: type(v).__name__ == shape)
    assert check(value), f"{name} returned {type(value).__name__}, documented {shape}"
