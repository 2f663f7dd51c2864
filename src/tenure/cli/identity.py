"""`tenure identity`, `tenure profile` and `tenure privacy`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.text import Text

from tenure.cli.common import (
    JsonOpt,
    ProgressOpt,
    StoreOpt,
    console,
    identity_app,
    kv_table,
    open_store,
    print_json,
    privacy_app,
    profile_app,
    progress_bar,
)
from tenure.cli.render import cell, plain, stamp, visible
from tenure.store import round_money

IdentifierArg = Annotated[
    str,
    typer.Argument(
        help="A person id, customer id, e-mail, phone, anonymous id or order id, bare or as "
        "kind:value (email:gus.clark1@example.com, phone:+16172493082, order:D00000002)."
    ),
]


def _who(person_id: str, labels: dict[str, str | None]) -> str:
    """``P-… (C0000001, gus.clark1@example.com)``: a person id and what a person reads."""
    known = [v for v in labels.values() if v]
    return f"{person_id} ({', '.join(known)})" if known else person_id


@identity_app.command("resolve")
def identity_resolve(
    store: StoreOpt = None,
    max_customers: Annotated[
        int, typer.Option(min=1, help="An identifier linking more customer ids is flagged.")
    ] = 1,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = None,
) -> None:
    """Build the identity graph and (re)assign every identifier to its person."""
    from tenure.identity import resolve_identities

    with open_store(store) as st, progress_bar(show_progress) as bar:
        result = resolve_identities(st, max_customers=max_customers, progress=bar)
    if as_json:
        print_json(result.to_dict())
        return
    rows = [
        ("Identifiers", result.identifiers),
        ("Persons", result.persons),
        ("Flagged (not merged)", result.flagged),
        ("Merges", result.merges),
        ("Iterations", result.iterations),
    ]
    console.print(kv_table("Identity resolution", rows))


@identity_app.command("unmerge")
def identity_unmerge(
    a: Annotated[
        str,
        typer.Argument(
            help="One end of the wrong edge: a customer id, e-mail, phone or anonymous id, "
            "bare or as kind:value."
        ),
    ],
    b: Annotated[str, typer.Argument(help="The other end, likewise.")],
    store: StoreOpt = None,
    reason: Annotated[str, typer.Option(help="Why the merge is wrong.")] = "wrong merge",
    max_customers: Annotated[
        int, typer.Option(min=1, help="As for `tenure identity resolve`.")
    ] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Split a wrong merge along the edge A ~ B, and never use that edge again."""
    from tenure.identity import unmerge
    from tenure.identity.lookup import identifier_of

    with open_store(store) as st:
        a, b = identifier_of(st, a), identifier_of(st, b)  # as stored: kind:value
        result = unmerge(st, a, b, reason=reason, max_customers=max_customers)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"Blocked {a} ~ {b}; {result.persons:,} persons after resolving again.")


@profile_app.command("show")
def profile_show(
    identifier: IdentifierArg, store: StoreOpt = None, as_json: JsonOpt = False
) -> None:
    """Show a person's identities, traits, consents, orders and latest events."""
    from tenure.cli.output import note_stale
    from tenure.identity.profile import profile

    with open_store(store) as st:
        doc = profile(st, identifier, timeline=20)
        for table in ("customer_facts", "customer_predictions"):  # its "computed" values
            note_stale(st, table)
    if as_json:
        print_json(doc)
        return
    title = f"Person {_who(doc['person_id'], doc['labels'])}"
    console.print(profile_panel(doc, title))


def profile_panel(doc: dict[str, Any], title: str | None = None) -> Panel:
    """The terminal view of :func:`tenure.identity.profile.profile`: identities, traits,
    orders and latest events under ``title`` (default: the person id), as plain text (no
    value is read as markup)."""
    ids = "\n".join(f"{k}: {', '.join(map(str, v))}" for k, v in doc["identities"].items())
    traits = "\n".join(f"{k}: {stamp(v)}" for k, v in doc["traits"].items() if k != "demo_truth")
    orders = "\n".join(
        f"{stamp(o['ordered_at'])}  {cell(o['order_id'])}  "
        f"{cell(round_money(o['total'], str(o['currency'])))} {cell(o['currency'])}"
        for o in doc["orders"]
    )
    timeline = "\n".join(
        f"{stamp(e['timestamp'])}  {cell(e['type'])}  {cell(e['event'])}" for e in doc["timeline"]
    )
    body = Text()
    sections = [
        ("Identities", ids),
        ("Traits", traits),
        (f"Orders ({len(doc['orders'])})", orders),
        ("Latest events", timeline),
    ]
    for i, (name, text) in enumerate(sections):
        body.append(("\n\n" if i else "") + name, style="bold")
        body.append("\n" + visible(text, newlines=True))
    return Panel(body, title=plain(title or f"Person {doc['person_id']}"), expand=False)


@privacy_app.command("export")
def privacy_export(
    identifier: IdentifierArg,
    store: StoreOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write the JSON here (default: stdout).")] = None,
) -> None:
    """Write everything held on the person as JSON."""
    from tenure.identity.privacy import export_person

    with open_store(store) as st:
        doc = export_person(st, identifier)
    text = json.dumps(doc, indent=2, default=str)
    if out is None:
        console.print_json(text)
    else:
        out.write_text(text)
        console.print(f"Wrote {out}")


@privacy_app.command("delete")
def privacy_delete(
    identifier: IdentifierArg,
    store: StoreOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete every row of the person in every table; keep only a suppression digest."""
    from tenure.identity import find_person
    from tenure.identity.lookup import person_labels
    from tenure.identity.privacy import delete_person

    with open_store(store) as st:
        person = find_person(st, identifier).person_id
        if not yes:
            rows = person_labels(st, [person]).to_pyarrow().to_pylist()
            labels = {k: v for k, v in rows[0].items() if k != "person_id"} if rows else {}
            typer.confirm(f"Delete every row of person {_who(person, labels)}?", abort=True)
        result = delete_person(st, f"person_id:{person}")
    if as_json:
        print_json(result)
        return
    rows = [(f"  {t}", n) for t, n in result["rows_deleted"].items()]
    console.print(kv_table(f"Deleted person {result['person_id']}", rows))
    console.print(f"Audit id: {result['audit_id']}")
