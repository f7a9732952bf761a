"""How the CLI talks: one-line errors with exit codes, tables, and --json output."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from phasedcare import errors

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from phasedcare.service.views import CommandResult

__all__ = [
    "EXIT_CODES",
    "console",
    "emit_json",
    "fail",
    "listing",
    "parse_day",
    "parse_moment",
    "report_command",
    "reporting_errors",
    "safe_text",
    "say",
    "shown",
    "table",
]

console = Console(width=None if sys.stdout.isatty() else 200)  # pipes get whole lines
_err = Console(stderr=True)

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What a terminal may act on rather than show: C0 controls but tab and newline (ESC opens
every escape sequence, BEL ends OSC), DEL, C1 controls (CSI, OSC, ST in eight bits) and the
bidirectional embeddings, overrides and isolates that reorder what is shown."""

REPLACEMENT = "\ufffd"
"""Shown in place of each unsafe character, so that nothing is hidden and nothing acts."""


def shown(value: object) -> str:
    """``value`` as text that is safe to show: each unsafe character replaced by U+FFFD.

    Every value from data (names, statements, descriptions, reasons, ids) passes through here
    before the CLI displays it; ``safe_text`` and ``table`` then keep it from being read as
    Rich markup.
    """
    return _UNSAFE.sub(REPLACEMENT, "" if value is None else str(value))


def safe_text(*parts: str | tuple[str, str]) -> Text:
    """Text made of ``parts`` (strings, or (string, style) pairs), each cleaned by ``shown``;
    never read as markup, so ``Kind [naam onbekend]`` shows as typed."""
    return Text.assemble(
        *((shown(part[0]), part[1]) if isinstance(part, tuple) else shown(part) for part in parts)
    )


def say(*parts: str | tuple[str, str]) -> None:
    """Print one line (or a few) that holds data: cleaned, never markup, never highlighted."""
    console.print(safe_text(*parts), soft_wrap=True)


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
    _err.print(safe_text(f"error: {message}"), soft_wrap=True)
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
    """Print ``value`` (models, dataclasses, lists of them) as JSON on stdout.

    JSON escapes C0 controls itself; the other unsafe characters are escaped as ``\\uXXXX``
    too, so the data stays whole and the terminal gets nothing to act on.
    """
    text = json.dumps(_plain(value), indent=2, default=str, ensure_ascii=False)
    sys.stdout.write(_UNSAFE.sub(_json_escape, text) + "\n")


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


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
    """Print a rich table; every cell and the title are cleaned by ``shown``, never markup."""
    grid = Table(title=safe_text(title), show_lines=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text(shown(v)) for v in row), style=style(row) if style else None)
    console.print(grid)


def parse_day(text: str | None) -> date:
    """The date a ``--on``-style option names, or today; a malformed one fails clearly."""
    if text is None:
        return date.today()  # noqa: DTZ011 - the user's own today
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{text!r} is not a date of the form YYYY-MM-DD")


def parse_moment(text: str | None, zone: ZoneInfo) -> datetime | None:
    """The moment an ISO 8601 option names (None when absent); without an offset it is a
    time in ``zone``, the region's. A malformed time fails clearly, and so does a local time
    the clocks skip or pass twice in ``zone`` (it is not one moment: give the offset)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{text!r} is not a time of the form YYYY-MM-DDTHH:MM[+HH:MM] (ISO 8601)")
    if moment.tzinfo is not None:
        return moment
    first, second = moment.replace(tzinfo=zone), moment.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    shown_as = f"{moment:%Y-%m-%dT%H:%M}"
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        fail(f"{shown_as} does not exist in {zone.key} (the clocks go forward): check the time")
    fail(
        f"{shown_as} happens twice in {zone.key} (the clocks go back): give the offset, "
        f"{first.isoformat(timespec='minutes')} for the first or "
        f"{second.isoformat(timespec='minutes')} for the second"
    )


def report_command(result: CommandResult, as_json: bool) -> None:
    """Print what a command did: its events and sequence, or the result as JSON."""
    if as_json:
        emit_json(result)
        return
    created = f", created {result.created_id}" if result.created_id else ""
    say(f"{result.case_id}: {', '.join(result.events)} (sequence {result.sequence}{created})")
