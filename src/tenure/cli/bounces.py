"""``tenure bounces import FILE``: bounces and complaints from a provider's webhook payload
(JSON) or a bounce mailbox (mbox, .eml); hard bounces and complaints suppress the address
(docs/delivery.md, "Unsubscribe, bounces and complaints"). It parses, calls
:func:`tenure.deliver.bounces.record_bounces` and prints."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tenure.cli.common import JsonOpt, StoreOpt, app, console, kv_table, open_store, print_json

bounces_app = typer.Typer(help="Bounces and complaints: import them, suppressing hard ones.")
app.add_typer(bounces_app, name="bounces")


@bounces_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A webhook payload (.json: Tenure's shape, SES, SendGrid) or a bounce "
            "mailbox (mbox or one .eml)."
        ),
    ],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import bounces and complaints: hard bounces and complaints suppress the address for
    e-mail, soft bounces are counted."""
    from tenure.deliver.bounces import parse_file, record_bounces

    found = parse_file(file)
    with open_store(store) as st:
        result = record_bounces(st, found, datetime.now(UTC))
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    rows = [(k.replace("_", " "), v) for k, v in dataclasses.asdict(result).items()]
    console.print(kv_table(f"Bounces from {file.name}", rows))
