"""Study: how much data the purchase models need to beat the segment-rhythm heuristic.

    .venv/bin/python bench/floor_study.py          # CDNOW and a demo store, ~1.5 min on 2 cores
    .venv/bin/python bench/floor_study.py --models BetaGeo ModifiedBetaGeo ParetoNBD  # ~9 min
    .venv/bin/python bench/floor_study.py --summarise bench/out/floor_study_<time>.json

The data floor of ``tenure predict`` (:class:`tenure.predictions.holdout.DataFloor`,
:data:`tenure.predictions.holdout.FLOOR`) says below how many buyers, repeat buyers and days of
history the models are not fitted and every buyer gets the heuristic (docs/models.md, "Thin
data and the heuristic"). This measures it. For each store, each history ``H`` (the
calibration end is ``H`` days after the store's first purchase) and each buyer count ``n``,
``--seeds`` random draws of ``n`` buyers among those who bought by the calibration end (the
draw of ``backtest(sample=n, random_state=seed)``) are backtested with a 26-week holdout:
each purchase model (BG/NBD and MBG/NBD; Pareto/NBD on request: several times slower, and
often not identified on thin data) and the heuristic predict each buyer's
holdout purchase days from the drawn buyers' calibration data alone (the heuristic's segment
rhythm comes from the drawn buyers' own purchase days, as in a store of ``n`` buyers), and
the per-customer RMSE and MAE are recorded. A model that cannot be fitted (no convergence,
parameters not identified, no repeat buyer) counts as not beating the heuristic, with an RMSE
ratio of 1: ``tenure predict`` would fall back to the heuristic.

Stores: CDNOW master (23,570 buyers, all acquired in 1997 Q1, 18 months of orders; the copy
in tests/fixtures) and the demo store (``tenure.demo``, ``--demo-customers`` over 730 days,
continuous acquisition, BG/NBD buyers by construction).

Speed: the store is read once per history (``calibration_holdout`` for every buyer and each
purchase day's segment and gap); each draw is a row subset of those, fitted and scored with
the backtest's own candidates (``tenure.predictions.backtest``). ``--check`` draws are also run
through :func:`tenure.predictions.backtest.backtest` itself and must give the same RMSEs (to 1e-9).

Output: a Markdown table per store and history (share of draws in which each model's RMSE
is below the heuristic's, median RMSE ratio model/heuristic), the same shares by the draws'
repeat buyers, the check of the floor in force (:data:`RELIABLE`: the model beats the heuristic
in at least 90% of the draws of every setting that meets it) against the provisional
500 / 100 / 180, and bench/out/floor_study_<time>.json with every draw.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

# one BLAS thread: the fits are small, and the machine is shared
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
CDNOW_MASTER = ROOT / "tests" / "fixtures" / "cdnow" / "CDNOW_master.txt"
SIZES = (50, 100, 200, 350, 500, 1000, 2000, 0)  # 0: every buyer
HISTORIES = (90, 180, 270, 360)
MODELS = ("BetaGeo", "ModifiedBetaGeo", "ParetoNBD")
#: Pareto/NBD on request: several times slower, and rarely identified on thin data.
DEFAULT_MODELS = ("BetaGeo", "ModifiedBetaGeo")
SHORT = {"BetaGeo": "BG/NBD", "ModifiedBetaGeo": "MBG/NBD", "ParetoNBD": "Pareto/NBD"}
#: Lower edges of the repeat-buyer bands of the pooled table.
BANDS = (0, 50, 100, 200, 400)
#: What "reliably" means: the model beats the heuristic in at least this share of the draws
#: of every (store, history, n) cell that meets the floor.
RELIABLE = 0.9
#: The least draws meeting the floor for a cell to count in the floor check.
CELL_DRAWS = 10
HOLDOUT = "26w"


# -- the stores ---------------------------------------------------------------------------------


def cdnow_store(folder: Path) -> str:
    from tenure import Store
    from tenure.ingest import import_file

    url = f"duckdb://{folder / 'cdnow.duckdb'}"
    with Store(url) as store:
        import_file(store, "orders", [CDNOW_MASTER], preset="cdnow")
    return url


def demo_store(folder: Path, customers: int, seed: int) -> str:
    from tenure import Store
    from tenure.demo import generate_demo

    url = f"duckdb://{folder / 'demo.duckdb'}"
    with Store(url) as store:
        generate_demo(store, customers=customers, seed=seed)
    return url


# -- one history: the store read once -------------------------------------------------------------


def band(k: pd.Series) -> pd.Series:
    """The status rhythm segments of :func:`tenure.analytics.status.purchase_band`."""
    return pd.Series(
        np.select([k <= 1, k == 2, k <= 4], ["1", "2", "3-4"], "5+"), index=k.index, dtype=object
    )


@dataclass
class History:
    """Every calibration buyer at one calibration end, and each of their purchase days."""

    end: date
    holdout_days: int
    frame: pd.DataFrame  # calibration_holdout, sorted by person
    days: pd.DataFrame  # person_id, k, gap: purchase days up to the end
    at_risk_factor: float


def read_history(store: Any, end: date) -> History:
    from tenure.analytics.base import orders_base
    from tenure.analytics.status import purchase_day_gaps
    from tenure.predictions.holdout import calibration_holdout, parse_holdout

    h = parse_holdout(HOLDOUT, end)
    orders = orders_base(store, as_of=end + timedelta(days=h))
    table = calibration_holdout(store, calibration_end=end, holdout_days=h, orders=orders)
    frame = table.to_pyarrow().to_pandas().sort_values("person_id", ignore_index=True)
    days = purchase_day_gaps(orders.filter(orders.day <= end)).select("person_id", "k", "gap")
    days_frame = days.to_pyarrow().to_pandas()
    return History(end, h, frame, days_frame, store.settings.at_risk_factor)


def with_rhythm(hist: History, frame: pd.DataFrame, ids: pd.Series | None) -> pd.DataFrame:
    """The drawn buyers with their segment's usual gap and repeat rate measured on their own
    purchase days (:func:`tenure.predictions.predict.segment_rhythm`, in pandas)."""
    days = hist.days if ids is None else hist.days[hist.days["person_id"].isin(ids)]
    seg = band(days["k"])
    gaps = days["gap"].astype(np.float64)
    rhythm = pd.DataFrame({"seg": seg, "gap": gaps, "has": gaps.notna().astype(np.float64)})
    rhythm = rhythm.groupby("seg").agg(seg_gap=("gap", "median"), repeat_rate=("has", "mean"))
    out = frame.assign(seg=band(frame["frequency"] + 1).to_numpy())
    out = out.merge(rhythm, left_on="seg", right_index=True, how="left")
    return out.drop(columns="seg").reset_index(drop=True)


def draw(n_buyers: int, size: int, seed: int) -> np.ndarray:
    """The rows ``backtest(sample=size, random_state=seed)`` draws (from the sorted ids)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_buyers, size=min(size, n_buyers), replace=False))


def status_of(exc: Exception) -> str:
    text = getattr(exc, "message", str(exc))
    if "do not pin down" in text:
        return "not identified"
    if "did not converge" in text:
        return "not converged"
    return "failed"


def run_draw(
    store: Any, hist: History, size: int, seed: int, models: tuple[str, ...]
) -> dict[str, Any]:
    """One draw: every model and the heuristic on the same buyers."""
    from tenure.models.errors import ModelError
    from tenure.predictions.backtest import _candidates, _Data, _errors
    from tenure.predictions.predict import HEURISTIC

    full = hist.frame
    if size:
        rows = full.iloc[draw(len(full), size, seed)]
        frame = with_rhythm(hist, rows, rows["person_id"])
    else:
        frame = with_rhythm(hist, full, None)
    data = _Data(frame, hist.end, hist.holdout_days, hist.at_risk_factor, store, None)
    first = pd.Timestamp(frame["first_day"].min()).date()
    row: dict[str, Any] = {
        "size": size or len(full),
        "all": not size,
        "seed": seed if size else None,
        "buyers": data.n,
        "repeat_buyers": int((frame["frequency"] > 0).sum()),
        "history_days": (hist.end - first).days,
        "holdout_purchases": float(data.actual.sum()),
    }
    for candidate in _candidates((*models, HEURISTIC)):
        name = candidate.name
        started = time.perf_counter()
        try:
            params = candidate.fit(data)
            predicted = candidate.purchases(data, float(hist.holdout_days))
        except ModelError as exc:
            reason = getattr(exc, "message", str(exc))
            seconds = round(time.perf_counter() - started, 4)
            row[name] = {"status": status_of(exc), "reason": reason, "seconds": seconds}
            continue
        mae, rmse, total, _ = _errors(predicted, data.actual)
        row[name] = {
            "status": "ok",
            "rmse": rmse,
            "mae": mae,
            "predicted": total,
            "params": params,
            "seconds": round(time.perf_counter() - started, 4),
        }
    heuristic = row[HEURISTIC]
    for name in models:
        m = row[name]
        ok = m["status"] == "ok"
        m["rmse_ratio"] = m["rmse"] / heuristic["rmse"] if ok and heuristic["rmse"] else 1.0
        m["mae_ratio"] = m["mae"] / heuristic["mae"] if ok and heuristic["mae"] else 1.0
        m["beats"] = bool(ok and m["rmse"] < heuristic["rmse"])
        m["beats_mae"] = bool(ok and m["mae"] < heuristic["mae"])
    return row


def check_against_backtest(
    store: Any, hist: History, size: int, seed: int, models: tuple[str, ...]
) -> dict[str, Any]:
    """The same draw through :func:`tenure.predictions.backtest.backtest`: the RMSEs must agree."""
    from tenure.predictions.backtest import backtest

    mine = run_draw(store, hist, size, seed, models)
    result = backtest(
        store,
        calibration_end=hist.end,
        holdout=HOLDOUT,
        models=list(models),
        record=False,
        sample=size or None,
        random_state=seed,
    )
    theirs = result.metrics.set_index("model")
    worst = 0.0
    for name in (*models, "heuristic"):
        if mine[name]["status"] != "ok":
            assert not str(theirs.loc[name, "status"]).startswith("ok"), name
            continue
        worst = max(worst, abs(mine[name]["rmse"] - float(theirs.loc[name, "rmse"])))
    if worst > 1e-9:
        raise SystemExit(f"the study and backtest() disagree by {worst:g} (n={size}, seed={seed})")
    return {"end": hist.end.isoformat(), "size": size, "seed": seed, "max_abs_rmse_diff": worst}


# -- the summary --------------------------------------------------------------------------------


def summarise(rows: list[dict[str, Any]], models: tuple[str, ...]) -> list[dict[str, Any]]:
    cells: dict[tuple[int, bool], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["size"], row["all"]), []).append(row)
    out = []
    for (size, every), draws in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cell: dict[str, Any] = {
            "n": "all" if every else size,
            "buyers": int(statistics.median(d["buyers"] for d in draws)),
            "draws": len(draws),
            "repeat_buyers_median": statistics.median(d["repeat_buyers"] for d in draws),
            "repeat_buyers_min": min(d["repeat_buyers"] for d in draws),
            "history_days_min": min(d["history_days"] for d in draws),
        }
        for name in models:
            ms = [d[name] for d in draws]
            cell[name] = {
                "fitted": sum(m["status"] == "ok" for m in ms) / len(ms),
                "beats": sum(m["beats"] for m in ms) / len(ms),
                "beats_mae": sum(m["beats_mae"] for m in ms) / len(ms),
                "rmse_ratio_median": statistics.median(m["rmse_ratio"] for m in ms),
                "rmse_ratio_max": max(m["rmse_ratio"] for m in ms),
                "mae_ratio_median": statistics.median(m["mae_ratio"] for m in ms),
            }
        out.append(cell)
    return out


def markdown(store: str, history: int, cells: list[dict[str, Any]], models: tuple[str, ...]) -> str:
    head = ["store", "history", "n", "repeat buyers", "draws"]
    for name in models:
        head += [f"{SHORT[name]} beats", f"{SHORT[name]} RMSE ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cells:
        repeat = f"{c['repeat_buyers_median']:g}"
        cols = [store, f"{history} d", str(c["n"]) if c["n"] != "all" else f"all ({c['buyers']:,})"]
        cols += [repeat, str(c["draws"])]
        for name in models:
            m = c[name]
            fails = "" if m["fitted"] == 1 else f" ({m['fitted']:.0%} fitted)"
            cols += [f"{m['beats']:.0%}{fails}", f"{m['rmse_ratio_median']:.3f}"]
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def band_of(repeat_buyers: int) -> int:
    return max(edge for edge in BANDS if repeat_buyers >= edge)


def by_repeat_buyers(results: list[dict[str, Any]], model: str) -> str:
    """Every draw of a store and history (all n pooled) by its repeat buyers: the share in
    which ``model`` beats the heuristic, and the draws."""
    labels = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(BANDS)] + [f"{BANDS[-1]}+"]
    head = ["store", "history", *[f"{label} repeat buyers" for label in labels]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for store in results:
        for h in store["histories"]:
            cells: dict[int, list[bool]] = {}
            for d in h["draws"]:
                cells.setdefault(band_of(d["repeat_buyers"]), []).append(d[model]["beats"])
            cols = [store["store"], f"{h['history']} d"]
            for edge in BANDS:
                won = cells.get(edge, [])
                cols.append(f"{sum(won) / len(won):.0%} of {len(won)}" if won else "")
            lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines)


def floor_check(results: list[dict[str, Any]], floor: Any, model: str) -> dict[str, Any]:
    """The draws that meet ``floor`` (their own buyers, repeat buyers and history) by cell:
    the share in which ``model`` beats the heuristic; the lowest over the cells with at least
    :data:`CELL_DRAWS` such draws, and the share among the draws below the floor."""
    cells: dict[str, list[bool]] = {}
    below: list[bool] = []
    for store in results:
        for h in store["histories"]:
            for d in h["draws"]:
                meets = (
                    d["buyers"] >= floor.buyers
                    and d["repeat_buyers"] >= floor.repeat_buyers
                    and d["history_days"] >= floor.history_days
                )
                if not meets:
                    below.append(d[model]["beats"])
                    continue
                n = "all" if d["all"] else d["size"]
                cells.setdefault(f"{store['store']} {h['history']} d n={n}", []).append(
                    d[model]["beats"]
                )
    shares = {k: sum(v) / len(v) for k, v in cells.items() if len(v) >= CELL_DRAWS}
    worst = min(shares, key=lambda k: shares[k]) if shares else None
    above = [won for v in cells.values() for won in v]
    return {
        "floor": {
            "buyers": floor.buyers,
            "repeat_buyers": floor.repeat_buyers,
            "history_days": floor.history_days,
        },
        "model": model,
        "draws_meeting": len(above),
        "beats_meeting": sum(above) / len(above) if above else None,
        "cells": {k: {"draws": len(v), "beats": sum(v) / len(v)} for k, v in cells.items()},
        "worst_cell": worst,
        "worst_cell_beats": shares[worst] if worst else None,
        "reliable": bool(worst and shares[worst] >= RELIABLE),
        "draws_below": len(below),
        "beats_below": sum(below) / len(below) if below else None,
    }


def conclude(results: list[dict[str, Any]], models: tuple[str, ...]) -> dict[str, Any]:
    """Print the pooled tables and the check of the floor in force; return them."""
    from tenure.predictions.holdout import FLOOR, DataFloor

    out: dict[str, Any] = {}
    for model in models:
        print(f"\n{SHORT[model]} beats the heuristic, by repeat buyers (every n pooled)")
        print(by_repeat_buyers(results, model))
    provisional = DataFloor(buyers=500, repeat_buyers=100, history_days=180)  # before the study
    floors = [FLOOR] if provisional == FLOOR else [FLOOR, provisional]
    checks = [floor_check(results, floor, model) for floor in floors for model in models]
    for c in checks:
        f = c["floor"]
        print(
            f"\nfloor {f['buyers']:,} buyers / {f['repeat_buyers']:,} repeat buyers / "
            f"{f['history_days']} days, {SHORT[c['model']]}: {c['draws_meeting']} draws meet it, "
            f"the model beats the heuristic in {c['beats_meeting'] or 0:.0%} of them; lowest "
            f"cell {c['worst_cell']} {c['worst_cell_beats'] or 0:.0%} (reliable: "
            f"{c['reliable']}); below it {c['beats_below'] or 0:.0%} of {c['draws_below']}"
        )
    out["floor_checks"] = checks
    return out


# -- main ---------------------------------------------------------------------------------------


def study_store(
    label: str, url: str, args: argparse.Namespace, models: tuple[str, ...]
) -> dict[str, Any]:
    from tenure import Store
    from tenure.analytics.base import orders_base

    out: dict[str, Any] = {"store": label, "histories": []}
    with Store(url) as store:
        orders = orders_base(store)
        first = orders.filter(orders.is_purchase).day.min().execute()
        first = first.date() if hasattr(first, "date") else first
        out["first_day"] = first.isoformat()
        checks = list(args.check) if label == "cdnow" else []
        for history in args.histories:
            started = time.perf_counter()
            hist = read_history(store, first + timedelta(days=history))
            rows = []
            for size in args.sizes:
                if size and size >= len(hist.frame):
                    continue  # the whole store is the "all" row
                for seed in range(args.seeds) if size else [0]:
                    rows.append(run_draw(store, hist, size, seed, models))
            done = []
            for size, seed in checks:
                if size < len(hist.frame):
                    done.append(check_against_backtest(store, hist, size, seed, models))
            checks = [] if done else checks  # checked at the first history only
            cells = summarise(rows, models)
            seconds = round(time.perf_counter() - started, 1)
            print(f"\n{label}, calibration end {hist.end} ({history} days), {seconds} s")
            print(markdown(label, history, cells, models), flush=True)
            out["histories"].append(
                {
                    "history": history,
                    "calibration_end": hist.end.isoformat(),
                    "holdout_days": hist.holdout_days,
                    "buyers": len(hist.frame),
                    "seconds": seconds,
                    "checks": done,
                    "summary": cells,
                    "draws": rows,
                }
            )
    return out


def pair(text: str) -> tuple[int, int]:
    size, seed = text.split(":")
    return int(size), int(seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="draws per (store, history, n)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES), help="0: all")
    parser.add_argument("--histories", type=int, nargs="+", default=list(HISTORIES))
    parser.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=MODELS)
    parser.add_argument("--no-demo", action="store_true", help="CDNOW only")
    parser.add_argument("--demo-customers", type=int, default=20_000)
    parser.add_argument("--demo-seed", type=int, default=11)
    parser.add_argument(
        "--check",
        type=pair,
        nargs="*",
        default=[(50, 0), (500, 3)],
        help="size:seed draws of CDNOW run through backtest() as well (first history)",
    )
    parser.add_argument("--summarise", type=Path, help="re-read a JSON of an earlier run")
    args = parser.parse_args()
    if args.summarise:
        report = json.loads(args.summarise.read_text())
        for store in report["stores"]:
            for h in store["histories"]:
                print(f"\n{store['store']}, calibration end {h['calibration_end']}")
                print(markdown(store["store"], h["history"], h["summary"], report["models"]))
        conclude(report["stores"], tuple(report["models"]))
        return
    models = tuple(m for m in MODELS if m in args.models)
    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="floor_study_") as tmp:
        folder = Path(tmp)
        results.append(study_store("cdnow", cdnow_store(folder), args, models))
        if not args.no_demo:
            url = demo_store(folder, args.demo_customers, args.demo_seed)
            results.append(study_store("demo", url, args, models))
    report = {
        "study": "floor_study",
        "created": datetime.now().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "holdout": HOLDOUT,
        "seeds": args.seeds,
        "sizes": args.sizes,
        "histories": args.histories,
        "models": list(models),
        "demo": None
        if args.no_demo
        else {"customers": args.demo_customers, "seed": args.demo_seed},
        "seconds": round(time.perf_counter() - started, 1),
        "stores": results,
    }
    report.update(conclude(results, models))
    OUT.mkdir(exist_ok=True)
    path = OUT / f"floor_study_{datetime.now():%Y-%m-%dT%H%M}.json"
    path.write_text(json.dumps(report, indent=1, default=str))
    print(f"\n{report['seconds']} s; wrote {path}")


if __name__ == "__main__":
    main()
