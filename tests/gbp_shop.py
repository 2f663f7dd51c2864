"""A generated one-year GBP online shop, like the UK gift retailer of issue 11.

Invoice lines in the layout of the ``online_retail`` preset (UCI "Online Retail": InvoiceNo,
StockCode, Description, Quantity, InvoiceDate ``M/D/YYYY H:MM``, UnitPrice in GBP, CustomerID,
Country), refunds as invoices whose number starts with ``C`` (negative quantities). Buyers
follow an NBD with no dropout: each customer's first purchase falls uniformly in the year, and
from then on they buy as a Poisson process whose rate is gamma distributed across customers
(frequent repeat buyers, none of whom visibly stops). Seeded: same seed, same file.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

HEADER = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
#: The shop's year: 52 weeks from the first day.
FIRST_DAY = date(2024, 12, 2)
DAYS = 364
#: Gift-shop products with GBP prices in pence.
CATALOGUE = [
    ("85123A", "WHITE HANGING HEART T-LIGHT HOLDER", 255),
    ("71053", "WHITE METAL LANTERN", 339),
    ("84406B", "CREAM CUPID HEARTS COAT HANGER", 275),
    ("22633", "HAND WARMER UNION JACK", 185),
    ("22752", "SET 7 BABUSHKA NESTING BOXES", 765),
    ("21730", "GLASS STAR FROSTED T-LIGHT HOLDER", 425),
    ("22745", "POPPY'S PLAYHOUSE BEDROOM", 210),
    ("22310", "IVORY KNITTED MUG COSY", 165),
    ("84969", "BOX OF 6 ASSORTED COLOUR TEASPOONS", 425),
    ("22623", "BOX OF VINTAGE JIGSAW BLOCKS", 495),
    ("21754", "HOME BUILDING BLOCK WORD", 595),
    ("84879", "ASSORTED COLOUR BIRD ORNAMENT", 169),
    ("22960", "JAM MAKING SET WITH JARS", 425),
    ("21212", "PACK OF 72 RETROSPOT CAKE CASES", 55),
    ("85099B", "JUMBO BAG RED RETROSPOT", 195),
    ("47566", "PARTY BUNTING", 465),
    ("20725", "LUNCH BAG RED RETROSPOT", 165),
    ("22086", "PAPER CHAIN KIT 50'S CHRISTMAS", 295),
    ("84077", "WORLD WAR 2 GLIDERS ASSTD DESIGNS", 29),
    ("22197", "SMALL POPCORN HOLDER", 85),
]


@dataclass(frozen=True)
class Shop:
    """The file written and the truths the tests compare with."""

    path: Path
    customers: int
    invoices: int
    refunds: int
    lines: int
    #: Sum of quantity x unit price over every line (refunds negative), in GBP.
    total: Decimal
    first_day: date
    last_day: date


def _stamp(at: datetime) -> str:
    """The preset's layout: month/day/year hour:minute, without leading zeros."""
    return f"{at.month}/{at.day}/{at.year} {at.hour}:{at.minute:02d}"


def _shop_time(day: float, rng: np.random.Generator) -> datetime:
    """A time during opening hours (8:00-17:59) on the day holding ``day``."""
    start = datetime.combine(FIRST_DAY, datetime.min.time()) + timedelta(days=int(day))
    return start + timedelta(hours=int(rng.integers(8, 18)), minutes=int(rng.integers(0, 60)))


def purchase_days(
    customers: int, rng: np.random.Generator, r: float, alpha: float
) -> list[np.ndarray]:
    """Each customer's purchase days (fractional, from 0 to DAYS): a first purchase uniform in
    the year, then a Poisson process at a gamma(r, alpha) rate per year, never dropping out."""
    births = rng.uniform(0, DAYS, customers)
    rates = rng.gamma(r, 1.0 / alpha, customers) / 365.0
    out = []
    for birth, rate in zip(births, rates, strict=True):
        count = rng.poisson(rate * (DAYS - birth))
        later = np.sort(rng.uniform(birth, DAYS, count))
        out.append(np.concatenate([[birth], later]))
    return out


def write_gbp_shop(
    path: Path,
    *,
    customers: int = 3000,
    seed: int = 11,
    r: float = 1.4,
    alpha: float = 0.12,
    refund_share: float = 0.03,
) -> Shop:
    """Write the shop's invoice lines to ``path`` (CSV) and return what it holds.

    The defaults give about 20,000 invoices: a mean rate of r / alpha = 11.7 purchases a year
    over about half a year of tenure each."""
    rng = np.random.default_rng(seed)
    invoices: list[tuple[datetime, str, list[tuple[int, int]], bool]] = []
    end = FIRST_DAY + timedelta(days=DAYS)
    for index, days in enumerate(purchase_days(customers, rng, r, alpha)):
        customer = str(12346 + index)
        for day in days:
            at = _shop_time(day, rng)
            picks = rng.choice(len(CATALOGUE), size=int(rng.integers(1, 5)), replace=False)
            lines = [(int(p), int(rng.choice([1, 2, 3, 4, 6, 12]))) for p in picks]
            invoices.append((at, customer, lines, False))
            back = at + timedelta(days=int(rng.integers(1, 15)))
            if rng.random() < refund_share and back.date() < end:
                invoices.append((back, customer, [(lines[0][0], -lines[0][1])], True))
    invoices.sort(key=lambda inv: (inv[0], inv[1], inv[3]))
    rows: list[list[str]] = []
    total = Decimal(0)
    for number, (at, customer, lines, refund) in enumerate(invoices, start=536365):
        for product, qty in lines:
            code, title, pence = CATALOGUE[product]
            invoice = f"C{number}" if refund else str(number)
            rows.append([invoice, code, title, str(qty), _stamp(at), _gbp(pence), customer])
            total += Decimal(qty * pence) / 100
    refunds = sum(1 for inv in invoices if inv[3])
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows([*row, "United Kingdom"] for row in rows)
    return Shop(
        path=path,
        customers=customers,
        invoices=len(invoices) - refunds,
        refunds=refunds,
        lines=len(rows),
        total=total,
        first_day=FIRST_DAY,
        last_day=FIRST_DAY + timedelta(days=DAYS - 1),
    )


def _gbp(pence: int) -> str:
    return f"{pence // 100}.{pence % 100:02d}"
