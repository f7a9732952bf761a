"""Identifier types shared by every layer."""

from __future__ import annotations

from typing import NewType

__all__ = ["CaseId", "OrganisationId", "UserId"]

CaseId = NewType("CaseId", str)
OrganisationId = NewType("OrganisationId", str)
UserId = NewType("UserId", str)
