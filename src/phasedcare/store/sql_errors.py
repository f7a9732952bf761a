"""Driver errors become StoreError at the SQL store's edge, with the driver's own words."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from phasedcare.errors import StoreError

__all__ = ["translated"]


@contextmanager
def translated(message: str) -> Iterator[None]:
    """Turn a driver error into a StoreError; ``detail`` keeps the driver's own words.

    The driver's message names constraints and ids; SQLAlchemy's own text, which would also
    show the bound parameters, is left out.
    """
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(message, detail=str(exc.orig)) from None
