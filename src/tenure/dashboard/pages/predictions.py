"""Predictions: the distributions of predicted CLV and P(alive), the top future VIPs, the
valuable customers at risk, the chosen model and its backtest.

The numbers are the last ``tenure predict``'s ``customer_predictions`` (read by
:func:`tenure.predictions.results.top_customers`), the statuses of ``tenure status`` and the
backtests recorded in ``model_runs`` (:func:`tenure.predictions.runs.model_runs`).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pandas as pd

from tenure.analytics.facts import customer_facts
from tenure.analytics.status import customer_status
from tenure.config import Settings
from tenure.dashboard.model import N_, Column, Metric, Page, Section, Window
from tenure.dashboard.pages.channels import PREDICTIONS, clv_column
from tenure.dashboard.pages.common import (
    LABELS,
    PERSON,
    PROFILE_LINK,
    frame_table,
    frames_section,
    money,
    moneys,
    observed_end,
    one_series_chart,
    value,
)
from tenure.dashboard.stored import stored_table
from tenure.predictions.results import top_customers
from tenure.predictions.runs import chosen_model, model_runs
from tenure.store import Store, reporting_currency

BINS = 20
TOP = 20


def histogram(table: ir.Table, column: str, top: float | None, bins: int = BINS) -> pd.DataFrame:
    """low, high, persons: ``bins`` equal bins of ``column`` from 0 to ``top`` (its maximum
    when None), counted in the engine; persons without a value left out."""
    known = table.filter(table[column].notnull())
    highest = value(known[column].max().execute()) if top is None else top
    if not isinstance(highest, int | float) or highest <= 0:
        return pd.DataFrame(columns=["low", "high", "persons"])
    width = float(highest) / bins
    number = ibis.least((known[column] / width).floor().cast("int64"), bins - 1)
    got = known.group_by(bin=number).agg(persons=known.count()).to_pandas()
    frame = pd.DataFrame({"bin": range(bins)}).merge(got, on="bin", how="left")
    frame["persons"] = frame["persons"].fillna(0).astype("int64")
    frame["low"] = frame["bin"] * width
    frame["high"] = (frame["bin"] + 1) * width
    return frame


def _distributions(store: Store, clv: str, currency: str) -> Section:
    p = store.read(PREDICTIONS)
    clv_bins = histogram(p, clv, None)
    alive_bins = histogram(p, "p_alive", 1.0)
    stats = p.aggregate(
        persons=p.count(),
        predicted=p[clv].count(),
        total=p[clv].sum(),
        mean=p[clv].mean(),
        p_alive=p.p_alive.mean(),
    ).to_pandas()
    row = stats.iloc[0]
    metrics = (
        Metric("predicted", N_("Persons with a prediction"), int(row["predicted"]), "count"),
        Metric(
            "total_clv",
            N_("Predicted value of the customer base"),
            money(row["total"], currency),
            "money",
            None,
            "dash-predicted-clv",
        ),
        Metric(
            "mean_clv",
            N_("Mean predicted CLV"),
            money(row["mean"], currency),
            "money",
            None,
            "dash-predicted-clv",
        ),
        Metric(
            "mean_p_alive",
            N_("Mean P(alive)"),
            value(row["p_alive"]),
            "share",
            None,
            "dash-p-alive",
        ),
    )
    charts = (
        one_series_chart(
            "clv",
            N_("Predicted CLV"),
            "histogram",
            moneys(clv_bins["low"], currency),
            N_("Persons"),
            clv_bins["persons"],
        ),
        one_series_chart(
            "p_alive",
            N_("Probability of being alive"),
            "histogram",
            alive_bins["low"],
            N_("Persons"),
            alive_bins["persons"],
        ),
    )
    return Section("distributions", N_("Distributions"), metrics=metrics, charts=charts)


def _future_vips(store: Store, clv: str, currency: str) -> Section:
    top = top_customers(store, TOP, by="future_vip_probability")
    columns = (
        PERSON,
        *LABELS,
        Column("future_vip_probability", N_("P(future VIP)"), "share", "dash-future-vip"),
        Column(clv, N_("Predicted CLV"), "money", "dash-predicted-clv"),
        Column("p_alive", N_("P(alive)"), "share", "dash-p-alive"),
        Column("explanation", N_("Why"), "text"),
    )
    table = frame_table(
        "future_vips", N_("Top future VIPs"), top, columns, currency, link=PROFILE_LINK
    )
    return Section("future_vips", N_("Top future VIPs"), tables=(table,))


def at_risk(store: Store, clv: str, window_end: date) -> pd.DataFrame:
    """The at-risk customers (``tenure status``) with the highest margin so far, with their
    predicted CLV and P(alive)."""
    status = stored_table(store, "customer_status", window_end)
    if status is None:
        status = customer_status(store, as_of=window_end)
    risky = status.filter(status.status == "at_risk").select(s_person=status.person_id)
    facts = stored_table(store, "customer_facts", window_end)
    if facts is None:
        facts = customer_facts(store, as_of=window_end)
    p = store.read(PREDICTIONS)
    j = risky.join(facts, risky.s_person == facts.person_id)
    j = j.left_join(p, j.person_id == p.person_id)
    out = j.select(
        person_id=j.s_person,
        margin=j.margin,
        clv=j[clv],
        p_alive=j.p_alive,
        explanation=j.explanation,
    )
    return out.order_by([ibis.desc("margin"), "person_id"]).limit(TOP).to_pandas()


def _at_risk(store: Store, clv: str, window: Window, currency: str) -> Section:
    frame = at_risk(store, clv, observed_end(store, window))
    columns = (
        PERSON,
        Column("margin", N_("Margin so far"), "money", "dash-margin"),
        Column("clv", N_("Predicted CLV"), "money", "dash-predicted-clv"),
        Column("p_alive", N_("P(alive)"), "share", "dash-p-alive"),
        Column("explanation", N_("Why"), "text"),
    )
    table = frame_table(
        "at_risk", N_("Valuable customers at risk"), frame, columns, currency, link=PROFILE_LINK
    )
    return Section("at_risk", N_("Valuable customers at risk"), tables=(table,))


def _model(store: Store) -> Section:
    runs = model_runs(store)
    chosen = chosen_model(store)
    p = store.read(PREDICTIONS)
    used = p.group_by(["model", "method", "predicted_as_of"]).agg(persons=p.count()).to_pandas()
    notes = []
    if runs.empty:
        notes.append(N_("No backtest recorded yet: `tenure models backtest` compares the models."))
    latest = runs[runs["run_id"] == runs["run_id"].iloc[0]] if not runs.empty else runs
    run_columns = (
        Column("model", N_("Model"), "text", "dash-model"),
        Column("chosen", N_("Chosen"), "number", "dash-model"),
        Column("calibration_end", N_("Calibration end"), "date"),
        Column("holdout_days", N_("Holdout days"), "days"),
        Column("buyers", N_("Buyers"), "count"),
        Column("rmse", N_("RMSE"), "number", "dash-backtest"),
        Column("mae", N_("MAE"), "number", "dash-backtest"),
    )
    currency = reporting_currency(store)
    metric_chosen = Metric("chosen", N_("Chosen model"), chosen, "text", None, "dash-model")
    used_columns = (
        Column("model", N_("Model"), "text", "dash-model"),
        Column("method", N_("Method"), "text", "dash-model"),
        Column("predicted_as_of", N_("Predicted as of"), "date"),
        Column("persons", N_("Persons"), "count"),
    )
    errors = one_series_chart(
        "backtest",
        N_("Backtest error per model (RMSE)"),
        "bar",
        latest["model"],
        N_("RMSE"),
        latest["rmse"],
        "number",
    )
    return frames_section(
        "model",
        N_("Model and backtest"),
        currency,
        ("models_used", N_("Models behind the predictions"), used, used_columns),
        ("backtest", N_("Latest backtest"), latest, run_columns),
        metrics=(metric_chosen,),
        charts=(errors,),
        notes=tuple(notes),
    )


def build(store: Store, settings: Settings, window: Window) -> Page:
    """The predictions page (the last ``tenure predict``; at-risk customers as of the
    window's end)."""
    currency = reporting_currency(store)
    clv = clv_column(store)
    if clv is None:
        note = N_("No predictions yet: run `tenure predict` (or `tenure run`).")
        section = Section("predictions", N_("Predictions"), notes=(note,))
        return Page("predictions", N_("Predictions"), window, currency, (section,))
    sections = (
        _distributions(store, clv, currency),
        _future_vips(store, clv, currency),
        _at_risk(store, clv, window, currency),
        _model(store),
    )
    return Page("predictions", N_("Predictions"), window, currency, sections)
