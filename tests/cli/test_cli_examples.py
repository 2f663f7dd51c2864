"""docs/cli.md shows the real output of its examples (tests/cli/cli_examples.py)."""

from __future__ import annotations

from tests.cli.cli_examples import PAGE, masked, render, section


def test_the_examples_in_docs_cli_are_the_real_output(demo_url: str) -> None:
    expected = masked(render(demo_url).strip("\n"))
    shown = masked(section(PAGE.read_text()))
    assert shown == expected, (
        "docs/cli.md's examples differ from the commands' output: run "
        "`python -m tests.cli.cli_examples` and review the change"
    )
