"""Synthetic import files: whole case histories as JSON Lines, synthetic people only."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

__all__ = ["NAMES", "VT", "WIJKTEAM", "history", "line", "region"]

VT = "u-vt-01@vt-ijsselland:professional"
WIJKTEAM = "u-wt-01@wijkteam-zwolle:professional"

_ROLES = ("slachtoffer", "pleger", "kind")
NAMES = ("Anna Voorbeeld", "Bram Voorbeeld", "Cato Voorbeeld")


def line(at: datetime, actor: str, command: str, **fields: Any) -> dict[str, Any]:
    """One line of an import file, as a dict."""
    return {"at": at.isoformat(), "actor": actor, "command": command, "fields": fields}


def history(
    case_id: str, start: datetime, *, names: tuple[str, ...] = NAMES
) -> list[dict[str, Any]]:
    """A case from melding to stabiele veiligheid: 15 commands, one hour apart."""
    day = start.date()
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (VT, "OpenCase", {"via": "melding", "summary": "Synthetic melding"}),
        *(
            (VT, "RecordMember", {"role": role, "name": name})
            for role, name in zip(_ROLES, names, strict=True)
        ),
        (VT, "FireEvent", {"chart": "vt", "event": "start_veiligheidsbeoordeling"}),
        *(
            (
                VT,
                "AddSafetyCondition",
                {
                    "statement": f"Synthetic condition {n}",
                    "owner": "wijkteam-zwolle",
                    "check_every_days": 14,
                },
            )
            for n in (1, 2)
        ),
        (
            VT,
            "RecordRiskAssessment",
            {
                "instrument": "VT-triage",
                "instrument_version": "2023",
                "level": "hoog",
                "assessed_on": day.isoformat(),
            },
        ),
        (VT, "FireEvent", {"chart": "phase", "event": "start_directe_veiligheid"}),
        (VT, "AgreeSafetyPlan", {"agreed_on": day.isoformat()}),
        (
            VT,
            "ProposeHandover",
            {
                "to_organisation": "wijkteam-zwolle",
                "safety_conditions": ["c1"],
                "monitoring_agreement": "Veilig Thuis checks at 3 and 12 months.",
                "risk_summary": "verhoogd risico",
                "legal_basis": "art. 5.2.6 Wmo 2015",
                "household_informed": True,
            },
        ),
        (WIJKTEAM, "AcceptHandover", {"handover_id": "h1", "casusregisseur": "u-wt-01"}),
        *(
            (
                VT,
                "RecordConditionStatus",
                {"condition_id": c, "status": "met", "observed_on": day.isoformat()},
            )
            for c in ("c1", "c2")
        ),
        (WIJKTEAM, "FireEvent", {"chart": "phase", "event": "naar_stabiele_veiligheid"}),
    ]
    return [
        line(start + timedelta(hours=n), actor, command, case_id=case_id, **fields)
        for n, (actor, command, fields) in enumerate(steps)
    ]


def region(
    cases: int, start: datetime, *, prefix: str = "c-imp", names: tuple[str, ...] = NAMES
) -> list[str]:
    """An import file of ``cases`` histories, interleaved in time order, as text lines."""
    lines = [
        entry
        for number in range(cases)
        for entry in history(
            f"{prefix}-{number:05d}", start + timedelta(minutes=number), names=names
        )
    ]
    lines.sort(key=lambda entry: entry["at"])
    return [json.dumps(entry) for entry in lines]
