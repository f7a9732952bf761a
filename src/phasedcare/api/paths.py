"""Path parameters: every id in a URL has the project's id shape, checked before anything loads.

The shape (:data:`~phasedcare.domain.commands.ID_PATTERN`) has no ``~``, so a URL cannot name
one of the ledger's own streams (a case's access log ``c-x~access``, the caseload's
``~caseload~access``): such an id gets a 404 problem before the route runs (nothing can have
it), so nothing is read from the store or decrypted. Every route names its ids through these types.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from phasedcare.domain.commands import ID_PATTERN

__all__ = ["CaseIdPath", "HandoverIdPath", "SubscriptionIdPath"]

CaseIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="The case id (c-...).")]
HandoverIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="The handover id (h...).")]
SubscriptionIdPath = Annotated[
    str, Path(pattern=ID_PATTERN, description="The subscription id (sub_...).")
]
