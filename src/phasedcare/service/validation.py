"""Building commands from loose input: one place turns validation errors into InvalidInput."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from phasedcare.domain import commands as cmd
from phasedcare.errors import InvalidInput

__all__ = ["error_place", "make_command"]

C = TypeVar("C", bound=cmd.Command)


def error_place(loc: tuple[int | str, ...]) -> str:
    """Where an error is, dotted: the field, then list positions; a mapping's keys are data
    (a risk assessment's items), so they are never repeated back, only marked ``*``."""
    if not loc:
        return ""
    head, *rest = loc
    return ".".join([str(head), *(str(p) if isinstance(p, int) else "*" for p in rest)])


def make_command(command_type: type[C], **fields: Any) -> C:
    """Build and validate a command; a validation error becomes one clear InvalidInput."""
    try:
        return command_type(**fields)
    except ValidationError as exc:
        missing = [error_place(e["loc"]) for e in exc.errors() if e["type"] == "missing"]
        if missing:
            msg = f"{command_type.__name__} is missing {', '.join(missing)}"
            raise InvalidInput(msg, field=missing[0]) from None
        first = exc.errors()[0]
        where = error_place(first["loc"]) or command_type.__name__
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None
