"""A Spark store reopens: every command is its own process, as a user runs them (issue 11, 9).

Spark's default catalog lives in memory, so a second process used to find the tables' data in
the warehouse but not the tables (``LOCATION_ALREADY_EXISTS``). Here import, refresh, predict
and kpis run as separate ``tenure`` processes on one warehouse and must print what the same
processes print on a DuckDB file.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

AS_OF = "2025-12-31"


def tenure(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``tenure ARGS`` in a new process (the entry point's code, this interpreter and path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
    env["TENURE_CONFIG"] = str(cwd / "no-such-tenure.toml")
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    code = "import sys; from tenure.cli import main; sys.argv[0] = 'tenure'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return json.loads(result.stdout)


def write_orders(path: Path, customers: int = 1_100, seed: int = 5) -> int:
    """A year of BG/NBD-like orders: each buyer buys at their own rate and may drop out after
    any purchase; amounts with cents. Returns the number of orders."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        rate = rng.gamma(1.5, 1 / 40)  # purchases per day
        p_drop = rng.beta(1.0, 4.0)
        day = float(rng.integers(0, 180))
        while day < 365:
            at = np.datetime64("2025-01-01") + int(day)
            rows.append(
                [
                    f"o{len(rows):06d}",
                    f"c{c:05d}",
                    f"{at} {int(rng.integers(8, 20)):02d}:00:00",
                    f"{rng.gamma(2.0, 25.0):.2f}",
                    "USD",
                ]
            )
            if rng.random() < p_drop:
                break
            day += rng.exponential(1 / rate)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["order_id", "customer_id", "ordered_at", "total", "currency"])
        writer.writerows(rows)
    return len(rows)


def without(doc: Any, keys: set[str]) -> Any:
    """``doc`` without the keys that differ from run to run (ids, wall times)."""
    if isinstance(doc, dict):
        return {k: without(v, keys) for k, v in doc.items() if k not in keys}
    if isinstance(doc, list):
        return [without(v, keys) for v in doc]
    return doc


def assert_same(spark: Any, duck: Any, where: str = "") -> None:
    """Equal JSON documents, floats to a relative 1e-6 (sums run in another order on Spark)."""
    if isinstance(duck, float) and isinstance(spark, int | float):
        assert spark == pytest.approx(duck, rel=1e-6, abs=1e-9), where
    elif isinstance(duck, dict):
        assert isinstance(spark, dict) and spark.keys() == duck.keys(), where
        for key in duck:
            assert_same(spark[key], duck[key], f"{where}.{key}")
    elif isinstance(duck, list):
        assert isinstance(spark, list) and len(spark) == len(duck), where
        for i, (s, d) in enumerate(zip(spark, duck, strict=True)):
            assert_same(s, d, f"{where}[{i}]")
    else:
        assert spark == duck, where


def run_sequence(url: str, orders: Path, cwd: Path) -> dict[str, Any]:
    """import, refresh, predict, kpis: four processes on the store ``url``."""
    volatile = {"import_id", "seconds", "files", "run_id"}
    out = {
        "import": json_of(
            tenure("import", "orders", str(orders), "--store", url, "--json", cwd=cwd)
        )
    }
    refresh = ["refresh", "--store", url, "--as-of", AS_OF, "--json", "--no-progress"]
    out["refresh"] = json_of(tenure(*refresh, cwd=cwd))
    predict = ["predict", "--store", url, "--as-of", AS_OF, "--json", "--top", "20"]
    out["predict"] = json_of(tenure(*predict, cwd=cwd))
    out["kpis"] = json_of(tenure("kpis", "--store", url, "--as-of", AS_OF, "--json", cwd=cwd))
    return without(out, volatile)


@pytest.mark.slow
def test_spark_store_reopens_across_processes_like_duckdb(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    n = write_orders(orders)
    warehouse = tmp_path / "warehouse"
    spark = run_sequence(f"pyspark://local[2]?warehouse={warehouse}", orders, tmp_path)
    duck = run_sequence(f"duckdb://{tmp_path / 'shop.duckdb'}", orders, tmp_path)

    assert spark["import"]["stored"] == n and spark["refresh"]["rows"]["customer_facts"] == 1_100
    assert spark["predict"]["method"] == duck["predict"]["method"]
    assert len(spark["predict"]["top"]) == 20 and len(spark["kpis"]) == 12
    assert_same(spark, duck)
    # the catalog lives in the warehouse, next to the tables' data
    assert (warehouse / "metastore_db").is_dir() and (warehouse / "orders").is_dir()
