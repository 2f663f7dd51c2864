"""A Gauss hypergeometric function 2F1(a, b; c; z) that stays finite for large parameters.

``scipy.special.hyp2f1`` returns ``inf`` (or loses all digits) once ``a``, ``b`` and ``c``
grow past a few thousand, which is where BG/NBD and Pareto/NBD put them for a customer
with thousands of repeat purchases (docs/models.md, "Numerics").

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
ratio tends to ``z``, so the tail is at most ``term * rho / (1 - rho)``). For moderate
parameters (all below 30) with ``z > 0.9``, where the series needs thousands of terms,
scipy's evaluator (the ``1 - z`` connection formulas) is used: it agrees with a 60-digit
series to ~1e-13 there, except when ``c - a - b`` is close to an integer (errors up to 1e-6
seen, NaN at z > 0.998). There the series is summed after all while it needs at most
``_MAX_TERMS`` terms (z < 0.9992); beyond, scipy is evaluated at b +- 1.5e-3, b +- 3e-3 and
extrapolated to b (error O(h^4), ~1e-10 relative). Large parameters with z > 0.9992 are
left to scipy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

FloatArray = NDArray[np.float64]

_EPS = 1e-17
_MAX_TERMS = 50_000
_CHECK_EVERY = 4
_RESCALE = 1e150
_LOG_RESCALE = float(np.log(_RESCALE))
#: Parameters up to this size are left to scipy when z is close to 1.
_SCIPY_SAFE = 30.0
_NEAR_ONE = 0.9
#: |c - a - b - nearest integer| below which scipy is not trusted near z = 1.
_AWKWARD = 1e-3
#: Shifts of b for the smoothed scipy evaluation (h, 2h).
_SHIFTS = (1.5e-3, 3e-3)


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
    valid = np.isfinite(pa + pb + pc + pz) & ((pc > 0) | (pc != np.floor(pc))) & (pz < 1)
    pa, pb, pc, pz = (np.where(valid, v, 0.5) for v in (pa, pb, pc, pz))
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
    log_abs, sign = _evaluate(pa, pb, pc, pz, valid)
    return (log_abs + log_pref).reshape(shape), sign.reshape(shape)


def _evaluate(
    pa: FloatArray, pb: FloatArray, pc: FloatArray, pz: FloatArray, valid: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """(log|F|, sign) for 0 <= z < 1: scipy, smoothed scipy or the series (module docstring)."""
    params = (pa, pb, pc, pz)
    log_abs = np.full(pa.shape, np.nan)
    sign = np.full(pa.shape, np.nan)
    big = np.maximum(np.abs(pa), np.maximum(np.abs(pb), np.abs(pc)))
    gap = pc - pa - pb
    small = valid & (big <= _SCIPY_SAFE)
    slow = valid & (pz > 1.0 - 40.0 / _MAX_TERMS)  # the series would need > _MAX_TERMS terms
    first_scipy = small & (pz > _NEAR_ONE) & (np.abs(gap - np.round(gap)) >= _AWKWARD)
    _from_scipy(first_scipy, params, log_abs, sign)
    pending = valid & ~(first_scipy & np.isfinite(log_abs))
    smoothed = pending & small & slow
    _from_scipy(smoothed, params, log_abs, sign, smooth=True)
    by_series = pending & ~smoothed
    s_log, s_sign, done = _log_series(pa[by_series], pb[by_series], pc[by_series], pz[by_series])
    log_abs[by_series], sign[by_series] = s_log, s_sign
    # Series that did not settle within _MAX_TERMS are left to scipy after all.
    late = np.zeros_like(valid)
    late[np.flatnonzero(by_series)[~done]] = True
    _from_scipy(late & ~first_scipy, params, log_abs, sign)
    return log_abs, sign


def _from_scipy(
    where: NDArray[np.bool_],
    params: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    log_abs: FloatArray,
    sign: FloatArray,
    *,
    smooth: bool = False,
) -> None:
    """Fill ``log_abs`` and ``sign`` from scipy.special.hyp2f1 where asked (NaN if it fails).

    ``smooth``: F is analytic in ``b`` but scipy's evaluation is not where ``c - a - b`` is an
    integer, so evaluate at ``b +- h``, ``b +- 2h`` and extrapolate,
    ``F(b) = (4 S(h) - S(2h)) / 6 + O(h^4)`` with ``S(h) = F(b+h) + F(b-h)``.
    """
    if not where.any():
        return
    a, b, c, z = (p[where] for p in params)
    if smooth:
        pair = [special.hyp2f1(a, b + d, c, z) + special.hyp2f1(a, b - d, c, z) for d in _SHIFTS]
        value = (4.0 * pair[0] - pair[1]) / 6.0
    else:
        value = special.hyp2f1(a, b, c, z)
    with np.errstate(divide="ignore"):
        log_abs[where] = np.where(np.isfinite(value) & (value != 0), np.log(np.abs(value)), np.nan)
    sign[where] = np.sign(value)


def _log_series(
    a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Sum ``sum_n (a)_n (b)_n / ((c)_n n!) z^n``; returns log|sum|, sign and done.

    ``term`` and ``acc`` (last term, running sum) are kept in units of ``exp(scale)``: both
    are divided by 1e150 whenever a term passes 1e150, so neither overflows. Rescaling and
    the stopping rule are checked every ``_CHECK_EVERY`` terms (a term grows by at most a
    factor ~1e40 in between for parameters up to 1e6, far from the float limit).
    """
    n_items = len(a)
    log_abs = np.full(n_items, np.nan)
    sign = np.full(n_items, np.nan)
    done = np.zeros(n_items, dtype=bool)
    idx = np.arange(n_items)
    term = np.ones(n_items)
    acc = np.ones(n_items)
    scale = np.zeros(n_items)
    # Past this index no parameter changes sign any more.
    settled = np.maximum(np.maximum(-a, -b), np.maximum(-c, 0.0)) + 1.0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        for n in range(_MAX_TERMS):
            if len(idx) == 0:
                break
            ratio = (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z
            term = term * ratio
            acc = acc + term
            if n % _CHECK_EVERY:
                continue
            big = np.abs(term) > _RESCALE
            if big.any():
                term, acc = np.where(big, term / _RESCALE, term), np.where(big, acc / _RESCALE, acc)
                scale = np.where(big, scale + _LOG_RESCALE, scale)
            rho = np.maximum(np.abs(ratio), z)
            tail = np.abs(term) * rho / np.maximum(1.0 - rho, 1e-300)
            finished = (term == 0) | ((n >= settled) & (rho < 1) & (tail <= _EPS * np.abs(acc)))
            if not finished.any():
                continue
            hit = idx[finished]
            log_abs[hit] = scale[finished] + np.log(np.abs(acc[finished]))
            sign[hit] = np.sign(acc[finished])
            done[hit] = True
            keep = ~finished
            idx, a, b, c, z = idx[keep], a[keep], b[keep], c[keep], z[keep]
            term, acc, scale, settled = term[keep], acc[keep], scale[keep], settled[keep]
    return log_abs, sign, done
