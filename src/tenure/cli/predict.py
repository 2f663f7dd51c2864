"""`tenure predict`: parse, call :func:`tenure.predictions.predict.predict`, print what it wrote
(the top buyers or every person: :mod:`tenure.predictions.results`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tenure.cli.common import (
    JsonOpt,
    ProgressOpt,
    StoreOpt,
    app,
    console,
    kv_table,
    open_store,
    print_json,
    progress_bar,
)
from tenure.cli.output import (
    AsOfOpt,
    CsvOpt,
    LimitOpt,
    emit,
    money_frame,
    note_as_of,
    parse_day,
    records,
    screen_rows,
    warn,
)
from tenure.cli.render import cell
from tenure.store import round_money

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help="BetaGeo, ModifiedBetaGeo, ParetoNBD or heuristic (default: the model the "
        "backtest chose for the store, else BetaGeo).",
        show_default=False,
    ),
]

ClvModelOpt = Annotated[
    str | None,
    typer.Option(
        "--clv-model",
        help="GammaGamma (the purchase model's expected purchases x Gamma-Gamma spend, the "
        "default) or GradientBoosting (margin predicted by gradient boosting trained on the "
        "horizon before the facts' day).",
        show_default=False,
    ),
]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _money(value: float | None, currency: str) -> str:
    """An amount at its currency's minor unit; blank when unknown."""
    amount = round_money(value, currency)
    return "" if amount is None else f"{amount:,}"


def _rounded(result: Any) -> dict[str, Any]:
    """``result.to_dict()`` with its money (CLV totals, VIP threshold) at the minor unit."""
    doc = result.to_dict()

    def at_minor(value: float | None) -> float | None:
        amount = round_money(value, result.currency)
        return None if amount is None else float(amount)

    doc["vip_threshold"] = at_minor(doc["vip_threshold"])
    for key in ("clv", "mean_clv"):
        if key in doc["totals"]:
            doc["totals"][key] = at_minor(doc["totals"][key])
    return doc


def summary_rows(result: Any) -> list[tuple[str, Any]]:
    """The terminal summary of a :class:`~tenure.predictions.predict.PredictResult`."""
    h = result.horizon_months
    stats, totals = result.stats, result.totals
    rows: list[tuple[str, Any]] = [
        ("method", result.method),
        ("model", result.model),
        ("CLV model", result.clv_model),
    ]
    if result.reason:
        rows.append(
            ("why not the model" if result.method != result.model else "note", result.reason)
        )
    if stats is not None:
        rows += [
            ("buyers", stats.buyers),
            ("repeat buyers", stats.repeat_buyers),
            ("days of history", stats.history_days),
        ]
    if result.patterns:
        rows.append(("patterns scored", result.patterns))
    code = result.currency
    rows += [
        (f"VIP threshold ({h}-month margin)", _money(result.vip_threshold, code)),
        (f"CLV {h} months, total", _money(totals.get("clv"), code)),
        (f"CLV {h} months, mean per buyer", _money(totals.get("mean_clv"), code)),
        (f"expected orders in {h} months", _number(totals.get("expected_orders"))),
        ("mean P(alive)", cell(totals.get("mean_p_alive"), "percent")),
        ("expected future VIPs", _number(totals.get("future_vips"))),
        ("rows in customer_predictions", result.rows),
        ("seconds", f"{result.seconds:.2f}"),
    ]
    return rows


@app.command("predict")
def predict_command(
    store: StoreOpt = None,
    as_of: AsOfOpt = None,
    model: ModelOpt = None,
    clv_model: ClvModelOpt = None,
    horizon_months: Annotated[
        int, typer.Option("--horizon-months", help="Months the CLV and expected orders cover.")
    ] = 12,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Yearly discount rate of the CLV.")
    ] = 0.10,
    top: Annotated[
        int, typer.Option("--top", help="Show the N buyers with the highest CLV (0: none).")
    ] = 10,
    customers: Annotated[
        bool, typer.Option("--customers", help="Print every person's predictions instead.")
    ] = False,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    show_progress: ProgressOpt = None,
) -> None:
    """Predict CLV, P(alive), expected orders, next purchase and future-VIP odds per person
    (the pipeline's predictions step, after bringing stale customer facts up to date)."""
    from tenure.pipeline import predict
    from tenure.predictions.results import customer_predictions, top_customers

    with open_store(store) as st:
        with progress_bar(show_progress) as bar:
            result = predict(
                st,
                as_of=parse_day(as_of),
                progress=bar,
                model=model,
                horizon_months=horizon_months,
                discount_rate=discount_rate,
                clv_model=clv_model,
            )
        note_as_of(st, result.as_of)
        if customers:
            rows = None if as_json or as_csv else screen_rows(limit)
            frame = customer_predictions(st, limit=rows)
        else:
            frame = top_customers(st, top)
    warn(result.warnings)
    if customers:
        title = f"Predictions as of {result.as_of}"
        emit(frame, title=title, as_json=as_json, as_csv=as_csv, limit=limit)
        return
    if as_json:
        print_json({**_rounded(result), "top": records(money_frame(frame))})
        return
    console.print(kv_table(f"Predictions as of {result.as_of}", summary_rows(result)))
    if top > 0:
        shown = [
            "person_id",
            "customer_id",
            "email",
            f"clv_{horizon_months}m",
            "p_alive",
            "explanation",
        ]
        emit(frame[shown], title=f"Top {len(frame)} buyers by CLV", limit=0)
