"""The HTTP API: a FastAPI app factory over an Engine (no module-level side effects).

``create_app(engine, authenticate=...)`` builds the app; every request is authenticated to an
actor and goes through the same Engine methods, and so the same authorisation and access
log, as the Python API and the CLI.
"""

from __future__ import annotations

from phasedcare.api.app import create_app

__all__ = ["create_app"]
