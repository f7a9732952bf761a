"""Building commands from loose input: one place turns validation errors into InvalidInput."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import ValidationError

from phasedcare.domain import commands as cmd
from phasedcare.errors import InvalidInput

__all__ = ["make_command"]

C = TypeVar("C", bound=cmd.Command)


def make_command(command_type: type[C], **fields: Any) -> C:
    """Build and validate a command; a validation error becomes one clear InvalidInput."""
    try:
        return command_type(**fields)
    except ValidationError as exc:
        missing = [
            ".".join(str(p) for p in e["loc"]) for e in exc.errors() if e["type"] == "missing"
        ]
        if missing:
            msg = f"{command_type.__name__} is missing {', '.join(missing)}"
            raise InvalidInput(msg, field=missing[0]) from None
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or command_type.__name__
        raise InvalidInput(f"{where}: {first['msg']}", field=where) from None
