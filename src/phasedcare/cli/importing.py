"""``phasedcare import FILE``: case histories from another system, checked whole, then written.

The file is JSON Lines, one command per line (docs/import.md). Every line is validated and
decided before anything is written; a bad line is one error line naming it, exit code 2.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from phasedcare.cli.app import ActorOption, HomeOption, JsonOption, app, open_engine, parse_actor
from phasedcare.cli.output import console, emit_json, fail, reporting_errors

if TYPE_CHECKING:
    from phasedcare.service.importing import ImportReport

__all__: list[str] = []


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="The JSON Lines file, one command per line.")],
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="About this many commands per transaction (default 500); a batch holds "
            "whole cases.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Validate and decide every line, write nothing.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Finish an interrupted import: skip the cases already stored with exactly "
            "this file's history."
        ),
    ] = False,
    actor: ActorOption = "",
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import case histories from another system (Veilig Thuis): all or nothing per file."""
    from phasedcare.service.importing import (  # noqa: PLC0415 - keep `phasedcare --help` fast
        DEFAULT_BATCH_SIZE,
        read_lines,
    )

    who = parse_actor(actor)
    try:
        handle = file.open("rb")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    with handle, open_engine(home) as engine, reporting_errors():
        report = engine.import_lines(
            read_lines(handle),
            actor=who,
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
            dry_run=dry_run,
            resume=resume,
        )
    if as_json:
        emit_json({**asdict(report), "events_per_second": round(report.events_per_second, 1)})
    else:
        console.print(_summary(report))


def _summary(report: ImportReport) -> str:
    """One line: what was (or would be) written, how fast, and what was skipped."""
    counts = f"{report.lines:,} lines: {report.cases:,} cases, {report.events:,} events"
    speed = f"{report.seconds:.2f} s ({report.events_per_second:,.0f} events/s)"
    skipped = f"; {report.skipped_cases:,} cases already imported" if report.skipped_cases else ""
    if report.dry_run:
        return f"dry run, nothing written: {counts} would be imported; checked in {speed}{skipped}"
    batches = f"{report.batches:,} batch" + ("" if report.batches == 1 else "es")
    return f"imported {counts} in {speed}, {batches}{skipped}"
