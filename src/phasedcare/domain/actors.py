"""Who acts: a user of an organisation in a role.

Every command and every event carries an actor. User ids are the professional's account id
at their organisation (pseudonymous), never the name of a client.
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Actor", "Role"]

_ID = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class Role(StrEnum):
    """What an actor may do: professionals change cases, auditors only read the ledger, the
    system (the scheduled sweeps) only expires, escalates and signals, and an integration
    admin only manages its organisation's webhook subscriptions (it reads no case)."""

    professional = "professional"
    auditor = "auditor"
    system = "system"
    integration_admin = "integration_admin"


class Actor(BaseModel):
    """A user acting for an organisation in a role, e.g. ``u-vt-01@vt-ijsselland:professional``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: str = Field(pattern=_ID, description="The account id of the professional.")
    organisation: str = Field(pattern=_ID, description="The organisation id from the policy.")
    role: Role = Field(description="The role the user acts in.")

    @classmethod
    def parse(cls, text: str) -> Actor:
        """Parse ``user@organisation:role``; raises ValueError with the expected form."""
        match = re.fullmatch(r"([^@:\s]+)@([^@:\s]+):([^@:\s]+)", text.strip())
        if match is None:
            msg = f"actor {text!r} is not of the form user@organisation:role"
            raise ValueError(msg)
        user, organisation, role = match.groups()
        if role not in Role.__members__:
            msg = f"actor role {role!r} is unknown; expected one of {', '.join(Role)}"
            raise ValueError(msg)
        return cls(user=user, organisation=organisation, role=Role(role))

    def __str__(self) -> str:
        return f"{self.user}@{self.organisation}:{self.role}"
