"""Hypothesis strategies of bad input: mutated commands, refused commands, broken policy and
settings files. The harness in ``test_bad_input.py`` feeds them through every boundary.

Free text carries canary strings (``CANARIES``) that must never come back in an error, a
problem body or a log line. Field names and ids may be echoed (a refusal names what it
refuses); values typed as prose may not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from typing import Any, get_args, get_origin

import yaml
from hypothesis import strategies as st
from pydantic.fields import FieldInfo

from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import default_policy_text
from phasedcare.testing import actor_of

__all__ = [
    "BASELINES",
    "BIRTH_DATE",
    "CANARIES",
    "CASE_COMMANDS",
    "OUTSIDERS",
    "ROUTED",
    "SYSTEM",
    "VEILIG_THUIS",
    "Attempt",
    "PolicyDocument",
    "bad_policy_documents",
    "bad_settings_files",
    "mutated_commands",
    "refused_commands",
    "route_of",
    "wrong_values",
]

CANARIES = ("Canary Voorbeeld", "Kanarie Fictief", "Sjoerd Kanarievogel")
"""Synthetic names written into free text; none may appear in an error or a log line."""

BIRTH_DATE = date(1987, 6, 5)
"""A synthetic date of birth: personal data, so never echoed either."""

TODAY = date(2026, 3, 2)
"""The harness clock's day (tests/conftest.py's clock)."""

_ODD = "\u200b\u0301\u2603\ufeff\U0001f9ea"  # zero-width space, combining accent, snowman, BOM, test tube


def canary_text(index: int = 0) -> str:
    """Free text with a canary name and odd unicode, well inside every length limit."""
    return f"{CANARIES[index % len(CANARIES)]} {_ODD} woont aan de Dorpsstraat"


# -- a valid command of every type for the harness's case ---------------------------------

BASELINES: dict[type[cmd.Command], dict[str, Any]] = {
    cmd.OpenCase: {"via": "melding", "summary": canary_text(0)},
    cmd.RecordMember: {
        "role": "kind",
        "name": CANARIES[1],
        "date_of_birth": BIRTH_DATE.isoformat(),
    },
    cmd.FlagSpecificGroup: {"flag": "eergerelateerd_geweld"},
    cmd.EndSpecificGroup: {"flag": "mensenhandel", "reason": canary_text(1)},
    cmd.FireEvent: {"chart": "phase", "event": "naar_herstel", "reason": canary_text(2)},
    cmd.AgreeSafetyPlan: {"agreed_on": TODAY.isoformat(), "summary": canary_text(0)},
    cmd.AddSafetyCondition: {
        "statement": canary_text(1),
        "owner": "wijkteam-zwolle",
        "check_every_days": 14,
        "check_method": canary_text(2),
    },
    cmd.RecordConditionStatus: {
        "condition_id": "c1",
        "status": "met",
        "observed_on": TODAY.isoformat(),
        "evidence": canary_text(0),
    },
    cmd.RecordRiskAssessment: {
        "instrument": "VT-triage",
        "instrument_version": "2023",
        "level": "hoog",
        "assessed_on": TODAY.isoformat(),
        "items": {"toelichting": canary_text(1)},
    },
    cmd.RecordIncident: {"occurred_on": TODAY.isoformat(), "description": canary_text(2)},
    cmd.AssignCasusregisseur: {"casusregisseur": "u-vt-02"},
    cmd.ProposeHandover: {
        "to_organisation": "wijkteam-zwolle",
        "safety_conditions": ["c1"],
        "monitoring_agreement": canary_text(0),
        "risk_summary": canary_text(1),
        "legal_basis": "art. 5.2.6 Wmo 2015",
        "household_informed": False,
        "household_not_informed_reason": canary_text(2),
        "note": canary_text(0),
    },
    cmd.AcceptHandover: {"handover_id": "h1", "casusregisseur": "u-wt-01"},
    cmd.RejectHandover: {"handover_id": "h1", "reason": canary_text(1)},
    cmd.WithdrawHandover: {"handover_id": "h1", "reason": canary_text(2)},
    cmd.ExpireHandover: {"handover_id": "h1"},
    cmd.EscalateDeadline: {"kind": "veiligheidsbeoordeling", "ref": "m1"},
    cmd.RecordMelding: {"melder_kind": "burger", "summary": canary_text(0)},
    cmd.ConcludeVeiligheidsbeoordeling: {
        "melding_id": "m2",
        "acute_onveiligheid": False,
        "structurele_onveiligheid": True,
        "follow_up": "geen_vervolgstappen",
        "reason": canary_text(2),
    },
    cmd.RecordMonitoringCheck: {
        "checked_on": TODAY.isoformat(),
        "outcome": "veilig",
        "note": canary_text(1),
    },
    cmd.WaiveObligation: {"obligation_id": "veiligheidsbeoordeling:vb", "reason": canary_text(2)},
    cmd.OrganiseZicht: {
        "melding_id": "m1",
        "kept_by": "wijkteam-zwolle",
        "means": "contact_met_gezin",
        "until": (TODAY + timedelta(days=14)).isoformat(),
        "note": canary_text(1),
    },
    cmd.ImposeHuisverbod: {"imposed_on": TODAY.isoformat(), "against": "m1"},
    cmd.ExtendHuisverbod: {"ends_on": TODAY.isoformat()},
    cmd.RecordHuisverbodHelp: {"started_on": TODAY.isoformat()},
    cmd.AssessMdaCriteria: {"met": ["structurele-onveiligheid"], "note": canary_text(2)},
    cmd.SignalMda: {},
    cmd.PlaceLegalHold: {"reason": canary_text(0)},
    cmd.ReleaseLegalHold: {"reason": canary_text(1)},
    cmd.GrantShare: {
        "to_organisation": "politie-ijsselland",
        "legal_basis": canary_text(2),
        "expires_on": "2026-06-30",
    },
    cmd.RevokeShare: {"share_id": "s1"},
    cmd.ReviewBreakGlass: {"review_id": "b1", "outcome": "justified", "note": canary_text(0)},
}
"""Fields of one valid command of each type (``case_id`` is added per case)."""

CASE_COMMANDS = tuple(t for t in cmd.COMMAND_TYPES if issubclass(t, cmd.CaseCommand))
_SWEEP_ONLY = (cmd.ExpireHandover, cmd.EscalateDeadline, cmd.SignalMda)
ROUTED = tuple(t for t in cmd.COMMAND_TYPES if t not in _SWEEP_ONLY)
"""The commands the HTTP API takes (the sweeps' commands are issued inside the process)."""


def route_of(command_type: type[cmd.Command], case_id: str) -> str:
    """The HTTP path of a command: ``/cases`` to open, ``/cases/{id}/<kebab-name>`` after."""
    if command_type is cmd.OpenCase:
        return "/cases"
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", command_type.__name__).lower()
    return f"/cases/{case_id}/{kebab}"


@dataclass(frozen=True)
class Attempt:
    """One command attempt: its type, its fields, and the field a mutation made invalid.

    ``field`` is the command's name when the mutation breaks a rule across fields.
    """

    command_type: type[cmd.Command]
    fields: dict[str, Any]
    field: str
    actor: Actor | None = None
    expected_sequence: int | None = None
    secrets: tuple[str, ...] = field(default=CANARIES)

    def build(self) -> cmd.Command:
        """The command itself (only for attempts whose fields validate)."""
        return self.command_type(**self.fields)

    def body(self) -> dict[str, Any]:
        """The HTTP body: the fields without a case command's ``case_id`` (in the path)."""
        in_path = issubclass(self.command_type, cmd.CaseCommand)
        return {k: v for k, v in self.fields.items() if not (in_path and k == "case_id")}


# -- mutations of single fields ---------------------------------------------------------------


def _constraint(info: FieldInfo, name: str) -> Any:
    """A constraint (``pattern``, ``max_length``, ``min_length``) from a field's metadata."""
    return next((getattr(m, name) for m in info.metadata if hasattr(m, name)), None)


def _base_type(info: FieldInfo) -> Any:
    """The annotation without ``| None``."""
    args = get_args(info.annotation)
    if type(None) in args:
        return next(a for a in args if a is not type(None))
    return info.annotation


_NOT_TEXT = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2),
)
_NOT_A_DATE = st.one_of(
    st.sampled_from(["2026-02-30", "2026-13-01", "0000-01-01", "10000-01-01", "gisteren", ""]),
    st.just(CANARIES[0]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.just("dag"), st.integers(), max_size=1),
)
_NOT_A_BOOL = st.one_of(
    st.sampled_from([CANARIES[1], "misschien", 2, -1, 1.5]), st.lists(st.booleans(), max_size=2)
)
_NOT_A_COUNT = st.one_of(
    st.integers(max_value=0),
    st.integers(min_value=367),
    st.sampled_from([1.5, "veertien", CANARIES[2], None, 10**40]),
    st.lists(st.integers(), max_size=2),
)
_BAD_IDS = st.one_of(
    st.sampled_from(
        ["", "   ", "-leading-dash", ".dot", "a" * 65, "ｃ１", "c1/../c2", "c1\n", *CANARIES]
    ),
    st.text(min_size=1, max_size=8).map(lambda s: f"{s} {CANARIES[0]}"),
)


def _bad_text(info: FieldInfo) -> st.SearchStrategy[Any]:
    """Values a str field refuses: wrong types, too long, empty, not matching its pattern."""
    options = [_NOT_TEXT, st.just("\ud800" + canary_text())]  # a lone surrogate is no text
    pattern = _constraint(info, "pattern")
    if pattern is not None:
        options.append(_BAD_IDS.filter(lambda s: re.fullmatch(pattern, s.strip()) is None))
    longest = _constraint(info, "max_length")
    if longest is not None:
        options.append(st.just((canary_text() + " ") * (longest // 20 + 2)))
    if (_constraint(info, "min_length") or 0) > 0:
        options.append(st.sampled_from(["", "   ", "\t\n"]))
    return st.one_of(options)


def _bad_list(info: FieldInfo) -> st.SearchStrategy[Any]:
    """Values a list of ids refuses: not a list, items of the wrong type, too many, none."""
    longest = _constraint(info, "max_length") or 100
    options = [
        st.just(canary_text()),
        st.lists(_NOT_TEXT.filter(lambda v: not isinstance(v, str)), min_size=1, max_size=3),
        st.just([canary_text()] * (longest + 1)),
    ]
    if (_constraint(info, "min_length") or 0) > 0:
        options.append(st.just([]))
    return st.one_of(options)


def _bad_mapping(info: FieldInfo) -> st.SearchStrategy[Any]:
    """Values a mapping of text refuses: not a mapping, values that are not text, too many."""
    longest = _constraint(info, "max_length") or 200
    return st.one_of(
        st.just([canary_text()]),
        st.just(canary_text()),
        st.dictionaries(st.sampled_from(["toelichting", "geweld"]), _NOT_TEXT, min_size=1),
        st.just({f"item-{n}": canary_text() for n in range(longest + 1)}),
    )


def _bad_choice(choices: type[Enum]) -> st.SearchStrategy[Any]:
    """Values an enumeration refuses."""
    names = {member.value for member in choices}
    return st.one_of(
        _NOT_TEXT,
        st.sampled_from([*CANARIES, "", "KIND", " kind x"]).filter(lambda s: s not in names),
    )


_BY_TYPE: dict[Any, st.SearchStrategy[Any]] = {
    bool: _NOT_A_BOOL,
    int: _NOT_A_COUNT,
    date: _NOT_A_DATE,
}


def bad_values(info: FieldInfo) -> st.SearchStrategy[Any]:
    """Values the field refuses, whatever else the command holds."""
    kind = _base_type(info)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return _bad_choice(kind)
    if kind in _BY_TYPE:
        return _BY_TYPE[kind]
    if get_origin(kind) is list:
        return _bad_list(info)
    if get_origin(kind) is dict:
        return _bad_mapping(info)
    return _bad_text(info)


def _with_case(command_type: type[cmd.Command], case_id: str) -> dict[str, Any]:
    fields = dict(BASELINES[command_type])
    if issubclass(command_type, cmd.CaseCommand):
        fields["case_id"] = case_id
    return fields


@st.composite
def _one_bad_field(draw: st.DrawFn, command_type: type[cmd.Command], case_id: str) -> Attempt:
    fields = _with_case(command_type, case_id)
    name = draw(st.sampled_from(sorted(command_type.model_fields)), label="field")
    fields[name] = draw(bad_values(command_type.model_fields[name]), label="bad value")
    return Attempt(command_type, fields, name)


@st.composite
def _missing_field(draw: st.DrawFn, command_type: type[cmd.Command], case_id: str) -> Attempt:
    fields = _with_case(command_type, case_id)
    required = sorted(n for n, i in command_type.model_fields.items() if i.is_required())
    name = draw(st.sampled_from(required), label="dropped field")
    del fields[name]
    return Attempt(command_type, fields, name)


@st.composite
def _unknown_field(draw: st.DrawFn, command_type: type[cmd.Command], case_id: str) -> Attempt:
    fields = _with_case(command_type, case_id)
    known = set(command_type.model_fields)
    name = draw(
        st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True).filter(lambda n: n not in known),
        label="unknown field",
    )
    fields[name] = canary_text()
    return Attempt(command_type, fields, name)


def _handover_without_reason(case_id: str) -> Attempt:
    """A proposal saying the household was not told, without saying why (a cross-field rule)."""
    fields = {**_with_case(cmd.ProposeHandover, case_id), "household_not_informed_reason": ""}
    return Attempt(cmd.ProposeHandover, fields, "ProposeHandover")


def mutated_commands(
    case_id: str, *, types: tuple[type[cmd.Command], ...] = cmd.COMMAND_TYPES
) -> st.SearchStrategy[Attempt]:
    """Commands of ``types`` for ``case_id`` with one field invalid, missing or unknown, or a
    rule across fields broken: never a valid command."""
    has_required = [t for t in types if any(i.is_required() for i in t.model_fields.values())]
    return st.one_of(
        st.sampled_from(types).flatmap(lambda t: _one_bad_field(t, case_id)),
        st.sampled_from(types).flatmap(lambda t: _unknown_field(t, case_id)),
        st.sampled_from(has_required).flatmap(lambda t: _missing_field(t, case_id)),
        st.just(_handover_without_reason(case_id)),
    )


def wrong_values(case_id: str) -> st.SearchStrategy[Attempt]:
    """Commands with one field of a wrong value (what a typed Python call can still pass)."""
    return st.sampled_from(cmd.COMMAND_TYPES).flatmap(lambda t: _one_bad_field(t, case_id))


# -- valid commands the engine must refuse ------------------------------------------------------

OUTSIDERS = (
    actor_of("politie-ijsselland", user="u-po-01"),
    actor_of("wijkteam-deventer", user="u-dv-01"),
    actor_of("vt-ijsselland", user="u-audit-01", role=Role.auditor),
    actor_of("gemeente-elders", user="u-ge-01"),
    actor_of("vt-elders", user="u-vt-09"),
)
"""Actors who may change nothing of a case Veilig Thuis holds (no regie, handover or share)."""

SYSTEM = actor_of("vt-ijsselland", user="system", role=Role.system)
VEILIG_THUIS = actor_of("vt-ijsselland", user="u-vt-01")

_FAR = st.sampled_from([date(1, 1, 1), date(1900, 2, 28), date(9999, 12, 31), date(2400, 2, 29)])
_FUTURE = st.dates(min_value=date(2026, 3, 3)) | _FAR.filter(lambda d: d > TODAY)


def _wrong_state(case_id: str, refused_events: list[tuple[str, str]]) -> list[Attempt]:
    """Commands a case in directe veiligheid (regie at Veilig Thuis, no handover, share,
    hold, huisverbod or break-glass) refuses, each sent by Veilig Thuis."""

    def attempt(command_type: type[cmd.Command], rule: str, **changes: Any) -> Attempt:
        fields = {**_with_case(command_type, case_id), **changes}
        return Attempt(command_type, fields, rule, actor=VEILIG_THUIS)

    fired = [
        attempt(cmd.FireEvent, "event", chart=chart, event=event) for chart, event in refused_events
    ]
    return [
        *fired,
        attempt(cmd.ReleaseLegalHold, "no_hold"),
        attempt(cmd.RecordMonitoringCheck, "not_monitoring"),
        attempt(cmd.ConcludeVeiligheidsbeoordeling, "melding", melding_id="m404"),
        attempt(cmd.WaiveObligation, "obligation", obligation_id="monitoring:m404"),
        attempt(cmd.OrganiseZicht, "melding", melding_id="m404"),
        attempt(cmd.EndSpecificGroup, "flag", flag="intieme_terreur"),
        attempt(cmd.OrganiseZicht, "organisation", kept_by="wijkteam-elders"),
        attempt(cmd.ExtendHuisverbod, "huisverbod"),
        attempt(cmd.RecordHuisverbodHelp, "huisverbod"),
        attempt(cmd.WithdrawHandover, "handover", handover_id="h404"),
        attempt(cmd.RevokeShare, "share", share_id="s404"),
        attempt(cmd.ReviewBreakGlass, "break glass", review_id="b404"),
        attempt(cmd.RecordConditionStatus, "safety condition", condition_id="c404"),
        attempt(cmd.RecordRiskAssessment, "risk assessment", assessment_id="r404"),
        attempt(cmd.AddSafetyCondition, "organisation", owner="wijkteam-elders"),
        attempt(cmd.GrantShare, "organisation", to_organisation="politie-elders"),
        attempt(cmd.ProposeHandover, "organisation", to_organisation="wijkteam-elders"),
        attempt(cmd.ProposeHandover, "safety condition", safety_conditions=["c1", "c404"]),
        attempt(cmd.AssessMdaCriteria, "criterion", met=["geen-criterium"]),
        attempt(cmd.OpenCase, "case_exists", case_id=case_id),
    ]


_REFUSED_DATES = {
    cmd.OrganiseZicht: ("until", _FAR | st.dates(max_value=TODAY - timedelta(days=1))),
    cmd.RecordIncident: ("occurred_on", _FUTURE),
    cmd.ImposeHuisverbod: ("imposed_on", _FUTURE),
    cmd.RecordHuisverbodHelp: ("started_on", _FUTURE),
    cmd.GrantShare: ("expires_on", _FAR | st.dates(min_value=TODAY + timedelta(days=367))),
}
"""Dates each command refuses: an incident or huisverbod in the future, a share past a year."""


def _refused_date(case_id: str) -> st.SearchStrategy[Attempt]:
    def attempt(command_type: type[cmd.Command], day: date) -> Attempt:
        name, _ = _REFUSED_DATES[command_type]
        fields = {**_with_case(command_type, case_id), name: day.isoformat()}
        return Attempt(command_type, fields, name, actor=VEILIG_THUIS)

    return st.sampled_from(sorted(_REFUSED_DATES, key=str)).flatmap(
        lambda t: _REFUSED_DATES[t][1].map(lambda day: attempt(t, day))
    )


def refused_commands(
    case_id: str, *, sequence: int, refused_events: list[tuple[str, str]]
) -> st.SearchStrategy[Attempt]:
    """Valid commands the engine refuses on the case at ``sequence``: an unknown case, an
    outsider or the system acting, a date refused, a stale version, the wrong state."""
    types = st.sampled_from(cmd.COMMAND_TYPES)
    case_types = st.sampled_from(CASE_COMMANDS)
    unknown_case = st.builds(
        lambda t, other: Attempt(t, _with_case(t, other), "case", actor=VEILIG_THUIS),
        case_types,
        st.from_regex(r"c-[a-z0-9]{1,20}", fullmatch=True).filter(lambda c: c != case_id),
    )
    outsider = st.builds(
        lambda t, who: Attempt(t, _with_case(t, case_id), "authorised", actor=who),
        types,
        st.sampled_from(OUTSIDERS),
    )
    system = st.builds(
        lambda t: Attempt(t, _with_case(t, case_id), "authorised", actor=SYSTEM),
        types.filter(lambda t: t not in _SWEEP_ONLY),
    )
    stale = st.builds(
        lambda t, seq: Attempt(
            t, _with_case(t, case_id), "version", actor=VEILIG_THUIS, expected_sequence=seq
        ),
        case_types.filter(lambda t: t not in _SWEEP_ONLY),
        st.integers(min_value=0, max_value=10**6).filter(lambda s: s != sequence),
    )
    wrong_state = st.sampled_from(_wrong_state(case_id, refused_events))
    return st.one_of(unknown_case, outsider, system, _refused_date(case_id), stale, wrong_state)


# -- broken policy files ------------------------------------------------------------------------

_Path = tuple[str | int, ...]


@dataclass(frozen=True)
class PolicyDocument:
    """A policy file's bytes, and the key path a mutation must be refused at (None: any)."""

    data: bytes
    expected_field: str | None
    kind: str


def _default_tree() -> dict[str, Any]:
    tree: dict[str, Any] = yaml.safe_load(default_policy_text())
    return tree


def _paths(node: Any, path: _Path = ()) -> list[_Path]:
    """Every key path and list index below ``node``."""
    found: list[_Path] = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, value in items:
        found.append((*path, key))
        found.extend(_paths(value, (*path, key)))
    return found


def _get(tree: Any, path: _Path) -> Any:
    for part in path:
        tree = tree[part]
    return tree


def _dotted(path: _Path) -> str:
    return ".".join(str(p) for p in path)


def _int_paths(tree: dict[str, Any]) -> list[_Path]:
    return [
        p
        for p in _paths(tree)
        if isinstance(_get(tree, p), int) and not isinstance(_get(tree, p), bool)
    ]


def _dump(tree: dict[str, Any]) -> bytes:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode()


@st.composite
def _dropped_key(draw: st.DrawFn) -> PolicyDocument:
    tree = _default_tree()
    path = draw(st.sampled_from(_paths(tree)), label="dropped")
    parent = _get(tree, path[:-1])
    del parent[path[-1]]
    return PolicyDocument(_dump(tree), None, "dropped key")


@st.composite
def _negative_or_zero(draw: st.DrawFn) -> PolicyDocument:
    tree = _default_tree()
    path = draw(st.sampled_from(_int_paths(tree)), label="number")
    _get(tree, path[:-1])[path[-1]] = draw(st.integers(max_value=0), label="value")
    return PolicyDocument(_dump(tree), _dotted(path), "negative duration")


@st.composite
def _huge_number(draw: st.DrawFn) -> PolicyDocument:
    tree = _default_tree()
    path = draw(st.sampled_from(_int_paths(tree)), label="number")
    value = draw(st.sampled_from([10**6, 2**63, 10**400, float("inf"), 1e308]), label="value")
    _get(tree, path[:-1])[path[-1]] = value
    return PolicyDocument(_dump(tree), None, "huge number")


_WRONG = st.sampled_from([None, True, "veertien", [1, 2], {"a": 1}, 1.5, ""])


@st.composite
def _wrong_type(draw: st.DrawFn) -> PolicyDocument:
    tree = _default_tree()
    path = draw(st.sampled_from(_paths(tree)), label="at")
    _get(tree, path[:-1])[path[-1]] = draw(_WRONG, label="value")
    return PolicyDocument(_dump(tree), None, "wrong type")


@st.composite
def _duplicate_organisation(draw: st.DrawFn) -> PolicyDocument:
    tree = _default_tree()
    organisations = tree["organisations"]
    first, second = sorted(
        draw(st.sets(st.integers(0, len(organisations) - 1), min_size=2, max_size=2))
    )
    organisations[second]["id"] = organisations[first]["id"]
    return PolicyDocument(_dump(tree), f"organisations.{second}.id", "duplicate organisation id")


@st.composite
def _unknown_key(draw: st.DrawFn) -> PolicyDocument:
    tree = _default_tree()
    mappings = [()] + [p for p in _paths(tree) if isinstance(_get(tree, p), dict)]
    path = draw(st.sampled_from(mappings), label="in")
    parent = _get(tree, path)
    key = draw(
        st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True).filter(lambda k: k not in parent),
        label="key",
    )
    parent[key] = draw(_WRONG | st.integers(), label="value")
    return PolicyDocument(_dump(tree), _dotted((*path, key)), "unknown key")


@st.composite
def _broken_text(draw: st.DrawFn) -> PolicyDocument:
    """Text-level damage: unbalanced brackets, tabs, a cut file, non-UTF-8 bytes."""
    data = default_policy_text().encode()
    at = draw(st.integers(0, len(data)), label="offset")
    damage = draw(
        st.sampled_from(
            [
                b"[",
                b"{",
                b"\t- x: ",
                b": :",
                b"\xff",
                b"\xc3\x28",
                b"\xed\xa0\x80",
                b"&a *b",
                b"\x00",
            ]
        ),
        label="damage",
    )
    cut = draw(st.booleans(), label="cut after")
    return PolicyDocument(data[:at] + damage + (b"" if cut else data[at:]), None, "broken text")


def bad_policy_documents() -> st.SearchStrategy[PolicyDocument]:
    """The default policy with one mutation; most are invalid, some stay valid."""
    return st.one_of(
        _dropped_key(),
        _negative_or_zero(),
        _huge_number(),
        _wrong_type(),
        _duplicate_organisation(),
        _unknown_key(),
        _broken_text(),
    )


# -- broken settings files ------------------------------------------------------------------------

_WRONG_SETTINGS = {
    "checkpoint_interval_seconds": ["'zestig'", "-5", "0", "[1, 2]", "1.5"],
    "log_level": ["'luid'", "5", "true", "{ a = 1 }"],
    "key_provider": ["'hsm'", "1", "[]"],
    "webhook_allow_loopback": ["'misschien'", "5", "1979-05-27", "[true]"],
    "database_url": ["5", "[]", "{ url = 1 }"],
}
"""Values of the wrong type or out of range for some settings."""


def bad_settings_files() -> st.SearchStrategy[bytes]:
    """A config.toml that is not TOML, has a value of the wrong type, or an unknown key."""
    not_toml = st.sampled_from(
        [b"log_level = ", b"[unclosed", b"a = 'b' c", b"x = 1\nx = 2", b"\xff\xfe= 1", b"= 3"]
    )
    wrong_type = st.sampled_from(sorted(_WRONG_SETTINGS)).flatmap(
        lambda key: st.sampled_from(_WRONG_SETTINGS[key]).map(
            lambda value: f"{key} = {value}\n".encode()
        )
    )
    unknown = st.from_regex(r"[a-z][a-z_]{0,15}", fullmatch=True).map(
        lambda key: f"{key}_x = 1\n".encode()
    )
    return st.one_of(not_toml, wrong_type, unknown)
