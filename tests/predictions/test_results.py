"""Reading the predictions (tenure.predictions.results): every person, the top N, the recorded
backtests with their metrics parsed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
import pytest

from tenure import Store
from tenure.demo import generate_demo
from tenure.errors import ConfigError
from tenure.identity import person_labels
from tenure.pipeline import predict
from tenure.predictions.results import customer_predictions, top_customers
from tenure.predictions.runs import RUNS, RUNS_SCHEMA, BacktestResult, model_runs


@pytest.fixture(scope="module")
def predicted_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"duckdb://{tmp_path_factory.mktemp('results') / 'demo.duckdb'}"
    with Store(url) as store:
        generate_demo(store, customers=300, seed=5)
        predict(store, horizon_months=6)
    return url


@pytest.fixture
def predicted(predicted_url: str) -> Iterator[Store]:
    with Store(predicted_url) as store:
        yield store


def test_customer_predictions_is_every_person_by_id(predicted: Store) -> None:
    frame = customer_predictions(predicted)
    table = predicted.read("customer_predictions").to_pandas()
    assert len(frame) == len(table) == predicted.read("customer_facts").count().execute()
    assert list(frame["person_id"]) == sorted(table["person_id"])
    labels = ["customer_id", "email", "other_id"]
    assert list(frame.columns) == ["person_id", *labels, *list(table.columns)[1:]]
    bare = customer_predictions(predicted, with_identifiers=False)
    assert list(bare.columns) == list(table.columns)
    assert frame.attrs == bare.attrs == {"money": ["clv_6m"], "currency": "USD"}
    # the labels are the person's earliest customer id and e-mail (person_labels)
    known = person_labels(predicted).to_pandas().set_index("person_id")
    shown = frame.set_index("person_id")[labels]
    pd.testing.assert_frame_equal(
        shown.loc[known.index].sort_index(), known[labels].sort_index(), check_dtype=False
    )


def test_top_customers_ranks_by_clv_then_person(predicted: Store) -> None:
    every = customer_predictions(predicted)
    buyers = every[every["clv_6m"].notna()]
    expected = buyers.sort_values(["clv_6m", "person_id"], ascending=[False, True])
    top = top_customers(predicted, 5)
    assert list(top["person_id"]) == list(expected["person_id"][:5])
    assert list(top["clv_6m"]) == list(expected["clv_6m"][:5])
    assert top.attrs == {"money": ["clv_6m"], "currency": "USD"}
    # the labels of these five persons are the ones of the whole frame
    labels = ["person_id", "customer_id", "email", "other_id"]
    mine = every.set_index("person_id").loc[top["person_id"]].reset_index()[labels]
    pd.testing.assert_frame_equal(top[labels], mine)
    assert top_customers(predicted, 0).empty
    assert len(top_customers(predicted, 10_000)) == len(buyers)  # prospects left out


def test_top_customers_by_another_column(predicted: Store) -> None:
    every = customer_predictions(predicted)
    known = every[every["p_alive"].notna()]
    expected = known.sort_values(["p_alive", "person_id"], ascending=[False, True])
    top = top_customers(predicted, 4, by="p_alive")
    assert list(top["person_id"]) == list(expected["person_id"][:4])


def test_top_customers_refuses_a_column_it_cannot_rank(predicted: Store) -> None:
    with pytest.raises(ConfigError) as info:
        top_customers(predicted, 3, by="explanation")
    assert info.value.message == (
        "Cannot rank the predictions by 'explanation': not a numeric column of "
        "customer_predictions."
    )
    assert info.value.hint is not None and "clv_6m" in info.value.hint


def test_model_runs_without_any(store: Store) -> None:
    runs = model_runs(store)
    assert runs.empty
    assert list(runs.columns) == [
        "run_id",
        "created_at",
        "calibration_end",
        "holdout",
        "holdout_days",
        "buyers",
        "model",
        "chosen",
        "rmse",
    ]


def test_model_runs_parses_the_recorded_metrics(store: Store) -> None:
    def row(run: str, hour: int, model: str, metrics: dict[str, object], chosen: bool) -> dict:
        return {
            "run_id": run,
            "created_at": datetime(2026, 1, 1, hour),
            "calibration_end": date(2025, 6, 30),
            "holdout": "26w",
            "holdout_days": 182,
            "buyers": 1000,
            "model": model,
            "metrics": json.dumps(metrics),
            "chosen": chosen,
        }

    store.create(RUNS, RUNS_SCHEMA)
    rows = [
        row("a", 1, "BetaGeo", {"rmse": 1.5, "mae": 0.5, "status": "ok"}, True),
        row("b", 2, "ParetoNBD", {"rmse": None, "status": "failed: no fit"}, False),
        row("b", 2, "BetaGeo", {"rmse": 1.25, "mae": 0.25, "status": "ok"}, True),
    ]
    store.append(RUNS, pd.DataFrame(rows))
    runs = model_runs(store)
    assert list(zip(runs["run_id"], runs["model"], strict=True)) == [
        ("b", "BetaGeo"),
        ("b", "ParetoNBD"),
        ("a", "BetaGeo"),
    ]
    assert "metrics" not in runs.columns
    assert list(runs["status"]) == ["ok", "failed: no fit", "ok"]
    assert runs["rmse"].tolist()[::2] == [1.25, 1.5] and pd.isna(runs["rmse"].iloc[1])
    assert runs["mae"].tolist()[::2] == [0.25, 0.5] and pd.isna(runs["mae"].iloc[1])
    assert list(runs["chosen"]) == [True, False, True]


def test_backtest_notes_name_failures_boundary_fits_and_spend_notes_once() -> None:
    """What `tenure models backtest` prints under its table (:attr:`BacktestResult.notes`)."""
    spend = "GammaGamma: no heterogeneity in spend (boundary fit)"
    metrics = pd.DataFrame(
        {
            "model": ["BetaGeo", "ParetoNBD", "BetaGeoBetaBinom", "heuristic"],
            "status": ["ok", "failed: no fit", "ok", "ok"],
            "fitted_as": ["no dropout (boundary fit: the NBD)", None, "", None],
            "note": [spend, None, spend, ""],
        }
    )
    result = BacktestResult(
        run_id="r",
        calibration_end=date(2025, 6, 30),
        holdout="26w",
        holdout_days=182,
        buyers=10,
        sufficiency=None,  # type: ignore[arg-type]
        metrics=metrics,
        deciles=pd.DataFrame(),
        tracking=pd.DataFrame(),
        histogram=pd.DataFrame(),
        chosen="BetaGeo",
    )
    assert result.notes == [
        "BetaGeo: no dropout (boundary fit: the NBD)",
        "ParetoNBD failed: no fit",
        spend,
    ]


def test_a_buyer_without_a_measured_rhythm_has_no_next_purchase_day(tmp_path: object) -> None:
    """One order in the whole store: no repeat purchase to measure a rhythm from, so the
    expected days to the next purchase are unknown (null), not 0."""
    import pyarrow as pa

    with Store(f"duckdb://{tmp_path}/one.duckdb") as st:  # type: ignore[str-bytes-safe]
        order = {
            "order_id": "1",
            "customer_id": "c1",
            "ordered_at": datetime(2025, 3, 1),
            "currency": "EUR",
            "total": 10.0,
        }
        st.insert("orders", pa.Table.from_pylist([order]))
        st.set_meta("reporting_currency", "EUR", by="test")
        predict(st, as_of=date(2025, 6, 1))
        row = customer_predictions(st).iloc[0]
    assert row["method"] == "heuristic"
    assert pd.isna(row["expected_next_purchase_days"])
    assert "no repeat purchase in the store yet" in row["explanation"]
