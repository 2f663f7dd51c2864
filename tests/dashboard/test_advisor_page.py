"""The Advisor page (issue 20, item 4) on a copy of the tests' demo store with two goals: its
numbers are the advisor library's (`tenure advise --json`, `tenure advise budget --json` for
the page's total, `tenure goals show ID --json`), each goal has its forecast fan, the JSON
twin gives the page back, it draws in French; and small stores (no sale, two weeks without
spend, one paid channel, no goal) get a page that says what is missing instead of numbers."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from markupsafe import escape

from tenure import Store
from tenure.advisor.budget import BudgetRules, current_spend, propose_budget
from tenure.advisor.channels import channel_economics
from tenure.advisor.goals import add_goal, goal_progress
from tenure.advisor.maturity import maturity
from tenure.advisor.sentence import Sentence
from tenure.dashboard.draw import Frame, render_page
from tenure.dashboard.i18n import Translator
from tenure.dashboard.kept import page_from_json
from tenure.dashboard.model import Metric, Page, Section, Table, Value
from tenure.dashboard.pages import build_page, default_window
from tenure.dashboard.pages.advisor_budget import NO_TOTAL, TOTAL_NOTE
from tenure.dashboard.pages.advisor_goals import NO_GOAL
from tenure.dashboard.pages.common import observed_end
from tests.advisor.storekit import build, daily_orders, spend_rows

END = date(2024, 6, 30)


@pytest.fixture(scope="module")
def demo(ran_demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("advisor") / "demo.duckdb"
    shutil.copy(ran_demo_url.removeprefix("duckdb://"), path)
    with Store(f"duckdb://{path}") as s:
        add_goal(s, "revenue +7% in 3 months")
        add_goal(s, "repeat_rate +2pt in 6 weeks")
        yield s


@pytest.fixture(scope="module")
def page(demo: Store) -> Page:
    return build_page("advisor", demo, demo.settings, default_window(demo))


def section(page: Page, key: str) -> Section:
    return next(s for s in page.sections if s.key == key)


def cards(s: Section) -> dict[str, Metric]:
    return {m.key: m for m in s.metrics}


def rows(t: Table) -> list[dict[str, Value]]:
    keys = [c.key for c in t.columns]
    return [dict(zip(keys, r, strict=True)) for r in t.rows]


def table(s: Section, key: str) -> Table:
    return next(t for t in s.tables if t.key == key)


def cents(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def test_the_stage_split_and_health_are_tenure_advise(demo: Store, page: Page) -> None:
    end = observed_end(demo, page.window)
    d = maturity(demo, as_of=end).to_dict()
    stage = cards(section(page, "stage"))
    assert stage["stage"].value == d["stage"] == "established"
    assert stage["recommended_retention_share"].value == d["recommended_retention_share"]
    assert stage["retention_share"].value == d["split"]["retention_share"]
    assert stage["retention_share"].previous == d["recommended_retention_share"]
    assert stage["retention_share"].versus == "vs recommended"
    assert stage["recommended_retention_share"].versus is None
    assert stage["age_days"].value == d["signals"]["age_days"]
    assert stage["sales_per_day"].value == pytest.approx(d["signals"]["sales_per_day"])
    ladder = rows(table(section(page, "stage"), "stages"))
    assert [r["reached"] for r in ladder] == ["yes"] * 4 + ["no"]
    assert [r["retention_share"] for r in ladder] == [0.0, 0.15, 0.3, 0.5, 0.6]
    assert ladder[-1]["direct_share"] == 0.5 and ladder[3]["sales_per_day"] == 8.0
    effort = cards(section(page, "effort"))
    assert effort["acquisition_spend"].value == cents(d["split"]["acquisition_spend"])
    assert effort["messages_sent"].value == d["split"]["messages_sent"]
    assert effort["start"].value == d["split"]["start"]
    sent = {r["channel"]: r["sent"] for r in rows(table(section(page, "effort"), "messages"))}
    assert sent == {m["channel"]: m["sent"] for m in d["split"]["messages"]}
    health = rows(table(section(page, "health"), "health"))
    expected = [*d["health"]["channels"], d["health"]["overall"]]
    assert [r["channel"] for r in health] == [h["channel"] for h in expected]
    for shown, h in zip(health, expected, strict=True):
        assert shown["level"] == h["level"] and shown["new_customers"] == h["new_customers"]
        assert shown["clv_cac"] == pytest.approx(h["clv_cac"]) if h["clv_cac"] else True
        assert shown["cac"] == cents(h["cac"])
    colours = {m.key: m.health for m in section(page, "health").metrics}
    assert colours["clv_cac:paid_search"] == "warn" and colours["clv_cac:direct"] is None
    advice = rows(table(section(page, "advice"), "advice"))
    assert [a["advice"] for a in advice] == [a["text"] for a in d["advice"]]


def test_the_budget_is_tenure_advise_budget_for_the_current_spend(demo: Store, page: Page) -> None:
    end = observed_end(demo, page.window)
    econ = channel_economics(demo, as_of=end)
    total = sum(current_spend(econ).values())
    d = propose_budget(demo, total, as_of=end, rules=BudgetRules(), economics=econ).to_dict()
    budget = section(page, "budget")
    c = cards(budget)
    assert c["total"].value == cents(total) and total > 0
    assert c["proposed_new"].value == pytest.approx(d["expected"]["proposed_new"])
    assert c["proposed_new"].previous == pytest.approx(d["expected"]["current_new"])
    for key in ("proposed_value", "proposed_value_low", "proposed_value_high", "gain"):
        assert c[key].value == cents(d["expected"][key]), key
    assert c["proposed_new_low"].value <= c["proposed_new"].value <= c["proposed_new_high"].value  # type: ignore[operator]
    paid = [r for r in d["channels"] if r["paid"]]
    shown = rows(table(budget, "budget"))
    assert [r["channel"] for r in shown] == [r["channel"] for r in paid]
    for s, r in zip(shown, paid, strict=True):
        assert s["proposed_spend"] == cents(r["proposed_spend"])
        assert s["current_spend"] == cents(r["current_spend"])
        assert s["curve"] == r["curve"]
    assert sum(s["proposed_spend"] for s in shown) == pytest.approx(total, abs=0.05)  # type: ignore[misc]
    (chart,) = budget.charts
    assert chart.kind == "bar" and list(chart.x) == [r["channel"] for r in paid]
    assert TOTAL_NOTE in budget.notes
    assert all(a in budget.notes for a in d["assumptions"])
    economics = rows(table(budget, "economics"))
    assert {r["channel"] for r in economics} == set(econ.channels["channel"])


def test_every_goal_has_its_forecast_and_fan(demo: Store, page: Page) -> None:
    end = observed_end(demo, page.window)
    goals = section(page, "goals")
    shown = rows(table(goals, "goals"))
    assert [r["goal_id"] for r in shown] == [1, 2]
    for row in shown:
        p = goal_progress(demo, int(row["goal_id"]), as_of=end).to_dict()  # type: ignore[arg-type]
        money = row["metric"] == "revenue"
        for key in ("forecast", "low", "high"):
            assert row[key] == (cents(p[key]) if money else p[key]), key
        assert row["p_meet"] == p["p_meet"] and row["target"] is not None
        assert row["scope"] == "overall" and row["note"] == (p["note"] or "")
        assert row["on_track"] == {True: "yes", False: "no", None: None}[p["on_track"]]
        fan = next(c for c in goals.charts if c.key == f"goal_{row['goal_id']}")
        assert fan.kind == "fan" and fan.title == p["goal"]["text"]
        assert list(fan.x) == [f["day"] for f in p["fan"]]
        median, low95, _, low80, high80, target = fan.series
        assert [v for v in median.values] == [
            (cents(f["q0.5"]) if money else f["q0.5"]) for f in p["fan"]
        ]
        assert all(a <= b for a, b in zip(low80.values, high80.values, strict=True))  # type: ignore[operator]
        assert all(a <= b for a, b in zip(low95.values, low80.values, strict=True))  # type: ignore[operator]
        assert set(target.values) == {row["target"]}
    assert fan.unit == "share" and goals.charts[0].unit == "money"


def test_the_twin_gives_the_page_back_and_it_draws_in_french(page: Page) -> None:
    assert page_from_json(page.to_json()) == page
    html = render_page(page, Translator("fr", page.currency), Frame())
    assert "Stade de maturité" in html and "Proposition de budget" in html
    assert "vs recommandé" in html and "bien établi" in html
    assert html.count('data-chart-key="goal_') == 2
    assert '"kind":"fan"' in html.replace("&#34;", '"')
    # a card compared with nothing draws no change
    stage = html.split('data-metric="recommended_retention_share"')[1].split("</div>\n</div>")[0]
    assert "card-change" not in stage


@pytest.mark.parametrize(
    ("lang", "stage", "assumption", "source"),
    [
        ("fr", "Étape : ", "Le budget couvre les 30 prochains jours", "heuristique des documents"),
        ("es", "Etapa: ", "El presupuesto es para los próximos 30 días", "heurística de los"),
    ],
)
def test_the_advisor_sentences_draw_in_the_readers_language(
    page: Page, lang: str, stage: str, assumption: str, source: str
) -> None:
    said = table(section(page, "advice"), "advice").rows[0][2]
    assert isinstance(said, Sentence) and said.startswith("Stage: ")
    tr = Translator(lang, page.currency)
    drawn = tr.sentence(said)
    share = tr.value(said.params["share"], "share")  # the locale's percent: 35,0 %
    assert drawn.startswith(stage) and source in drawn and share in drawn and "\u00a0%" in share
    for shown in (page, page_from_json(page.to_json())):  # a kept page draws the same
        html = render_page(shown, tr, Frame())
        assert str(escape(drawn)) in html and assumption in html
        assert "The budget is for the next" not in html  # the notes: drawn translated only
    twin = section(page, "advice")
    assert said.to_dict() in page.to_json()["sections"][page.sections.index(twin)]["sentences"]


def _edited(src: Path, dst: Path, sql: str) -> str:
    shutil.copy(src, dst)
    con = duckdb.connect(str(dst))
    con.execute(sql)
    con.close()
    return f"duckdb://{dst}"


def _page(url: str, as_of: date | None = None) -> Page:
    with Store(url) as s:
        if as_of is not None:
            s.set_meta("as_of", as_of.isoformat(), by="tests: advisor page")
        return build_page("advisor", s, s.settings, default_window(s))


def _notes(page: Page) -> list[str]:
    return [n for s in page.sections for n in s.notes]


def test_an_empty_store_says_no_sale_and_no_goal(store_url: str) -> None:
    page = _page(store_url)
    stage = cards(section(page, "stage"))
    assert stage["stage"].value == "just started"
    assert stage["age_days"].value is None and stage["sales_per_day"].value is None
    assert NO_GOAL in _notes(page) and NO_TOTAL in _notes(page)
    assert not table(section(page, "goals"), "goals").rows
    assert cards(section(page, "effort"))["acquisition_spend"].value is None


def test_two_weeks_without_spend_says_what_is_missing(tmp_path: Path) -> None:
    url = build(tmp_path, daily_orders(END - timedelta(days=13), END, 3, seed=7))
    page = _page(url, END)
    assert cards(section(page, "stage"))["stage"].value == "gaining traction"
    notes = _notes(page)
    assert "No marketing spend imported: the acquisition side is unknown." in notes
    assert "No marketing spend recorded: CAC, CLV:CAC and payback unknown." in notes
    assert NO_TOTAL in notes
    budget = section(page, "budget")
    assert not budget.metrics and not budget.charts
    assert cards(section(page, "stage"))["retention_share"].value is None
    advice = [r["advice"] for r in rows(table(section(page, "advice"), "advice"))]
    assert any("Only 14 day(s) of sales history" in str(a) for a in advice)


def test_one_paid_channel_gets_no_proposal(ran_demo_url: str, tmp_path: Path) -> None:
    url = _edited(
        Path(ran_demo_url.removeprefix("duckdb://")),
        tmp_path / "one.duckdb",
        "delete from marketing_spend where channel <> 'paid_search'",
    )
    budget = section(_page(url), "budget")
    assert any("Only one paid channel" in n for n in budget.notes)
    assert [m.key for m in budget.metrics] == ["total"]  # no expected figures it cannot support
    assert not budget.charts
    (row,) = rows(table(budget, "budget"))
    assert row["channel"] == "paid_search" and row["proposed_spend"] is None


def test_one_channel_with_spend_from_scratch(tmp_path: Path) -> None:
    first = END - timedelta(days=100)
    url = build(
        tmp_path,
        daily_orders(first, END, 4, seed=3),
        spend_rows(first, END, {"paid_search": 40.0}),
    )
    page = _page(url, END)
    budget = section(page, "budget")
    assert any("Only one paid channel (paid_search)" in n for n in budget.notes)
    assert isinstance(cards(budget)["total"].value, float)
