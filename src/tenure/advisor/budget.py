"""The budget proposal: the next period's acquisition budget spread over the paid channels
toward the highest marginal value (12-month CLV x new customers) within the user's bounds.

docs/advisor.md, "Channels and budget", gives every formula; in short:

* each paid channel (spend in its history) gets a weekly response curve ``new = a x spend^b``
  (:mod:`tenure.advisor.response`) when its last ``fit_weeks`` weeks pass the variation test,
  else a constant CAC (the same weeks' spend / new customers, ``b = 1``);
* no channel is proposed more than ``extrapolation`` x the highest weekly spend it has been
  seen at (scaled to the period): beyond it no curve is supported by the data;
* the spend maximising ``sum(clv_c x new_c(spend_c))`` with ``sum(spend_c) = total`` and the
  bounds is found with scipy's SLSQP (the objective is concave: ``0 < b <= 1``);
* the 80% interval of the expected new customers and value comes from a bootstrap over weeks
  (the curves, the CACs and the value per customer refitted on resampled weeks; the proposal
  held fixed).
Channels without spend (organic, direct, e-mail) are shown and never given budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from tenure.advisor.channels import ChannelEconomics, channel_economics, frame_records
from tenure.advisor.response import PowerFit, expected_new, variation_test
from tenure.advisor.sentence import N_, Sentence
from tenure.errors import ConfigError
from tenure.store import Store


@dataclass(frozen=True)
class BudgetRules:
    """The proposal's rules (docs/advisor.md, "Channels and budget"), with their defaults."""

    #: Days the budget is for (the proposal's period).
    days: int = 30
    #: Full weeks before the as-of day the response curves are fitted on.
    fit_weeks: int = 52
    #: Full weeks the current spend and a constant CAC are measured on.
    recent_weeks: int = 13
    #: The variation test: weeks with spend, coefficient of variation of the weekly spend,
    #: standard error of the curve's exponent b.
    min_weeks: int = 12
    min_spend_cv: float = 0.2
    max_slope_se: float = 0.2
    #: Fewer full weeks of spend history than this: no proposal.
    min_history_weeks: int = 4
    #: No channel above this multiple of its highest weekly spend seen (scaled to the period).
    extrapolation: float = 1.5
    #: Bootstrap replicates, interval level and seed.
    bootstrap: int = 200
    level: float = 0.8
    random_state: int = 0


@dataclass(frozen=True)
class Curve:
    """A paid channel's response: ``a``, ``b`` (1 for a constant CAC), ``fit`` (None: the
    constant-CAC fallback) and ``why`` the fallback was used."""

    a: float
    b: float
    fit: PowerFit | None
    why: str | None


@dataclass
class BudgetProposal:
    """What :func:`propose_budget` proposes.

    ``channels``: one row per channel: ``channel``, ``paid`` (spend in its history),
    ``current_spend`` (the last ``recent_weeks`` weeks' spend scaled to the period),
    ``proposed_spend``, ``min``/``max`` (the bounds applied, the extrapolation cap included),
    ``curve`` ("fitted", "constant CAC", "held": not moved, or None for an unpaid channel),
    ``b`` and ``b_se`` (the fitted exponent and its standard error), ``cac`` (marginal CAC at
    the proposed spend), ``clv`` (12-month value of a new customer), ``current_new``,
    ``proposed_new``, ``current_value``, ``proposed_value`` and ``why`` (why no curve).
    ``expected``: ``current_new``, ``proposed_new``, ``current_value``, ``proposed_value``
    and the interval bounds ``*_low``/``*_high`` of the proposed figures and of ``gain``
    (proposed - current value). ``unallocated``: the part of ``total`` no channel can take
    within its cap. ``assumptions``: the proposal's assumptions in plain words.
    ``missing``: what is missing when there is no proposal (then ``proposed_spend`` and the
    expected figures are None). Unknown numbers are None, never 0."""

    as_of: date
    currency: str
    total: float
    days: int
    channels: pd.DataFrame
    expected: dict[str, float | None]
    unallocated: float | None
    level: float
    clv_source: str | None
    assumptions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able numbers (unknown: None)."""
        return {
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "total": self.total,
            "days": self.days,
            "level": self.level,
            "clv_source": self.clv_source,
            "channels": frame_records(self.channels),
            "expected": {k: _num(v) for k, v in self.expected.items()},
            "unallocated": _num(self.unallocated),
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
            "missing": list(self.missing),
        }


def _num(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def propose_budget(
    store: Store,
    total: float,
    *,
    minimum: dict[str, float] | None = None,
    maximum: dict[str, float] | None = None,
    as_of: date | None = None,
    rules: BudgetRules | None = None,
    economics: ChannelEconomics | None = None,
) -> BudgetProposal:
    """Spread ``total`` (for the next ``rules.days`` days) over the paid channels toward the
    highest marginal CLV:CAC, within ``minimum``/``maximum`` per channel (reporting
    currency). Raises :class:`ConfigError` for an unknown or unpaid channel in the bounds and
    for bounds no proposal can meet; returns a result whose ``missing`` says what is missing
    when the store cannot support a proposal."""
    rules = rules or BudgetRules()
    econ = economics or channel_economics(store, as_of=as_of)
    minimum, maximum = dict(minimum or {}), dict(maximum or {})
    frame = econ.channels
    paid = frame.loc[frame["spend"].fillna(0) > 0, "channel"].tolist()
    check_bounds(total, minimum, maximum, frame["channel"].tolist(), paid)
    weekly = _history(econ, paid, rules)
    missing = [*econ.missing, *_missing(paid, weekly, frame, rules)]
    result = BudgetProposal(
        as_of=econ.as_of,
        currency=econ.currency,
        total=float(total),
        days=rules.days,
        channels=_base_rows(frame, weekly, paid, rules),
        expected={},
        unallocated=None,
        level=rules.level,
        clv_source=econ.clv_source,
        notes=list(econ.notes),
        missing=missing,
    )
    if missing:
        return result
    _propose(result, econ, weekly, minimum, maximum, rules)
    return result


def current_spend(
    economics: ChannelEconomics, rules: BudgetRules | None = None
) -> dict[str, float]:
    """Per paid channel, its current spend as the proposal counts it (``current_spend``: the
    last ``recent_weeks`` full weeks' spend scaled to ``rules.days``); their sum is the
    budget that keeps the store's spend as it is (the dashboard's proposal)."""
    rules = rules or BudgetRules()
    frame = economics.channels
    paid = frame.loc[frame["spend"].fillna(0) > 0, "channel"].tolist()
    recent = _recent(_history(economics, paid, rules), rules)
    scale = rules.days / 7.0 / rules.recent_weeks
    return {c: recent.get(c, (0.0, 0))[0] * scale for c in paid}


def check_bounds(
    total: float,
    minimum: dict[str, float],
    maximum: dict[str, float],
    known: list[str],
    paid: list[str],
) -> None:
    """A :class:`ConfigError` for a total or bound no proposal can meet."""
    if not np.isfinite(total) or total <= 0:
        raise ConfigError(f"The total budget must be above 0. Got {total} instead.")
    for name, bounds in (("--min", minimum), ("--max", maximum)):
        for channel, value in bounds.items():
            if channel not in known:
                raise ConfigError(
                    f"Unknown channel {channel!r} in {name}.",
                    hint=f"Known channels: {', '.join(sorted(known)) or 'none'}.",
                )
            if channel not in paid:
                raise ConfigError(
                    f"Channel {channel!r} in {name} has no spend in its history: it is not "
                    "given budget.",
                    hint=f"Paid channels: {', '.join(sorted(paid)) or 'none'}.",
                )
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"{name} {channel}={value}: a bound must be 0 or more.")
    for channel in set(minimum) & set(maximum):
        if minimum[channel] > maximum[channel]:
            raise ConfigError(
                f"--min {channel}={minimum[channel]:g} is above --max "
                f"{channel}={maximum[channel]:g}."
            )
    if sum(minimum.values()) > total:
        raise ConfigError(
            f"The minimums add up to {sum(minimum.values()):g}, more than the total {total:g}.",
            hint="Lower a --min or raise --total.",
        )
    if paid and all(c in maximum for c in paid) and sum(maximum.values()) < total:
        raise ConfigError(
            f"The maximums add up to {sum(maximum.values()):g}, less than the total {total:g}.",
            hint="Raise a --max or lower --total.",
        )


def _history(econ: ChannelEconomics, paid: list[str], rules: BudgetRules) -> pd.DataFrame:
    """Per paid channel and full week of the last ``fit_weeks`` (from its first spend week):
    spend and new customers, 0 for a week without either."""
    w = econ.weekly
    w = w[w["channel"].isin(paid)]
    last = econ.as_of - timedelta(days=econ.as_of.weekday() + 7)  # Monday of the last full week
    weeks = [last - timedelta(weeks=k) for k in range(rules.fit_weeks)][::-1]
    rows = []
    for channel in paid:
        mine = w[w["channel"] == channel].set_index("week")
        spent = mine["spend"].dropna()
        start = spent[spent > 0].index.min() if len(spent) else None
        for week in weeks:
            if start is None or week < start:
                continue
            got = mine.loc[week] if week in mine.index else None
            rows.append(
                {
                    "channel": channel,
                    "week": week,
                    "spend": 0.0 if got is None or pd.isna(got["spend"]) else float(got["spend"]),
                    "new_customers": 0 if got is None else int(cast(Any, got["new_customers"])),
                }
            )
    return pd.DataFrame(rows, columns=["channel", "week", "spend", "new_customers"])


def _missing(
    paid: list[str], weekly: pd.DataFrame, frame: pd.DataFrame, rules: BudgetRules
) -> list[str]:
    """What a proposal would need and the store does not have."""
    if not paid:
        message = N_(
            "No channel has spend recorded: there is no budget to reallocate. Import the "
            "marketing spend per channel and day."
        )
        return [Sentence(message)]
    out: list[str] = []
    if len(paid) == 1:
        message = N_(
            "Only one paid channel (%(channel)s): there is nothing to reallocate between. "
            "Record the spend of the other channels you pay for."
        )
        out.append(Sentence(message, {"channel": paid[0]}))
    history = weekly.groupby("channel")["week"].nunique() if len(weekly) else pd.Series()
    if history.empty or history.max() < rules.min_history_weeks:
        weeks = 0 if history.empty else int(history.max())
        message = N_(
            "%(weeks)s full weeks of spend history, fewer than %(needed)s: too little to "
            "measure what a channel's spend brings."
        )
        params = {"weeks": weeks, "needed": rules.min_history_weeks}
        out.append(Sentence(message, params, {"weeks": "count", "needed": "count"}))
    valued = frame[frame["channel"].isin(paid)]
    if valued["clv"].isna().all():
        message = N_("The value of the paid channels' customers is unknown (see the notes).")
        out.append(Sentence(message))
    return out


def _base_rows(
    frame: pd.DataFrame, weekly: pd.DataFrame, paid: list[str], rules: BudgetRules
) -> pd.DataFrame:
    """The channel rows before a proposal: current spend (paid channels) and CLV."""
    out = frame[["channel", "clv"]].copy()
    out["paid"] = out["channel"].isin(paid)
    recent = _recent(weekly, rules)
    scale = rules.days / 7.0 / rules.recent_weeks
    out["current_spend"] = [
        recent.get(c, (0.0, 0))[0] * scale if c in paid else None for c in out["channel"]
    ]
    for name in ("proposed_spend", "min", "max", "curve", "b", "b_se", "cac", "why"):
        out[name] = None
    for name in ("current_new", "proposed_new", "current_value", "proposed_value"):
        out[name] = None
    return out


def _recent(weekly: pd.DataFrame, rules: BudgetRules) -> dict[str, tuple[float, int]]:
    """Per channel: spend and new customers over the last ``recent_weeks`` weeks."""
    if weekly.empty:
        return {}
    first = weekly["week"].max() - timedelta(weeks=rules.recent_weeks - 1)
    r = weekly[weekly["week"] >= first].groupby("channel")[["spend", "new_customers"]].sum()
    return {c: (float(r.at[c, "spend"]), int(r.at[c, "new_customers"])) for c in r.index}


def fit_curve(spend: np.ndarray, new: np.ndarray, rules: BudgetRules) -> Curve | None:
    """The channel's response curve: fitted when the weeks pass the variation test, else a
    constant CAC over the same weeks (None: no customer in them)."""
    fit, why = variation_test(
        spend,
        new,
        min_weeks=rules.min_weeks,
        min_cv=rules.min_spend_cv,
        max_se=rules.max_slope_se,
    )
    if fit is not None:
        b = min(fit.b, 1.0)
        # refit a for the clipped b: the mean of new / spend^b over the weeks with spend
        if b != fit.b:
            keep = spend > 0
            return Curve(float(new[keep].sum() / (spend[keep] ** b).sum()), b, fit, None)
        return Curve(float(np.exp(fit.log_a)), b, fit, None)
    if spend.sum() <= 0 or new.sum() <= 0:
        return None
    return Curve(float(new.sum() / spend.sum()), 1.0, None, why)


def _propose(
    result: BudgetProposal,
    econ: ChannelEconomics,
    weekly: pd.DataFrame,
    minimum: dict[str, float],
    maximum: dict[str, float],
    rules: BudgetRules,
) -> None:
    """Fill ``result`` with the proposal, its expected figures and interval."""
    rows = result.channels.set_index("channel")
    paid = rows.index[rows["paid"]].tolist()
    curves: dict[str, Curve | None] = {}
    for c in paid:
        mine = weekly[weekly["channel"] == c]
        curves[c] = fit_curve(mine["spend"].to_numpy(), mine["new_customers"].to_numpy(), rules)
    movable = [c for c in paid if curves[c] is not None and cell(rows, c, "clv") is not None]
    lo, hi = _bounds(rows, weekly, movable, paid, minimum, maximum, rules)
    floor = float(sum(lo.values()))
    if floor > result.total:
        held = ", ".join(c for c in paid if c not in movable) or "none"
        raise ConfigError(
            f"The total {result.total:g} is below {floor:g}, what the minimums and the "
            f"channels held at their current spend (not moved: {held}) take.",
            hint="Raise --total or lower a --min.",
        )
    room = float(sum(hi.values()))
    budget = min(result.total, room)
    result.unallocated = result.total - budget
    spend = _optimise(movable, curves, rows, lo, hi, budget, rules, paid)
    _fill(result, rows, curves, spend, lo, hi, rules)
    _expected(result, econ, weekly, curves, rows, spend, rules)
    result.assumptions = _assumptions(result, curves, rules)
    if result.unallocated and result.unallocated > 1e-9:
        message = N_(
            "%(unallocated)s of the total is left unallocated: every channel is at its maximum "
            "or at %(times)sx the highest spend it has been seen at."
        )
        params = {"unallocated": result.unallocated, "times": rules.extrapolation}
        result.notes.append(Sentence(message, params, {"unallocated": "money", "times": "number"}))


def _bounds(
    rows: pd.DataFrame,
    weekly: pd.DataFrame,
    movable: list[str],
    paid: list[str],
    minimum: dict[str, float],
    maximum: dict[str, float],
    rules: BudgetRules,
) -> tuple[dict[str, float], dict[str, float]]:
    """Per paid channel the lowest and highest spend allowed: the user's bounds, the
    extrapolation cap; a channel that cannot be moved is held at its current spend."""
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for c in paid:
        low = float(minimum.get(c, 0.0))
        if c not in movable:
            held = cell(rows, c, "current_spend") or 0.0
            held = min(max(held, low), maximum.get(c, np.inf))
            lo[c] = hi[c] = held
            continue
        seen = float(weekly.loc[weekly["channel"] == c, "spend"].max()) * rules.days / 7.0
        cap = rules.extrapolation * seen
        lo[c] = low
        hi[c] = max(low, min(float(maximum.get(c, np.inf)), cap))
    return lo, hi


def _optimise(
    movable: list[str],
    curves: dict[str, Curve | None],
    rows: pd.DataFrame,
    lo: dict[str, float],
    hi: dict[str, float],
    budget: float,
    rules: BudgetRules,
    paid: list[str],
) -> dict[str, float]:
    """The spend per paid channel maximising the expected value (SLSQP), summing to
    ``budget`` exactly."""
    spend = {c: lo[c] for c in paid if c not in movable}
    free = budget - sum(spend.values())
    if not movable:
        return spend
    scale = max(budget, 1.0)
    low = np.array([lo[c] for c in movable]) / scale
    high = np.array([hi[c] for c in movable]) / scale
    weights = [(cell(rows, c, "clv") or 0.0, curves[c]) for c in movable]

    def value(x: np.ndarray) -> float:
        return -sum(
            v * expected_new(k.a, k.b, xi * scale, rules.days)
            for (v, k), xi in zip(weights, x, strict=True)
            if k is not None
        )

    start = _feasible(low, high, free / scale)
    res = minimize(
        value,
        start,
        method="SLSQP",
        bounds=list(zip(low, high, strict=True)),
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - free / scale}],
        options={"maxiter": 500, "ftol": 1e-12},
    )
    x = _feasible(low, high, free / scale, np.asarray(res.x))
    spend.update({c: float(xi * scale) for c, xi in zip(movable, x, strict=True)})
    return spend


def _feasible(
    low: np.ndarray, high: np.ndarray, total: float, x: np.ndarray | None = None
) -> np.ndarray:
    """``x`` (default: the lows) clipped to the bounds, the gap to ``total`` spread over the
    room each entry has left, in proportion to it: the sum is ``total`` exactly."""
    x = np.clip(low.copy() if x is None else x, low, high)
    gap = total - x.sum()
    room = (high - x) if gap > 0 else (x - low)
    if gap != 0 and room.sum() > 0:
        x = x + gap * room / room.sum()
    return np.clip(x, low, high)


def cell(rows: pd.DataFrame, row: str, column: str) -> float | None:
    """The number at ``rows.at[row, column]``, None when unknown."""
    value = cast(Any, rows.at[row, column])
    return None if value is None or pd.isna(value) else float(value)


def _marginal_cac(curve: Curve, spend: float, days: int) -> float | None:
    """Spend per extra new customer at ``spend``: 1 / (d new / d spend)."""
    weekly = spend * 7.0 / days
    if curve.b == 1.0:
        return 1.0 / curve.a
    if weekly <= 0:
        return None
    return 1.0 / (curve.b * curve.a * weekly ** (curve.b - 1.0))


def _fill(
    result: BudgetProposal,
    rows: pd.DataFrame,
    curves: dict[str, Curve | None],
    spend: dict[str, float],
    lo: dict[str, float],
    hi: dict[str, float],
    rules: BudgetRules,
) -> None:
    for c, s in spend.items():
        curve = curves[c]
        clv = cell(rows, c, "clv")
        rows.at[c, "proposed_spend"] = s
        rows.at[c, "min"], rows.at[c, "max"] = lo[c], hi[c]
        if curve is None or clv is None:
            rows.at[c, "curve"] = "held"
            rows.at[c, "why"] = (
                "no new customers in the weeks fitted" if curve is None else "value unknown"
            )
            continue
        rows.at[c, "curve"] = "fitted" if curve.fit is not None else "constant CAC"
        rows.at[c, "why"] = curve.why
        if curve.fit is not None:
            rows.at[c, "b"], rows.at[c, "b_se"] = curve.b, curve.fit.b_se
        rows.at[c, "cac"] = _marginal_cac(curve, s, rules.days)
        now = cell(rows, c, "current_spend") or 0.0
        for when, amount in (("current", now), ("proposed", s)):
            new = expected_new(curve.a, curve.b, amount, rules.days)
            rows.at[c, f"{when}_new"] = new
            rows.at[c, f"{when}_value"] = new * clv
    result.channels = rows.reset_index()


def _expected(
    result: BudgetProposal,
    econ: ChannelEconomics,
    weekly: pd.DataFrame,
    curves: dict[str, Curve | None],
    rows: pd.DataFrame,
    spend: dict[str, float],
    rules: BudgetRules,
) -> None:
    """The expected new customers and value, current and proposed, with the bootstrap
    interval of the proposed figures and of the gain."""
    used = [c for c in spend if curves[c] is not None and cell(rows, c, "clv") is not None]
    current = {c: cell(rows, c, "current_spend") or 0.0 for c in used}
    frame = result.channels.set_index("channel")
    point = {
        f"{w}_{m}": float(frame.loc[used, f"{w}_{m}"].astype(float).sum())
        for w in ("current", "proposed")
        for m in ("new", "value")
    }
    draws = _bootstrap(econ, weekly, curves, used, spend, current, rules)
    tail = (1.0 - rules.level) / 2.0 * 100.0
    out: dict[str, float | None] = dict(point)
    out["gain"] = point["proposed_value"] - point["current_value"]
    for name, values in draws.items():
        ok = values[np.isfinite(values)]
        low, high = np.percentile(ok, [tail, 100 - tail]) if len(ok) else (np.nan, np.nan)
        out[f"{name}_low"], out[f"{name}_high"] = float(low), float(high)
    result.expected = out


def _bootstrap(
    econ: ChannelEconomics,
    weekly: pd.DataFrame,
    curves: dict[str, Curve | None],
    used: list[str],
    spend: dict[str, float],
    current: dict[str, float],
    rules: BudgetRules,
) -> dict[str, np.ndarray]:
    """Per replicate: the proposed new customers, value and the gain, with each channel's
    curve (or CAC) and value per customer re-estimated on weeks drawn with replacement."""
    rng = np.random.default_rng(rules.random_state)
    history = {c: weekly[weekly["channel"] == c] for c in used}
    valued = {c: econ.weekly[(econ.weekly["channel"] == c) & (econ.weekly["valued_customers"] > 0)]
              for c in used}  # fmt: skip
    out = {k: np.full(rules.bootstrap, np.nan) for k in ("proposed_new", "proposed_value", "gain")}
    for i in range(rules.bootstrap):
        new = value = gain = 0.0
        for c in used:
            curve = _resampled_curve(rng, history[c], curves[c], rules)
            v = valued[c].iloc[rng.integers(0, len(valued[c]), len(valued[c]))]
            clv = float(v["value"].sum() / v["valued_customers"].sum())
            if curve is None:
                break
            n = expected_new(curve.a, curve.b, spend[c], rules.days)
            n0 = expected_new(curve.a, curve.b, current[c], rules.days)
            new, value, gain = new + n, value + n * clv, gain + (n - n0) * clv
        else:
            out["proposed_new"][i], out["proposed_value"][i], out["gain"][i] = new, value, gain
    return out


def _resampled_curve(
    rng: np.random.Generator, history: pd.DataFrame, curve: Curve | None, rules: BudgetRules
) -> Curve | None:
    """The channel's curve (the same kind: fitted or constant CAC) on resampled weeks."""
    s, n = history["spend"].to_numpy(), history["new_customers"].to_numpy()
    if curve is None:
        return None
    if curve.fit is None:
        pick = rng.integers(0, len(s), len(s))
        return Curve(n[pick].sum() / s[pick].sum(), 1.0, None, None) if s[pick].sum() > 0 else None
    from tenure.advisor.response import fit_power

    pick = rng.integers(0, len(s), len(s))
    fit = fit_power(s[pick], n[pick])
    if fit is None:
        return None
    b = float(np.clip(fit.b, 1e-3, 1.0))
    keep = s[pick] > 0
    return Curve(float(n[pick][keep].sum() / (s[pick][keep] ** b).sum()), b, fit, None)


def _assumptions(
    result: BudgetProposal, curves: dict[str, Curve | None], rules: BudgetRules
) -> list[str]:
    """The proposal's assumptions in plain words."""
    fitted = sorted(c for c, k in curves.items() if k is not None and k.fit is not None)
    constant = sorted(c for c, k in curves.items() if k is not None and k.fit is None)
    counts = {"days": "count", "weeks": "count", "resamples": "count"}
    out: list[str] = [
        Sentence(
            N_(
                "The budget is for the next %(days)s days, spread evenly over them; the "
                "current spend is the last %(weeks)s full weeks' spend scaled to %(days)s days."
            ),
            {"days": rules.days, "weeks": rules.recent_weeks},
            counts,
            formats={"days": "", "weeks": ""},
        ),
        Sentence(
            N_(
                "A new customer of a channel is worth what its customers have been worth (the "
                "12-month CLV, %(source)s), whatever the spend."
            ),
            {"source": result.clv_source or None},
        ),
        Sentence(
            N_(
                "No channel is proposed more than %(times)sx the highest weekly spend it has "
                "been seen at: beyond that, nothing in the history says what it would bring."
            ),
            {"times": rules.extrapolation},
            {"times": "number"},
        ),
        Sentence(
            N_(
                "Channels without recorded spend (organic, direct, e-mail) keep bringing what "
                "they bring and are given no budget."
            )
        ),
        Sentence(
            N_(
                "The %(level)s interval is of the expected figures (the curves and the value "
                "per customer re-estimated on %(resamples)s resamples of the weeks), not of "
                "the customers a period will actually bring, which vary around them."
            ),
            {"level": rules.level, "resamples": rules.bootstrap},
            counts | {"level": "share"},
            formats={"resamples": ""},
        ),
    ]
    if fitted:
        message = N_(
            "Diminishing returns measured from the store's own weekly spend for %(channels)s: "
            "new customers per week = a x spend^b, with 0 < b <= 1."
        )
        out.append(Sentence(message, {"channels": ", ".join(fitted)}))
    if constant:
        message = N_(
            "Too little variation in the spend history of %(channels)s to measure diminishing "
            "returns: a constant CAC (spend / new customers over the last %(weeks)s weeks) is "
            "assumed, so each extra unit of spend is taken to bring as much as the average "
            "one did."
        )
        params = {"channels": ", ".join(constant), "weeks": rules.fit_weeks}
        out.append(Sentence(message, params, counts, formats={"weeks": ""}))
    return out
