"""`tenure quarantine list|show|export|retry`: the rows imports kept, one row in full, an
export to fix in a spreadsheet, and a retry after fixing a mapping
(:mod:`tenure.ingest.quarantine`, :mod:`tenure.ingest.retry`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from tenure.cli.common import (
    JsonOpt,
    ProgressOpt,
    StoreOpt,
    app,
    console,
    kv_table,
    open_store,
    print_json,
    progress_bar,
)
from tenure.cli.ingest import DelimiterOpt, EncodingOpt, MappingOpt, PresetOpt, print_note
from tenure.cli.output import CsvOpt, emit, records

quarantine_app = typer.Typer(
    help="The rows imports kept: list, show, export to fix, retry after fixing a mapping.",
    no_args_is_help=True,
)
app.add_typer(quarantine_app, name="quarantine")

ImportOpt = Annotated[
    str | None,
    typer.Option("--import", help="Only this import's rows (its import id).", show_default=False),
]
ReasonOpt = Annotated[
    str | None,
    typer.Option(help="Only rows with this reason, e.g. 'unreadable date'.", show_default=False),
]
EntityOpt = Annotated[
    str | None,
    typer.Option(help="Only rows of this entity (orders, customers, ...).", show_default=False),
]
#: Rows the terminal shows by default (the count left out is stated).
DEFAULT_LIMIT = 50


@quarantine_app.command("list")
def quarantine_list(
    import_id: ImportOpt = None,
    reason: ReasonOpt = None,
    entity: EntityOpt = None,
    limit: Annotated[
        int,
        typer.Option(min=0, help="Rows shown in the terminal (0: all); --json and --csv give all."),
    ] = DEFAULT_LIMIT,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Rows kept by imports: a summary by import and reason, then each row (id, file, line,
    field, value, reason)."""
    from tenure.ingest import Selection, quarantine_summary, quarantined_rows
    from tenure.ingest.quarantine import count_quarantined

    selection = Selection(import_id=import_id, reason=reason, entity=entity)
    shown = None if (as_json or as_csv or limit == 0) else limit
    with open_store(store) as st:
        summary = quarantine_summary(st, selection)
        rows = quarantined_rows(st, selection, limit=shown)
        total = count_quarantined(st, selection) if shown is not None else len(rows)
    if as_json:
        print_json({"summary": records(summary), "rows": records(rows), "total": total})
        return
    if as_csv:
        emit(rows, title="Quarantined rows", as_csv=True)
        return
    if summary.empty:
        console.print(f"No quarantined rows ({selection.describe()}).", markup=False)
        return
    emit(summary, title="Quarantined rows by import and reason")
    # the id holds the import: the terminal leaves it out (JSON, CSV keep it); the id column
    # is named as an id, so the table never cuts it
    view = rows.drop(columns=["import_id", "entity"]).rename(columns={"id": "quarantine_id"})
    if summary["file"].nunique() == 1 and "more)" not in str(summary["file"].iloc[0]):
        view = view.drop(columns=["file"])  # one file: named in the summary above
    emit(view, title=f"Quarantined rows ({selection.describe()})")
    if len(rows) < total:
        console.print(
            f"Showing {len(rows):,} of {total:,} rows: --limit 0 shows all, "
            "`tenure quarantine export --out FILE.csv` writes them to a file.",
            markup=False,
            highlight=False,
        )
    console.print("`tenure quarantine show ID` shows a row in full.", markup=False, highlight=False)


@quarantine_app.command("show")
def quarantine_show(
    row_id: Annotated[
        str,
        typer.Argument(
            metavar="ID", help="A row id from `tenure quarantine list` (IMPORT_ID:LINE)."
        ),
    ],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One quarantined row in full: import, file, line, field, value, reason, raw row."""
    from tenure.ingest import quarantined_row
    from tenure.ingest.result import INVALID_ENCODING, encoding_note

    with open_store(store) as st:
        row = quarantined_row(st, row_id)
    if as_json:
        print_json(row)
        return
    keys = ("id", "import_id", "entity", "file", "line", "column", "value", "reason")
    shown = [*keys, "quarantined_at"]
    values = ["" if row[k] is None else str(row[k]) for k in shown]
    emit(pd.DataFrame({"field": shown, "value": values}), title=f"Quarantined row {row['id']}")
    fields = row["raw_fields"]
    if fields is not None:
        frame = pd.DataFrame({"column": list(fields), "value": list(fields.values())})
        emit(frame, title="Raw row (the file's columns)")
    else:
        console.print("Raw row:", markup=False, highlight=False)
        console.print(row["raw_row"] or "", markup=False, highlight=False, soft_wrap=True)
    if row["reason"] == INVALID_ENCODING:
        print_note(encoding_note(1, row["import_id"]))


@quarantine_app.command("export")
def quarantine_export(
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.", show_default=False)],
    import_id: ImportOpt = None,
    reason: ReasonOpt = None,
    entity: EntityOpt = None,
    keep_formulas: Annotated[
        bool,
        typer.Option(
            "--keep-formulas",
            help="Write cells starting with = + - @ as kept (default: prefixed with ' so a "
            "spreadsheet does not run them).",
        ),
    ] = False,
    store: StoreOpt = None,
) -> None:
    """Write the kept rows as they were in their file, plus the reason columns, to a CSV
    file to fix in a spreadsheet (then import it again)."""
    from tenure.ingest import Selection, export_quarantine

    selection = Selection(import_id=import_id, reason=reason, entity=entity)
    with open_store(store) as st:
        n = export_quarantine(st, out, selection, safe=not keep_formulas)
    console.print(
        f"Wrote {n:,} quarantined row{'' if n == 1 else 's'} ({selection.describe()}) to {out}.",
        markup=False,
        highlight=False,
    )


@quarantine_app.command("retry")
def quarantine_retry(
    import_id: ImportOpt = None,
    reason: ReasonOpt = None,
    entity: EntityOpt = None,
    preset: PresetOpt = None,
    mapping: MappingOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
    show_progress: ProgressOpt = None,
) -> None:
    """Re-parse kept rows with the import's mapping (read again) or the one given: rows that
    pass are imported and leave the quarantine, the others stay with their new reason."""
    from tenure.ingest import Selection, retry_quarantined

    selection = Selection(import_id=import_id, reason=reason, entity=entity)
    with open_store(store) as st, progress_bar(show_progress) as bar:
        result = retry_quarantined(
            st,
            selection,
            preset=preset,
            mapping=mapping,
            delimiter=delimiter,
            encoding=encoding,
            progress=bar,
        )
    if as_json:
        print_json(result.to_dict())
        return
    rows = [
        ("Retried", result.retried),
        ("Imported", result.imported),
        ("Already present", result.already_present),
        ("Suppressed", result.suppressed),
        ("Still quarantined", result.still_quarantined),
    ]
    rows += [(f"  {r}", n) for r, n in sorted(result.by_reason.items())]
    rows += [("Not retried (no header)", result.skipped)] if result.skipped else []
    console.print(kv_table(f"Retry of quarantined rows ({selection.describe()})", rows))
    if result.retried:
        console.print(f"Retry id: {result.import_id}", markup=False, highlight=False)
    if result.still_quarantined:
        console.print(
            "The rows still quarantined keep their import and line: "
            f"`tenure quarantine list{' --import ' + import_id if import_id else ''}`.",
            markup=False,
            highlight=False,
        )
    if result.imported:
        console.print(
            "Run `tenure run` to bring the analytics up to date.", markup=False, highlight=False
        )
