"""The regional policy: the deadlines, criteria, retention and organisations a region decides.

The national sources leave many rules open (domain.md marks them *configurable*); each region
sets them in one versioned YAML file, and every event records the ``version`` it was decided
under. The file is validated by the frozen pydantic models below, which are also its JSON
Schema (:func:`policy_json_schema`). A file that does not validate raises
:class:`~phasedcare.errors.PolicyError` with one line naming the file, the line and the dotted
field, e.g. ``policy.yaml line 12: deadlines.onderzoek_weken: Input should be greater than 0``.

Reading is strict on purpose: duplicate keys (YAML silently keeps the last), unknown fields,
non-text keys, anchors and aliases, and documents that are not a mapping are all refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, datetime
from enum import StrEnum
from importlib import resources
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.safety import RiskLevel
from phasedcare.errors import InvalidInput, NotFound, PolicyError

__all__ = [
    "DEFAULT_TIME_ZONE",
    "BreakGlassSettings",
    "CalendarSettings",
    "Deadlines",
    "MdaCriterion",
    "MdaSettings",
    "Organisation",
    "OrganisationKind",
    "RegionalPolicy",
    "RetentionRule",
    "RetentionSettings",
    "StableSafety",
    "WebhookSettings",
    "default_policy",
    "default_policy_text",
    "parse_policy",
    "policy_json_schema",
]

_SLUG = r"^[a-z0-9][a-z0-9._-]{0,62}$"  # the same id shape as actors.Actor.organisation
_RECORD_TYPE = r"^[a-z][a-z0-9_]{0,59}$"
_MAILBOX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_VERSION = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$"
_ZONE = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"  # an IANA name: no dots, no leading /
DEFAULT_TIME_ZONE = "Europe/Amsterdam"

Positive = Annotated[StrictInt, Field(gt=0)]
_Path = tuple[str | int, ...]


def _rule_broken(message: str, *at: str | int) -> PydanticCustomError:
    """A cross-field rule that failed, with the path (below the model) of the value at fault."""
    return PydanticCustomError("policy_rule", message, {"at": at})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrganisationKind(StrEnum):
    """The role an organisation plays in the chain."""

    lokaal_team = "lokaal_team"
    veilig_thuis = "veilig_thuis"
    mda = "mda"
    partner = "partner"


class Organisation(_Frozen):
    """An organisation of the region: ids and functional mailboxes only, never a person."""

    id: str = Field(pattern=_SLUG, description="Stable id (a slug), e.g. wijkteam-zwolle.")
    name: str = Field(min_length=1, max_length=200, description="The organisation's name.")
    kind: OrganisationKind = Field(
        description="lokaal_team, veilig_thuis, mda (MDA++ team) or partner (police, Raad)."
    )
    contact: str | None = Field(
        default=None,
        pattern=_MAILBOX,
        max_length=200,
        description="A functional mailbox for handovers and escalations, never a person's.",
    )
    region: str = Field(
        pattern=_SLUG, description="The region the organisation works in: the policy's region."
    )


class Deadlines(_Frozen):
    """Legal and agreed deadlines that the engine tracks, escalates and never drops."""

    veiligheidsbeoordeling_werkdagen: Positive = Field(
        default=5,
        le=60,
        description="Veiligheidsbeoordeling within N werkdagen of a melding "
        "(Uitvoeringsbesluit Wmo 2015 art. 4.1.7: 5).",
    )
    acute_veiligheidsbeoordeling_uren: Positive = Field(
        default=24,
        le=120,
        description="The veiligheidsbeoordeling of an acute melding within N hours of its "
        "receipt (LNVT: meldingen van acuut gevaar altijd onmiddellijk; 24: the same day or "
        "night, escalated at once when missed).",
    )
    onderzoek_weken: Positive = Field(
        default=10, le=52, description="A Veilig Thuis onderzoek is completed within N weeks."
    )
    safety_plan_review_werkdagen: Positive = Field(
        default=20, le=260, description="An agreed safety plan is reviewed within N werkdagen."
    )
    monitoring_maanden: list[Positive] = Field(
        default_factory=lambda: [3, 12],
        min_length=1,
        description="Monitoring checks, in months after the handover, strictly ascending.",
    )
    tijdelijk_huisverbod_dagen: Positive = Field(
        default=10, le=28, description="A tijdelijk huisverbod lasts N days; help starts within."
    )
    tijdelijk_huisverbod_max_dagen: Positive = Field(
        default=28, le=90, description="The most days after extension by the burgemeester."
    )
    handover_response_werkdagen: Positive = Field(
        default=5, le=60, description="The receiving party accepts or declines within N werkdagen."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        moments = self.monitoring_maanden
        for index in range(1, len(moments)):
            if moments[index] <= moments[index - 1]:
                msg = "monitoring_maanden must be strictly ascending"
                raise _rule_broken(msg, "monitoring_maanden", index)
        if self.tijdelijk_huisverbod_max_dagen < self.tijdelijk_huisverbod_dagen:
            msg = "must be at least tijdelijk_huisverbod_dagen"
            raise _rule_broken(msg, "tijdelijk_huisverbod_max_dagen")
        return self


class StableSafety(_Frozen):
    """When stabiele veiligheid counts as reached (no national definition: configurable)."""

    incident_free_months: Positive = Field(
        default=3, le=60, description="Months without a new incident or melding."
    )
    all_conditions_met: StrictBool = Field(
        default=True, description="Every veiligheidsvoorwaarde must be met."
    )
    risk_assessment_required: StrictBool = Field(
        default=True, description="A risk assessment (risicotaxatie) must be on file."
    )


class MdaSignal(_Frozen):
    """Facts of a case that make a criterion count as met; every one given must hold."""

    min_incidents: Positive | None = Field(default=None, description="Incidents recorded.")
    min_terugvallen: Positive | None = Field(default=None, description="Terugvallen so far.")
    min_meldingen: Positive | None = Field(
        default=None, description="Meldingen about the household, the first one included."
    )
    min_risk_level: RiskLevel | None = Field(
        default=None, description="The latest risk assessment's level is at least this."
    )
    children_present: StrictBool | None = Field(
        default=None, description="A child is recorded among the household members."
    )
    min_months_without_stable_safety: Positive | None = Field(
        default=None, le=120, description="Open this many months without stabiele veiligheid."
    )


class MdaCriterion(_Frozen):
    """One criterion for opschalen to MDA++: met when a professional says so or its signal holds."""

    id: str = Field(pattern=_SLUG, description="Stable id, recorded in decisions.")
    description: str = Field(
        min_length=1, max_length=500, description="The criterion as professionals read it."
    )
    signal: MdaSignal | None = Field(
        default=None,
        description="Facts that count as meeting it without a professional's assessment; "
        "none: only a professional's assessment counts.",
    )


def _ijsselland_criteria() -> list[MdaCriterion]:
    """The IJsselland entry criteria for MDA++ (domain.md), the default set."""
    return [
        MdaCriterion(
            id="structurele-onveiligheid",
            description="Structurele onveiligheid",
            signal=MdaSignal(min_incidents=2),
        ),
        MdaCriterion(
            id="veel-hulp-geen-stabiele-veiligheid",
            description="Veel hulp ingezet zonder dat stabiele veiligheid is bereikt",
            signal=MdaSignal(min_months_without_stable_safety=12),
        ),
        MdaCriterion(
            id="hoge-kans-op-herhaling",
            description="Hoge kans op herhaling",
            signal=MdaSignal(min_risk_level=RiskLevel.hoog),
        ),
        MdaCriterion(
            id="intergenerationele-overdracht",
            description="Hoge kans op intergenerationele overdracht",
            signal=MdaSignal(children_present=True, min_terugvallen=1),
        ),
        MdaCriterion(
            id="langdurige-intensieve-aanpak",
            description="Langdurige, intensieve aanpak met traumascreening en -behandeling nodig",
        ),
    ]


class MdaSettings(_Frozen):
    """Opschalen to and afschalen from MDA++ (default: the IJsselland criteria)."""

    entry_criteria: list[MdaCriterion] = Field(
        default_factory=_ijsselland_criteria,
        min_length=1,
        description="The criteria a triage weighs; ids are unique.",
    )
    minimum_criteria_met: Positive = Field(
        default=2, description="How many criteria must be met to propose opschalen."
    )
    afschalen_stable_months: Positive = Field(
        default=6,
        le=60,
        description="Months of sustained stable safety before afschalen is not premature.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[str] = set()
        for index, criterion in enumerate(self.entry_criteria):
            if criterion.id in seen:
                msg = f"entry criterion id {criterion.id} is used twice"
                raise _rule_broken(msg, "entry_criteria", index, "id")
            seen.add(criterion.id)
        if self.minimum_criteria_met > len(self.entry_criteria):
            msg = f"exceeds the number of entry criteria ({len(self.entry_criteria)})"
            raise _rule_broken(msg, "minimum_criteria_met")
        return self


class RetentionRule(_Frozen):
    """How long one record type is kept after a case closes; the longest applicable rule wins."""

    id: str = Field(pattern=_SLUG, description="Stable id, recorded in retention decisions.")
    record_type: str = Field(
        pattern=_RECORD_TYPE, description="The kind of record, e.g. vt_dossier, jeugdhulp, wmo."
    )
    organisation_kind: OrganisationKind | None = Field(
        default=None,
        description="Applies when an organisation of this kind held regie; empty: always.",
    )
    years_after_closure: Positive | None = Field(
        default=None, le=100, description="Kept N years after the case closed."
    )
    until_youngest_child_age: Positive | None = Field(
        default=None, le=30, description="Kept until the youngest child reaches this age."
    )

    @model_validator(mode="after")
    def _has_a_term(self) -> Self:
        if self.years_after_closure is None and self.until_youngest_child_age is None:
            msg = "a retention rule needs years_after_closure or until_youngest_child_age"
            raise _rule_broken(msg)
        return self


def _default_retention() -> list[RetentionRule]:
    """Retention per domain.md: jeugdhulp 20y, Wmo 15y, VT 20y or until the youngest is 18."""
    kinds = OrganisationKind
    return [
        RetentionRule(
            id="vt-dossier",
            record_type="vt_dossier",
            organisation_kind=kinds.veilig_thuis,
            years_after_closure=20,
        ),
        RetentionRule(
            id="jeugdhulp",
            record_type="jeugdhulp",
            organisation_kind=kinds.lokaal_team,
            years_after_closure=20,
        ),
        RetentionRule(
            id="wmo", record_type="wmo", organisation_kind=kinds.lokaal_team, years_after_closure=15
        ),
        RetentionRule(id="jongste-kind-18", record_type="vt_dossier", until_youngest_child_age=18),
    ]


class RetentionSettings(_Frozen):
    """Retention rules per record type and organisation kind: the longest applicable one wins."""

    rules: list[RetentionRule] = Field(
        default_factory=_default_retention,
        min_length=1,
        description="Every rule that applies gives a date; the latest date is kept.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise _rule_broken(
                    f"retention rule id {rule.id} is used twice", "rules", index, "id"
                )
            seen.add(rule.id)
        return self


class BreakGlassSettings(_Frozen):
    """How often one professional may break the glass: on one case, a use more is refused
    until the oldest counted use is ``period_hours`` old; across cases, on at most
    ``max_cases_per_day`` different cases a day (every use is reviewed anyway)."""

    max_uses_per_case: Positive = Field(
        default=1,
        description="Break-glass uses one actor may make of one case within period_hours.",
    )
    period_hours: Annotated[StrictInt, Field(gt=0, le=24 * 366)] = Field(
        default=24, description="The period, in hours, over which uses are counted."
    )
    max_cases_per_day: Positive = Field(
        default=3,
        description="Different cases one actor may break the glass on in one day (the "
        "region's date); a use more is refused until the next day.",
    )


class CalendarSettings(_Frozen):
    """The region's closed days on top of the Dutch public holidays."""

    extra_closed_days: list[date] = Field(
        default_factory=list,
        description="Dates on which no werkdag is counted, e.g. the Friday after Hemelvaart.",
    )
    bevrijdingsdag_every_year: StrictBool = Field(
        default=False,
        description="Count 5 May as a holiday every year (Algemene termijnenwet) instead of "
        "only in lustrum years (the holidays library, following most CAOs).",
    )


class WebhookSettings(_Frozen):
    """Limits on webhook subscriptions: how many per organisation, and on which ports."""

    max_subscriptions_per_organisation: Positive = Field(
        default=10,
        description="Active subscriptions one organisation may hold; one more is refused.",
    )
    ports: list[Annotated[StrictInt, Field(ge=1, le=65535)]] = Field(
        default_factory=lambda: [443, 8443],
        min_length=1,
        description="The ports webhook URLs may use (https); any other is refused.",
    )

    @model_validator(mode="after")
    def _unique_ports(self) -> Self:
        for index, port in enumerate(self.ports):
            if port in self.ports[:index]:
                raise _rule_broken(f"webhook port {port} is listed twice", "ports", index)
        return self


class RegionalPolicy(_Frozen):
    """One region's policy file, versioned: every event records the version it was decided under."""

    version: str = Field(
        pattern=_VERSION,
        description='The policy version, e.g. "2026.1" (quote it: YAML reads 2026.1 as a number).',
    )
    region: str = Field(pattern=_SLUG, description="The region's id, e.g. ijsselland.")
    name: str = Field(min_length=1, max_length=200, description="The region's display name.")
    time_zone: str = Field(
        default=DEFAULT_TIME_ZONE,
        pattern=_ZONE,
        max_length=60,
        description="The IANA time zone in which days, werkdagen and today are judged: a "
        "melding received at 00:30 local time counts from that local day.",
    )
    deadlines: Deadlines = Field(default_factory=Deadlines, description="Deadlines.")
    stable_safety: StableSafety = Field(
        default_factory=StableSafety, description="When stabiele veiligheid is reached."
    )
    mda: MdaSettings = Field(default_factory=MdaSettings, description="MDA++ criteria.")
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="Retention of closed cases."
    )
    break_glass: BreakGlassSettings = Field(
        default_factory=BreakGlassSettings,
        description="How often one professional may break the glass on one case.",
    )
    region_contact: str | None = Field(
        default=None,
        pattern=_MAILBOX,
        max_length=200,
        description="The region's functional mailbox for escalations (e.g. the Zorg- en "
        "Veiligheidshuis); default: Veilig Thuis's contact.",
    )
    organisations: list[Organisation] = Field(
        min_length=2,
        description="The region's organisations: exactly one veilig_thuis, at least one "
        "lokaal_team; ids unique.",
    )
    calendar: CalendarSettings = Field(
        default_factory=CalendarSettings, description="Closed days for counting werkdagen."
    )
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings,
        description="Webhook subscriptions: a cap per organisation and the ports allowed.",
    )
    region_auditors: list[Annotated[str, Field(pattern=_SLUG)]] = Field(
        default_factory=list,
        description="Organisations of the region whose auditors audit every case (the "
        "inspectie); any other auditor audits the cases its organisation has a part in "
        "(Veilig Thuis's, which reads every case, audit every case).",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, e.g. Europe
            msg = f"{value} is not a known IANA time zone (e.g. Europe/Amsterdam)"
            raise _rule_broken(msg) from None
        return value

    @model_validator(mode="after")
    def _organisations_consistent(self) -> Self:
        problem = next(self._organisation_problems(), None)
        if problem is not None:
            raise problem
        return self

    def _organisation_problems(self) -> Iterator[PydanticCustomError]:
        """Every broken organisation rule, each pointing at the value at fault."""
        seen: set[str] = set()
        vt_found = False
        for index, org in enumerate(self.organisations):
            if org.id in seen:
                yield _rule_broken(
                    f"organisation id {org.id} is used twice", "organisations", index, "id"
                )
            if org.region != self.region:
                msg = f"organisation {org.id} belongs to region {org.region}, not {self.region}"
                yield _rule_broken(msg, "organisations", index, "region")
            if org.kind is OrganisationKind.veilig_thuis and vt_found:
                msg = "a region has exactly one veilig_thuis organisation; this is a second"
                yield _rule_broken(msg, "organisations", index, "kind")
            seen.add(org.id)
            vt_found = vt_found or org.kind is OrganisationKind.veilig_thuis
        for index, auditor in enumerate(self.region_auditors):
            if auditor not in seen:
                msg = f"region auditor {auditor} is not an organisation of the region"
                yield _rule_broken(msg, "region_auditors", index)
        kinds = {org.kind for org in self.organisations}
        if OrganisationKind.veilig_thuis not in kinds:
            yield _rule_broken("a region needs one veilig_thuis organisation", "organisations")
        if OrganisationKind.lokaal_team not in kinds:
            yield _rule_broken("a region needs a lokaal_team organisation", "organisations")

    def organisation(self, org_id: str) -> Organisation:
        """The organisation with id ``org_id``.

        Raises:
            NotFound: the region has no organisation with that id.
        """
        for org in self.organisations:
            if org.id == org_id:
                return org
        msg = f"organisation {org_id} is not part of region {self.region}"
        raise NotFound(msg, kind="organisation", ident=org_id)

    @property
    def veilig_thuis(self) -> Organisation:
        """The region's one Veilig Thuis organisation."""
        return next(o for o in self.organisations if o.kind is OrganisationKind.veilig_thuis)

    @property
    def zone(self) -> ZoneInfo:
        """The region's time zone (``time_zone``)."""
        return ZoneInfo(self.time_zone)

    def local_date(self, moment: datetime) -> date:
        """The region's calendar day at ``moment``: the one way a date is taken from a time.

        Raises:
            InvalidInput: ``moment`` carries no time zone (it could be any day).
        """
        if moment.utcoffset() is None:
            raise InvalidInput(f"{moment} carries no time zone", field="moment")
        return moment.astimezone(self.zone).date()

    @property
    def fingerprint(self) -> str:
        """The version and a digest of every setting: two policies with one fingerprint judge
        every term alike (the projections record the one they were built under)."""
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
        return f"{self.version}:{digest}"

    def working_days(self) -> WorkingDayCalendar:
        """The working-day calendar this policy describes."""
        return WorkingDayCalendar(
            extra_closed_days=self.calendar.extra_closed_days,
            bevrijdingsdag_every_year=self.calendar.bevrijdingsdag_every_year,
        )


# -- reading YAML with the line of every key path -------------------------------------------

_STR_TAG = "tag:yaml.org,2002:str"


class _PolicyLoader(yaml.SafeLoader):
    """A safe loader that refuses aliases and names the node of any value it cannot build."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Refuse an alias: it would share one value between two paths and hide its line."""
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
            msg = "anchors and aliases are not allowed in a policy file: write the value out"
            raise yaml.composer.ComposerError(None, None, msg, event.start_mark)
        return super().compose_node(parent, index)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Build one value; whatever PyYAML raises on an odd scalar becomes an error at its node.

        PyYAML's constructors let ValueError (30 February), IndexError (an empty ``!!int``) and
        the like escape; each is turned into a ConstructorError carrying the node's line.
        """
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # any construction failure is bad input, reported at its node
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read this value: {exc}", node.start_mark
            ) from None


def _error(source: str, line: int, message: str, field: str | None = None) -> PolicyError:
    """A PolicyError whose message is one line: source, line, field, what is wrong."""
    where = f"{field}: " if field else ""
    one_line = " ".join(message.split())
    return PolicyError(
        f"{source} line {line}: {where}{one_line}", source=source, field=field, line=line
    )


def _dotted(path: _Path) -> str:
    """``("organisations", 2, "id")`` as ``organisations.2.id``."""
    return ".".join(str(part) for part in path)


def _index_keys(node: yaml.Node, source: str, path: _Path, lines: dict[_Path, int]) -> None:
    """Record the 1-based line of every key path and list item below ``node``.

    Raises:
        PolicyError: a key is not text, or a key occurs twice in one mapping.
    """
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_keys(item, source, (*path, index), lines)
    elif isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR_TAG:
                raise _error(source, line, "a key must be a field name (text)", _dotted(path))
            key_path = (*path, key_node.value)
            if key_node.value in seen:
                raise _error(source, line, f"duplicate key {key_node.value!r}", _dotted(key_path))
            seen.add(key_node.value)
            lines[key_path] = line
            _index_keys(value_node, source, key_path, lines)


def _yaml_error(exc: yaml.YAMLError, text: str, source: str) -> PolicyError:
    """The PolicyError for a YAML syntax or construction error, at the line it names."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = ", ".join(part for part in (exc.context, exc.problem) if part)
        return _error(source, line, f"invalid YAML: {problem}")
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        return _error(source, line, f"invalid YAML: unreadable character #x{exc.character:04x}")
    return _error(source, 1, f"invalid YAML: {exc}")


def _load(text: str, source: str) -> tuple[dict[str, Any], dict[_Path, int]]:
    """The policy document as a dict, with the line of every key path."""
    loader: _PolicyLoader | None = None
    try:
        loader = _PolicyLoader(text)
        node = loader.get_single_node()
        if not isinstance(node, yaml.MappingNode):
            line = 1 if node is None else node.start_mark.line + 1
            raise _error(source, line, "a policy file is a mapping of fields")
        lines: dict[_Path, int] = {(): node.start_mark.line + 1}
        _index_keys(node, source, (), lines)
        data: dict[str, Any] = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source) from None
    except RecursionError:
        raise _error(source, 1, "the document is nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


def _location(error: ErrorDetails) -> _Path:
    """Where a validation error points: pydantic's loc, refined by a cross-field rule's path."""
    context = error.get("ctx") or {}
    return (*error["loc"], *context.get("at", ()))


def _line_of(path: _Path, lines: dict[_Path, int]) -> int:
    """The line of the deepest part of ``path`` present in the file (a missing key: its parent)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1


def _validation_error(exc: ValidationError, source: str, lines: dict[_Path, int]) -> PolicyError:
    """The PolicyError for the first validation error; the message counts any others."""
    errors = exc.errors(include_url=False, include_input=False)
    path = _location(errors[0])
    message = errors[0]["msg"].removeprefix("Value error, ")
    if len(errors) > 1:
        more = len(errors) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return _error(source, _line_of(path, lines), message, _dotted(path) or None)


def _decoded(data: bytes, source: str) -> str:
    """The text of a policy file's bytes; a byte that is not UTF-8 is refused at its line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start]
        raise _error(source, line, f"not UTF-8 text: byte #x{bad:02x} cannot be read") from None


def parse_policy(text: str | bytes, *, source: str) -> RegionalPolicy:
    """Validate policy YAML ``text`` (or the file's bytes) read from ``source`` (a file name,
    for messages).

    Raises:
        PolicyError: the text is not UTF-8 or not valid YAML, or not a valid policy; the
            one-line message names ``source``, the line and the dotted field.
    """
    if isinstance(text, bytes):
        text = _decoded(text, source)
    data, lines = _load(text, source)
    try:
        return RegionalPolicy.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, source, lines) from None


def default_policy_text() -> str:
    """The shipped default policy file (a synthetic region modelled on IJsselland)."""
    resource = resources.files("phasedcare.domain").joinpath("default_policy.yaml")
    return resource.read_text(encoding="utf-8")


def default_policy() -> RegionalPolicy:
    """The shipped default policy, validated."""
    return parse_policy(default_policy_text(), source="default_policy.yaml")


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, generated from the models (descriptions included)."""
    return RegionalPolicy.model_json_schema()
