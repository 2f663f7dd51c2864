"""Progress: the library reports named steps with counts (pipeline steps k of n, identity
phases and label-propagation rounds, an import's steps with its rows, the demo's customers);
the CLI draws them on stderr, only on a terminal unless forced (``--progress`` or
``TENURE_PROGRESS=1``), never on stdout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.identity import resolve_identities
from tenure.ingest import import_file
from tenure.pipeline import run
from tenure.progress import Steps, split_task

runner = CliRunner()
Calls = list[tuple[str, int, int | None]]


def _recorder() -> tuple[Calls, object]:
    calls: Calls = []

    def record(task: str, completed: int, total: int | None) -> None:
        calls.append((task, completed, total))

    return calls, record


@pytest.fixture
def demo_copy(demo_url: str, tmp_path: Path) -> Path:
    """A copy of the session demo store (800 customers, one year, after `tenure run`)."""
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    return path


def _spend(tmp_path: Path) -> Path:
    path = tmp_path / "spend.csv"
    path.write_text("date,channel,campaign,cost,currency\n2024-01-01,email,news,3,USD\n")
    return path


def test_steps_report_each_named_step_k_of_n() -> None:
    calls, record = _recorder()
    steps = Steps(record, "Pipeline", 3)  # type: ignore[arg-type]
    steps("identity")
    steps("customer_facts")
    steps.detail("round 2")
    steps("predictions")
    steps.done()
    assert calls == [
        ("Pipeline: identity", 0, 3),
        ("Pipeline: customer_facts", 1, 3),
        ("Pipeline: customer_facts (round 2)", 1, 3),
        ("Pipeline: predictions", 2, 3),
        ("Pipeline: predictions", 3, 3),
    ]
    assert split_task("Pipeline: customer_facts") == ("Pipeline", "customer_facts")
    assert split_task("import rows") == ("import rows", None)
    Steps(None, "Quiet", 1)("nothing to tell")  # no callback: nothing reported, no error


def test_the_pipeline_reports_its_steps_by_name(demo_copy: Path) -> None:
    calls, record = _recorder()
    steps = ["customer_rfm", "customer_status"]
    with Store(str(demo_copy)) as store:
        run(store, steps=steps, force=True, progress=record)  # type: ignore[arg-type]
    assert calls == [
        ("Pipeline: customer_rfm", 0, 2),
        ("Pipeline: customer_status", 1, 2),
        ("Pipeline: customer_status", 2, 2),
    ]


def test_identity_resolution_reports_phases_and_rounds(demo_copy: Path) -> None:
    calls, record = _recorder()
    with Store(str(demo_copy)) as store:
        result = resolve_identities(store, incremental=False, progress=record)  # type: ignore[arg-type]
    phases = [t for t, _, _ in calls if "(" not in t]
    assert phases == [
        "Identity: read the state",
        "Identity: edges and flags",
        "Identity: connected components",
        "Identity: person ids",
        "Identity: write identities",
        "Identity: write identities",
    ]
    assert [(c, n) for t, c, n in calls if "(" not in t] == [(k, 5) for k in (0, 1, 2, 3, 4, 5)]
    rounds = [t for t, _, _ in calls if "(" in t]
    assert rounds == [
        f"Identity: connected components (round {i})" for i in range(1, result.iterations + 1)
    ]


def test_an_import_reports_its_steps_and_rows(tmp_path: Path) -> None:
    calls, record = _recorder()
    with Store(str(tmp_path / "s.duckdb")) as store:
        import_file(store, "spend", [_spend(tmp_path)], progress=record)  # type: ignore[arg-type]
    steps = [(t, c, n) for t, c, n in calls if not t.endswith("%)")]
    assert steps == [
        ("Import spend.csv: read and check", 0, 4),
        ("Import spend.csv: compare 1 rows with the store", 1, 4),
        ("Import spend.csv: store 1 rows", 2, 4),
        ("Import spend.csv: quarantine and flags", 3, 4),
        ("Import spend.csv: quarantine and flags", 4, 4),
    ]


def _import(tmp_path: Path, *extra: str) -> tuple[str, str]:
    args = ["import", "spend", str(_spend(tmp_path)), "--store", str(tmp_path / "s.duckdb")]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    stdout, stderr = _import(tmp_path)
    assert stderr == "" and "Import of spend" in stdout


def test_progress_when_forced_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENURE_PROGRESS", "1")
    stdout, stderr = _import(tmp_path)
    assert "Import spend.csv: read and check" in stderr
    assert "Import spend.csv" not in stdout  # progress never goes to stdout


def test_the_progress_flag_forces_it_and_wins_over_the_environment(
    demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["stages", "backfill", "--start", "2024-12-01", "--every", "month"]
    args += ["--store", str(demo_copy)]
    shown = runner.invoke(app, [*args, "--progress"])
    assert shown.exit_code == 0, shown.output
    assert "Backfill" in shown.stderr and "Backfill" not in shown.stdout
    monkeypatch.setenv("TENURE_PROGRESS", "1")
    hidden = runner.invoke(app, [*args, "--no-progress"])
    assert hidden.exit_code == 0 and hidden.stderr == ""


def test_the_progress_option_has_help_text() -> None:
    for command in (["run"], ["refresh"], ["demo"], ["predict"], ["identity", "resolve"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert "--progress" in result.stdout
        said = " ".join(result.stdout.replace("│", " ").split())
        assert "Show what the command is doing and how far it is, on stderr (by default" in said
        assert "TENURE_PROGRESS=1 or 0 forces it on or off)" in said, command


@pytest.mark.slow  # a model fit and a backtest: ~20 s on the shared machine
def test_predict_and_backtest_report_their_fits(demo_copy: Path) -> None:
    from datetime import date

    from tenure.pipeline import predict
    from tenure.predictions.backtest import backtest
    from tenure.predictions.holdout import DataFloor

    calls, record = _recorder()
    low = DataFloor(buyers=1, repeat_buyers=1, history_days=1)  # the small store is fitted
    with Store(str(demo_copy)) as store:
        predict(store, progress=record, floor=low)  # type: ignore[arg-type]
        assert calls[0] == ("Pipeline: predictions", 0, 1)
        assert [c for c in calls if c[0].startswith("Predict")] == [
            ("Predict: customer facts", 0, 3),
            ("Predict: fit BetaGeo and GammaGamma", 1, 3),
            ("Predict: score and write", 2, 3),
            ("Predict: score and write", 3, 3),
        ]
        assert calls[-1] == ("Pipeline: predictions", 1, 1)
        calls.clear()
        models = ["BetaGeo", "ParetoNBD"]
        backtest(
            store,
            calibration_end=date(2024, 6, 30),
            models=models,
            record=False,
            progress=record,  # type: ignore[arg-type]
        )
    assert calls == [
        ("Backtest: read the orders", 0, 5),
        ("Backtest: fit BetaGeo", 1, 5),
        ("Backtest: fit ParetoNBD", 2, 5),
        ("Backtest: fit heuristic", 3, 5),
        ("Backtest: charts and record", 4, 5),
        ("Backtest: charts and record", 5, 5),
    ]
