"""The data floor (issue 5, "Thin data"): the evidence of bench/floor_study.py, pinned cheaply.

The study backtests random draws of n CDNOW (and demo) buyers with a 26-week holdout and
compares BG/NBD with the segment-rhythm heuristic on the per-customer RMSE of holdout purchase
days (docs/models.md, "Thin data and the heuristic"). Here, through ``backtest(sample=...)``
itself and with fixed seeds: draws at the floor (1,000 buyers after 360 days, 400+ repeat
buyers) are above it and the model beats the heuristic in each; draws of 50 buyers are below
it, where BG/NBD is mostly not even identified and beats the heuristic in few draws.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from tenure import Store
from tenure.predictions.backtest import backtest
from tenure.predictions.holdout import FLOOR, DataFloor
from tests.models.test_backtest import copy_store

#: 360 and 180 days after CDNOW's first order (1997-01-01); both leave a 26-week holdout.
LATE, EARLY = date(1997, 12, 27), date(1997, 6, 30)


@pytest.fixture(scope="module")
def store(cdnow_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A copy of CDNOW master (a sample uploads a scratch table while it runs)."""
    url = copy_store(cdnow_url, tmp_path_factory.mktemp("floor"), "cdnow.duckdb")
    with Store(url) as s:
        yield s


def _draw(store: Store, end: date, size: int, seed: int) -> tuple[bool, str, float, float, str]:
    """enough, BG/NBD status, its RMSE, the heuristic's RMSE, the backtest's choice."""
    result = backtest(
        store,
        calibration_end=end,
        holdout="26w",
        models=["BetaGeo"],
        record=False,
        sample=size,
        random_state=seed,
    )
    rows = result.metrics.set_index("model")
    bg, heuristic = rows.loc["BetaGeo"], rows.loc["heuristic"]
    rmse = float(bg["rmse"]) if bg["status"] == "ok" else float("nan")
    return (
        result.sufficiency.enough,
        str(bg["status"]),
        rmse,
        float(heuristic["rmse"]),
        str(result.chosen),
    )


def test_the_floor_is_the_measured_one() -> None:
    assert FLOOR == DataFloor() == DataFloor(buyers=1000, repeat_buyers=400, history_days=180)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_at_the_floor_the_model_beats_the_heuristic(store: Store, seed: int) -> None:
    """1,000 buyers after 360 days (406-466 repeat buyers): the study's BG/NBD beat the
    heuristic in all 40 such draws, by an RMSE ratio of 0.875 in the median one."""
    enough, status, rmse, heuristic, chosen = _draw(store, LATE, 1000, seed)
    assert enough and status == "ok"
    assert rmse < 0.97 * heuristic
    assert chosen == "BetaGeo"


@pytest.mark.slow
def test_well_below_the_floor_the_model_is_not_reliable(store: Store) -> None:
    """50 buyers after 180 days (5-19 repeat buyers): below the floor, so the heuristic is
    chosen; BG/NBD is often not identified (the study: fitted in 57% of 40 draws) and beats
    the heuristic in few draws (35%); in these 8 it is fitted twice and beats it once."""
    draws = [_draw(store, EARLY, 50, seed) for seed in range(8)]
    assert not any(enough for enough, *_ in draws)
    assert {chosen for *_, chosen in draws} == {"heuristic"}
    failed = sum(status.startswith("failed") for _, status, *_ in draws)
    wins = sum(rmse < heuristic for _, _, rmse, heuristic, _ in draws)  # NaN never wins
    assert failed >= 3
    assert wins <= 4
