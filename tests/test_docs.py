"""Docs that cannot drift: README vs CI, data model vs schema, settings and commands documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from tenure.cli import app
from tenure.config import Settings
from tenure.store.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_opens_with_demo_and_test_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = _bash_blocks(readme)
    demo_cmd = blocks[0].splitlines()[-1]
    test_cmd = blocks[1].splitlines()[-1]
    assert demo_cmd.endswith("tenure demo")
    assert test_cmd.endswith(("python -m pytest", "python -m pytest -n 2"))
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci_lines, "`.ci/run` must run the README's test command verbatim"


def test_data_model_doc_matches_schema() -> None:
    doc = (ROOT / "docs" / "data-model.md").read_text()
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", doc, flags=re.S | re.M))
    assert set(sections) == set(TABLES)
    for name, spec in TABLES.items():
        rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| (key)? *\|", sections[name], flags=re.M)
        documented = [(col, typ, bool(key)) for col, typ, key in rows]
        expected = [
            (col, str(dtype).replace("!", ""), col in spec.key)
            for col, dtype in spec.schema.items()
        ]
        assert documented == expected, name


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name} has no description"
        assert f"`{name}`" in doc and f"`TENURE_{name.upper()}`" in doc, name


def _command_paths(group: typer.Typer, prefix: str = "tenure") -> list[str]:
    paths = [f"{prefix} {c.name or c.callback.__name__}" for c in group.registered_commands]  # type: ignore[union-attr]
    for sub in group.registered_groups:
        paths += _command_paths(sub.typer_instance, f"{prefix} {sub.name}")  # type: ignore[arg-type]
    return paths


def test_every_cli_command_is_documented() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    paths = _command_paths(app)
    assert "tenure import orders" in paths and "tenure demo" in paths
    for path in paths:
        assert f"`{path}" in doc, f"{path} is not in docs/cli.md"


def _usage_examples() -> list[list[str]]:
    """The README's example commands ("Using it"), each as its arguments after `tenure`."""
    import shlex

    readme = (ROOT / "README.md").read_text()
    usage = readme.split("## Using it", 1)[1]
    block = _bash_blocks(usage)[0]
    lines = [line.split("  #", 1)[0].strip() for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("tenure ")]


def _readme_identifiers() -> tuple[set[str], set[str]]:
    """The customer ids and the e-mails the README's examples use."""
    words = {w.removeprefix("customer_id:") for args in _usage_examples() for w in args}
    ids = {w for w in words if re.fullmatch(r"C\d{7}", w)}
    emails = {w for w in words if re.fullmatch(r"[^@\s]+@example\.com", w)}
    return ids, emails


def test_readme_identifiers_exist_in_the_demo_store(demo_url: str) -> None:
    """The demo numbers its persons: customer `C0000042` is person 42, a buyer in any demo of
    more than 42 customers (buyers come first), so the session demo store (800 customers,
    seed 7) holds every customer id of the README. An e-mail is the demo's
    `first.last<number>@example.com` of the customer of that number (the names depend on the
    store's size: the slow test below checks them in the default demo)."""
    from tenure import Store

    ids, emails = _readme_identifiers()
    assert ids == {"C0000042"} and emails == {"pia.walker42@example.com"}
    with Store(demo_url) as store:
        orders = store.table("orders")
        for cid in ids:
            assert orders.filter(orders.customer_id == cid).count().execute() > 0, cid
    for email in emails:
        number = re.search(r"(\d+)@", email)
        assert number is not None and f"C{int(number.group(1)):07d}" in ids, email


@pytest.mark.slow  # the default demo store: ~1 min
def test_readme_examples_run_on_the_default_demo_store(tmp_path: Path) -> None:
    """Every README example that needs no input file runs, on the store `tenure demo` makes
    by default, and finds the identifiers it names."""
    from typer.testing import CliRunner

    runner = CliRunner()
    store = ["--store", str(tmp_path / "tenure.duckdb")]
    made = runner.invoke(app, ["demo", *store, "--json"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(app, ["identity", "resolve", *store]).exit_code == 0
    skipped = {"import", "run", "refresh", "predict", "models", "demo", "--help"}
    ran = []
    for args in _usage_examples():
        if args[0] in skipped or args[:2] == ["stages", "backfill"]:
            continue  # files the reader brings, or the long rebuilds (tests of their own)
        result = runner.invoke(app, [*args, *store] if args[0] != "--version" else args)
        assert result.exit_code == 0, (args, result.output)
        ran.append(args[0] if args[0] != "--read-only" else args[1])
    assert {"profile", "privacy", "customers", "rfm", "stages"} <= set(ran)
