"""The regional policy file: validated, versioned, and every refusal names its line and field."""

from __future__ import annotations

from datetime import date
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from phasedcare.domain.calendar import WorkingDayCalendar
from phasedcare.domain.policy import (
    OrganisationKind,
    RegionalPolicy,
    default_policy,
    default_policy_text,
    parse_policy,
    policy_json_schema,
)
from phasedcare.errors import InvalidInput, NotFound, PolicyError

DEFAULT = default_policy_text()

# A minimal valid policy: its line numbers are asserted literally below.
MINIMAL = """\
version: "2026.1"
region: testregio
name: Testregio
organisations:
  - id: vt-test
    name: Veilig Thuis Test
    kind: veilig_thuis
    region: testregio
  - id: wijkteam-test
    name: Wijkteam Test
    kind: lokaal_team
    region: testregio
"""


def refusal(text: str, *, source: str = "policy.yaml") -> PolicyError:
    """Parse ``text`` expecting a PolicyError, and return it."""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source=source)
    return caught.value


def changed(text: str, old: str, new: str) -> str:
    """``text`` with the first ``old`` replaced by ``new`` (which must be there)."""
    assert old in text
    return text.replace(old, new, 1)


def line_of(needle: str, text: str = DEFAULT) -> int:
    """The 1-based line of ``text`` that first contains ``needle``."""
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_the_minimal_policy_parses_with_every_default() -> None:
    """Only version, region, name and organisations are required; the rest has defaults."""
    policy = parse_policy(MINIMAL, source="minimal.yaml")
    assert policy.deadlines.veiligheidsbeoordeling_werkdagen == 5
    assert [c.id for c in policy.mda.entry_criteria][:2] == [
        "structurele-onveiligheid",
        "veel-hulp-geen-stabiele-veiligheid",
    ]
    assert policy.calendar.extra_closed_days == []


def test_the_default_policy_parses() -> None:
    """The shipped policy: one Veilig Thuis, two wijkteams, MDA++ and partners in ijsselland."""
    policy = default_policy()
    assert (policy.version, policy.region) == ("2026.1", "ijsselland")
    assert policy.veilig_thuis.id == "vt-ijsselland"
    assert {o.kind for o in policy.organisations} == set(OrganisationKind)
    assert [o.id for o in policy.organisations if o.kind is OrganisationKind.lokaal_team] == [
        "wijkteam-zwolle",
        "wijkteam-deventer",
    ]
    assert policy.deadlines.monitoring_maanden == [3, 12]


def test_the_default_policy_file_states_the_model_defaults() -> None:
    """Every section the file spells out equals the defaults in the code, so the two cannot drift."""
    written = default_policy()
    implied = parse_policy(MINIMAL, source="minimal.yaml")
    sections = ("deadlines", "stable_safety", "mda", "retention", "calendar")
    assert [getattr(written, s) for s in sections] == [getattr(implied, s) for s in sections]


def test_the_default_retention_rules_follow_the_domain() -> None:
    """Jeugdhulp 20 years, Wmo 15, VT 20 or until the youngest child is 18."""
    rules = {r.id: r for r in default_policy().retention.rules}
    assert {k: r.years_after_closure for k, r in rules.items()} == {
        "vt-dossier": 20,
        "jeugdhulp": 20,
        "wmo": 15,
        "jongste-kind-18": None,
    }
    assert rules["jongste-kind-18"].until_youngest_child_age == 18


def test_the_default_policy_validates_against_the_json_schema() -> None:
    """The published schema accepts the shipped file as YAML reads it."""
    schema = policy_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(DEFAULT))


def test_the_json_schema_rejects_an_unknown_field() -> None:
    """The schema forbids extra fields, like the parser does."""
    document = yaml.safe_load(DEFAULT)
    document["deadlines"]["onderzoeks_weken"] = 8
    with pytest.raises(jsonschema.ValidationError, match="onderzoeks_weken"):
        jsonschema.validate(document, policy_json_schema())


def _properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every property of the schema and its definitions, keyed ``Model.field``."""
    models = {"RegionalPolicy": schema, **schema["$defs"]}
    return {
        f"{model}.{name}": prop
        for model, body in models.items()
        for name, prop in body.get("properties", {}).items()
    }


def test_every_field_in_the_json_schema_has_a_description() -> None:
    """The schema documents the file: no field goes without a description."""
    undocumented = [
        k for k, p in _properties(policy_json_schema()).items() if not p.get("description")
    ]
    assert undocumented == []


# -- malformed files, with the exact line and field ------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        pytest.param(
            changed(MINIMAL, "name: Testregio", "name: [unclosed"),
            4,
            None,
            "policy.yaml line 4: invalid YAML: while parsing a flow sequence, expected ',' or ']', "
            "but got ':'",
            id="bad-yaml",
        ),
        pytest.param(
            MINIMAL + "deadlines:\n  onderzoek_weken: tien\n",
            14,
            "deadlines.onderzoek_weken",
            "policy.yaml line 14: deadlines.onderzoek_weken: Input should be a valid integer",
            id="wrong-type-nested",
        ),
        pytest.param(
            changed(MINIMAL, "    kind: lokaal_team", "    kind: ziekenhuis"),
            11,
            "organisations.1.kind",
            "policy.yaml line 11: organisations.1.kind: Input should be 'lokaal_team', "
            "'veilig_thuis', 'mda' or 'partner'",
            id="wrong-enum-in-list-item",
        ),
        pytest.param(
            MINIMAL + "deadlines:\n  onderzoek_weken: 10\n  onderzoeks_weken: 8\n",
            15,
            "deadlines.onderzoeks_weken",
            "policy.yaml line 15: deadlines.onderzoeks_weken: Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(
            changed(MINIMAL, "name: Testregio\n", "name: Testregio\nname: Andere regio\n"),
            4,
            "name",
            "policy.yaml line 4: name: duplicate key 'name'",
            id="duplicate-key",
        ),
        pytest.param(
            changed(MINIMAL, "    kind: veilig_thuis", "    kind: partner"),
            4,
            "organisations",
            "policy.yaml line 4: organisations: a region needs one veilig_thuis organisation",
            id="missing-veilig-thuis",
        ),
        pytest.param(
            changed(MINIMAL, "  - id: wijkteam-test", "  - id: vt-test"),
            9,
            "organisations.1.id",
            "policy.yaml line 9: organisations.1.id: organisation id vt-test is used twice",
            id="duplicate-organisation-id",
        ),
        pytest.param(
            MINIMAL + "deadlines:\n  veiligheidsbeoordeling_werkdagen: -5\n",
            14,
            "deadlines.veiligheidsbeoordeling_werkdagen",
            "policy.yaml line 14: deadlines.veiligheidsbeoordeling_werkdagen: "
            "Input should be greater than 0",
            id="negative-deadline",
        ),
        pytest.param(
            changed(MINIMAL, "    name: Wijkteam Test\n", ""),
            9,
            "organisations.1.name",
            "policy.yaml line 9: organisations.1.name: Field required",
            id="missing-field-points-at-its-parent",
        ),
    ],
)
def test_a_malformed_policy_names_its_line_and_field(
    text: str, line: int, field: str | None, message: str
) -> None:
    """Each kind of mistake is one PolicyError line: source, line number, dotted field, reason."""
    error = refusal(text)
    assert (error.source, error.line, error.field, error.message) == (
        "policy.yaml",
        line,
        field,
        message,
    )


def test_a_policy_error_is_invalid_input() -> None:
    """Callers that handle bad input at a boundary also handle a bad policy file."""
    assert isinstance(refusal("- a list\n"), InvalidInput)


def test_a_negative_deadline_in_the_default_file_points_at_its_own_line() -> None:
    """The line is found in a long, commented file too."""
    text = changed(
        DEFAULT, "veiligheidsbeoordeling_werkdagen: 5", "veiligheidsbeoordeling_werkdagen: -5"
    )
    error = refusal(text)
    assert error.message == (
        f"policy.yaml line {line_of('veiligheidsbeoordeling_werkdagen')}: "
        "deadlines.veiligheidsbeoordeling_werkdagen: Input should be greater than 0"
    )


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "monitoring_maanden: [3, 12]",
            "monitoring_maanden: [12, 3]",
            "deadlines.monitoring_maanden.1",
            "monitoring_maanden must be strictly ascending",
        ),
        (
            "tijdelijk_huisverbod_max_dagen: 28",
            "tijdelijk_huisverbod_max_dagen: 7",
            "deadlines.tijdelijk_huisverbod_max_dagen",
            "must be at least tijdelijk_huisverbod_dagen",
        ),
        (
            "minimum_criteria_met: 2",
            "minimum_criteria_met: 9",
            "mda.minimum_criteria_met",
            "exceeds the number of entry criteria (5)",
        ),
        (
            "- id: hoge-kans-op-herhaling",
            "- id: structurele-onveiligheid",
            "mda.entry_criteria.2.id",
            "entry criterion id structurele-onveiligheid is used twice",
        ),
        (
            "- id: wmo",
            "- id: jeugdhulp",
            "retention.rules.2.id",
            "retention rule id jeugdhulp is used twice",
        ),
        (
            "kind: mda",
            "kind: veilig_thuis",
            "organisations.3.kind",
            "a region has exactly one veilig_thuis organisation; this is a second",
        ),
        (
            "kind: partner\n    region: ijsselland",
            "kind: partner\n    region: salland",
            "organisations.4.region",
            "organisation politie-ijsselland belongs to region salland, not ijsselland",
        ),
    ],
)
def test_a_broken_cross_field_rule_points_at_the_value_at_fault(
    old: str, new: str, field: str, message: str
) -> None:
    """Rules across fields name the exact value that breaks them, on its own line."""
    line = DEFAULT.count("\n", 0, DEFAULT.index(old)) + 1 + new.count("\n")
    error = refusal(changed(DEFAULT, old, new))
    assert (error.field, error.line) == (field, line)
    assert error.message.endswith(f"{field}: {message}")


def test_a_region_without_a_lokaal_team_is_refused() -> None:
    """Regie after a handover needs a lokaal team: at least one is required."""
    error = refusal(changed(MINIMAL, "    kind: lokaal_team", "    kind: partner"))
    assert error.message == (
        "policy.yaml line 4: organisations: a region needs a lokaal_team organisation"
    )


def test_a_retention_rule_without_a_term_points_at_the_rule() -> None:
    """A rule needs years after closure, an age of the youngest child, or both."""
    text = changed(DEFAULT, "      years_after_closure: 15\n", "")
    error = refusal(text)
    assert (error.field, error.line) == ("retention.rules.2", line_of("- id: wmo"))
    assert "needs years_after_closure or until_youngest_child_age" in error.message


def test_an_unquoted_version_is_refused_rather_than_read_as_a_number() -> None:
    """YAML reads 2026.10 as the float 2026.1: the version must be quoted text."""
    error = refusal(changed(MINIMAL, 'version: "2026.1"', "version: 2026.10"))
    assert (error.line, error.field) == (1, "version")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a list\n", "just text\n", "42\n"])
def test_a_document_that_is_not_a_mapping_is_refused(text: str) -> None:
    """An empty file, a list or a scalar is not a policy."""
    error = refusal(text, source="p.yaml")
    assert error.message == "p.yaml line 1: a policy file is a mapping of fields"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (
            MINIMAL + "---\nversion: x\n",
            13,
            "expected a single document in the stream, but found another document",
        ),
        (MINIMAL + "calendar:\n  extra_closed_days: [2026-02-30]\n", 14, "day is out of range"),
        (
            MINIMAL + "deadlines: !!python/object:os.system {}\n",
            13,
            "could not determine a constructor",
        ),
        (MINIMAL + "deadlines:\n  onderzoek_weken: !!int\n", 14, "cannot read this value"),
        (MINIMAL + "deadlines:\n  1: 2\n", 14, "a key must be a field name"),
        (MINIMAL + "x: &a 1\ny: *a\n", 14, "anchors and aliases are not allowed"),
        (MINIMAL + "name2: \x07\n", 13, "unreadable character #x0007"),
    ],
)
def test_unsafe_or_ambiguous_yaml_is_refused_at_its_line(
    text: str, line: int, fragment: str
) -> None:
    """Several documents, impossible dates, Python tags, empty typed scalars, non-text keys, aliases, control characters."""
    error = refusal(text)
    assert error.line == line
    assert fragment in error.message
    assert "\n" not in error.message


def test_several_problems_are_counted_in_the_one_line() -> None:
    """The first problem is reported; the message says how many more there are."""
    text = MINIMAL + "deadlines:\n  onderzoek_weken: 0\n  safety_plan_review_werkdagen: 0\n"
    assert refusal(text).message == (
        "policy.yaml line 14: deadlines.onderzoek_weken: Input should be greater than 0 "
        "(and 1 more problem)"
    )


# -- the parsed policy -------------------------------------------------------------------------


def test_an_organisation_is_found_by_its_id() -> None:
    """organisation() returns the region's organisation with that id."""
    assert (
        default_policy().organisation("wijkteam-zwolle").contact == "regie@wijkteam-zwolle.example"
    )


def test_an_unknown_organisation_is_not_found() -> None:
    """Looking up an organisation outside the region raises NotFound naming kind and id."""
    with pytest.raises(NotFound) as caught:
        default_policy().organisation("wijkteam-elders")
    error = caught.value
    assert (error.kind, error.ident, error.message) == (
        "organisation",
        "wijkteam-elders",
        "organisation wijkteam-elders is not part of region ijsselland",
    )


def test_the_policy_builds_its_working_day_calendar() -> None:
    """The calendar section's closed days and Bevrijdingsdag switch reach the calendar."""
    text = changed(
        MINIMAL
        + "calendar:\n  extra_closed_days: [2026-05-15]\n  bevrijdingsdag_every_year: true\n",
        "",
        "",
    )
    calendar = parse_policy(text, source="p.yaml").working_days()
    assert isinstance(calendar, WorkingDayCalendar)
    assert not calendar.is_working_day(date(2026, 5, 15))
    assert not calendar.is_working_day(date(2026, 5, 5))
    assert default_policy().working_days().is_working_day(date(2026, 5, 5))


def test_a_policy_is_frozen() -> None:
    """Nothing changes a policy after validation: events record the version it had."""
    policy = default_policy()
    with pytest.raises(ValidationError, match="frozen"):
        policy.version = "2026.2"  # type: ignore[misc]  # the assignment is what is refused


def test_a_policy_built_in_code_is_validated_too() -> None:
    """The cross-field rules run when a policy is constructed directly, not only from YAML."""
    document = yaml.safe_load(MINIMAL)
    document["organisations"][1]["kind"] = "veilig_thuis"
    with pytest.raises(ValidationError, match="exactly one veilig_thuis organisation"):
        RegionalPolicy.model_validate(document)


# -- properties ------------------------------------------------------------------------------


def _leaves(node: yaml.Node, path: tuple[str | int, ...] = ()) -> list[tuple[str, yaml.Node]]:
    """Every value leaf of the composed document (scalars and empty lists) with its dotted path."""
    if isinstance(node, yaml.MappingNode):
        return [leaf for k, v in node.value for leaf in _leaves(v, (*path, k.value))]
    if isinstance(node, yaml.SequenceNode) and node.value:
        return [leaf for i, v in enumerate(node.value) for leaf in _leaves(v, (*path, i))]
    return [(".".join(str(p) for p in path), node)]


def _default_leaves() -> list[tuple[str, yaml.Node]]:
    """The leaves of the shipped default policy."""
    root = yaml.compose(DEFAULT)
    assert root is not None
    return _leaves(root)


LEAVES = _default_leaves()
_ANY_LEAF = ["{wrong: type}", "[[nested]]"]
WRONG_VALUES = {
    "tag:yaml.org,2002:int": [*_ANY_LEAF, "abc", "1.5", "true", "'5'"],
    "tag:yaml.org,2002:str": [*_ANY_LEAF, "12", "true", "1.5"],
    "tag:yaml.org,2002:bool": [*_ANY_LEAF, "'yes'", "1", "abc"],
    "tag:yaml.org,2002:seq": [*_ANY_LEAF, "abc"],
}


def test_the_leaf_mutation_covers_every_kind_of_leaf() -> None:
    """The property below knows a wrong value for every leaf type the default file has."""
    assert {node.tag for _, node in LEAVES} == set(WRONG_VALUES)
    assert len(LEAVES) > 60


@given(data=st.data())
def test_a_wrong_type_at_any_leaf_is_a_policy_error_at_that_leaf(data: st.DataObject) -> None:
    """Whatever leaf of the default file gets a value of the wrong type, the error names its line and field."""
    field, node = data.draw(st.sampled_from(LEAVES), label="leaf")
    wrong = data.draw(st.sampled_from(WRONG_VALUES[node.tag]), label="wrong value")
    text = DEFAULT[: node.start_mark.index] + wrong + DEFAULT[node.end_mark.index :]
    error = refusal(text)
    assert error.line == node.start_mark.line + 1
    assert error.field is not None
    assert error.field == field or error.field.startswith(f"{field}.")
    assert error.message.startswith(f"policy.yaml line {error.line}: {error.field}: ")


@given(offset=st.integers(0, len(DEFAULT)), insertion=st.text(max_size=12))
def test_any_text_inserted_anywhere_parses_or_is_a_policy_error(
    offset: int, insertion: str
) -> None:
    """Arbitrary edits never escape as another exception, and an error's line is inside the file."""
    text = DEFAULT[:offset] + insertion + DEFAULT[offset:]
    try:
        parse_policy(text, source="fuzz.yaml")
    except PolicyError as caught:
        error = caught
    else:
        return
    assert error.line is not None
    assert 1 <= error.line <= len(text.splitlines()) + 1
    assert "\n" not in error.message


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            "signal: {min_incidents: 2}",
            "signal: {min_incidentz: 2}",
            "mda.entry_criteria.0.signal.min_incidentz",
            "Extra inputs are not permitted",
        ),
        (
            "signal: {min_risk_level: hoog}",
            "signal: {min_risk_level: enorm}",
            "mda.entry_criteria.2.signal.min_risk_level",
            "Input should be 'laag', 'verhoogd', 'hoog' or 'acuut'",
        ),
        (
            "signal: {min_incidents: 2}",
            "signal: {min_incidents: 0}",
            "mda.entry_criteria.0.signal.min_incidents",
            "Input should be greater than 0",
        ),
        (
            "region_contact: escalatie@zvh-ijsselland.example",
            "region_contact: Jan Jansen",
            "region_contact",
            "String should match pattern",
        ),
    ],
)
def test_mda_signals_and_the_region_contact_are_validated_at_their_line(
    old: str, new: str, field: str, message: str
) -> None:
    """A mistyped MDA++ signal or escalation mailbox is refused, naming line and field."""
    error = refusal(changed(DEFAULT, old, new))
    assert (error.field, error.line) == (field, line_of(old))
    assert message in error.message


def test_escalations_go_to_the_region_contact_and_the_organisations_mailboxes() -> None:
    """The default policy names the region's escalation mailbox (a functional one)."""
    policy = parse_policy(DEFAULT, source="default")
    assert policy.region_contact == "escalatie@zvh-ijsselland.example"
    assert policy.mda.entry_criteria[2].signal is not None
