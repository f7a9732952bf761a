"""Cursor pages: a list answers ``limit`` rows after the cursor ``after``, and a full page
carries a ``Link`` rel=next whose ``after`` is its last row's sort key.

The engine asks the store for that one page (the cursor and the limit go down to the
database), so a page costs the same however large the ledger grows. A cursor is opaque to
clients: base64url of the sort key's values, checked when it comes back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request, Response

from phasedcare.errors import InvalidInput

__all__ = [
    "MAX_PAGE",
    "After",
    "Limit",
    "cursor_date",
    "cursor_flag",
    "decode_cursor",
    "encode_cursor",
    "link_next",
]

MAX_PAGE = 500
"""The most rows one page may ask for."""

After = Annotated[
    str | None,
    Query(max_length=1000, description="Cursor: the `after` of the previous page's Link rel=next."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Rows per page.")]

_PAGING = frozenset({"after", "limit"})
_NOT_A_CURSOR = "after is not a cursor this API gave out (take it from a Link rel=next)"


def encode_cursor(values: Sequence[object]) -> str:
    """The opaque cursor of a sort key: base64url of its values as JSON strings."""
    text = json.dumps([str(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, size: int) -> list[str]:
    """The ``size`` values of a cursor made by :func:`encode_cursor`; InvalidInput otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except ValueError:  # bad base64, ASCII or JSON: all ValueErrors
        raise InvalidInput(_NOT_A_CURSOR, field="after") from None
    if not isinstance(values, list) or len(values) != size:
        raise InvalidInput(_NOT_A_CURSOR, field="after")
    if not all(isinstance(v, str) for v in values):
        raise InvalidInput(_NOT_A_CURSOR, field="after")
    return values


def cursor_date(text: str) -> date:
    """A date value of a cursor; InvalidInput when it is none."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_NOT_A_CURSOR, field="after") from None


def cursor_flag(text: str) -> bool:
    """A yes/no value of a cursor (as :func:`encode_cursor` wrote it); InvalidInput otherwise."""
    if text not in ("True", "False"):
        raise InvalidInput(_NOT_A_CURSOR, field="after")
    return text == "True"


def link_next(
    request: Request, response: Response, *, rows: Sequence[object], limit: int, after: str
) -> None:
    """Point a full page at the next one: the same query, then ``after`` and ``limit``."""
    if len(rows) == limit:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k not in _PAGING]
        query = urlencode([*kept, ("after", after), ("limit", str(limit))])
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
