"""Parameter recovery on the demo store, against the truth its generator records.

The generator (tenure.demo.buyers) draws each buyer's repeat purchases from the BG/NBD of
their acquisition channel *in operational time* (days of the seasonal clock,
tenure.demo.clock): rate lambda ~ Gamma(r, rate alpha) per operational day, drop-out after
repeat purchase k ~ Geometric(p), p ~ Beta(a, b), observed from the first order to the end
of the period. Orders keep their exact times (microseconds; several may fall on one day,
none is merged), so mapping ``orders.ordered_at`` through the clock gives frequency (orders
- 1), recency and T exactly as drawn: the per-channel BG/NBD fit is on exactly the model's
data. Each order's ``subtotal`` (before discount, shipping, tax and refunds; not ``total``)
is the Gamma(p, rate nu) draw rounded to the cent (at least 1.00), the first order
included, so Gamma-Gamma is fitted on every buyer's order count and mean subtotal.

What is not exact, and so not tested here: fits on calendar days with same-day orders merged
into purchase days (what ``customer_facts`` and ``tenure predict`` see) are the same process
seen through the seasonal clock, an approximation (docs/models.md, "Measured"); revenue
(total incl. shipping and tax, net of refunds) is not Gamma-Gamma.

Measured (10,000 buyers, 730 days, seed 11; 1,028-2,427 buyers per channel): 26 of the 27
(channel, parameter) pairs inside the 95% intervals (out: paid_social alpha 148.4, interval
120.8-182.3, truth 120); relative errors r and alpha <= 24%, a and b <= 27%, p, q and gamma
<= 5% (p 5.72, q 4.00, gamma 31.43 for 6, 4, 30). Expected coverage 95%: 25.7 of 27; the
test asks for 22 (81%). Seeds 5 and 23 gave 26 and 27 of 27."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from tenure import Store
from tenure.demo import generate_demo
from tenure.demo.clock import clock
from tenure.models import BetaGeo, GammaGamma

BUYERS, SEED, START, DAYS = 10_000, 11, date(2024, 1, 1), 730
#: Largest relative error |estimate / truth - 1| allowed per parameter (a few standard
#: errors at 1,000-2,500 buyers per channel for BG/NBD, 10,000 buyers for Gamma-Gamma).
MAX_RELATIVE_ERROR = {"r": 0.3, "alpha": 0.3, "a": 0.5, "b": 0.5, "p": 0.1, "q": 0.1, "gamma": 0.1}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per buyer: channel, frequency, recency, T (operational days), orders, mean subtotal,
    and the recorded truth (demo_truth's T and repeats); and ``generator_truth``."""
    url = f"duckdb://{tmp_path_factory.mktemp('demo_recovery') / 'demo.duckdb'}"
    with Store(url) as store:
        generate_demo(store, customers=BUYERS, seed=SEED, start=START, days=DAYS)
        orders = store.table("orders").select("customer_id", "ordered_at", "subtotal")
        orders = orders.to_pandas()
        customers = store.table("customers").select("customer_id", "traits").to_pandas()
        truth = store.table("generator_truth").to_pandas()
    cl = clock(START, DAYS)
    calendar = (orders["ordered_at"] - pd.Timestamp(START)) / pd.Timedelta(days=1)
    orders["op"] = cl.to_operational(calendar.to_numpy(np.float64))
    orders["subtotal"] = orders["subtotal"].astype(float)
    by = orders.groupby("customer_id")
    buyers = pd.DataFrame(
        {
            "orders": by.size(),
            "frequency": by.size() - 1,
            "recency": by["op"].max() - by["op"].min(),
            "T": DAYS - by["op"].min(),
            "monetary": by["subtotal"].mean(),
        }
    )
    docs = customers.set_index("customer_id")["traits"].map(json.loads)
    recorded = pd.DataFrame(
        [d["demo_truth"] for d in docs if "demo_truth" in d],
        index=[c for c, d in docs.items() if "demo_truth" in d],
    )
    return buyers.join(recorded[["channel", "T", "repeats"]], rsuffix="_true"), truth


@pytest.mark.slow
def test_observables_are_the_generators_draws(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Orders through the clock give back each buyer's T and repeat count as drawn."""
    buyers, _ = demo
    assert len(buyers) == BUYERS
    assert (buyers["frequency"] == buyers["repeats"]).all()
    assert np.abs(buyers["T"] - buyers["T_true"]).max() < 1e-6  # microsecond timestamps
    assert (buyers["recency"] <= buyers["T"]).all()


def _rows(scope: str, table: pd.DataFrame, truth: pd.Series) -> list[tuple[object, ...]]:
    """(scope, parameter, truth, estimate, lower, upper) per parameter of a fit."""
    return [
        (scope, name, truth[str(name)], row["coef"], row["lower 95%"], row["upper 95%"])
        for name, row in table.iterrows()
    ]


@pytest.mark.slow
def test_demo_truth_inside_the_95_percent_intervals(
    demo: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    buyers, truth = demo
    value = truth.set_index(["scope", "name"])["value"]
    rows = []
    for channel, mine in buyers.groupby("channel"):
        assert len(mine) > 900, channel
        fit = BetaGeo().fit(mine["frequency"], mine["recency"], mine["T"])
        rows += _rows(str(channel), fit.summary(), value[str(channel)])
    spend = GammaGamma().fit(buyers["orders"], buyers["monetary"])
    rows += _rows("spend", spend.summary(), value["global"])
    out = pd.DataFrame(rows, columns=["scope", "name", "true", "coef", "lower", "upper"])
    out["inside"] = (out["lower"] <= out["true"]) & (out["true"] <= out["upper"])
    out["relative_error"] = out["coef"] / out["true"] - 1.0
    assert len(out) == 6 * 4 + 3
    assert out["inside"].sum() >= 22, out  # 95% of 27 is 25.7; 26 for this seed
    limit = out["name"].map(MAX_RELATIVE_ERROR)
    assert (out["relative_error"].abs() < limit).all(), out
