"""What the money figures of a store leave out, and why: the "money warnings".

Every command that sums money (kpis, channels, rfm, cohorts, status, customers show, predict,
refresh) reports them, from one place (docs/metrics.md, "Money warnings"):

* orders in a currency that cannot be converted to the reporting currency (no ``fx_rates``
  rate on or before their day): their revenue and margin are null, left out of every sum;
* orders without a total (null revenue too);
* marketing spend that cannot be converted, or no spend at all (CAC and payback are blank);
* values an import flagged as implausible (table ``flagged_values``): stored and summed, but
  worth a look.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from tenure.analytics.base import VOID_STATUSES
from tenure.store import Store, reporting_currency

I64 = "int64"
#: How the warnings name the orders (or spend rows) stored without a currency.
NO_CURRENCY = "no currency"


@dataclass(frozen=True)
class MoneyReport:
    """The counts behind the money warnings of a store (up to a day)."""

    currency: str
    #: orders (not void) in each currency that has no rate on or before their day
    unconverted_orders: dict[str, int] = field(default_factory=dict)
    #: orders (not void) without a total
    orders_without_total: int = 0
    orders: int = 0
    #: marketing_spend rows in each currency that has no rate on or before their day
    unconverted_spend: dict[str, int] = field(default_factory=dict)
    spend_rows: int = 0
    #: (entity, column) -> values flagged as implausible at import (table flagged_values)
    flagged: dict[tuple[str, str], int] = field(default_factory=dict)

    def messages(self, *, spend: bool = False) -> list[str]:
        """One sentence per problem, each saying what to do; ``spend``: also the spend ones
        (commands that show CAC)."""
        out = []
        if self.unconverted_orders:
            out.append(self._unconverted())
        if self.orders_without_total:
            out.append(
                f"{self.orders_without_total:,} orders have no total: their revenue is "
                "unknown (blank), left out of every sum. Import them again with a total."
            )
        if spend:
            out += self._spend_messages()
        out += [
            f"{_rows(entity, n)} an implausible {column} (flagged at import, kept in the "
            "sums): see table flagged_values for the file and line."
            for (entity, column), n in self.flagged.items()
        ]
        return out

    def _unconverted(self) -> str:
        parts = [f"{n:,} in {cur}" for cur, n in self.unconverted_orders.items()]
        codes = ", ".join(self.unconverted_orders)
        first = next(iter(self.unconverted_orders))
        return (
            f"{sum(self.unconverted_orders.values()):,} of {self.orders:,} orders could not be "
            f"converted to {self.currency} ({', '.join(parts)}): no fx_rates rate on or before "
            "their day. Their revenue and margin are blank and left out of every money figure. "
            f"Import fx_rates for {codes} (`tenure import fx_rates FILE`), or report in their "
            f"currency (`tenure store set reporting-currency {first}` or "
            f"TENURE_REPORTING_CURRENCY={first})."
        )

    def _spend_messages(self) -> list[str]:
        if not self.spend_rows:
            return [
                "No marketing spend recorded: spend, CAC, CLV:CAC and payback are blank. "
                "Import it with `tenure import spend FILE`."
            ]
        if not self.unconverted_spend:
            return []
        parts = ", ".join(f"{n:,} in {cur}" for cur, n in self.unconverted_spend.items())
        return [
            f"{sum(self.unconverted_spend.values()):,} marketing spend rows could not be "
            f"converted to {self.currency} ({parts}): left out of spend and CAC. Import "
            "fx_rates for their currencies (`tenure import fx_rates FILE`)."
        ]


def _rows(entity: str, n: int) -> str:
    """'2 orders have', '1 order has', '3 spend rows have'."""
    plural = "spend rows" if entity == "spend" else entity
    if n == 1:
        return f"1 {plural.removesuffix('s')} has"
    return f"{n:,} {plural} have"


def _first_rates(store: Store) -> ir.Table:
    fx = store.table("fx_rates")
    return fx.group_by(f_cur=fx.currency.upper()).agg(f_first=fx.date.min())


def _unconverted(
    rows: ir.Table, day: ir.DateValue, first: ir.Table, code: str
) -> tuple[ir.Table, ir.BooleanValue]:
    t = rows.mutate(cur=rows.currency.upper(), _day=day)
    j = t.left_join(first, t.cur == first.f_cur)
    # an order without a currency cannot be converted either (its revenue is null)
    foreign = j.cur.isnull() | (j.cur != code)
    return j, foreign & (j.f_first.isnull() | (j._day < j.f_first))


def _order_counts(store: Store, code: str, as_of: date | None) -> list[dict[str, Any]]:
    o = store.table("orders")
    status = ibis.coalesce(o.status.lower(), ibis.literal(""))
    o = o.filter(~status.isin(VOID_STATUSES))
    if as_of is not None:
        o = o.filter(o.ordered_at.date() <= ibis.literal(as_of))
    j, missing = _unconverted(o, o.ordered_at.date(), _first_rates(store), code)
    per = j.group_by("cur").agg(
        n=j.count(),
        unconverted=missing.cast(I64).sum(),
        no_total=j.total.isnull().cast(I64).sum(),
    )
    return per.to_pyarrow().to_pylist()


def _spend_counts(store: Store, code: str, as_of: date | None) -> list[dict[str, Any]]:
    s = store.table("marketing_spend")
    if as_of is not None:
        s = s.filter(s.date <= ibis.literal(as_of))
    j, missing = _unconverted(s, s.date, _first_rates(store), code)
    per = j.group_by("cur").agg(n=j.count(), unconverted=missing.cast(I64).sum())
    return per.to_pyarrow().to_pylist()


def flagged_counts(store: Store) -> dict[tuple[str, str], int]:
    """(entity, column) -> values imports flagged as implausible (table ``flagged_values``),
    most first."""
    t = store.table("flagged_values")
    rows = t.group_by(["entity", "column"]).agg(n=t.count()).to_pyarrow().to_pylist()
    pairs = [((str(r["entity"]), str(r["column"])), int(r["n"])) for r in rows]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


def _by_currency(rows: list[dict[str, Any]], column: str) -> dict[str, int]:
    pairs = [(str(r["cur"] or NO_CURRENCY), int(r[column])) for r in rows if r[column]]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


def money_report(store: Store, *, as_of: date | None = None) -> MoneyReport:
    """The counts behind the money warnings, for orders and spend up to ``as_of`` (default:
    all) and every flagged value."""
    code = reporting_currency(store)
    orders = _order_counts(store, code, as_of)
    spend = _spend_counts(store, code, as_of)
    return MoneyReport(
        currency=code,
        unconverted_orders=_by_currency(orders, "unconverted"),
        orders_without_total=sum(int(r["no_total"]) for r in orders),
        orders=sum(int(r["n"]) for r in orders),
        unconverted_spend=_by_currency(spend, "unconverted"),
        spend_rows=sum(int(r["n"]) for r in spend),
        flagged=flagged_counts(store),
    )


def money_warnings(store: Store, *, as_of: date | None = None, spend: bool = False) -> list[str]:
    """The money warnings of ``store`` (see the module), one sentence each; ``spend``: also
    those about marketing spend (commands that show CAC). Empty when every figure is whole."""
    return money_report(store, as_of=as_of).messages(spend=spend)
