"""``2F1(1, p; c; z)`` and its partial derivatives, for the Pareto/NBD likelihood.

The Pareto/NBD likelihood (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model
and related expressions", eqs. 22-23) needs ``2F1(r+s+x, b; r+s+x+1; z)`` with ``b`` either
``s+1`` or ``r+x`` and ``0 <= z < 1``. Euler's transformation turns it into
``(1-z)^(1-b) 2F1(1, p; c; z)`` with ``p = r+s+x+1-b`` and ``c = r+s+x+1 > p > 0``; the large
power ``(1-z)^(1-b)`` is taken in logs by the caller, and what is left is bounded:

    G(p, c; z) = 2F1(1, p; c; z) = 1/B(p, c-p) int_0^1 u^(p-1) (1-u)^(c-p-1) / (1 - z u) du,

so ``1 <= G <= 1/(1-z)`` whatever the number of purchases: nothing can overflow, which is
what makes scipy's ``hyp2f1`` fail on the untransformed function (docs/models.md, "Numerics").

For ``z <= 0.5`` (where a fit spends its time: ``z = |alpha - beta| / (max(alpha, beta) + t)``
is below 0.1 at the CDNOW optimum) ``G`` and its partials come from the power series
``sum_n (p)_n / (c)_n z^n``, whose terms are positive and fall at least as fast as ``z^n``
(at most 64 terms), evaluated for the whole batch at once with one number of terms
(``_series``): several times faster there than the fraction, and more accurate (2e-16
against 50-digit arithmetic, the fraction's z-derivative 2e-14). The fraction takes over
above 0.5, the quadrature near 1.

``G`` is a Stieltjes function, so Gauss's continued fraction

    G = 1 / (1 - k1 z / (1 - k2 z / (1 - ...))),
    k(2i+1) = (p+i)(c-1+i) / ((c-1+2i)(c+2i)),   k(2i+2) = (i+1)(c-p+i) / ((c+2i)(c+2i+1)),

has positive coefficients, stable forward recurrences, and converges geometrically with
ratio about ``((1 - sqrt(1-z)) / (1 + sqrt(1-z)))`` per level: ~20 levels at ``z = 0.5``,
~60 at ``z = 0.9``, ~180 at ``z = 0.99``, where the power series would need 50, 350 and
3,500 terms. The derivatives with respect to ``p``, ``c`` and ``z`` are carried through the
same recurrences (forward-mode differentiation), so the likelihood's gradient is analytic.

Near ``z = 1`` (``1 - z < 0.01``, where a customer's rates differ from the dropout scale by
orders of magnitude, e.g. ``beta / alpha > 100``) the fraction needs hundreds to thousands of
levels and its ``z``-derivative gathers rounding error (1e-6 at ``1 - z = 1e-5``). There,
with ``w = 1 - z`` and ``a = c - p`` (substituting ``alpha + u = (alpha + t) e^y`` in the
likelihood's integral),

    G(p, c; 1 - w) = (c - 1) int_0^inf e^((1-a) y) (1 - w + w e^y)^(-p) dy,

is integrated by 12-point Gauss-Legendre panels: 10 equal ones on ``[0, log(1/w)]``, where the
integrand is ``~e^((1-a) y)`` (merged with geometric ones in ``(a-1) y`` when it decays fast),
and geometric ones beyond, in ``v = (c-1)(y - log(1/w))``, where it decays like ``e^-v``; the
derivatives are the integrals of the integrand times ``-y``, ``-log(1 - w + w e^y)`` and
``-p (e^y - 1) / (1 - w + w e^y)``. It agrees with 40-digit series to ~1e-14 (also for
``p ~ 1e5``, where the fraction would need ~1e5 levels: the regime of a fit whose dropout
heterogeneity vanishes, ``s, beta -> inf``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: Relative change between successive convergents that counts as converged.
_TOL = 1e-15
#: Error aimed at when bounding the number of levels from the convergence ratio.
_AIM = 1e-17
#: Continued-fraction pairs of levels at most (z within ~1e-9 of 1 needs this many).
_MAX_PAIRS = 50_000
#: Rescale the recurrences every this many pairs of levels (B shrinks geometrically).
_RESCALE_EVERY = 16
#: Quadrature instead of the fraction where 1 - z is below this and c - 1 (the tail's
#: decay rate) at least _QUAD_MIN_C1.
_NEAR_ONE = 0.01
_QUAD_MIN_C1 = 0.05
#: Elements integrated at once (each takes 396 nodes).
_QUAD_CHUNK = 2048
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
#: The power series instead of the fraction where z is at most this (<= 64 terms).
_SERIES_MAX_Z = 0.5
#: Relative truncation error aimed at by the series (of G and of each partial derivative).
_SERIES_AIM = 1e-17
#: Terms x elements of the series evaluated at once (arrays of 512 kB, which stay in cache).
_SERIES_BLOCK = 65536
#: Panel edges of the tail, in v = (c - 1)(y - log(1/w)); e^-48 ends it.
_TAIL_EDGES = np.array([0, 1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8, 16, 32, 48])
#: Head panels: equal ones on [0, log(1/w)], plus geometric ones in (a - 1) y from 0 where
#: the integrand decays fast (large a).
_HEAD_PANELS = 10
_HEAD_EDGES = np.array([1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8, 16, 32, 48])


def hyp2f1_one(
    p: ArrayLike, c: ArrayLike, z: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``G = 2F1(1, p; c; z)`` and ``(dG/dp, dG/dc, dG/dz)``, elementwise.

    Needs ``c > p > 0`` (and ``c > 1``) and ``0 <= z < 1``; NaN elsewhere. Arrays broadcast.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (p, c, z)))
    shape = arrays[0].shape
    pp, cc, zz = (np.ravel(v) for v in arrays)
    valid = (cc > pp) & (pp > 0) & (cc > 1) & (zz >= 0) & (zz < 1)
    by_series = valid & (zz <= _SERIES_MAX_Z)
    if by_series.all():  # the common case in a fit: no masks, no scatter
        out = _series(pp, cc, zz)
    else:
        out = np.full((4, pp.size), np.nan)
        near_one = valid & (zz > 1.0 - _NEAR_ONE) & (cc > 1.0 + _QUAD_MIN_C1)
        by_cf = valid & ~near_one & ~by_series
        out[:, by_series] = _series(pp[by_series], cc[by_series], zz[by_series])
        out[:, by_cf] = _continued_fraction(pp[by_cf], cc[by_cf], zz[by_cf])
        where = np.flatnonzero(near_one)
        for start in range(0, len(where), _QUAD_CHUNK):
            part = where[start : start + _QUAD_CHUNK]
            out[:, part] = _quadrature(pp[part], cc[part], zz[part])
    g, dp, dc, dz = (row.reshape(shape) for row in out)
    return g, dp, dc, dz


def _series_terms(z: float) -> int:
    """Terms ``N`` after which ``z^N (N+1) / (1-z) <= _SERIES_AIM``.

    Term ``n`` of ``G`` is ``t_n = (p)_n / (c)_n z^n <= (p/c) z^n`` (``c > p``); the partials
    of ``log t_n`` in ``p`` and ``c`` are at most ``n/p`` and ``n/c`` in size, and
    ``dt_n/dz = n t_n / z``. Set against the first term of each (``G >= 1``, ``dG/dp >= z/c``,
    ``|dG/dc| >= z p/c^2``, ``dG/dz >= p/c``), the tails after ``N`` terms are at most
    ``z^N (N+1) / (1-z)`` relative.
    """
    if z <= 0.0:
        return 1
    log_z = np.log(z)
    target = np.log(_SERIES_AIM) + np.log1p(-z)
    first = target / log_z
    return max(int(np.ceil((target - np.log(first + 2.0)) / log_z)), 1)


def _series(p: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """G and its partials by the power series ``sum_n (p)_n / (c)_n z^n`` (``z <= 0.5``).

    Every term is positive (no cancellation), and one number of terms ``N``, bounded from the
    largest ``z`` (:func:`_series_terms`), serves the whole batch, held as an ``N`` x elements
    block. With ``v_n = t_n / z`` (``v_1 = p/c``) and the tail sums ``R_k = sum_(n>k) v_n``:
    ``G = 1 + z R_0``, ``dG/dz = sum_n n v_n = sum_k R_k``, and, as ``d log t_n / dp =
    sum_(k<n) 1/(p+k)`` (``-1/(c+k)`` for ``c``), ``dG/dp = z sum_k R_k / (p+k)`` and
    ``dG/dc = -z sum_k R_k / (c+k)``. The running product and the tail sums are loops over the
    ``N`` rows (whole-row operations: several times faster than ``cumprod`` / ``cumsum`` along
    the first axis), the rest whole-block operations.
    """
    out = np.empty((4, p.size))
    if p.size == 0:
        return out
    terms = _series_terms(float(z.max()))
    k = np.arange(terms, dtype=np.float64)[:, None]
    width = max(_SERIES_BLOCK // terms, 1)
    for start in range(0, p.size, width):
        part = slice(start, start + width)
        inv_p, inv_c, zp = p[part] + k, c[part] + k, z[part]
        tail = np.multiply(inv_p, zp)  # (p+k) z: t_(k+1) / t_k times (c+k)
        tail[0] = inv_p[0]
        np.reciprocal(inv_c, out=inv_c)
        np.reciprocal(inv_p, out=inv_p)
        tail *= inv_c
        for n in range(1, terms):
            tail[n] *= tail[n - 1]
        for n in range(terms - 2, -1, -1):
            tail[n] += tail[n + 1]
        out[0, part] = 1.0 + zp * tail[0]
        out[1, part] = zp * np.einsum("ij,ij->j", tail, inv_p)
        out[2, part] = -zp * np.einsum("ij,ij->j", tail, inv_c)
        out[3, part] = tail.sum(axis=0)
    return out


def _level(
    k: FloatArray, lp: FloatArray, lc: FloatArray, z: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Partial numerator ``d = -k z`` of one level and its derivatives (rows p, c, z)."""
    d = -k * z
    return d, np.stack((d * lp, d * lc, -k))


def _step(x_cur: FloatArray, x_prev: FloatArray, d: FloatArray, dd: FloatArray) -> FloatArray:
    """One forward recurrence ``X_new = X_cur + d X_prev`` for numerator and denominator.

    Rows 0..3 are (A, dA/dp, dA/dc, dA/dz), rows 4..7 the same for B.
    """
    x_new = x_cur + d * x_prev
    x_new[1:4] += dd * x_prev[0]
    x_new[5:8] += dd * x_prev[4]
    return x_new


def _ratio(x: FloatArray) -> FloatArray:
    """(f, df/dp, df/dc, df/dz) of the convergent ``f = A / B``."""
    f = x[0] / x[4]
    return np.vstack((f, (x[1:4] - f * x[5:8]) / x[4]))


def _continued_fraction(p: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """Forward recurrences on the still-active elements until each one converges."""
    n = p.size
    result = np.empty((4, n))
    if n == 0:
        return result
    idx = np.arange(n)
    # Past the a-priori count the convergents only gather rounding noise, so stop there.
    root = np.sqrt(1.0 - z)
    with np.errstate(divide="ignore"):
        rate = np.log((1.0 - root) / (1.0 + root))
    pairs = np.ceil(np.log(_AIM) / (2.0 * np.minimum(rate, -1e-300))) + 2.0
    pairs = np.minimum(pairs, _MAX_PAIRS)
    # Convergent 1 is A/B = 1/1; the level before it is A/B = 0/1. No derivatives yet.
    x_prev = np.zeros((8, n))
    x_prev[4] = 1.0
    x_cur = np.zeros((8, n))
    x_cur[0] = x_cur[4] = 1.0
    last = _ratio(x_cur)
    for i in range(_MAX_PAIRS):
        # Odd level 2i+1.
        a_odd, b_odd = c - 1.0 + 2 * i, c + 2 * i
        k = (p + i) * (c - 1.0 + i) / (a_odd * b_odd)
        lc = 1.0 / (c - 1.0 + i) - 1.0 / a_odd - 1.0 / b_odd
        d, dd = _level(k, 1.0 / (p + i), lc, z)
        x_prev, x_cur = x_cur, _step(x_cur, x_prev, d, dd)
        # Even level 2i+2.
        q = c - p + i
        k = (i + 1.0) * q / (b_odd * (b_odd + 1.0))
        lc = 1.0 / q - 1.0 / b_odd - 1.0 / (b_odd + 1.0)
        d, dd = _level(k, -1.0 / q, lc, z)
        x_prev, x_cur = x_cur, _step(x_cur, x_prev, d, dd)
        if i % _RESCALE_EVERY == _RESCALE_EVERY - 1:
            scale = x_cur[4].copy()
            x_cur /= scale
            x_prev /= scale
        now = _ratio(x_cur)
        size = np.maximum(np.abs(now[0]), np.abs(now[1:]).max(axis=0))
        done = (np.abs(now - last).max(axis=0) <= _TOL * size) | (pairs <= i + 1)
        if done.any():
            result[:, idx[done]] = now[:, done]
            keep = ~done
            if not keep.any():
                break
            idx, p, c, z, pairs = idx[keep], p[keep], c[keep], z[keep], pairs[keep]
            x_prev, x_cur, now = x_prev[:, keep], x_cur[:, keep], now[:, keep]
        last = now
    return result


def _panels(edges: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights on consecutive panels, one row of edges per element."""
    low, high = edges[:, :-1, None], edges[:, 1:, None]
    half = (high - low) / 2.0
    nodes = low + half * (_GL_NODES + 1.0)
    return nodes.reshape(len(edges), -1), (half * _GL_WEIGHTS).reshape(len(edges), -1)


def _quadrature(p: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """G and its partials near z = 1 from the integral in the module docstring."""
    w = 1.0 - z
    a = c - p
    span = -np.log(w)
    uniform = span[:, None] * np.linspace(0.0, 1.0, _HEAD_PANELS + 1)[None, :]
    steep = _HEAD_EDGES[None, :] / np.maximum(a - 1.0, 1e-300)[:, None]
    head = np.sort(np.concatenate([uniform, np.minimum(steep, span[:, None])], axis=1), axis=1)
    tail = span[:, None] + _TAIL_EDGES[None, :] / (c - 1.0)[:, None]
    y_head, w_head = _panels(head)
    y_tail, w_tail = _panels(tail)
    y = np.concatenate([y_head, y_tail], axis=1)
    inner = np.logaddexp(np.log1p(-w)[:, None], np.log(w)[:, None] + y)  # log(1-w+w e^y)
    h = np.concatenate([w_head, w_tail], axis=1)
    h *= np.exp((1.0 - a)[:, None] * y - p[:, None] * inner)
    back = np.exp(-y)
    ratio = (1.0 - back) / ((1.0 - w)[:, None] * back + w[:, None])  # (e^y-1)/(1-w+w e^y)
    integral = h.sum(axis=1)
    d_a = -(h * y).sum(axis=1)
    d_p = -(h * inner).sum(axis=1)
    d_w = -p * (h * ratio).sum(axis=1)
    return np.stack(
        (
            (c - 1.0) * integral,
            (c - 1.0) * (d_p - d_a),
            integral + (c - 1.0) * d_a,
            -(c - 1.0) * d_w,
        )
    )
