"""The regional policy: deadlines, criteria, retention and organisations, from a YAML file.

A region's rules differ where the national sources are silent (see domain.md: every rule
marked configurable). The file is validated by pydantic; an error names the file, the line
and the field. Every event records the ``version`` it was decided under.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from importlib import resources
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.errors import NotFound, PolicyError

__all__ = [
    "CalendarSettings",
    "Deadlines",
    "MdaCriteria",
    "MdaCriterion",
    "Organisation",
    "OrganisationKind",
    "RegionalPolicy",
    "RetentionRule",
    "StableSafety",
    "default_policy",
    "default_policy_text",
    "parse_policy",
    "policy_json_schema",
]

_SLUG = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrganisationKind(StrEnum):
    """What an organisation is in the chain."""

    lokaal_team = "lokaal_team"
    veilig_thuis = "veilig_thuis"
    mda = "mda"
    partner = "partner"


class Organisation(_Strict):
    """An organisation of the region (no people: a functional mailbox at most)."""

    id: str = Field(pattern=_SLUG, description="Stable id, e.g. wijkteam-zwolle.")
    name: str = Field(min_length=1, max_length=200, description="The organisation's name.")
    kind: OrganisationKind = Field(description="lokaal_team, veilig_thuis, mda or partner.")
    contact: str | None = Field(
        default=None, max_length=200, description="A functional mailbox for escalations."
    )


class Deadlines(_Strict):
    """Legal and agreed deadlines."""

    veiligheidsbeoordeling_werkdagen: int = Field(
        strict=True,
        default=5,
        gt=0,
        le=60,
        description="Wmo art. 4.1.7: assessment within 5 werkdagen.",
    )
    onderzoek_weken: int = Field(
        strict=True, default=10, gt=0, le=52, description="Onderzoek completed within."
    )
    safety_plan_review_werkdagen: int = Field(
        strict=True, default=20, gt=0, le=260, description="A safety plan is reviewed within."
    )
    monitoring_maanden: list[StrictInt] = Field(
        default_factory=lambda: [3, 12],
        min_length=1,
        description="Monitoring moments in months after the handover, ascending.",
    )
    tijdelijk_huisverbod_dagen: int = Field(
        strict=True, default=10, gt=0, description="Tijdelijk huisverbod."
    )
    tijdelijk_huisverbod_max_dagen: int = Field(
        strict=True, default=28, gt=0, description="After extension."
    )
    handover_response_werkdagen: int = Field(
        strict=True, default=5, gt=0, le=60, description="The receiver answers a handover within."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        moments = self.monitoring_maanden
        if any(m <= 0 for m in moments) or moments != sorted(set(moments)):
            msg = "monitoring_maanden must be positive and strictly ascending"
            raise ValueError(msg)
        if self.tijdelijk_huisverbod_max_dagen < self.tijdelijk_huisverbod_dagen:
            msg = "tijdelijk_huisverbod_max_dagen must be at least tijdelijk_huisverbod_dagen"
            raise ValueError(msg)
        return self


class StableSafety(_Strict):
    """When stabiele veiligheid counts as reached (no national definition: configurable)."""

    incident_free_months: int = Field(
        strict=True, default=3, gt=0, le=60, description="Months without incident."
    )
    all_conditions_met: bool = Field(
        strict=True, default=True, description="Every safety condition met."
    )
    risk_assessment_required: bool = Field(
        strict=True, default=True, description="A risk assessment exists."
    )


class MdaCriterion(_Strict):
    """One entry criterion for MDA++."""

    id: str = Field(pattern=_SLUG)
    description: str = Field(min_length=1, max_length=500)


class MdaCriteria(_Strict):
    """Opschalen to and afschalen from MDA++ (default: the IJsselland set)."""

    entry_criteria: list[MdaCriterion] = Field(min_length=1)
    minimum_criteria_met: int = Field(
        strict=True, default=2, gt=0, description="Criteria needed to propose."
    )
    afschalen_stable_months: int = Field(
        strict=True, default=6, gt=0, le=60, description="Stable safety sustained before afschalen."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [c.id for c in self.entry_criteria]
        if len(ids) != len(set(ids)):
            msg = "entry criterion ids must be unique"
            raise ValueError(msg)
        if self.minimum_criteria_met > len(ids):
            msg = "minimum_criteria_met exceeds the number of entry criteria"
            raise ValueError(msg)
        return self


class RetentionRule(_Strict):
    """How long a record type is kept; the longest applicable rule wins."""

    id: str = Field(pattern=_SLUG)
    record_type: str = Field(min_length=1, max_length=60, description="e.g. vt_dossier, jeugdhulp.")
    organisation_kind: OrganisationKind | None = None
    years_after_closure: int | None = Field(strict=True, default=None, gt=0, le=100)
    until_youngest_child_age: int | None = Field(strict=True, default=None, gt=0, le=30)

    @model_validator(mode="after")
    def _has_a_term(self) -> Self:
        if self.years_after_closure is None and self.until_youngest_child_age is None:
            msg = "a retention rule needs years_after_closure or until_youngest_child_age"
            raise ValueError(msg)
        return self


class CalendarSettings(_Strict):
    """Days on which the region does not count werkdagen besides the public holidays."""

    extra_closed_days: list[date] = Field(default_factory=list)
    bevrijdingsdag_every_year: bool = Field(default=False, strict=True)


class RegionalPolicy(_Strict):
    """One region's policy file, versioned; events record the version they were decided under."""

    version: str = Field(min_length=1, max_length=40, description="e.g. 2026.1")
    region: str = Field(pattern=_SLUG, description="The region's id, e.g. ijsselland.")
    name: str = Field(min_length=1, max_length=200)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    stable_safety: StableSafety = Field(default_factory=StableSafety)
    mda: MdaCriteria
    retention: list[RetentionRule] = Field(min_length=1)
    organisations: list[Organisation] = Field(min_length=2)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)

    @model_validator(mode="after")
    def _organisations(self) -> Self:
        ids = [o.id for o in self.organisations]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            msg = f"organisation ids must be unique: {', '.join(duplicated)}"
            raise ValueError(msg)
        kinds = [o.kind for o in self.organisations]
        if kinds.count(OrganisationKind.veilig_thuis) != 1:
            msg = "a region has exactly one veilig_thuis organisation"
            raise ValueError(msg)
        if OrganisationKind.lokaal_team not in kinds:
            msg = "a region needs at least one lokaal_team organisation"
            raise ValueError(msg)
        return self

    def organisation(self, org_id: str) -> Organisation:
        """The organisation with this id; NotFound when the region has none."""
        for organisation in self.organisations:
            if organisation.id == org_id:
                return organisation
        msg = f"organisation {org_id} is not part of region {self.region}"
        raise NotFound(msg, kind="organisation", ident=org_id)

    @property
    def veilig_thuis(self) -> Organisation:
        """The region's Veilig Thuis organisation."""
        return next(o for o in self.organisations if o.kind is OrganisationKind.veilig_thuis)

    def working_days(self) -> WorkingDayCalendar:
        """The working-day calendar this policy describes."""
        return WorkingDayCalendar(
            extra_closed_days=self.calendar.extra_closed_days,
            bevrijdingsdag_every_year=self.calendar.bevrijdingsdag_every_year,
        )


# -- reading the YAML with line numbers ---------------------------------------------------


class _LineLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (YAML would silently keep the last)."""


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        keys.add(key)
    return dict(loader.construct_pairs(node, deep=True))


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _lines(node: yaml.Node, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], int]]:
    """Every key path in the document with the 1-based line it starts on."""
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = (*path, key_node.value)
            yield key_path, key_node.start_mark.line + 1
            yield from ((p, line) for p, line in _lines(value_node, key_path) if p != key_path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _lines(item, (*path, index))


def _line_of(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of the deepest known prefix of ``loc`` (a missing field: its parent's line)."""
    normalised = tuple(str(p) if not isinstance(p, int) else p for p in loc)
    for end in range(len(normalised), -1, -1):
        if normalised[:end] in lines:
            return lines[normalised[:end]]
    return None


def _load(text: str, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyError(f"{source} line {line}: {problem}", source=source, line=line) from None
    if node is None or not isinstance(data, dict):
        raise PolicyError(
            f"{source} line 1: a policy file is a mapping of fields", source=source, line=1
        )
    lines: dict[tuple[Any, ...], int] = {(): 1}
    lines.update(
        {
            tuple(str(p) if not isinstance(p, int) else p for p in path): line
            for path, line in _lines(node)
        }
    )
    return data, lines


def parse_policy(text: str, *, source: str) -> RegionalPolicy:
    """Validate policy YAML text; raises PolicyError naming source, line and field."""
    data, lines = _load(text, source)
    try:
        return RegionalPolicy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(p) for p in loc) or "(document)"
        line = _line_of(lines, loc)
        message = first["msg"].removeprefix("Value error, ")
        raise PolicyError(
            f"{source} line {line}: {field}: {message}", source=source, field=field, line=line
        ) from None


def default_policy_text() -> str:
    """The shipped default policy (a synthetic region, IJsselland-like)."""
    return resources.files("phasedcare.domain").joinpath("default_policy.yaml").read_text("utf-8")


def default_policy() -> RegionalPolicy:
    """The shipped default policy, validated."""
    return parse_policy(default_policy_text(), source="default_policy.yaml")


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of the policy file."""
    return RegionalPolicy.model_json_schema()
