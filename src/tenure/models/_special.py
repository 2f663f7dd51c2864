"""A Gauss hypergeometric function 2F1(a, b; c; z) that stays finite for large parameters.

``scipy.special.hyp2f1`` returns ``inf`` (or loses all digits) once ``a``, ``b`` and ``c``
grow past a few thousand, which is where BG/NBD and Pareto/NBD put them for a customer
with thousands of repeat purchases (ENGINE_NOTES.md, "BG/NBD numerics").

Method, for real ``a``, ``b``, ``c`` (not 0, -1, -2, ...) and ``z < 1``:

1. ``z < 0`` is mapped into ``[0, 1)`` by a Pfaff transformation,
   ``F(a, b; c; z) = (1 - z)^(-a) F(a, c - b; c; z / (z - 1))`` (or the one with the roles
   of ``a`` and ``b`` swapped).
2. On ``[0, 1)`` the power series is summed either as it stands or after Euler's
   transformation, ``F(a, b; c; z) = (1 - z)^(c - a - b) F(c - a, c - b; c; z)``, whichever
   has the smaller upper parameters (so fewer terms rise before they fall).
3. The series is summed with its terms' logarithms tracked and the sum rescaled as it grows,
   so neither the terms nor the prefactor overflow; the result comes back as
   ``(log|F|, sign)`` and :func:`hyp2f1` exponentiates it (``inf`` only if ``F`` itself
   exceeds the float range).

Terms are added until the rest of the series is provably below ``1e-17`` of the sum (the term
ratio tends to ``z``, so the tail is at most ``term * rho / (1 - rho)``). Where that would
take more than ``_MAX_TERMS`` terms (``z`` within ~1e-4 of 1), or for moderate parameters
with ``z > 0.9``, scipy's own evaluator (which uses the ``1 - z`` connection formulas) is
used instead: it is accurate there. Tests compare against a 60-digit series.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

FloatArray = NDArray[np.float64]

_EPS = 1e-17
_MAX_TERMS = 200_000
#: Parameters up to this size are left to scipy when z is close to 1.
_SCIPY_SAFE = 30.0
_NEAR_ONE = 0.9


def hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """2F1(a, b; c; z) for real parameters, ``c`` not 0, -1, -2, ..., and ``z < 1``."""
    log_abs, sign = log_abs_hyp2f1(a, b, c, z)
    with np.errstate(over="ignore"):
        return np.asarray(sign * np.exp(log_abs), dtype=np.float64)


def log_hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """log 2F1(a, b; c; z) where the function is positive (NaN where it is not)."""
    log_abs, sign = log_abs_hyp2f1(a, b, c, z)
    return np.where(sign > 0, log_abs, np.nan)


def log_abs_hyp2f1(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """``(log|F|, sign(F))`` of 2F1(a, b; c; z), elementwise with broadcasting."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    shape = arrays[0].shape
    pa, pb, pc, pz = (np.ravel(v).copy() for v in arrays)
    log_abs = np.full(pa.shape, np.nan)
    sign = np.full(pa.shape, np.nan)
    valid = np.isfinite(pa + pb + pc + pz) & ((pc > 0) | (pc != np.floor(pc))) & (pz < 1)
    # 1. Pfaff: z < 0  ->  w = z / (z - 1) in (0, 1), prefactor (1 - z)^(-a or -b).
    neg = valid & (pz < 0)
    swap = neg & (np.abs(pc - pa) + np.abs(pb) < np.abs(pa) + np.abs(pc - pb))
    first = np.where(swap, pb, pa)
    other = np.where(swap, pa, pb)
    log_pref = np.where(neg, -first * np.log1p(-np.minimum(pz, 0.0)), 0.0)
    pa, pb = np.where(neg, first, pa), np.where(neg, pc - other, pb)
    pz = np.where(neg, pz / (pz - 1.0), pz)
    # 2. Euler when it makes the upper parameters smaller.
    euler = valid & (np.abs(pc - pa) + np.abs(pc - pb) < np.abs(pa) + np.abs(pb))
    log_pref += np.where(euler, (pc - pa - pb) * np.log1p(-pz), 0.0)
    pa, pb = np.where(euler, pc - pa, pa), np.where(euler, pc - pb, pb)
    # 3. Moderate parameters near z = 1: scipy's connection formulas.
    big = np.maximum(np.abs(pa), np.maximum(np.abs(pb), np.abs(pc)))
    by_scipy = valid & (pz > _NEAR_ONE) & (big <= _SCIPY_SAFE)
    by_series = valid & ~by_scipy
    s_log, s_sign, done = _log_series(pa[by_series], pb[by_series], pc[by_series], pz[by_series])
    log_abs[by_series], sign[by_series] = s_log, s_sign
    # Series that did not settle within _MAX_TERMS are left to scipy as well.
    undone = np.flatnonzero(by_series)[~done]
    by_scipy[undone] = True
    if by_scipy.any():
        value = special.hyp2f1(pa[by_scipy], pb[by_scipy], pc[by_scipy], pz[by_scipy])
        with np.errstate(divide="ignore"):
            log_abs[by_scipy] = np.where(np.isfinite(value), np.log(np.abs(value)), np.nan)
        sign[by_scipy] = np.sign(value)
    log_abs = log_abs + log_pref
    return log_abs.reshape(shape), sign.reshape(shape)


def _log_series(
    a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Sum ``sum_n (a)_n (b)_n / ((c)_n n!) z^n`` in log space; returns log|sum|, sign, done.

    ``acc * exp(scale)`` is the running sum and ``term_sign * exp(log_term)`` the last term.
    """
    n_items = len(a)
    log_abs = np.full(n_items, np.nan)
    sign = np.full(n_items, np.nan)
    done = np.zeros(n_items, dtype=bool)
    idx = np.arange(n_items)
    log_term = np.zeros(n_items)
    term_sign = np.ones(n_items)
    scale = np.zeros(n_items)
    acc = np.ones(n_items)
    # Past this index no upper parameter changes sign any more.
    settled = np.maximum(np.maximum(-a, -b), np.maximum(-c, 0.0)) + 1.0
    for n in range(_MAX_TERMS):
        if len(idx) == 0:
            break
        ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z
        with np.errstate(divide="ignore"):
            log_term = log_term + np.log(np.abs(ratio))
        term_sign = term_sign * np.sign(ratio)
        rescale = log_term > scale + 50.0
        acc = np.where(rescale, acc * np.exp(np.minimum(scale - log_term, 0.0)), acc)
        scale = np.where(rescale, log_term, scale)
        term = term_sign * np.exp(log_term - scale)
        acc = acc + term
        rho = np.maximum(np.abs(ratio), z)
        tail = np.abs(term) * rho / np.maximum(1.0 - rho, 1e-300)
        finished = (ratio == 0) | ((n >= settled) & (rho < 1) & (tail <= _EPS * np.abs(acc)))
        if finished.any():
            hit = idx[finished]
            with np.errstate(divide="ignore"):
                log_abs[hit] = scale[finished] + np.log(np.abs(acc[finished]))
            sign[hit] = np.sign(acc[finished])
            done[hit] = True
            keep = ~finished
            idx, a, b, c, z = idx[keep], a[keep], b[keep], c[keep], z[keep]
            log_term, term_sign, scale, acc = (
                log_term[keep],
                term_sign[keep],
                scale[keep],
                acc[keep],
            )
            settled = settled[keep]
    return log_abs, sign, done
