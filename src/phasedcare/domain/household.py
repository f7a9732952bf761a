"""The household (huishouden): its members, their roles and the specific-group flags."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Member", "MemberRole", "SpecificGroup", "age_on"]


class MemberRole(StrEnum):
    """The role a person has in the household's file."""

    slachtoffer = "slachtoffer"
    pleger = "pleger"
    kind = "kind"
    overige_betrokkene = "overige_betrokkene"


class SpecificGroup(StrEnum):
    """Routing flags for specific forms of violence (see domain.md, specific groups)."""

    intieme_terreur = "intieme_terreur"
    eergerelateerd_geweld = "eergerelateerd_geweld"
    mensenhandel = "mensenhandel"
    ouderenmishandeling = "ouderenmishandeling"
    complexe_scheiding = "complexe_scheiding"


class Member(BaseModel):
    """One person in the household; the name lives only in sealed events and in memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    member_id: str = Field(description="Stable id of the member within the case, e.g. m1.")
    role: MemberRole
    name: str = Field(min_length=1, max_length=200, description="Personal data: sealed.")
    date_of_birth: date | None = Field(default=None, description="Personal data: sealed.")


def age_on(date_of_birth: date, day: date) -> int:
    """Age in whole years on ``day``."""
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - int(before_birthday)
