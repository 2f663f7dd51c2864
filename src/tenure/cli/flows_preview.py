"""``tenure flows preview FLOW STEP PERSON``: one person's message of a flow's send step,
rendered as it would be sent (subject, text, HTML, headers), nothing recorded or sent
(docs/delivery.md, "Templates"). It parses, calls :func:`tenure.deliver.render.preview` and
prints."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

import typer

from tenure.cli.common import JsonOpt, StoreOpt, console, kv_table, open_store, print_json, say
from tenure.cli.flows import NameArg, flows_app


def _clock(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"--now must be an ISO time such as 2026-03-02T12:00, got {value!r}."
        ) from None


@flows_app.command("preview")
def preview_command(
    name: NameArg,
    step: Annotated[str, typer.Argument(help="The send step's id in the flow.")],
    person: Annotated[
        str,
        typer.Argument(help="The person: a person id, customer id, e-mail or phone."),
    ],
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            help="The clock of the render (unsubscribe link, code expiry), an ISO time in "
            "UTC (default: the store's frozen clock, else the time now).",
        ),
    ] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render a real person's message of a flow step (subject, text, HTML), sending nothing
    and issuing no discount code."""
    from tenure.deliver.render import preview
    from tenure.engage.flows import tick_clock

    clock = _clock(now)
    with open_store(store) as st:
        message = preview(st, st.settings, name, step, person, clock or tick_clock(st))
    if as_json:
        print_json(dataclasses.asdict(message))
        return
    rows = [
        ("flow", message.flow),
        ("step", message.step),
        ("person", message.person_id),
        ("channel", message.channel),
        ("to", message.to),
        ("subject", message.subject),
        ("message id", message.message_id),
        *message.headers.items(),
    ]
    console.print(kv_table("Preview", rows))
    say(("Text part", "bold"))
    say(message.text, soft=True)
    if message.html:
        say(("HTML part", "bold"))
        say(message.html, soft=True)
