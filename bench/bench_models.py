"""Benchmark: fitting Tenure's customer-lifetime models next to lifetimes and pymc-marketing.

    python bench/bench_models.py --baseline-python /work/benchenv/bin/python

Every fit runs in a fresh process (Tenure from this interpreter, lifetimes and pymc-marketing
from ``--baseline-python``, a bench-only environment: bench/requirements-models.txt); only
the fit call is timed, in-process, after the imports and the data are loaded. A fast fit is
repeated (``--repeats``, within ``--budget`` seconds) and its median reported. Cases:

* **CDNOW sample** (Fader, Hardie & Lee 2005): 2,357 customers, 39-week calibration
  (1997-01-01 .. 1997-09-30), time in weeks, same-day purchases merged: BG/NBD, MBG/NBD,
  Pareto/NBD, Gamma-Gamma (the 946 repeat buyers); BG/BB on the donations of Fader, Hardie &
  Shang (2010) (11,104 people in 22 patterns).
* **BG/NBD, 1M customers** simulated from known parameters, time in whole days (first
  purchases spread over two years, so recency and T take 730 values and patterns repeat).
* **Pareto/NBD, 100k customers** simulated the same way, in weeks (whole days / 7: the unit
  of the papers, and the one in which pymc-marketing's MAP fit is fastest).
* **BG/NBD fit + scoring, 10M customers** (Tenure only): fit, P(alive) and the expected
  purchases in the next 365 days of every customer, in a fresh process whose peak RSS is
  reported; through the public API on the 10M rows, and the way ``tenure.predictions.scoring``
  works (compress once, fit and score the distinct patterns, gather back).
* **Boundary fit, 1M customers** (issue 11): customers simulated without drop-out (the NBD,
  ``NBD_TRUTH``, the same ages as the 1M BG/NBD case), fitted by BG/NBD, which returns its
  boundary fit (the NBD); its time against the regular 1M BG/NBD fit of the same run (target:
  at most twice), and lifetimes' BG/NBD on the same data.

``--compare-src DIR`` also runs every Tenure fit of the small and large cases with another
Tenure's source first on the path (e.g. the previous commit's ``src``, from ``git archive``),
in the same run, so a change can be told from the machine's noise.

How each library is given the data: Tenure takes the per-customer arrays and compresses them
itself (inside the timed fit); lifetimes takes the distinct patterns with their counts, made
by a pandas group-by that is timed with the fit (lifetimes has no compression of its own but
accepts ``weights``); pymc-marketing takes one row per customer (it has no weights), with
flat priors (``HalfFlat``) on the four parameters so that its MAP is the maximum-likelihood
estimate. Its first fit compiles the model; a warm-up fit on the first 2,000 rows comes
first and is reported apart.

Log-likelihoods are each library's own at its own optimum, in the same time unit: Tenure's
``log_likelihood_``; lifetimes' ``_negative_log_likelihood`` re-evaluated at its parameters
in the original unit (its fit rescales time); pymc-marketing's model log-density without
Jacobian at the MAP (the flat priors add 0).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from measure import in_child, own_peak_mb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "models"
OUT = HERE / "out"
FIXTURES = ROOT / "tests" / "fixtures"
CALIBRATION_END = "1997-09-30"
#: Parameters the simulated customers are drawn from (time in days).
BG_TRUTH = {"r": 0.25, "alpha": 30.0, "a": 0.8, "b": 2.4}
PNBD_TRUTH = {"r": 0.55, "alpha": 74.0, "s": 0.61, "beta": 82.0}
#: Customers who never leave (the boundary case): BG_TRUTH's purchase rates, no drop-out.
NBD_TRUTH = {"r": 0.25, "alpha": 30.0}
#: First purchases spread over this many days: T is uniform on whole days 1..MAX_AGE.
MAX_AGE = 730
#: Scoring horizon of the 10M case, in days.
HORIZON = 365.0
#: Rows of the pymc-marketing warm-up fit (compiles the model; not timed with the fit).
WARM_ROWS = 2000
#: The environment of the second pass: OpenBLAS (and OpenMP) on one thread.
ONE = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
#: |difference| of log-likelihoods counted as equal.
LL_TOLERANCE = 0.01
#: Parameter names per model, in Tenure's order; pymc-marketing and lifetimes call gamma "v".
PARAMS = {
    "bg": ("r", "alpha", "a", "b"),
    "mbg": ("r", "alpha", "a", "b"),
    "pnbd": ("r", "alpha", "s", "beta"),
    "gg": ("p", "q", "gamma"),
    "bgbb": ("alpha", "beta", "gamma", "delta"),
}
MODEL_NAMES = {
    "bg": "BG/NBD",
    "mbg": "MBG/NBD",
    "pnbd": "Pareto/NBD",
    "gg": "Gamma-Gamma",
    "bgbb": "BG/BB",
}


# -- the data (written once to bench/data/models, gitignored) ------------------------------
def _cdnow() -> dict[str, Any]:
    """CDNOW sample, 39-week calibration, weeks, same-day purchases merged (as the papers)."""
    import pandas as pd

    raw = pd.read_csv(
        FIXTURES / "cdnow" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        usecols=[1, 2, 4],
        names=["customer", "day", "dollars"],
        dtype={"day": str},
    )
    raw["day"] = pd.to_datetime(raw["day"], format="%Y%m%d")
    end = pd.Timestamp(CALIBRATION_END)
    daily = raw[raw["day"] <= end].groupby(["customer", "day"], as_index=False)["dollars"].sum()
    daily["weeks"] = (daily["day"] - daily.groupby("customer")["day"].transform("min")).dt.days
    daily["weeks"] /= 7.0
    by = daily.groupby("customer")
    repeats = daily[daily["weeks"] > 0].groupby("customer")["dollars"]
    frequency = repeats.size().reindex(by.size().index, fill_value=0)
    return {
        "frequency": frequency.to_numpy(float),
        "recency": by["weeks"].max().to_numpy(),
        "T": ((end - by["day"].min()).dt.days / 7.0).to_numpy(),
        "monetary": repeats.mean().reindex(frequency.index).to_numpy(),
    }


def _simulate_bg(n: int, seed: int) -> dict[str, Any]:
    """BG/NBD customers with ages uniform on whole days 1..MAX_AGE (Fader, Hardie & Lee 2005).

    Exact and vectorised: a customer alive throughout would make ``N ~ Poisson(lambda T)``
    purchases, and leaves right after purchase ``D ~ Geometric(p)``; so ``x = min(N, D)``, and
    the x-th of N uniform arrival times is ``T Beta(x, N - x + 1)``, rounded up to a day."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = BG_TRUTH
    age = rng.integers(1, MAX_AGE + 1, n).astype(np.float64)
    arrivals = rng.poisson(rng.gamma(t["r"], 1.0 / t["alpha"], n) * age)
    x = np.minimum(arrivals, rng.geometric(rng.beta(t["a"], t["b"], n)))
    last = rng.beta(np.maximum(x, 1), arrivals - x + 1) * age
    recency = np.where(x > 0, np.ceil(last), 0.0)
    return {"frequency": x.astype(np.float64), "recency": recency, "T": age}


def _simulate_pnbd(n: int, seed: int) -> dict[str, Any]:
    """Pareto/NBD customers, ages uniform on whole days 1..MAX_AGE, returned in weeks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = PNBD_TRUTH
    age = rng.integers(1, MAX_AGE + 1, n).astype(np.float64)
    rate = rng.gamma(t["r"], 1.0 / t["alpha"], n)
    alive = np.minimum(rng.exponential(1.0 / rng.gamma(t["s"], 1.0 / t["beta"], n)), age)
    x = rng.poisson(rate * alive).astype(np.float64)
    last = alive * rng.uniform(size=n) ** (1.0 / np.maximum(x, 1.0))
    recency = np.where(x > 0, np.ceil(last), 0.0)
    return {"frequency": x, "recency": recency / 7.0, "T": age / 7.0}


def _simulate_nbd(n: int, seed: int) -> dict[str, Any]:
    """Customers who never leave, ages uniform on whole days 1..MAX_AGE: ``x ~ Poisson(lambda
    T)``, the last of x uniform purchase times ``T Beta(x, 1)``, rounded up to a day."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = NBD_TRUTH
    age = rng.integers(1, MAX_AGE + 1, n).astype(np.float64)
    x = rng.poisson(rng.gamma(t["r"], 1.0 / t["alpha"], n) * age).astype(np.float64)
    last = rng.beta(np.maximum(x, 1.0), 1.0) * age
    recency = np.where(x > 0, np.minimum(np.ceil(last), age), 0.0)
    return {"frequency": x, "recency": recency, "T": age}


def _donations() -> dict[str, Any]:
    import pandas as pd

    raw = pd.read_csv(FIXTURES / "donations.csv")
    columns = {"frequency": "frequency", "recency": "recency", "T": "periods", "weights": "weights"}
    return {key: raw[col].to_numpy(float) for key, col in columns.items()}


def dataset(name: str, n: int = 0) -> Path:
    """The path of a data set's .npz file, written the first time."""
    import numpy as np

    path = DATA / (f"{name}_{n}.npz" if n else f"{name}.npz")
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    make: dict[str, Callable[[], dict[str, Any]]] = {
        "cdnow": _cdnow,
        "donations": _donations,
        "bgnbd_days": lambda: _simulate_bg(n, seed=5),
        "pnbd_weeks": lambda: _simulate_pnbd(n, seed=6),
        "nbd_days": lambda: _simulate_nbd(n, seed=7),
    }
    data = make[name]()
    if name == "cdnow":  # Gamma-Gamma is fitted on the repeat buyers only
        repeat = data["frequency"] > 0
        np.savez(
            DATA / "cdnow_spend.npz",
            frequency=data["frequency"][repeat],
            monetary=data["monetary"][repeat],
        )
    np.savez(path, **data)
    return path


# -- the children ---------------------------------------------------------------------------
def _load(path: Path) -> dict[str, Any]:
    import numpy as np

    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _repeat(fit: Callable[[], Any], repeats: int, budget: float) -> tuple[list[float], Any]:
    """Run ``fit`` ``repeats`` times, or fewer once ``budget`` seconds are spent (at least once)."""
    seconds: list[float] = []
    result = None
    while len(seconds) < repeats and (not seconds or sum(seconds) < budget):
        started = time.perf_counter()
        result = fit()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def _columns(model: str) -> list[str]:
    return ["frequency", "monetary"] if model == "gg" else ["frequency", "recency", "T"]


def _tenure(model: str, data: dict[str, Any], repeats: int, budget: float) -> dict[str, Any]:
    import tenure.models as tm

    if model == "pnbd":
        from tenure.models.pareto_nbd import ParetoNBD as Model
    elif model == "bgbb":
        from tenure.models.bgbb import BetaGeoBetaBinom as Model
    else:
        Model = {"bg": tm.BetaGeo, "mbg": tm.ModifiedBetaGeo, "gg": tm.GammaGamma}[model]
    args = [data[c] for c in _columns(model)]
    seconds, fitted = _repeat(
        lambda: Model().fit(*args, weights=data.get("weights")), repeats, budget
    )
    return {
        "seconds": seconds,
        "params": {k: float(v) for k, v in fitted.params_.items()},
        "ll": fitted.log_likelihood_,
        "boundary": bool(getattr(fitted, "boundary_", False)),
    }


def _lifetimes(model: str, data: dict[str, Any], repeats: int, budget: float) -> dict[str, Any]:
    """lifetimes on the patterns of a pandas group-by (timed with the fit). Its Pareto/NBD
    starts from random points (numpy's global generator, seeded here), so every run's
    log-likelihood is kept; the best run's parameters are reported."""
    import lifetimes
    import numpy as np
    import pandas as pd

    np.random.seed(0)
    fitter = {
        "bg": lifetimes.BetaGeoFitter,
        "mbg": lifetimes.ModifiedBetaGeoFitter,
        "pnbd": lifetimes.ParetoNBDFitter,
        "gg": lifetimes.GammaGammaFitter,
        "bgbb": lifetimes.BetaGeoBetaBinomFitter,
    }[model]
    cols = _columns(model)
    names = [("v" if n == "gamma" and model == "gg" else n) for n in PARAMS[model]]
    runs: list[tuple[float, list[float]]] = []

    def fit() -> int:
        frame = pd.DataFrame({c: data[c] for c in cols})
        frame["w"] = data.get("weights", 1.0)
        patterns = frame.groupby(cols, as_index=False)["w"].sum()
        fitted = fitter().fit(*(patterns[c] for c in cols), weights=patterns["w"])
        runs.append(_lifetimes_ll(fitter, model, fitted.params_[names], patterns, cols))
        return len(patterns)

    seconds, n_patterns = _repeat(fit, repeats, budget)
    lls = [ll for ll, _ in runs]
    best = max(range(len(runs)), key=lambda i: -np.inf if np.isnan(lls[i]) else lls[i])
    return {
        "seconds": seconds,
        "params": dict(zip(PARAMS[model], runs[best][1], strict=True)),
        "ll": lls[best],
        "runs_ll": lls,
        "patterns": n_patterns,
        "version": lifetimes.__version__,
    }


def _lifetimes_ll(
    fitter: Any, model: str, params: Any, patterns: Any, cols: list[str]
) -> tuple[float, list[float]]:
    """lifetimes' own log-likelihood at ``params``, in the data's time unit (its fit rescales
    time), and the parameters as a list."""
    import numpy as np

    values = params.to_numpy(dtype=float)
    weights = patterns["w"].to_numpy(dtype=float)
    args = [patterns[c].to_numpy(dtype=float) for c in cols]
    if model == "pnbd":  # parameters as they are; the sum divided by the mean weight
        ll = -fitter._negative_log_likelihood(values, *args, weights, 0.0) * weights.mean()
    else:  # log-parameters; the mean over customers
        ll = -fitter._negative_log_likelihood(np.log(values), *args, weights, 0.0) * weights.sum()
    return float(ll), values.tolist()


def _pymc_ll(model: Any, values: dict[str, float]) -> float:
    """The model's log-density without Jacobian at ``values`` (natural parameters)."""
    import numpy as np

    point = {}
    for rv in model.free_RVs:
        value = np.asarray(values[rv.name], dtype=float)
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            value = transform.forward(value, *rv.owner.inputs).eval()
        point[model.rvs_to_values[rv].name] = value
    return float(model.compile_logp(jacobian=False)(point))


def _pymc(model: str, data: dict[str, Any], repeats: int, budget: float) -> dict[str, Any]:
    import warnings

    import numpy as np
    import pandas as pd
    import pymc_marketing
    from pymc_extras.prior import Prior
    from pymc_marketing import clv

    warnings.simplefilter("ignore")
    cls = {
        "bg": clv.BetaGeoModel,
        "mbg": clv.ModifiedBetaGeoModel,
        "pnbd": clv.ParetoNBDModel,
        "gg": clv.GammaGammaModel,
        "bgbb": clv.BetaGeoBetaBinomModel,
    }[model]
    names = [("v" if n == "gamma" and model == "gg" else n) for n in PARAMS[model]]
    repeat = np.asarray(data.get("weights", np.ones(len(data["frequency"]))), dtype=np.int64)
    frame = pd.DataFrame({c: np.repeat(data[c], repeat) for c in _columns(model)})
    frame = frame.rename(columns={"monetary": "monetary_value"})
    frame.insert(0, "customer_id", np.arange(len(frame)))

    def fit(rows: Any) -> tuple[Any, Any]:
        built = cls(model_config={k: Prior("HalfFlat") for k in names})
        return built, built.fit(rows, method="map", progressbar=False)

    if model == "bgbb":  # BG/BB asks for one T: warm up on a sample across the patterns
        warm = frame.sample(min(WARM_ROWS, len(frame)), random_state=0)
    else:
        warm = frame.iloc[:WARM_ROWS]
    started = time.perf_counter()
    fit(warm)
    warm_seconds = time.perf_counter() - started
    seconds, (built, idata) = _repeat(lambda: fit(frame), repeats, budget)
    values = {k: float(idata.posterior[k].values.ravel()[0]) for k in names}
    return {
        "seconds": seconds,
        "warm_up_seconds": warm_seconds,
        "params": dict(zip(PARAMS[model], values.values(), strict=True)),
        "ll": _pymc_ll(built.model, values),
        "version": pymc_marketing.__version__,
    }


def _scale(variant: str, data: dict[str, Any]) -> dict[str, Any]:
    """BG/NBD fit + P(alive) + expected purchases in HORIZON days of every customer."""
    import numpy as np

    from tenure.models import BetaGeo
    from tenure.models.inputs import compress

    x, t_x, age = data["frequency"], data["recency"], data["T"]
    steps: dict[str, float] = {}
    started = time.perf_counter()
    if variant == "api":
        fitted = BetaGeo().fit(x, t_x, age)
        steps["fit"] = time.perf_counter() - started
        alive = fitted.p_alive(x, t_x, age)
        steps["p_alive"] = time.perf_counter() - started - sum(steps.values())
        expected = fitted.conditional_expected_purchases(HORIZON, x, t_x, age)
        patterns = -1
    else:
        (ux, ut, ua), counts, back = compress([x, t_x, age], np.ones(len(x)))
        steps["compress"] = time.perf_counter() - started
        fitted = BetaGeo().fit(ux, ut, ua, weights=counts)
        steps["fit"] = time.perf_counter() - started - sum(steps.values())
        alive = fitted.p_alive(ux, ut, ua)[back]
        steps["p_alive"] = time.perf_counter() - started - sum(steps.values())
        expected = fitted.conditional_expected_purchases(HORIZON, ux, ut, ua)[back]
        patterns = len(ux)
    seconds = time.perf_counter() - started
    steps["expected"] = seconds - sum(steps.values())
    return {
        "seconds": [seconds],
        "steps": steps,
        "patterns": patterns,
        "params": {k: float(v) for k, v in fitted.params_.items()},
        "ll": fitted.log_likelihood_,
        "digest": [float(np.sum(alive)), float(np.sum(expected))],
    }


def child(step: str, path: Path) -> dict[str, Any]:
    """``step`` is ``library:model:repeats:budget``; the data is ``path``."""
    library, model, repeats, budget = step.split(":")
    data = _load(path)
    if library == "scale":
        result = _scale(model, data)
    else:
        run = {"tenure": _tenure, "lifetimes": _lifetimes, "pymc": _pymc}[library]
        result = run(model, data, int(repeats), float(budget))
    result["peak_rss_mb"] = own_peak_mb()
    return result


# -- the parent ---------------------------------------------------------------------------
def _run(step: str, path: Path, python: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """One child, with the load average before and after and its wall time from the outside."""
    saved = dict(os.environ)
    os.environ.update(env or {})
    load = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        result = in_child(__file__, step, path, python=python)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    result["process_seconds"] = time.perf_counter() - started
    result["load"] = [load, os.getloadavg()[0]]
    result["median"] = statistics.median(result["seconds"])
    print(step, path.name, json.dumps(result), flush=True)
    return result


def _ll_text(result: dict[str, Any] | None, reference: float) -> str:
    """The log-likelihood, "equal" or its difference from Tenure's, and runs that missed it."""
    if result is None:
        return "-"
    diff = result["ll"] - reference
    text = f"{result['ll']:,.2f} ({'equal' if abs(diff) <= LL_TOLERANCE else f'{diff:+.3g}'})"
    runs = result.get("runs_ll", [result["ll"]])
    missed = [ll for ll in runs if not abs(ll - reference) <= LL_TOLERANCE]
    if missed:
        shown = ", ".join(f"{ll:,.1f}" for ll in missed)
        text += f"; {len(missed)} of {len(runs)} runs ended elsewhere (LL {shown})"
    return text


def _ratio(result: dict[str, Any] | None, tenure: dict[str, Any]) -> str:
    return "-" if result is None else f"{result['median'] / tenure['median']:.1f}x"


def _seconds(result: dict[str, Any] | None) -> str:
    if result is None:
        return "-"
    return f"{result['median']:.3f} ({len(result['seconds'])})"


def report(cases: list[dict[str, Any]]) -> str:
    lines = [
        "| case | customers | Tenure s (runs) | lifetimes s (runs) | pymc-marketing MAP s (runs) "
        "| lifetimes / Tenure | pymc / Tenure | LL Tenure | LL lifetimes | LL pymc-marketing "
        "| target | met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        t, lt, pm = case["tenure"], case.get("lifetimes"), case.get("pymc")
        met = all(r is None or r["median"] / t["median"] >= case["target"] for r in (lt, pm))
        lines.append(
            f"| {case['label']} | {case['customers']:,} | {_seconds(t)} | {_seconds(lt)} "
            f"| {_seconds(pm)} | {_ratio(lt, t)} | {_ratio(pm, t)} | {t['ll']:,.2f} "
            f"| {_ll_text(lt, t['ll'])} | {_ll_text(pm, t['ll'])} | >= {case['target']:g}x "
            f"| {'yes' if met else 'no'} |"
        )
    return "\n".join(lines)


def report_scale(runs: dict[str, dict[str, Any]], customers: int) -> str:
    lines = [
        "| 10M path | patterns | steps (s) | fit + scoring s | process wall s | peak RSS MB "
        "| <= 10 s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        steps = ", ".join(f"{k} {v:.2f}" for k, v in r["steps"].items())
        patterns = f"{r['patterns']:,}" if r["patterns"] >= 0 else f"({customers:,} rows)"
        lines.append(
            f"| {name} | {patterns} | {steps} | {r['median']:.2f} | {r['process_seconds']:.1f} "
            f"| {r['peak_rss_mb']:,.0f} | {'yes' if r['median'] <= 10 else 'no'} |"
        )
    return "\n".join(lines)


def _versions(python: str) -> dict[str, str]:
    def out(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout.strip()

    probe = (
        "import numpy, scipy, sys; "
        "print(sys.version.split()[0], numpy.__version__, scipy.__version__)"
    )
    return {
        "tenure commit": out("git", "rev-parse", "--short", "HEAD"),
        "uncommitted in src/tenure/models": out(
            "git", "status", "--porcelain", "src/tenure/models"
        ),
        "tenure python numpy scipy": out(sys.executable, "-c", probe),
        "baseline python numpy scipy": out(python, "-c", probe),
    }


def _small_cases(baseline: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cdnow, spend = dataset("cdnow"), DATA / "cdnow_spend.npz"
    specs = [(m, cdnow, 2357) for m in ("bg", "mbg", "pnbd")]
    specs += [("gg", spend, 946), ("bgbb", dataset("donations"), 11104)]
    cases = []
    for model, path, customers in specs:
        label = f"{'donations' if model == 'bgbb' else 'CDNOW'} {MODEL_NAMES[model]}"
        case = {"label": label, "customers": customers, "target": 5.0}
        fast = f":{args.repeats}:{args.budget}"
        case["tenure"] = _run(f"tenure:{model}{fast}", path, sys.executable)
        if args.compare_src:
            env = {"PYTHONPATH": args.compare_src}
            case["tenure_compare"] = _run(f"tenure:{model}{fast}", path, sys.executable, env)
        case["lifetimes"] = _run(f"lifetimes:{model}{fast}", path, baseline)
        if args.pymc:
            case["pymc"] = _run(f"pymc:{model}:{args.slow_repeats}:{args.budget}", path, baseline)
        if args.single_blas:
            case["tenure_blas1"] = _run(f"tenure:{model}{fast}", path, sys.executable, ONE)
            case["lifetimes_blas1"] = _run(f"lifetimes:{model}{fast}", path, baseline, ONE)
        cases.append(case)
    return cases


def _large_cases(baseline: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cases = []
    specs = [
        ("bg", "bgnbd_days", args.bg_customers, "days"),
        ("pnbd", "pnbd_weeks", args.pareto_customers, "weeks"),
    ]
    for model, name, customers, unit in specs:
        if not customers:  # --pareto-customers 0 (or --bg-customers 0): left out
            continue
        case = {
            "label": f"simulated {MODEL_NAMES[model]}, {unit}",
            "customers": customers,
            "target": 10.0,
        }
        path = dataset(name, customers)
        fast = f"tenure:{model}:{args.repeats}:{args.budget}"
        case["tenure"] = _run(fast, path, sys.executable)
        if args.compare_src:
            env = {"PYTHONPATH": args.compare_src}
            case["tenure_compare"] = _run(fast, path, sys.executable, env)
        if args.single_blas:
            case["tenure_blas1"] = _run(fast, path, sys.executable, ONE)
        slow = f":{args.slow_repeats}:{args.budget}"
        case["lifetimes"] = _run(f"lifetimes:{model}{slow}", path, baseline)
        if args.pymc:
            case["pymc"] = _run(f"pymc:{model}{slow}", path, baseline)
        cases.append(case)
    return cases


def _boundary_case(baseline: str, args: argparse.Namespace) -> dict[str, Any]:
    """BG/NBD on customers who never leave: Tenure's boundary fit, and lifetimes' BG/NBD."""
    path = dataset("nbd_days", args.bg_customers)
    case: dict[str, Any] = {
        "label": "BG/NBD boundary fit (no drop-out), days",
        "customers": args.bg_customers,
    }
    case["tenure"] = _run(f"tenure:bg:{args.repeats}:{args.budget}", path, sys.executable)
    case["lifetimes"] = _run(f"lifetimes:bg:{args.slow_repeats}:{args.budget}", path, baseline)
    return case


def boundary_report(case: dict[str, Any], cases: list[dict[str, Any]]) -> str:
    """The boundary fit against the regular 1M BG/NBD fit of the same run (<= 2x)."""
    regular = next((c for c in cases if c["label"] == "simulated BG/NBD, days"), None)
    t, lt = case["tenure"], case["lifetimes"]
    ratio = t["median"] / regular["tenure"]["median"] if regular else float("nan")
    lines = [
        "| case | customers | boundary fit | Tenure s (runs) | regular BG/NBD fit s "
        "| boundary / regular | <= 2x | LL Tenure | lifetimes s (runs) | LL lifetimes |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {case['label']} | {case['customers']:,} | {'yes' if t.get('boundary') else 'no'} "
        f"| {_seconds(t)} | {_seconds(regular['tenure'] if regular else None)} | {ratio:.2f} "
        f"| {'yes' if ratio <= 2 else 'no'} | {t['ll']:,.2f} | {_seconds(lt)} "
        f"| {_ll_text(lt, t['ll'])} |",
    ]
    return "\n".join(lines)


def compare_report(cases: list[dict[str, Any]]) -> str:
    """Tenure against ``--compare-src`` in the same run."""
    lines = [
        "| case | Tenure s (runs) | compare-src s (runs) | Tenure / compare-src | same LL |",
        "|---|---|---|---|---|",
    ]
    for c in cases:
        if "tenure_compare" not in c:
            continue
        t, b = c["tenure"], c["tenure_compare"]
        same = abs(t["ll"] - b["ll"]) <= LL_TOLERANCE
        lines.append(
            f"| {c['label']} | {_seconds(t)} | {_seconds(b)} | {t['median'] / b['median']:.2f} "
            f"| {'yes' if same else 'no'} |"
        )
    return "\n".join(lines)


def blas_report(cases: list[dict[str, Any]]) -> str:
    lines = [
        "| case | Tenure s, default BLAS threads | Tenure s, 1 BLAS thread "
        "| lifetimes s, default | lifetimes s (runs), 1 thread | lifetimes / Tenure, 1 thread |",
        "|---|---|---|---|---|---|",
    ]
    for c in cases:
        if "tenure_blas1" not in c:
            continue
        one, lone = c["tenure_blas1"], c.get("lifetimes_blas1")
        ratio = _ratio(lone or c["lifetimes"], one)
        lines.append(
            f"| {c['label']} | {c['tenure']['median']:.4f} | {one['median']:.4f} "
            f"| {c['lifetimes']['median']:.4f} | {_seconds(lone)} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline-python",
        default=os.environ.get("BASELINE_PYTHON"),
        help="a Python with lifetimes and pymc-marketing (bench-only)",
    )
    parser.add_argument(
        "--cases",
        default="small,large,scale",
        help="comma-separated: small (CDNOW, donations), large, scale, boundary",
    )
    parser.add_argument("--bg-customers", type=int, default=1_000_000)
    parser.add_argument(
        "--pareto-customers", type=int, default=100_000, help="0 leaves the case out"
    )
    parser.add_argument("--scale-customers", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5, help="runs of a fast fit (median)")
    parser.add_argument("--slow-repeats", type=int, default=3)
    parser.add_argument(
        "--budget",
        type=float,
        default=20.0,
        help="seconds after which a child stops repeating a fit",
    )
    parser.add_argument("--no-pymc", dest="pymc", action="store_false")
    parser.add_argument(
        "--no-single-blas",
        dest="single_blas",
        action="store_false",
        help="skip the second pass with OPENBLAS_NUM_THREADS=1 (Tenure; lifetimes "
        "on the small cases)",
    )
    parser.add_argument(
        "--compare-src",
        default=None,
        help="another Tenure's src directory whose fits run too, in the same run",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    wanted = set(args.cases.split(","))
    if wanted & {"small", "large", "boundary"} and not args.baseline_python:
        parser.error("--baseline-python: a Python with lifetimes and pymc-marketing installed")
    results: dict[str, Any] = {"versions": _versions(args.baseline_python or sys.executable)}
    results["load_start"] = os.getloadavg()
    cases: list[dict[str, Any]] = []
    if "small" in wanted:
        cases += _small_cases(args.baseline_python, args)
    if "large" in wanted:
        cases += _large_cases(args.baseline_python, args)
    boundary = _boundary_case(args.baseline_python, args) if "boundary" in wanted else None
    scale: dict[str, dict[str, Any]] = {}
    if "scale" in wanted:
        path = dataset("bgnbd_days", args.scale_customers)
        for variant in ("api", "patterns"):
            scale[variant] = _run(f"scale:{variant}:1:0", path, sys.executable)
    results.update(cases=cases, scale=scale, boundary=boundary, load_end=os.getloadavg())
    OUT.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H%M")
    (OUT / f"models_{stamp}.json").write_text(json.dumps(results, indent=1))
    every = [*cases, *scale.values(), *([boundary] if boundary else [])]
    loads = [x for c in every for r in _results(c) for x in r["load"]]
    print(f"\n{date.today().isoformat()}; versions: {json.dumps(results['versions'])}")
    if loads:
        print(f"load average (1 min) during the run: {min(loads):.1f} .. {max(loads):.1f}\n")
    if cases:
        print(report(cases), "\n", blas_report(cases), sep="\n")
    if args.compare_src and cases:
        print("", compare_report(cases), sep="\n")
    if boundary:
        print("", boundary_report(boundary, cases), sep="\n")
    if scale:
        print("", report_scale(scale, args.scale_customers), sep="\n")


def _results(case: dict[str, Any]) -> list[dict[str, Any]]:
    """Every child result of a case (or the case itself when it is one)."""
    if "seconds" in case:
        return [case]
    return [v for v in case.values() if isinstance(v, dict) and "seconds" in v]


if __name__ == "__main__":
    main()
