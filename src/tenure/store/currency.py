"""The store's reporting currency, and how many decimals each currency's amounts have.

The reporting currency is resolved in one place, :func:`reporting_currency`, strongest first
(docs/metrics.md, "Currency"):

1. the ``reporting_currency`` setting (``tenure.toml``, ``TENURE_REPORTING_CURRENCY``);
2. the store fact ``reporting_currency`` (table ``store_meta``): recorded by the first import
   of orders (:func:`settle_reporting_currency`: the single currency of the stored orders;
   with several, the currency of the most orders) or set by
   ``tenure store set reporting-currency`` (:func:`set_reporting_currency`);
3. ``USD``, for a store that has neither (no orders imported yet).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from tenure.errors import ConfigError
from tenure.store.store import Store

#: The store fact (``store_meta.name``) holding the store's own currency.
META_KEY = "reporting_currency"
#: The reporting currency of a store with no setting and no recorded currency.
DEFAULT_CURRENCY = "USD"
#: What records the currency at the first import of orders (``store_meta.set_by``).
FIRST_IMPORT = "first import"

#: Decimals of the minor unit (ISO 4217) of currencies that do not have 2; any other has 2.
MINOR_UNITS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def minor_unit(code: str) -> int:
    """Decimals of ``code``'s minor unit: 2 for GBP, USD, EUR; 0 for JPY; 3 for KWD."""
    return MINOR_UNITS.get(code.upper(), 2)


#: The float sums' noise is dropped at this many decimals before rounding to the minor unit.
_NOISE = Decimal("1e-6")


def round_money(value: object, currency: str) -> Decimal | None:
    """``value`` as a decimal rounded (half up) to ``currency``'s minor unit, or None when it
    is unknown (None or NaN). A float goes through its shortest text (``repr``) and 6
    decimals (the float sums' noise is far below), so 1071805.4699999692 becomes
    Decimal('1071805.47') and 1689.4949999999997 Decimal('1689.50'): the decimal figure."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(repr(float(value)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not number.is_finite():
        return None
    # first drop the float's noise (1689.4949999999997 is 1689.495), then round half up
    clean = number.quantize(_NOISE, rounding=ROUND_HALF_EVEN) if number.adjusted() < 12 else number
    return clean.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ReportingCurrency:
    """The reporting currency and where it comes from."""

    code: str
    #: ``setting`` (tenure.toml / TENURE_REPORTING_CURRENCY), ``store`` (store_meta) or
    #: ``default`` (neither: USD)
    source: str
    #: what recorded the store fact (``first import``, ``tenure store set``), if from the store
    set_by: str | None = None

    def describe(self) -> str:
        """'GBP (recorded by the first import)', 'EUR (setting reporting_currency)'."""
        if self.source == "setting":
            return f"{self.code} (setting reporting_currency, wins over the store's)"
        if self.source == "store":
            return f"{self.code} (recorded in the store by {self.set_by or 'unknown'})"
        return f"{self.code} (default: no currency recorded yet)"


def resolve_reporting_currency(store: Store) -> ReportingCurrency:
    """The store's reporting currency: the setting, else the store fact, else USD."""
    if store.settings.reporting_currency is not None:
        return ReportingCurrency(store.settings.reporting_currency, "setting")
    t = store.table("store_meta")
    rows = t.filter(t.name == META_KEY).select("value", "set_by").to_pyarrow().to_pylist()
    if rows and rows[-1]["value"]:
        return ReportingCurrency(str(rows[-1]["value"]).upper(), "store", rows[-1]["set_by"])
    return ReportingCurrency(DEFAULT_CURRENCY, "default")


def reporting_currency(store: Store) -> str:
    """The ISO 4217 code every amount of ``store`` is reported in (see the module)."""
    return resolve_reporting_currency(store).code


def _check_code(code: str) -> str:
    value = code.strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise ConfigError(
            f"The reporting currency must be a 3-letter ISO 4217 code. Got {code!r}.",
            hint="For example GBP, EUR, USD or JPY.",
        )
    return value


def set_reporting_currency(store: Store, code: str, *, by: str = "tenure store set") -> str:
    """Record ``code`` as the store's reporting currency (the setting still wins)."""
    value = _check_code(code)
    store.set_meta(META_KEY, value, by=by)
    return value


def order_currencies(store: Store) -> dict[str, int]:
    """Stored orders per currency (upper-cased), most first."""
    o = store.table("orders")
    per = o.group_by(cur=o.currency.upper()).agg(n=o.count()).to_pyarrow().to_pylist()
    pairs = [(str(r["cur"]), int(r["n"])) for r in per if r["cur"]]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


def settle_reporting_currency(store: Store) -> str | None:
    """After an import of orders: record the store's currency if nothing decided it yet.

    Nothing happens when the setting is given or the store already records a currency.
    Otherwise the single currency of the stored orders is recorded; with several, the
    currency of the most orders (ties: alphabetical), since amounts in different
    currencies cannot be compared before conversion. Returns a sentence for the import
    summary, or None when nothing was recorded."""
    if store.settings.reporting_currency is not None or store.meta(META_KEY):
        return None
    counts = order_currencies(store)
    if not counts:
        return None
    code = next(iter(counts))
    store.set_meta(META_KEY, code, by=FIRST_IMPORT)
    if len(counts) == 1:
        return f"Reporting currency: {code} (the currency of every order), recorded in the store."
    others = ", ".join(f"{n:,} in {c}" for c, n in counts.items() if c != code)
    return (
        f"Reporting currency: {code} (the currency of the most orders, {counts[code]:,}), "
        f"recorded in the store; the other orders ({others}) need fx_rates to be converted, "
        f"or set another with `tenure store set reporting-currency CODE`."
    )
