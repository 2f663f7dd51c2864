"""`tenure import ENTITY FILES...`: import files, losing nothing (docs/import-mapping.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tenure.cli.common import (
    JsonOpt,
    StoreOpt,
    console,
    import_app,
    kv_table,
    open_store,
    print_json,
    progress_bar,
)

FilesArg = Annotated[
    list[Path], typer.Argument(help="CSV, Parquet or JSON Lines files.", show_default=False)
]
MappingOpt = Annotated[
    Path | None, typer.Option(help="YAML column mapping (see docs/import-mapping.md).")
]
DelimiterOpt = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        help="CSV column delimiter, e.g. ';' or tab (default: the mapping's, else ',').",
        show_default=False,
    ),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of CSV and JSON Lines files: utf-8, utf-16 or latin-1 "
        "(default: the mapping's, else utf-8).",
        show_default=False,
    ),
]


def preset_help(entity: str | None = None) -> str:
    """The --preset help: the presets of ``entity`` (all when None), or that it has none."""
    from tenure.ingest import PRESETS, presets_for

    names = presets_for(entity) if entity else PRESETS
    if not names:
        return f"A known file format (none for {entity} yet: give --mapping)."
    return f"A known file format: {', '.join(names)}."


def preset_option(entity: str | None = None) -> Any:
    """The --preset option, its help naming the presets of ``entity``."""
    return typer.Option("--preset", help=preset_help(entity), show_default=False)


PresetOpt = Annotated[str | None, preset_option()]
MaxQuarantineOpt = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Largest quarantined share accepted before exiting with code 3 "
        "(default: the quarantine_threshold setting, 0.01).",
    ),
]
UpdateOpt = Annotated[
    bool,
    typer.Option(
        "--update",
        help="Apply newer versions of stored rows (same key, other content) instead of "
        "quarantining them; the previous versions go to row_history. Not for events.",
    ),
]


def print_note(note: str) -> None:
    """Print a note whose indented lines are commands: those are never wrapped, so they
    can be copied whole."""
    for line in note.split("\n"):
        console.print(line, markup=False, highlight=False, soft_wrap=line.startswith("  "))


def _run_import(
    entity: str,
    files: list[Path],
    store: str | None,
    preset: str | None,
    mapping: Path | None,
    max_quarantine: float | None,
    as_json: bool,
    update: bool = False,
    reader: tuple[str | None, str | None] = (None, None),
) -> None:
    from tenure.ingest import import_file

    # progress on a terminal (TENURE_PROGRESS=1 or 0 forces it on or off)
    with open_store(store) as st, progress_bar() as bar:
        result = import_file(
            st,
            entity,
            files,
            preset=preset,
            mapping=mapping,
            max_quarantine=max_quarantine,
            progress=bar,
            update=update,
            delimiter=reader[0],
            encoding=reader[1],
        )
    if as_json:
        print_json(result.to_dict())
    else:
        rows = [("Read", result.rows_read), ("Stored", result.stored)]
        rows += [("  of them flagged", result.flagged)] if result.flagged else []
        rows += [("Updated", result.updated)] if update else []
        rows += [
            ("Already present", result.already_present),
            ("Suppressed", result.suppressed),
            ("Quarantined", result.quarantined),
        ]
        rows += [(f"  {reason}", count) for reason, count in sorted(result.by_reason.items())]
        console.print(kv_table(f"Import of {entity}", rows))
        console.print(f"Import id: {result.import_id}")
        if result.currency_note:
            console.print(result.currency_note, markup=False, highlight=False)
        if result.ignored_columns:
            console.print(
                "Columns not imported (no canonical column): "
                + ", ".join(result.ignored_columns)
                + ". Map them with --mapping to keep them."
            )
        if result.updated:
            console.print(
                "Updated rows replaced the stored ones; the previous versions are in the "
                "row_history table. Run `tenure refresh` to rebuild the analytics."
            )
        if result.suppressed:
            console.print(
                "Suppressed: rows of persons deleted with `tenure privacy delete` (not stored)."
            )
        for note in result.notes:
            console.print(note, markup=False, highlight=False)
        if result.flagged and result.entity != "referrals":
            one = result.flagged == 1
            console.print(
                f"Flagged: {result.flagged:,} stored value{'' if one else 's'} "
                f"look{'s' if one else ''} implausible (far beyond the store's usual "
                "amounts); they are in the flagged_values table "
                f"(import_id = '{result.import_id}') with their line, key and reason, and "
                "`tenure store info` counts them."
            )
        for note in result.quarantine_notes():
            print_note(note)
    error = result.threshold_error(update=update)
    if error is not None:
        raise error


def _import_command(entity: str) -> None:
    def command(
        files: FilesArg,
        store: StoreOpt = None,
        preset: PresetOpt = None,
        mapping: MappingOpt = None,
        delimiter: DelimiterOpt = None,
        encoding: EncodingOpt = None,
        max_quarantine: MaxQuarantineOpt = None,
        as_json: JsonOpt = False,
        update: UpdateOpt = False,
    ) -> None:
        _run_import(
            entity,
            files,
            store,
            preset,
            mapping,
            max_quarantine,
            as_json,
            update,
            (delimiter, encoding),
        )

    # the --preset help names this entity's presets (annotations are read as text, so the
    # per-entity one is set here)
    command.__annotations__["preset"] = Annotated[str | None, preset_option(entity)]
    command.__doc__ = f"Import {entity} from files; bad rows are kept (`tenure quarantine list`)."
    import_app.command(name=entity)(command)


for _entity in (
    "orders",
    "customers",
    "events",
    "products",
    "spend",
    "fx_rates",
    "feedback",
    "referrals",
):
    _import_command(_entity)
