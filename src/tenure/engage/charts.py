"""The flow backtest's chart (docs/flows.md, "Backtest"): one PNG with the messages per day
by state, the persons who ran each step, and the targeted persons' conversion next to the
holdout's.

Drawn with matplotlib's object API (``Figure``, no ``pyplot`` state, no display needed) from
the result's tables, so the tests check those tables, not pixels.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tenure.engage.flows import STATES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tenure.engage.backtest_runs import BacktestResult

#: One colour per message state (colour-blind-safe Okabe-Ito palette).
STATE_COLOURS = dict(
    zip(STATES, ("#009E73", "#56B4E9", "#D55E00", "#CC79A7", "#999999"), strict=True)
)
GROUP_COLOURS = {"targeted": "#0072B2", "holdout": "#E69F00"}


def backtest_figure(result: BacktestResult) -> Figure:
    """Three panels: messages per day stacked by state; persons per step; conversion
    within the attribution window, targeted vs holdout."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.2), layout="constrained")
    days, steps, outcome = fig.subplots(1, 3, width_ratios=(2.2, 1.4, 1))
    daily = result.daily
    x = np.arange(len(daily))
    bottom = np.zeros(len(daily))
    for state in [c for c in daily.columns if c not in ("day", "total")]:
        values = daily[state].to_numpy(dtype=float)
        if values.any():
            colour = STATE_COLOURS.get(state, "#000000")
            days.bar(x, values, bottom=bottom, color=colour, label=state)
            bottom += values
    labels = [str(d) for d in daily["day"]]
    every = max(1, len(labels) // 10)
    days.set_xticks(x[::every], labels[::every], rotation=45, ha="right", fontsize=7)
    days.set_ylabel("messages")
    days.set_title(f"{result.flow}: messages per day (UTC)")
    if len(daily):
        days.legend(fontsize=8)
    days.grid(alpha=0.3, axis="y")

    s = result.steps.iloc[::-1]
    steps.barh(s["step"], s["persons"], color="#0072B2")
    steps.set_xlabel("persons who ran the step")
    steps.set_title("Steps")
    steps.tick_params(axis="y", labelsize=8)

    o = result.outcome[result.outcome["group"].isin(list(GROUP_COLOURS))]
    rates = [0.0 if v is None or v != v else 100 * float(v) for v in o["conversion"]]
    outcome.bar(o["group"], rates, color=[GROUP_COLOURS[g] for g in o["group"]])
    for i, (rate, n) in enumerate(zip(rates, o["persons"], strict=True)):
        outcome.annotate(
            f"{rate:.1f}%\nn={int(n)}", (i, rate), ha="center", va="bottom", fontsize=8
        )
    outcome.set_ylim(0, max([*rates, 1.0]) * 1.25)
    outcome.set_ylabel(f"converted within {result.window_days} days (%)")
    outcome.set_title("Outcome")
    outcome.grid(alpha=0.3, axis="y")
    return fig


def write_backtest_chart(result: BacktestResult, path: Path) -> Path:
    """The backtest's chart as a PNG at ``path`` (its folder created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backtest_figure(result).savefig(path, dpi=110)
    return path
