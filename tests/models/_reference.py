"""A 60-digit reference for 2F1 (mpmath is not a dependency): the plain power series in
``decimal``, summed until a term is below 1e-40 of the sum after the terms start to fall."""

from __future__ import annotations

from decimal import Decimal, localcontext


def hyp2f1_reference(a: float, b: float, c: float, z: float, max_terms: int = 2_000_000) -> float:
    """2F1(a, b; c; z) for 0 <= z < 1 from its series, in 60-digit decimal arithmetic."""
    with localcontext() as ctx:
        ctx.prec = 60
        da, db, dc, dz = Decimal(a), Decimal(b), Decimal(c), Decimal(z)
        term = Decimal(1)
        total = Decimal(1)
        for n in range(max_terms):
            term = term * (da + n) * (db + n) / ((dc + n) * (n + 1)) * dz
            total += term
            small = abs(term) < abs(total) * Decimal("1e-40")
            if term == 0 or (n > abs(a) + abs(b) + 10 and small):
                return float(total)
        raise RuntimeError("reference series did not converge")
