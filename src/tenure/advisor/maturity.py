"""The maturity advisor (``tenure advise``, docs/advisor.md "The maturity stage and the effort
split"): the store's stage, the share of effort it should put on retention, the share it
does, its CLV:CAC health and short advice with the figures behind it.

The signals are :mod:`tenure.advisor.signals`; the stage rule and its thresholds
:mod:`tenure.advisor.stage`; the split :mod:`tenure.advisor.effort`; the health warnings
:mod:`tenure.advisor.health`; the sentences :mod:`tenure.advisor.advice`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from tenure.advisor.advice import Advice, advise
from tenure.advisor.effort import EffortSplit, effort_split
from tenure.advisor.health import Health, health
from tenure.advisor.signals import StoreSignals, read_signals
from tenure.advisor.stage import SOURCE, STAGES, Requirement, Thresholds, classify, gaps
from tenure.analytics.base import store_end
from tenure.store import Store, reporting_currency


@dataclass(frozen=True)
class MaturityAdvice:
    """What ``tenure advise`` shows; :meth:`to_dict` is its JSON (docs/advisor.md)."""

    as_of: date
    currency: str
    window_days: int
    source: str
    stage: str
    stage_index: int
    recommended_retention_share: float
    next_stage: str | None
    next_stage_needs: list[Requirement]
    signals: StoreSignals
    split: EffortSplit
    health: Health
    advice: list[Advice] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values: dates as YYYY-MM-DD, unknown numbers as None."""
        out = asdict(self)
        out["next_stage_needs"] = [{**asdict(r), "met": r.met} for r in self.next_stage_needs]
        return _plain(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


def maturity(store: Store, *, as_of: date | None = None) -> MaturityAdvice:
    """The maturity advice of ``store`` as of ``as_of`` (default: the store's as-of day)."""
    settings = store.settings
    thresholds = Thresholds.from_settings(settings)
    end = as_of if as_of is not None else store_end(store)
    window = settings.maturity_window_days
    signals = read_signals(store, end, window)
    index = classify(signals.signals(), thresholds)
    split = effort_split(store, end, window, settings.message_costs)
    warnings = health(
        store,
        end,
        signals.age_days,
        settings.maturity_alarm_ratio,
        settings.maturity_alarm_after_days,
    )
    following = index + 1 if index + 1 < len(STAGES) else None
    needs = [] if following is None else gaps(following, signals.signals(), thresholds)
    advice = advise(
        index,
        needs,
        signals,
        split,
        warnings,
        thresholds,
        settings.maturity_alarm_after_days,
        settings.maturity_alarm_ratio,
    )
    return MaturityAdvice(
        as_of=end,
        currency=reporting_currency(store),
        window_days=window,
        source=SOURCE,
        stage=STAGES[index],
        stage_index=index,
        recommended_retention_share=thresholds.retention_shares[index],
        next_stage=None if following is None else STAGES[following],
        next_stage_needs=needs,
        signals=signals,
        split=split,
        health=warnings,
        advice=advice,
    )
