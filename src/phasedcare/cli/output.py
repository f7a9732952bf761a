"""How the CLI talks: one-line errors with exit codes, tables, and --json output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from phasedcare import errors

if TYPE_CHECKING:
    from phasedcare.service.views import CommandResult

__all__ = [
    "EXIT_CODES",
    "console",
    "emit_json",
    "fail",
    "listing",
    "parse_day",
    "report_command",
    "reporting_errors",
    "table",
]

console = Console(width=None if sys.stdout.isatty() else 200)  # pipes get whole lines
_err = Console(stderr=True)

EXIT_CODES: dict[type[errors.PhasedCareError], int] = {
    errors.InvalidInput: 2,
    errors.NotAuthorised: 3,
    errors.NotFound: 4,
    errors.Refused: 5,
    errors.ConcurrencyConflict: 6,
    errors.StoreError: 7,
}
"""Exit code per error class (the most specific match wins); 1 for any other error."""


def _exit_code(exc: errors.PhasedCareError) -> int:
    for cls in type(exc).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line to stderr and exit with ``code``."""
    _err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn a PhasedCareError into one clear line on stderr and a non-zero exit."""
    try:
        yield
    except errors.PhasedCareError as exc:
        fail(exc.message, _exit_code(exc))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    """Print ``value`` (models, dataclasses, lists of them) as JSON on stdout."""
    sys.stdout.write(json.dumps(_plain(value), indent=2, default=str, ensure_ascii=False) + "\n")


def listing(
    items: list[Any],
    *,
    as_json: bool,
    title: str,
    columns: list[str],
    row: Callable[[Any], list[Any]],
    style: Callable[[list[Any]], str] | None = None,
) -> None:
    """Print ``items`` as JSON, or as a table with one row per item: every read command's output."""
    if as_json:
        emit_json(items)
    else:
        table(title, columns, [row(item) for item in items], style=style)


def table(
    title: str,
    columns: list[str],
    rows: list[list[Any]],
    *,
    style: Callable[[list[Any]], str] | None = None,
) -> None:
    """Print a rich table."""
    grid = Table(title=title, show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(
            *("" if v is None else str(v) for v in row), style=style(row) if style else None
        )
    console.print(grid)


def parse_day(text: str | None) -> date:
    """The date a ``--on``-style option names, or today; a malformed one fails clearly."""
    if text is None:
        return date.today()  # noqa: DTZ011 - the user's own today
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{text!r} is not a date of the form YYYY-MM-DD")


def report_command(result: CommandResult, as_json: bool) -> None:
    """Print what a command did: its events and sequence, or the result as JSON."""
    if as_json:
        emit_json(result)
        return
    created = f", created {result.created_id}" if result.created_id else ""
    console.print(
        f"{result.case_id}: {', '.join(result.events)} (sequence {result.sequence}{created})"
    )
