"""Channel economics on a demo store: CAC reconciles with spend, and the CLV:CAC ranking of the
paid channels agrees with the generator's true per-channel value and cost."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1
from typer.testing import CliRunner

from tenure import Store
from tenure.analytics.channels import channels
from tenure.cli import app

PAID = ["paid_search", "paid_social", "referral"]


def _expected_repeats(r: float, alpha: float, a: float, b: float, t: float) -> float:
    """BG/NBD E[X(t)] of a new customer (Fader, Hardie & Lee 2005, eq. 9)."""
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def test_cac_times_new_customers_is_spend(demo: Store) -> None:
    eco = channels(demo).set_index("channel")
    spend = demo.table("marketing_spend").to_pandas()
    per = spend.assign(cost=spend["cost"].astype(float)).groupby("channel")["cost"].sum()
    for channel, row in eco.iterrows():
        if channel not in per:  # no spend recorded: unknown, never 0 (issue 11)
            assert pd.isna(row["spend"]) and pd.isna(row["cac"]) and row["health"] == "no spend"
            continue
        assert row["spend"] == pytest.approx(per[channel], rel=1e-12)
        if row["new_customers"] > 0 and row["spend"] > 0:
            assert row["cac"] * row["new_customers"] == pytest.approx(row["spend"], rel=1e-12)
    assert eco["spend"].sum() == pytest.approx(per.sum(), rel=1e-12)
    assert set(eco.loc[eco["clv_cac"] >= 3, "health"]) <= {"healthy"}


@pytest.mark.slow
def test_paid_channel_ranking_matches_the_truth(demo: Store) -> None:
    truth = demo.table("generator_truth").to_pandas()
    value = truth.pivot_table(index="scope", columns="name", values="value")
    true_ratio = {
        c: (1 + _expected_repeats(*value.loc[c, ["r", "alpha", "a", "b"]], 365.0))
        / value.loc[c, "cac"]
        for c in PAID
    }
    eco = channels(demo).set_index("channel")
    ours = eco.loc[PAID, "clv_cac"]
    assert np.isfinite(ours).all()
    assert sorted(PAID, key=lambda c: -ours[c]) == sorted(PAID, key=lambda c: -true_ratio[c])


@pytest.mark.slow
def test_cli_channels_json_matches_library(demo: Store, demo_url: str) -> None:
    expected = channels(demo)
    demo.close()
    path = demo_url.removeprefix("duckdb://")
    result = CliRunner().invoke(app, ["channels", "--store", path, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["channel"] for r in doc] == expected["channel"].tolist()
    assert [r["new_customers"] for r in doc] == expected["new_customers"].tolist()
    assert [r["health"] for r in doc] == expected["health"].tolist()
