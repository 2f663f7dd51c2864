"""No command ever prints a traceback (issue 11, item 6).

Every command of the `tenure` app (found by walking the Typer app, so a new command is covered
without editing this file) runs over degenerate stores built through the real importers: an
empty store, one order, no repeat buyer, every amount 0, every order a refund, one day of
history, one customer with 10,000 orders, and a store in GBP only (no ``fx_rates``). A run
passes when it ends with a documented exit code (0, 1, 2, 3) and, when it fails, with the error
tree's message; it fails on a Python traceback, on an exception escaping the command, and on
the CLI's last-resort "Internal error" line (every failure must be a proper TenureError).



"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from tenure import Store
from tenure.cli import app
from tenure.ingest import import_file

runner = CliRunner()

#: The exit codes README.md and docs/cli.md document.
DOCUMENTED_EXIT_CODES = {0, 1, 2, 3}
#: Markers of a failure that is not the error tree's message.
FORBIDDEN = ("Traceback (most recent call last)", "Internal error:")
#: Markers of a test that called a command wrongly (its failure would prove nothing).
USAGE_MISTAKES = ("No such option", "Missing argument", "Missing option", "Got unexpected")

ORDER_COLUMNS = ["order_id", "customer_id", "email", "ordered_at", "currency", "total", "is_refund"]
START = datetime(2024, 1, 1, 10, 0)


# --------------------------------------------------------------------------- the stores
@dataclass(frozen=True)
class Shape:
    """A degenerate store: the order rows its CSV file holds."""

    name: str
    orders: Callable[[], list[dict[str, Any]]]
    slow: bool = False


def _order(n: int, customer: int, at: datetime, total: str, **extra: Any) -> dict[str, Any]:
    row = {
        "order_id": f"o{n}",
        "customer_id": f"c{customer}",
        "email": f"c{customer}@example.com",
        "ordered_at": at.isoformat(sep=" "),
        "currency": "USD",
        "total": total,
        "is_refund": "false",
    }
    row.update(extra)
    return row


def _repeat_buyers(customers: int, seed: int) -> list[dict[str, Any]]:
    """Buyers with 1 to 6 orders each over a year: with 1,200 of them the store clears the
    models' data floor (1,000 buyers, 400 repeat buyers, 180 days), so the models are fitted."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    for c in range(1, customers + 1):
        for day in np.sort(rng.uniform(0, 365, int(rng.integers(1, 7)))):
            at = START + timedelta(days=float(day))
            total = f"{rng.integers(5, 200)}.{rng.integers(0, 100):02d}"
            rows.append(_order(len(rows) + 1, c, at.replace(microsecond=0), total))
    return rows


def _shape_rows(shape: str) -> list[dict[str, Any]]:
    if shape == "empty":
        return []
    if shape == "one_order":
        return [_order(1, 1, START, "25.00")]
    if shape == "no_repeat":
        return [_order(c, c, START + timedelta(days=c * 7), f"{20 + c}.50") for c in range(1, 51)]
    if shape == "zero_amounts":
        return [{**row, "total": "0.00"} for row in _repeat_buyers(1200, seed=1)]
    if shape == "all_refunds":
        return [
            {**row, "total": f"-{row['total']}", "is_refund": "true"}
            for row in _repeat_buyers(30, seed=2)
        ]
    if shape == "one_day":
        day = datetime(2024, 5, 1, 9, 0)
        return [
            _order(n, 1 + n % 30, day + timedelta(minutes=n), f"{15 + n}.00") for n in range(45)
        ]
    if shape == "whale":
        return [
            _order(n, 1, START + timedelta(hours=2 * n), f"{5 + n % 40}.25")
            for n in range(1, 10_001)
        ]
    if shape == "gbp_only":
        return [{**row, "currency": "GBP"} for row in _repeat_buyers(1200, seed=3)]
    raise AssertionError(shape)


SHAPES = [
    "empty",
    "one_order",
    "no_repeat",
    "zero_amounts",
    "all_refunds",
    "one_day",
    "whale",
    "gbp_only",
]
#: The shapes run with every format and every extra path; the others run plain and in their
#: first machine format (a path that breaks on one shape's data shows on these).
FULL_SHAPES = {"one_order", "zero_amounts", "gbp_only"}
#: The shape whose plain runs stay in `-m "not slow"` (about 15 s).
FAST_SHAPES = {"empty"}


@dataclass(frozen=True)
class Built:
    """A degenerate store file (imported and refreshed) and the days its orders span."""

    path: Path
    first: date
    last: date

    @property
    def middle(self) -> date:
        return self.first + (self.last - self.first) / 2


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=ORDER_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _build(shape: str, directory: Path) -> Built:
    rows = _shape_rows(shape)
    source = _write_csv(directory / "orders.csv", rows)
    path = directory / "store.duckdb"
    url = f"duckdb://{path}"
    with Store(url) as store:
        import_file(store, "orders", [source])
    # The store as a user has it after onboarding; a failure of these steps is reported by
    # their own cases, not here.
    runner.invoke(app, ["identity", "resolve", "--store", str(path)])
    runner.invoke(app, ["refresh", "--store", str(path), "--no-progress"])
    days = sorted(datetime.fromisoformat(r["ordered_at"]).date() for r in rows) or [START.date()]
    return Built(path, days[0], days[-1])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Built]:
    """Each shape's store, built once per module on first use."""
    cache: dict[str, Built] = {}

    def get(shape: str) -> Built:
        if shape not in cache:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("TENURE_CONFIG", str(tmp_path_factory.getbasetemp() / "none.toml"))
                cache[shape] = _build(shape, tmp_path_factory.mktemp(shape))
        return cache[shape]

    return get


# --------------------------------------------------------------------------- the commands
def every_command() -> dict[str, Any]:
    """Every command of the app, as "group command" -> its Click command."""
    found: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found[" ".join(path)] = command
            return
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return found


def _options(command: Any) -> set[str]:
    return {o for p in command.params for o in p.opts if o.startswith("-")}


def _person(_: Built, __: Path) -> list[str]:
    return ["customer_id:c1"]


def _bounce_file(tmp: Path) -> str:
    """A SendGrid event webhook payload: a hard bounce of c1's address."""
    path = tmp / "bounces.json"
    path.write_text('[{"event": "bounce", "email": "c1@example.com", "type": "bounce"}]')
    return str(path)


def _import(entity: str) -> Callable[[Built, Path], list[str]]:
    def args(store: Built, tmp: Path) -> list[str]:
        if entity == "orders":
            return [str(store.path.parent / "orders.csv")]
        header = {
            "customers": "customer_id,email,created_at\nc1,c1@example.com,2024-01-01\n",
            "events": "message_id,type,event,user_id,timestamp\nm1,track,Viewed,c1,2024-01-02\n",
            "products": "product_id,title,price,currency\np1,Mug,9.50,USD\n",
            "spend": "date,channel,campaign,cost,currency\n2024-01-01,paid_search,brand,0,USD\n",
            "feedback": "feedback_id,email,kind,score,submitted_at\n"
            "f1,c1@example.com,nps,9,2024-01-03\n",
            "referrals": "referral_id,referrer_email,referred_email,referred_at\n"
            "r1,c1@example.com,c2@example.com,2024-01-03\n",
        }[entity]
        source = tmp / f"{entity}.csv"
        source.write_text(header)
        return [str(source)]

    return args


def _fx_file(tmp: Path) -> str:
    source = tmp / "fx.csv"
    source.write_text("date,currency,rate\n2024-01-01,EUR,1.08\n")
    return str(source)


#: The arguments each command needs on a store (anything it requires, a place for its files).
ARGUMENTS: dict[str, Callable[[Built, Path], list[str]]] = {
    "demo": lambda _, __: ["--customers", "30", "--days", "30"],
    "import orders": _import("orders"),
    "import customers": _import("customers"),
    "import events": _import("events"),
    "import products": _import("products"),
    "import spend": _import("spend"),
    "import feedback": _import("feedback"),
    "import referrals": _import("referrals"),
    "identity unmerge": lambda _, __: ["customer_id:c1", "email:c1@example.com"],
    "profile show": _person,
    "privacy export": _person,
    "privacy delete": lambda _, __: ["customer_id:c1", "--yes"],
    "customers show": _person,
    "customers search": lambda _, __: ["c1"],
    "recommend for": _person,
    "recommend cart": lambda _, __: ["P1", "SKU-2"],
    "flows pause": lambda _, __: ["welcome_series"],
    "flows resume": lambda _, __: ["welcome_series"],
    "flows backtest": lambda s, tmp: [
        "abandoned_cart",
        "--from",
        (s.last - timedelta(days=14)).isoformat(),
        "--to",
        s.last.isoformat(),
        "--step",
        "72",
        "--chart",
        str(tmp / "backtest.png"),
    ],
    "models backtest": lambda s, tmp: [
        "--calibration-end",
        s.middle.isoformat(),
        "--holdout",
        "26w",
        "--out",
        str(tmp / "charts"),
    ],
    "stages backfill": lambda s, _: [
        "--start",
        s.first.isoformat(),
        "--end",
        s.last.isoformat(),
        "--every",
        "month",
    ],
    "stages transitions": lambda s, _: [
        "--start",
        s.first.isoformat(),
        "--end",
        s.last.isoformat(),
    ],
    "stages entered": lambda s, _: ["--on", s.last.isoformat()],
    "import fx_rates": lambda _, tmp: [_fx_file(tmp)],
    "store set": lambda _, __: ["reporting-currency", "EUR"],
    "quarantine show": lambda _, __: ["imp-none:2"],
    "quarantine export": lambda _, tmp: ["--out", str(tmp / "quarantine.csv")],
    "segments preview": lambda _, __: ["vip"],
    "segments members": lambda _, __: ["cart_abandoners"],
    "segments export": lambda _, tmp: ["at_risk", "--out", str(tmp / "at_risk.csv")],
    "dispatch": lambda _, tmp: ["--dry-run", str(tmp / "outbox")],
    "flows preview": lambda _, __: ["abandoned_cart", "email_cart", "c1"],
    "bounces import": lambda _, tmp: [_bounce_file(tmp)],
    "worker": lambda _, tmp: ["--passes", "1", "--interval", "0", "--dry-run", str(tmp / "outbox")],
    "advise budget": lambda _, __: ["--total", "1000", "--min", "paid_search=100"],
    "goals add": lambda _, __: ["revenue +7% in 3 months"],
    "goals show": lambda _, __: ["1"],
    "goals remove": lambda _, __: ["1"],
}

#: Commands that run until stopped, not exercised here (where they are tested instead).
LONG_RUNNING = {
    "serve": "serves until SIGTERM: tests/service/test_ops_process.py runs it as a process",
}
COMMANDS = {
    path: _options(command) for path, command in every_command().items() if path not in LONG_RUNNING
}
#: Variants: the plain run, then each machine format the command has.
VARIANTS = ("plain", "--json", "--csv")
#: Options that take other paths through a command: each is one more (slow) case, run plain.
EXTRA: dict[str, list[list[str]]] = {
    "kpis": [
        ["--grain", "day", "--wide"],
        ["--grain", "quarter", "--by", "channel"],
        ["--by", "cohort"],
        ["--by", "segment"],
        ["--by", "status"],
        ["--by", "stage"],
    ],
    "cohorts": [["--by", "channel", "--long"], ["--by", "first_category"], ["--period", "week"]],
    "customers list": [["--segment", "Champions", "--sort", "name"], ["--status", "vip"]],
    "rfm": [["--customers"]],
    "status": [["--customers"]],
    "predict": [
        ["--customers"],
        ["--model", "ParetoNBD"],
        ["--model", "ModifiedBetaGeo"],
        ["--clv-model", "GradientBoosting"],
    ],
    "models backtest": [["--models", "BetaGeoBetaBinom,GradientBoosting,heuristic"]],
}


#: Known failures, marked xfail: (shape, command) -> why (none today).
KNOWN: dict[tuple[str, str], str] = {}


def _cases() -> list[Any]:
    cases = []
    for shape in SHAPES:
        for command, options in COMMANDS.items():
            variants = [v for v in VARIANTS if v == "plain" or v in options]
            if shape not in FULL_SHAPES:  # the suite's time: one format, no extra paths
                variants = variants[:2]
            else:
                variants += [" ".join(extra) for extra in EXTRA.get(command, [])]
            for variant in variants:
                slow = shape not in FAST_SHAPES or variant != "plain"
                marks = [pytest.mark.slow] if slow else []
                if (shape, command) in KNOWN:
                    marks.append(pytest.mark.xfail(strict=False, reason=KNOWN[shape, command]))
                cases.append(pytest.param(shape, command, variant, marks=marks))
    return cases


def test_every_command_with_required_arguments_has_them() -> None:
    """A new command that needs an argument must be given one here, or it is not exercised."""
    commands = every_command()
    assert {"demo", "import orders", "models backtest", "stages backfill"} <= set(commands)
    required = {path for path, c in commands.items() if any(p.required for p in c.params)}
    assert required <= set(ARGUMENTS), sorted(required - set(ARGUMENTS))


@pytest.mark.parametrize(("shape", "command", "variant"), _cases())
def test_no_traceback(
    shape: str,
    command: str,
    variant: str,
    built: Callable[[str], Built],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = built(shape)
    path = tmp_path / "store.duckdb"
    shutil.copy(store.path, path)
    shutil.copy(store.path.parent / "orders.csv", tmp_path / "orders.csv")
    copy = Built(path, store.first, store.last)
    monkeypatch.chdir(tmp_path)  # files a command writes by default land here
    args = [*command.split(), *ARGUMENTS.get(command, lambda _, __: [])(copy, tmp_path)]
    if "--store" in COMMANDS[command]:
        args += ["--store", str(path)]
    if "--progress" in COMMANDS[command]:
        args.append("--no-progress")
    if variant != "plain":
        args += variant.split()
    result = runner.invoke(app, args)
    output = result.stdout + result.stderr
    shown = f"tenure {' '.join(args)}\nexit {result.exit_code}\n{output}"
    for marker in FORBIDDEN:
        assert marker not in output, shown
    for marker in USAGE_MISTAKES:
        assert marker not in output, f"the test calls the command wrongly: {shown}"
    escaped = result.exception
    assert escaped is None or isinstance(escaped, SystemExit), (
        f"{type(escaped).__name__}: {str(escaped)[:300]} escaped\n{shown[:2000]}"
    )
    assert result.exit_code in DOCUMENTED_EXIT_CODES, shown
    if result.exit_code != 0:
        assert "Error:" in result.stderr, shown


#: Indicators of a stage without any person to count on the degenerate stores: each must be
#: null (unknown), never 0.
NO_POPULATION = {
    "empty": {"identified_share", "visitor_conversion", "cac", "retention", "repeat_rate"},
    "one_order": {"second_order_rate", "median_days_to_second_order", "retention", "cac"},
    "no_repeat": {"median_days_to_second_order", "cac", "nps", "clv_referred"},
    "all_refunds": {"second_order_rate", "repeat_rate", "first_90_day_value", "nps"},
}


@pytest.mark.parametrize(
    "shape",
    [s if s in FAST_SHAPES else pytest.param(s, marks=pytest.mark.slow) for s in NO_POPULATION],
)
def test_stage_indicators_are_null_without_a_population(
    shape: str, built: Callable[[str], Built]
) -> None:
    """`tenure stages --indicators` (a group's option: the walk above does not reach it)."""
    store = built(shape)
    args = ["stages", "--indicators", "--store", str(store.path), "--as-of"]
    result = runner.invoke(app, [*args, store.last.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    values = {d["indicator"]: d["value"] for d in json.loads(result.stdout)}
    for name in NO_POPULATION[shape]:
        assert values[name] is None, (name, values)
    table = runner.invoke(app, [*args, store.last.isoformat()])
    assert table.exit_code == 0 and "Traceback" not in table.output, table.output
