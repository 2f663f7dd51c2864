"""The daily run's imports stay light: re-scoring with a stored fit needs neither
scipy.stats (~0.4 s to import) nor scipy.optimize (~0.1 s); fitting and backtests import
them where they use them."""

from __future__ import annotations

import subprocess
import sys


def test_the_daily_run_imports_neither_scipy_stats_nor_optimize() -> None:
    code = (
        "import sys, tenure.cli.main, tenure.pipeline, tenure.predictions.rescore, "
        "tenure.predictions; print(sorted(m for m in ('scipy.stats', 'scipy.optimize') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
