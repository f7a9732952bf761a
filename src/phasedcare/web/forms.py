"""The console's forms, drawn from the commands themselves: one field per command field.

A command's pydantic model says what a form asks for: a ``bool`` is a checkbox, a ``date`` a
date picker, an enum or a ``^(a|b)$`` pattern a choice, an organisation field a choice of the
region's organisations, a condition, melding or obligation id a choice of the case's own, a
long text a text area. What a browser posts is parsed back into the command's fields and
validated by the command (:func:`~phasedcare.service.validation.make_command`), so the console
and the API refuse the same input with the same words.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Union, get_args, get_origin

from pydantic import AwareDatetime
from pydantic.fields import FieldInfo

from phasedcare.domain import commands as cmd
from phasedcare.errors import InvalidInput
from phasedcare.service.validation import make_command
from phasedcare.service.views import CaseView

__all__ = [
    "ACTIONS",
    "YES_NO",
    "Action",
    "Choice",
    "FormContext",
    "FormField",
    "fields_of",
    "parse",
]

_LONG_TEXT = 500  # a str field allowed more characters than this is a text area
_CHOICE_PATTERN = re.compile(r"^\^\(([a-z_|]+)\)\$$")


@dataclass(frozen=True, slots=True)
class Choice:
    """One option of a choice: what is posted, and what is shown."""

    value: str
    label: str


YES_NO = (Choice("true", "ja"), Choice("false", "nee"))
"""The choice of a yes-or-no question that may also be left unanswered."""


@dataclass(frozen=True, slots=True)
class FormContext:
    """What a form's choices are drawn from: the case (None where its reader answers a
    handover without reading the case), its open obligations (id and description) and the
    region's organisations."""

    case_id: str | None
    case: CaseView | None
    obligations: tuple[Choice, ...]
    organisations: tuple[Choice, ...]


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of a form: its name (the command's field), widget, whether it is required,
    and the choices of a choice or of a set of checkboxes."""

    name: str
    widget: str  # text, textarea, date, datetime, number, checkbox, choice, choices
    required: bool
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    checked: bool = False


@dataclass(frozen=True, slots=True)
class Action:
    """A command the case page offers as a form, and when it applies to the case."""

    command: type[cmd.Command]
    applies: Any  # Callable[[CaseView], bool]
    hidden: tuple[str, ...] = ()


def _open_meldingen(case: CaseView) -> bool:
    return any(m.concluded_at is None for m in case.meldingen)


ACTIONS: dict[str, Action] = {
    "melding": Action(cmd.RecordMelding, lambda c: c.phase != "afgesloten"),
    "veiligheidsbeoordeling": Action(cmd.ConcludeVeiligheidsbeoordeling, _open_meldingen),
    "zicht": Action(cmd.OrganiseZicht, _open_meldingen),
    "lid": Action(cmd.RecordMember, lambda c: c.phase != "afgesloten"),
    "veiligheidsplan": Action(cmd.AgreeSafetyPlan, lambda c: c.phase != "afgesloten"),
    "voorwaarde": Action(cmd.AddSafetyCondition, lambda c: c.phase != "afgesloten"),
    "voorwaarde-status": Action(cmd.RecordConditionStatus, lambda c: bool(c.conditions)),
    "risico": Action(cmd.RecordRiskAssessment, lambda c: c.phase != "afgesloten"),
    "incident": Action(cmd.RecordIncident, lambda c: c.phase != "afgesloten"),
    "overdracht": Action(cmd.ProposeHandover, lambda c: bool(c.conditions)),
    "monitoring": Action(cmd.RecordMonitoringCheck, lambda c: c.vt_stage == "monitoring"),
    "vrijstelling": Action(cmd.WaiveObligation, lambda c: bool(c.deadlines)),
    "casusregisseur": Action(cmd.AssignCasusregisseur, lambda c: c.phase != "afgesloten"),
    "gebeurtenis": Action(cmd.FireEvent, lambda c: True, hidden=("chart", "event")),
    "accepteren": Action(cmd.AcceptHandover, lambda c: False, hidden=("handover_id",)),
    "afwijzen": Action(cmd.RejectHandover, lambda c: False, hidden=("handover_id",)),
    "intrekken": Action(cmd.WithdrawHandover, lambda c: False, hidden=("handover_id",)),
    "noodtoegang-beoordelen": Action(cmd.ReviewBreakGlass, lambda c: False, hidden=("review_id",)),
}
"""Every command the console can send on a case, by the slug in its form's address."""

OPEN_CASE = Action(cmd.OpenCase, lambda c: False)
"""The caseload's form: a new melding or advies opens a case."""

_ORGANISATION_FIELDS = frozenset({"owner", "to_organisation", "kept_by", "melder_organisation"})
_SKIPPED = frozenset({"case_id", "items", "assessment_id", "scale_up", "received_at"})


def _optional(annotation: Any) -> Any:
    """``X`` of ``X | None`` (else the annotation itself)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _pattern(info: FieldInfo) -> str | None:
    return next((m.pattern for m in info.metadata if getattr(m, "pattern", None)), None)


def _max_length(info: FieldInfo) -> int | None:
    return next((m.max_length for m in info.metadata if getattr(m, "max_length", None)), None)


def _enum_choices(kind: type[Enum]) -> tuple[Choice, ...]:
    return tuple(Choice(str(m.value), getattr(m, "label", str(m.value))) for m in kind)


def _case_choices(name: str, ctx: FormContext) -> tuple[Choice, ...] | None:
    """The choices a field naming one of the case's own things offers, if it names one."""
    case = ctx.case
    if case is None:
        return None
    if name in ("condition_id", "safety_conditions"):
        return tuple(
            Choice(c.condition_id, f"{c.condition_id}: {c.statement}") for c in case.conditions
        )
    if name == "melding_id":
        waiting = [m for m in case.meldingen if m.concluded_at is None]
        return tuple(Choice(m.melding_id, m.melding_id) for m in waiting)
    if name == "obligation_id":
        return ctx.obligations
    return None


def _field(name: str, info: FieldInfo, ctx: FormContext) -> FormField:
    kind, required = _optional(info.annotation), info.is_required()
    hint = info.description or ""
    found = _case_choices(name, ctx)
    if found is not None:
        widget = "choices" if name == "safety_conditions" else "choice"
        return FormField(name, widget, required, found, hint)
    if name in _ORGANISATION_FIELDS:
        return FormField(name, "choice", required, ctx.organisations, hint)
    if kind is bool and info.annotation is bool:
        return FormField(name, "checkbox", required, (), hint, checked=info.default is True)
    if kind is bool:
        return FormField(name, "choice", required, YES_NO, hint)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return FormField(name, "choice", required, _enum_choices(kind), hint)
    return _plain(name, kind, info, required, hint)


def _plain(name: str, kind: Any, info: FieldInfo, required: bool, hint: str) -> FormField:
    if kind is date:
        return FormField(name, "date", required, (), hint)
    if kind in (datetime, AwareDatetime):
        return FormField(name, "datetime", required, (), hint)
    if kind is int:
        return FormField(name, "number", required, (), hint)
    match = _CHOICE_PATTERN.match(_pattern(info) or "")
    if match:
        options = tuple(Choice(v, v.replace("_", " ")) for v in match.group(1).split("|"))
        return FormField(name, "choice", required, options, hint)
    long = (_max_length(info) or 0) > _LONG_TEXT
    return FormField(name, "textarea" if long else "text", required, (), hint)


def fields_of(action: Action, ctx: FormContext) -> list[FormField]:
    """The inputs of ``action``'s form for the case (its hidden fields not among them)."""
    model = action.command.model_fields
    return [
        _field(name, info, ctx)
        for name, info in model.items()
        if name not in _SKIPPED and name not in action.hidden
    ]


_PARSERS: dict[str, Any] = {"date": date.fromisoformat, "number": int}
"""How the text of a date or number input becomes its value."""


def _value(field: FormField, values: list[str]) -> Any:
    """One field's value from what was posted; None when nothing was given."""
    if field.widget == "checkbox":
        return bool(values)
    if field.widget == "choices":
        return [v for v in values if v]
    text = values[0].strip() if values else ""
    if not text:
        return None
    if field.widget == "choice" and field.choices == YES_NO:
        return text == "true"
    parser = _PARSERS.get(field.widget)
    return text if parser is None else _parsed(field.name, parser, text)


def _parsed(name: str, parse_text: Any, text: str) -> Any:
    try:
        return parse_text(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a valid value", field=name) from None


def parse(action: Action, ctx: FormContext, posted: dict[str, list[str]]) -> cmd.Command:
    """The command a posted form asks for, validated as the API validates it."""
    fields: dict[str, Any] = {} if ctx.case_id is None else {"case_id": ctx.case_id}
    for name in action.hidden:
        fields[name] = (posted.get(name) or [""])[0]
    for field in fields_of(action, ctx):
        value = _value(field, posted.get(field.name, []))
        if value is not None:
            fields[field.name] = value
    return make_command(action.command, **fields)
