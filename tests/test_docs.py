"""Docs that cannot drift: README vs CI, data model vs schema, settings and commands documented."""

from __future__ import annotations

import re
from pathlib import Path

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
