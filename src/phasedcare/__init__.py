"""phasedcare: case coordination for Dutch phased safety care.

The public surface, loaded lazily so that ``import phasedcare`` stays cheap::

    from phasedcare import Actor, Settings, build

    engine = build(Settings(database_url="memory://"))

Everything not named in ``__all__`` is internal and may change.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phasedcare.bootstrap import build, initialise
    from phasedcare.config import Settings, load_settings
    from phasedcare.domain.actors import Actor, Role
    from phasedcare.errors import (
        ConcurrencyConflict,
        InvalidInput,
        NotAuthorised,
        NotFound,
        PhasedCareError,
        PolicyError,
        Refused,
        StoreError,
        TransitionRefused,
    )
    from phasedcare.service.engine import Engine
    from phasedcare.service.views import CaseView, CommandResult, HistoryEntry, TransitionView

__version__ = "0.1.0"

_EXPORTS = {
    "Actor": "phasedcare.domain.actors",
    "CaseView": "phasedcare.service.views",
    "CommandResult": "phasedcare.service.views",
    "ConcurrencyConflict": "phasedcare.errors",
    "Engine": "phasedcare.service.engine",
    "HistoryEntry": "phasedcare.service.views",
    "InvalidInput": "phasedcare.errors",
    "NotAuthorised": "phasedcare.errors",
    "NotFound": "phasedcare.errors",
    "PhasedCareError": "phasedcare.errors",
    "PolicyError": "phasedcare.errors",
    "Refused": "phasedcare.errors",
    "Role": "phasedcare.domain.actors",
    "Settings": "phasedcare.config",
    "StoreError": "phasedcare.errors",
    "TransitionRefused": "phasedcare.errors",
    "TransitionView": "phasedcare.service.views",
    "build": "phasedcare.bootstrap",
    "initialise": "phasedcare.bootstrap",
    "load_settings": "phasedcare.config",
}

__all__ = [
    "Actor",
    "CaseView",
    "CommandResult",
    "ConcurrencyConflict",
    "Engine",
    "HistoryEntry",
    "InvalidInput",
    "NotAuthorised",
    "NotFound",
    "PhasedCareError",
    "PolicyError",
    "Refused",
    "Role",
    "Settings",
    "StoreError",
    "TransitionRefused",
    "TransitionView",
    "__version__",
    "build",
    "initialise",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    """Import public names on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'phasedcare' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(import_module(module), name)
