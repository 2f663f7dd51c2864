"""Persons a user can name and find: `find_person` (any identifier), the labels next to a
person id, `search_customers` and `list_customers`, on the session demo store (800 customers,
seed 7) and, for the cases the demo has none of, on a few identities written by hand.

Person ids are minted at run time, so the checks name persons by their customer ids."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
import pyarrow as pa
import pytest

from tenure import Store
from tenure.analytics import customer_row, list_customers, search_customers
from tenure.analytics.customers import LIST_COLUMNS
from tenure.errors import ConfigError, NotFoundError
from tenure.identity import (
    AmbiguousPersonError,
    PersonNotFoundError,
    find_person,
    person_labels,
    person_names,
    person_of,
    with_labels,
)


@pytest.fixture(scope="module")
def demo(ran_demo_url: str) -> Iterator[Store]:
    """The session demo store after `tenure run` (tests/conftest.py), read only."""
    with Store(ran_demo_url) as store:
        yield store


def _id(store: Store, kind: str, value: str) -> str:
    ids = store.table("identities")
    found = ids.filter((ids.kind == kind) & (ids.value == value)).person_id.execute()
    return str(found.iloc[0])


def _first(store: Store, kind: str, customer: str) -> str:
    """The first ``kind`` identifier (by value) of the person of ``customer``."""
    ids = store.table("identities")
    person = _id(store, "customer_id", customer)
    mine = ids.filter((ids.person_id == person) & (ids.kind == kind)).order_by("value")
    return str(mine.value.execute().iloc[0])


def test_find_person_takes_any_identifier(demo: Store) -> None:
    gus = _id(demo, "customer_id", "C0000001")
    anon = _first(demo, "anonymous_id", "C0000001")
    texts = {
        "C0000001": ("customer_id", "C0000001"),
        "customer_id:C0000001": ("customer_id", "C0000001"),
        " Gus.Clark1@Example.com ": ("email", "gus.clark1@example.com"),
        "email:GUS.CLARK1@example.com": ("email", "gus.clark1@example.com"),
        anon: ("anonymous_id", anon),
        f"anonymous_id:{anon}": ("anonymous_id", anon),
        gus: ("person_id", gus),
        f"person:{gus}": ("person_id", gus),
        "D00000002": ("order_id", "D00000002"),  # an order of C0000001
        "order:D00000002": ("order_id", "D00000002"),
    }
    for text, (kind, value) in texts.items():
        match = find_person(demo, text)
        assert (match.person_id, match.kind, match.value) == (gus, kind, value), text
        assert person_of(demo, text) == gus


def test_find_person_reads_a_phone_in_the_default_region(demo: Store) -> None:
    ids = demo.table("identities")
    phone = ids.filter(ids.kind == "phone").order_by("value").limit(1).to_pyarrow().to_pylist()[0]
    assert phone["value"] == "+12063051731"
    for text in ("(206) 305-1731", "phone:206 305 1731", "+1 206 305 1731"):
        match = find_person(demo, text)
        assert (match.person_id, match.kind, match.value) == (
            phone["person_id"],
            "phone",
            "+12063051731",
        )


def test_nobody_gives_close_matches_and_what_to_try(demo: Store) -> None:
    with pytest.raises(PersonNotFoundError) as info:
        find_person(demo, "C000001")  # a digit short
    error = info.value
    assert isinstance(error, NotFoundError)
    assert error.message == (
        "No person has 'C000001' as a person id, customer id, e-mail, phone, anonymous id or "
        "order id."
    )
    assert error.hint is not None
    assert error.hint.startswith("Close matches: customer_id:C0000001, customer_id:C0000010")
    assert "tenure customers search" in error.hint
    with pytest.raises(PersonNotFoundError) as typo:
        find_person(demo, "gus.clark1@exmaple.com")
    assert typo.value.hint is not None
    assert typo.value.hint.startswith("Close matches: email:gus.clark1@example.com")
    assert person_of(demo, "nobody-at-all") is None
    assert person_of(demo, "email:nobody@example.com") is None


@pytest.fixture
def hand(store: Store) -> Store:
    """Identities written by hand: a value that is one person's customer id and another's
    anonymous id, a flagged (shared) e-mail, a person known by a phone only, a person with
    two customer ids."""
    t0, t1 = datetime(2024, 1, 1), datetime(2024, 2, 1)
    rows = [
        ("customer_id", "X1", "P-a", t0),
        ("anonymous_id", "X1", "P-b", t0),
        ("email", "family@example.com", None, t0),
        ("phone", "+14155552671", "P-c", t0),
        ("anonymous_id", "dev-c", "P-c", t1),
        ("customer_id", "new-id", "P-d", t1),
        ("customer_id", "old-id", "P-d", t0),
        ("customer_id", "same-day-b", "P-e", t0),
        ("customer_id", "same-day-a", "P-e", t0),
        ("email", "e@example.com", "P-e", t1),
    ]
    kind, value, person, seen = (list(c) for c in zip(*rows, strict=True))
    store.insert(
        "identities",
        pa.table(
            {
                "kind": kind,
                "value": value,
                "person_id": person,
                "first_seen": pa.array(seen, pa.timestamp("us")),
                "last_seen": pa.array(seen, pa.timestamp("us")),
                "source": ["tests"] * len(rows),
            }
        ),
    )
    return store


def test_several_persons_are_named_and_the_kind_chooses(hand: Store) -> None:
    with pytest.raises(AmbiguousPersonError) as info:
        find_person(hand, "X1")
    assert info.value.message == (
        "'X1' matches 2 persons: P-a (by customer_id X1); P-b (by anonymous_id X1)."
    )
    assert info.value.hint is not None and "customer_id:X1" in info.value.hint
    assert find_person(hand, "customer_id:X1").person_id == "P-a"
    assert find_person(hand, "anon:X1").person_id == "P-b"


def test_a_flagged_identifier_names_nobody(hand: Store) -> None:
    with pytest.raises(PersonNotFoundError, match=r"email:family@example\.com is flagged"):
        find_person(hand, "family@example.com")
    assert person_of(hand, "email:family@example.com") is None


def test_labels_are_the_earliest_identifiers(hand: Store) -> None:
    labels = person_labels(hand).order_by("person_id").to_pyarrow().to_pylist()
    assert labels == [
        {"person_id": "P-a", "customer_id": "X1", "email": None, "other_id": None},
        {"person_id": "P-b", "customer_id": None, "email": None, "other_id": "anonymous_id:X1"},
        {"person_id": "P-c", "customer_id": None, "email": None, "other_id": "phone:+14155552671"},
        {"person_id": "P-d", "customer_id": "old-id", "email": None, "other_id": None},
        # the same first day: the first by value
        {
            "person_id": "P-e",
            "customer_id": "same-day-a",
            "email": "e@example.com",
            "other_id": None,
        },
    ]
    only = person_labels(hand, ["P-d"]).to_pyarrow().to_pylist()
    assert [r["person_id"] for r in only] == ["P-d"]


def test_with_labels_puts_them_after_the_person_and_keeps_unresolved_ids(hand: Store) -> None:
    frame = pd.DataFrame(
        {"person_id": ["P-c", "guest@example.com", "C-7", None], "x": [1, 2, 3, 4]}
    )
    frame.attrs["as_of"] = date(2024, 3, 1)
    out = with_labels(hand, frame)
    assert list(out.columns) == ["person_id", "customer_id", "email", "other_id", "x"]
    assert out.to_dict("list") == {
        "person_id": ["P-c", "guest@example.com", "C-7", None],
        "customer_id": [None, None, "C-7", None],  # before resolution a person is their id
        "email": [None, "guest@example.com", None, None],
        "other_id": ["phone:+14155552671", None, None, None],
        "x": [1, 2, 3, 4],
    }
    assert out.attrs == {"as_of": date(2024, 3, 1)}


def test_names_come_from_customer_records(demo: Store) -> None:
    gus = _id(demo, "customer_id", "C0000001")
    names = person_names(demo, [gus]).to_pyarrow().to_pylist()
    assert names == [{"person_id": gus, "name": "Gus Clark"}]


def test_customer_row_by_an_order_id_says_how_it_matched(demo: Store) -> None:
    row = customer_row(demo, "D00000002")
    assert list(row.columns[:4]) == ["person_id", "customer_id", "email", "other_id"]
    assert row.iloc[0]["customer_id"] == "C0000001"
    assert row.iloc[0]["email"] == "gus.clark1@example.com"
    assert row.attrs["matched"] == {"kind": "order_id", "value": "D00000002"}


def test_search_finds_identifiers_names_and_orders(demo: Store) -> None:
    found = search_customers(demo, "clark", limit=3)
    assert list(found.columns) == list(LIST_COLUMNS)
    assert found.attrs["total"] == 62
    assert found.attrs["money"] == ("revenue",) and found.attrs["currency"] == "USD"
    rows = found.drop(columns="person_id").to_dict("records")
    assert rows[0] == {
        "customer_id": "C0000396",
        "email": "jo.clark396@example.com",
        "name": "Jo Clark",
        "status": "vip",
        "orders": 9,
        "revenue": 823.99,
        "last_order": date(2024, 12, 22),
    }
    assert list(found["customer_id"]) == ["C0000396", "C0000543", "C0000348"]  # by revenue
    every = search_customers(demo, "CLARK", limit=None)
    assert len(every) == 62 and every["revenue"].is_monotonic_decreasing
    assert all("clark" in f"{r.email} {r.name}".lower() for r in every.itertuples())
    # by name, by order id, by person id
    assert list(search_customers(demo, "gus clark")["customer_id"]) == ["C0000001", "C0000755"]
    assert list(search_customers(demo, "d00000002")["customer_id"]) == ["C0000001"]
    gus = _id(demo, "customer_id", "C0000001")
    assert list(search_customers(demo, gus[:10])["customer_id"]) == ["C0000001"]


def test_search_puts_exact_matches_first_and_binds_the_text(demo: Store) -> None:
    # "C000010" is in C0000100..C0000109; "C0000105" is exactly one of them
    assert search_customers(demo, "C000010").attrs["total"] == 10
    assert search_customers(demo, "C0000105")["customer_id"].iloc[0] == "C0000105"
    for text in ("%", "_", "' OR 1=1 --", "clark%"):  # values, never SQL or patterns
        assert search_customers(demo, text).attrs["total"] == 0, text
    with pytest.raises(ConfigError, match="empty"):
        search_customers(demo, "  ")


def test_list_filters_by_segment_and_status_and_sorts(demo: Store) -> None:
    rfm = demo.read("customer_rfm").to_pandas()
    status = demo.read("customer_status").to_pandas()
    champions = list_customers(demo, segment="champions", limit=5)
    assert champions.attrs["total"] == int((rfm["segment"] == "Champions").sum()) == 63
    assert champions.attrs["segment"] == "Champions"
    assert champions["revenue"].is_monotonic_decreasing
    assert list(champions["customer_id"][:3]) == ["C0000389", "C0000759", "C0000222"]
    vips = list_customers(demo, status="vip", sort="orders", limit=None)
    assert len(vips) == vips.attrs["total"] == int((status["status"] == "vip").sum())
    assert vips["orders"].is_monotonic_decreasing and set(vips["status"]) == {"vip"}
    at_risk = list_customers(demo, status="At-Risk", sort="name", limit=3)
    assert at_risk.attrs["status"] == "at_risk"
    # A first (equal names are ordered by their person ids, minted at run time)
    names = list(list_customers(demo, status="at_risk", sort="name", limit=None)["name"])
    assert names[0] == "Ann Clark" and names == sorted(names)
    assert list(at_risk["name"]) == names[:3]
    everyone = list_customers(demo, sort="last_order", descending=False, limit=None)
    assert everyone.attrs["total"] == len(everyone) == 1080
    days = [d for d in everyone["last_order"] if d is not None]
    assert days == sorted(days) and everyone["last_order"].iloc[-1] is None  # unknown last


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({"sort": "margin"}, "Sort by one of: person_id, customer_id, email, name, status,"),
        ({"segment": "best"}, "Choose one of: Champions, Loyal,"),
        ({"status": "gone"}, "Choose one of: prospect, new, lapsed, at_risk, vip, active."),
        ({"limit": 0}, None),
    ],
)
def test_list_names_the_allowed_values(demo: Store, kwargs: dict, hint: str | None) -> None:
    with pytest.raises(ConfigError) as info:
        list_customers(demo, **kwargs)
    if hint is not None:
        assert info.value.hint is not None and info.value.hint.startswith(hint)


@pytest.mark.spark
def test_lookup_on_spark(spark_store: Store) -> None:
    """The same labels, matches and suggestions on PySpark (the struct ``argmin``, the
    phone spelling, ``levenshtein``); the catalog is shared, so the ids are this test's own."""
    t0, t1 = datetime(2024, 1, 1), datetime(2024, 2, 1)
    rows = [
        ("customer_id", "lk-new", "P-lk-d", t1),
        ("customer_id", "lk-old", "P-lk-d", t0),
        ("phone", "+14155550199", "P-lk-c", t0),
    ]
    kind, value, person, seen = (list(c) for c in zip(*rows, strict=True))
    spark_store.insert(
        "identities",
        pa.table(
            {
                "kind": kind,
                "value": value,
                "person_id": person,
                "first_seen": pa.array(seen, pa.timestamp("us")),
                "last_seen": pa.array(seen, pa.timestamp("us")),
                "source": ["tests"] * len(rows),
            }
        ),
    )
    labels = person_labels(spark_store, ["P-lk-c", "P-lk-d"]).order_by("person_id")
    assert labels.to_pyarrow().to_pylist() == [
        {
            "person_id": "P-lk-c",
            "customer_id": None,
            "email": None,
            "other_id": "phone:+14155550199",
        },
        {"person_id": "P-lk-d", "customer_id": "lk-old", "email": None, "other_id": None},
    ]
    assert find_person(spark_store, "lk-new").person_id == "P-lk-d"
    assert find_person(spark_store, "(415) 555-0199").person_id == "P-lk-c"
    with pytest.raises(PersonNotFoundError) as info:
        find_person(spark_store, "lk-ol")
    assert info.value.hint is not None and "customer_id:lk-old" in info.value.hint


def test_stage_entries_name_their_persons(demo: Store) -> None:
    from tenure.analytics import stage_entries

    entered = stage_entries(demo)
    assert len(entered) > 0
    assert list(entered.columns[:5]) == ["person_id", "customer_id", "email", "other_id", "status"]
    labels = person_labels(demo, list(entered["person_id"])).to_pandas().set_index("person_id")
    mine = entered.set_index("person_id")
    assert (mine["customer_id"] == labels.loc[mine.index, "customer_id"]).all()
    bare = stage_entries(demo, with_identifiers=False)
    pd.testing.assert_frame_equal(entered.drop(columns=["customer_id", "email", "other_id"]), bare)
