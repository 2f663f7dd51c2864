"""The backtest's charts: PNG files and one self-contained HTML page (inline SVG and tables).

Drawn with matplotlib's object API (``Figure``, no ``pyplot`` state, no display needed).
Every chart is drawn from the result's tables (``tracking``, ``histogram``, ``deciles``), so
the tests check those tables, not pixels.
"""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tenure.predictions.runs import BacktestResult

#: One colour per model row, in the backtest's order (colour-blind-safe Okabe-Ito palette).
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
ACTUAL = "#000000"
#: The metrics shown in the HTML table, with their headers.
METRIC_COLUMNS = {
    "model": "model",
    "status": "status",
    "mae": "MAE purchases",
    "rmse": "RMSE purchases",
    "predicted": "predicted",
    "actual": "actual",
    "error_pct": "total error %",
    "mae_margin": "MAE margin",
    "rmse_margin": "RMSE margin",
    "predicted_margin": "predicted margin",
    "actual_margin": "actual margin",
    "chosen": "chosen",
}


def _colours(models: list[str]) -> dict[str, str]:
    return {m: COLOURS[i % len(COLOURS)] for i, m in enumerate(models)}


def tracking_figure(tracking: pd.DataFrame, calibration_end: str) -> Figure:
    """Cumulative repeat purchase days per week: actual, each model's prediction from the
    calibration end (solid) and its expectation from each first purchase (dashed)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    models = list(dict.fromkeys(tracking["model"]))
    colours = _colours(models)
    if models:
        first = tracking[tracking["model"] == models[0]]
        ax.plot(first["week"], first["actual"], color=ACTUAL, lw=2.2, label="actual")
    for model in models:
        rows = tracking[tracking["model"] == model]
        shown = rows[rows["predicted"].notna()]
        ax.plot(shown["week"], shown["predicted"], color=colours[model], marker=".", label=model)
        if rows["unconditional"].notna().any():
            ax.plot(rows["week"], rows["unconditional"], color=colours[model], ls="--", lw=1)
    ax.axvline(0, color="#777777", ls=":", lw=1)
    ax.set_xlabel(f"week (0 ends on the calibration end, {calibration_end})")
    ax.set_ylabel("cumulative repeat purchase days")
    ax.set_title("Tracking: actual vs predicted (dashed: expected from each first purchase)")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def histogram_figure(histogram: pd.DataFrame) -> Figure:
    """Buyers by holdout purchase days (0 .. 6, 7+): actual and each model's expectation."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    models = list(dict.fromkeys(histogram["model"]))
    colours = _colours(models)
    labels = list(dict.fromkeys(histogram["repeats"]))
    x = np.arange(len(labels))
    width = 0.8 / (len(models) + 1)
    if models:
        actual = histogram[histogram["model"] == models[0]]["actual"].to_numpy()
        ax.bar(x, actual, width, color=ACTUAL, label="actual")
    for i, model in enumerate(models, start=1):
        values = histogram[histogram["model"] == model]["predicted"].to_numpy()
        ax.bar(x + i * width, values, width, color=colours[model], label=model)
    ax.set_xticks(x + width * len(models) / 2, labels)
    ax.set_xlabel("repeat purchase days in the holdout")
    ax.set_ylabel("buyers")
    ax.set_title("Holdout repeat-frequency histogram")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return fig


def deciles_figure(deciles: pd.DataFrame) -> Figure:
    """Per model: mean actual (bars) and predicted (dots) holdout purchase days per decile
    of buyers ranked by the model's prediction."""
    from matplotlib.figure import Figure

    models = list(dict.fromkeys(deciles["model"])) or ["-"]
    cols = min(3, len(models))
    rows = -(-len(models) // cols)
    fig = Figure(figsize=(4 * cols, 3.2 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    colours = _colours(models)
    for ax, model in zip(axes, models, strict=False):
        d = deciles[deciles["model"] == model]
        ax.bar(d["decile"], d["actual_mean"], color="#BBBBBB", label="actual")
        ax.plot(d["decile"], d["predicted_mean"], "o-", color=colours[model], label="predicted")
        ax.set_title(model, fontsize=10)
        ax.set_xlabel("decile (1 = highest prediction)", fontsize=8)
        ax.set_ylabel("mean purchase days", fontsize=8)
        ax.legend(fontsize=7)
    for ax in axes[len(models) :]:
        ax.set_visible(False)
    return fig


def _svg(fig: Figure) -> str:
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else ""
    if isinstance(value, float | np.floating):
        number = float(value)
        return f"{number:,.3f}" if abs(number) < 100 else f"{number:,.0f}"
    return html.escape(str(value))


def html_table(frame: pd.DataFrame, headers: dict[str, str] | None = None) -> str:
    """A plain HTML table of ``frame`` (numbers right-aligned)."""
    columns = [c for c in (headers or {c: c for c in frame.columns}) if c in frame.columns]
    names = headers or {c: c for c in columns}
    head = "".join(f"<th>{html.escape(names[c])}</th>" for c in columns)
    body = []
    for row in frame[columns].itertuples(index=False):
        cells = "".join(
            f'<td class="n">{_cell(v)}</td>'
            if isinstance(v, int | float)
            else f"<td>{_cell(v)}</td>"
            for v in row
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "th,td{border:1px solid #ccc;padding:3px 8px}td.n{text-align:right}"
    "th{background:#f3f3f3}svg{max-width:100%;height:auto}"
)


def report_html(result: BacktestResult, figures: dict[str, Figure]) -> str:
    """The self-contained page: run, choice, metrics, charts (inline SVG) and tables."""
    r = result
    title = f"Backtest {r.calibration_end.isoformat()} + {r.holdout} ({r.holdout_days} days)"
    sample = f", a sample of {r.sample:,} buyers" if r.sample else ""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p>{r.buyers:,} buyers{sample}; run <code>{r.run_id}</code>.</p>",
        f"<p><b>Chosen:</b> {html.escape(str(r.chosen))}. {html.escape(r.rule)}</p>",
        f"<p><b>Data:</b> {html.escape(r.sufficiency.reason)}</p>",
        "<h2>Holdout purchase days and margin per model</h2>",
        html_table(r.metrics, METRIC_COLUMNS),
    ]
    for key, heading in (
        ("tracking", "Cumulative repeat purchase days"),
        ("histogram", "Repeat-frequency histogram"),
        ("deciles", "Decile calibration"),
    ):
        parts += [f"<h2>{heading}</h2>", _svg(figures[key])]
        table = getattr(r, key)
        if key == "tracking" and not table.empty:
            table = table.assign(day=table["day"].astype(str))
        parts.append(f"<details><summary>data</summary>{html_table(table)}</details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_charts(result: BacktestResult, out: Path) -> dict[str, str]:
    """tracking.png, histogram.png, deciles.png and report.html in ``out`` (created)."""
    out.mkdir(parents=True, exist_ok=True)
    figures = {
        "tracking": tracking_figure(result.tracking, result.calibration_end.isoformat()),
        "histogram": histogram_figure(result.histogram),
        "deciles": deciles_figure(result.deciles),
    }
    paths: dict[str, str] = {}
    for name, fig in figures.items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        paths[name] = str(path)
    page = out / "report.html"
    page.write_text(report_html(result, figures), encoding="utf-8")
    paths["html"] = str(page)
    return paths
