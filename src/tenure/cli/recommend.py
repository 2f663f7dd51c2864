"""``tenure recommend for / cart / pairs``: what to show a person, what completes a cart, the
products bought together. Each parses, calls one library function
(:mod:`tenure.recommend`) and prints."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from tenure.cli.common import JsonOpt, StoreOpt, app, open_store, print_json, say
from tenure.cli.output import CsvOpt, emit, note_stale, records, warn
from tenure.store import Store

recommend_app = typer.Typer(
    help="Recommendations: the next products for a person, completing a cart, pairs."
)
app.add_typer(recommend_app, name="recommend")

#: The columns the terminal shows (--json and --csv give every column).
CART_SHOWN = ("rank", "product_id", "title", "together", "confidence", "lift", "reason")
FOR_SHOWN = ("rank", "product_id", "title", "category", "price", "reason")
PAIRS_SHOWN = ("product_id", "title", "other_id", "other_title", "together", "lift", "reason")

TopOpt = Annotated[int, typer.Option("--top", help="How many suggestions.")]


def _current(st: Store, table: str) -> None:
    """Build the recommendations when the store has none yet (and may be written), else
    say when they are not current."""
    from tenure.pipeline import ensure_current

    if not st.exists(table) and not st.read_only:
        ensure_current(st, table)
    note_stale(st, table)


def _say_notes(notes: list[str]) -> None:
    for note in notes:
        say(("Note:", "bold"), " ", note, err=True)


@recommend_app.command("for")
def recommend_for_command(
    person: Annotated[str, typer.Argument(help="A person id, customer id, e-mail, phone...")],
    top: TopOpt = 10,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The next products to show a person, best first, each with its reason, and the
    categories they are likely to try next."""
    from tenure.recommend import RECOMMENDATIONS, recommend_for

    with open_store(store) as st:
        _current(st, RECOMMENDATIONS)
        frame = recommend_for(st, person, top=top)
    categories: pd.DataFrame = frame.attrs["categories"]
    if as_json:
        print_json(
            {
                "person_id": frame.attrs["person_id"],
                "products": records(frame),
                "categories": records(categories),
                "notes": frame.attrs["notes"],
            }
        )
        return
    _say_notes(frame.attrs["notes"])
    shown = frame if as_csv else frame[list(FOR_SHOWN)]
    emit(shown, title=f"Next products for {frame.attrs['label']}", as_csv=as_csv, limit=0)
    if not as_csv and not categories.empty:
        emit(categories, title="Categories to try next", limit=0)


@recommend_app.command("cart")
def recommend_cart_command(
    items: Annotated[list[str], typer.Argument(help="The cart: product ids, SKUs or titles.")],
    top: TopOpt = 10,
    source: Annotated[
        str,
        typer.Option("--source", help="Baskets from the orders, or from the carts of the events."),
    ] = "orders",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The products that most often complete a cart, each with the rule behind it."""
    from tenure.recommend import recommend_cart

    with open_store(store) as st:
        frame = recommend_cart(st, items, top=top, source=source)
    _say_notes(frame.attrs["notes"])
    title = f"Completing a cart of {', '.join(frame.attrs['cart'])}"
    shown = frame if as_json or as_csv else frame[list(CART_SHOWN)]
    emit(shown, title=title, as_json=as_json, as_csv=as_csv, limit=0)


@recommend_app.command("pairs")
def recommend_pairs_command(
    top: TopOpt = 20,
    product: Annotated[
        str | None, typer.Option("--product", help="Only the partners of this product.")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Rank by together, lift or confidence.")] = (
        "together"
    ),
    min_lift: Annotated[
        float, typer.Option("--min-lift", help="Only pairs with a higher lift (0: all).")
    ] = 1.0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """The products bought together in the most orders, with support, confidence and lift."""
    from tenure.recommend import PAIRS, top_pairs

    with open_store(store) as st:
        _current(st, PAIRS)
        frame = top_pairs(st, top=top, product=product, by=by, min_lift=min_lift)
    warn(frame.attrs["notes"])
    shown = frame if as_json or as_csv else frame[list(PAIRS_SHOWN)]
    emit(shown, title="Frequently bought together", as_json=as_json, as_csv=as_csv, limit=0)
