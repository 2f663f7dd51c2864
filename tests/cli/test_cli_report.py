"""`tenure report` (issue 19, item 5): the library (:func:`tenure.dashboard.report.write_report`)
and the command, paired; the period's and the language's errors. The report in a browser,
offline, against `tenure kpis` and `tenure channels`: tests/service/test_dashboard_browser.py."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.dashboard.model import Window
from tenure.dashboard.pages import PAGES
from tenure.dashboard.report import window_for, write_report
from tenure.errors import ConfigError

runner = CliRunner()


def _copy(demo_url: str, folder: Path) -> Path:
    path = folder / "store.duckdb"
    shutil.copy(demo_url.removeprefix("duckdb://"), path)
    return path


def test_the_window_of_the_options(demo_url: str) -> None:
    with Store(demo_url, read_only=True) as store:
        assert window_for(store) == Window.month(date(2024, 12, 30))
        assert window_for(store, date(2024, 3, 1), date(2024, 3, 31)) == Window(
            date(2024, 3, 1), date(2024, 3, 31), date(2024, 1, 30), date(2024, 2, 29)
        )
        assert window_for(store, end=date(2024, 3, 30)).start == date(2024, 3, 1)
        with pytest.raises(ConfigError, match=r"starts \(2024-03-02\) after it ends"):
            window_for(store, date(2024, 3, 2), date(2024, 3, 1))


@pytest.mark.slow  # every page of the tests' demo store: ~20 s
def test_write_report_draws_every_page_in_the_language(demo_url: str, tmp_path: Path) -> None:
    with Store(demo_url, read_only=True) as store:
        window = window_for(store)
        path = write_report(store, store.settings, window, tmp_path / "r.html", "fr")
    html = path.read_text(encoding="utf-8")
    assert path == tmp_path / "r.html"
    assert '<html lang="fr">' in html and "<title>Rapport du cycle de vie client</title>" in html
    assert re.findall(r'<article class="page" id="page-(\w+)"', html) == list(PAGES)
    assert 'data-start="2024-12-01" data-end="2024-12-30"' in html


@pytest.mark.slow  # every page of the tests' demo store: ~20 s
def test_report_command_prints_the_path(demo_url: str, tmp_path: Path) -> None:
    store = _copy(demo_url, tmp_path)
    out = tmp_path / "march.html"
    period = ["--start", "2024-03-01", "--end", "2024-03-31"]
    result = runner.invoke(
        app, ["report", "--store", str(store), "--out", str(out), *period, "--lang", "es"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.replace("\n", "") == f"Report: {out}"
    html = out.read_text(encoding="utf-8")
    assert '<html lang="es">' in html and 'data-start="2024-03-01" data-end="2024-03-31"' in html


def test_report_command_refuses_a_bad_language_period_or_folder(
    demo_url: str, tmp_path: Path
) -> None:
    store = str(_copy(demo_url, tmp_path))
    cases = [
        (
            ["--lang", "de"],
            "Error: The language 'de' is not one the dashboard speaks. "
            "Hint: Choose one of en, fr, es.",
        ),
        (
            ["--start", "2024-03-02", "--end", "2024-03-01"],
            "Error: The period starts (2024-03-02) after it ends (2024-03-01). "
            "Hint: Swap --start and --end.",
        ),
        (
            ["--out", str(tmp_path / "no" / "r.html")],
            f"Error: Cannot write the report to {tmp_path / 'no' / 'r.html'}: the folder "
            f"{tmp_path / 'no'} does not exist. Hint: Create the folder first, or pass another "
            "--out.",
        ),
    ]
    for options, message in cases:
        result = runner.invoke(app, ["report", "--store", store, *options])
        assert result.exit_code == 2, result.output
        # Rich folds long lines anywhere (inside a long path too): compared without spaces
        assert "".join(result.output.split()) == "".join(message.split())
    bad = runner.invoke(app, ["report", "--store", store, "--start", "2024-13-01"])
    assert bad.exit_code == 2
    assert "--start must be a date YYYY-MM-DD" in " ".join(bad.output.split())
