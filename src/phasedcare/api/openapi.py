"""The OpenAPI 3.1 document of the API, as published in ``schemas/openapi.json``."""

from __future__ import annotations

from typing import Any

from phasedcare.api.app import create_app
from phasedcare.domain.actors import Actor
from phasedcare.errors import NotAuthorised
from phasedcare.testing import memory_engine

__all__ = ["OPENAPI_FILE", "openapi_document"]

OPENAPI_FILE = "openapi.json"
"""Where ``phasedcare schemas`` writes the document, under the schemas folder."""


def _nobody(_: str) -> Actor:
    raise NotAuthorised("the document is built without callers", actor="-")


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document (built on an in-memory engine; nothing is served)."""
    engine = memory_engine()
    try:
        document: dict[str, Any] = create_app(engine, authenticate=_nobody).openapi()
    finally:
        engine.close()
    return document
