"""The regional policy file: validation with the line and field at fault."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasedcare.domain.policy import (
    OrganisationKind,
    default_policy,
    default_policy_text,
    parse_policy,
    policy_json_schema,
)
from phasedcare.errors import NotFound, PolicyError

DEFAULT = default_policy_text()


def broken(old: str, new: str) -> PolicyError:
    """Parse the default policy with one textual change, expecting a PolicyError."""
    assert old in DEFAULT
    with pytest.raises(PolicyError) as caught:
        parse_policy(DEFAULT.replace(old, new, 1), source="policy.yaml")
    return caught.value


def line_of(text: str) -> int:
    """The 1-based line of the default policy that contains ``text``."""
    return next(n for n, line in enumerate(DEFAULT.splitlines(), start=1) if text in line)


def test_the_default_policy_is_valid() -> None:
    """The shipped policy parses: one Veilig Thuis, lokaal teams, MDA++ and partners."""
    policy = default_policy()
    assert (policy.version, policy.region) == ("2026.1", "ijsselland")
    assert policy.veilig_thuis.id == "vt-ijsselland"
    assert {o.kind for o in policy.organisations} == set(OrganisationKind)
    assert policy.deadlines.veiligheidsbeoordeling_werkdagen == 5
    assert policy.deadlines.monitoring_maanden == [3, 12]


def test_the_json_schema_describes_the_fields() -> None:
    """The generated schema names every section, with descriptions."""
    schema = policy_json_schema()
    assert {"version", "region", "deadlines", "organisations", "retention", "mda"} <= set(
        schema["properties"]
    )
    assert (
        "Wmo"
        in schema["$defs"]["Deadlines"]["properties"]["veiligheidsbeoordeling_werkdagen"][
            "description"
        ]
    )


def test_a_negative_deadline_names_its_line_and_field() -> None:
    """A value out of range points at its own line."""
    error = broken("veiligheidsbeoordeling_werkdagen: 5", "veiligheidsbeoordeling_werkdagen: -5")
    assert (error.line, error.field) == (
        line_of("veiligheidsbeoordeling_werkdagen"),
        "deadlines.veiligheidsbeoordeling_werkdagen",
    )
    assert error.message.startswith(
        f"policy.yaml line {error.line}: deadlines.veiligheidsbeoordeling_werkdagen: Input should be greater than 0"
    )


def test_a_wrong_type_in_a_list_item_names_the_item() -> None:
    """An organisation with an unknown kind points at that organisation's line."""
    error = broken("kind: mda", "kind: ziekenhuis")
    assert error.field == "organisations.3.kind"
    assert error.line == line_of("kind: mda")


def test_an_unknown_field_is_refused() -> None:
    """Typos do not pass silently."""
    error = broken("  onderzoek_weken: 10", "  onderzoek_weken: 10\n  onderzoeks_weken: 8")
    assert error.field == "deadlines.onderzoeks_weken"
    assert error.line == line_of("onderzoek_weken") + 1


def test_a_duplicate_key_is_refused() -> None:
    """YAML would keep the last of two equal keys; the policy refuses them."""
    error = broken("  onderzoek_weken: 10", "  onderzoek_weken: 10\n  onderzoek_weken: 12")
    assert "duplicate key 'onderzoek_weken'" in error.message
    assert error.line == line_of("onderzoek_weken") + 1


def test_broken_yaml_names_the_line() -> None:
    """A syntax error gives a line, not a traceback."""
    error = broken("name: Synthetische regio IJsselland", "name: [unclosed")
    assert error.line is not None
    assert error.message.startswith("policy.yaml line ")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    kind: veilig_thuis\n",
            "    kind: lokaal_team\n",
            "exactly one veilig_thuis organisation",
        ),
        (
            "  - id: wijkteam-deventer",
            "  - id: wijkteam-zwolle",
            "organisation ids must be unique: wijkteam-zwolle",
        ),
        ("monitoring_maanden: [3, 12]", "monitoring_maanden: [12, 3]", "strictly ascending"),
        (
            "  minimum_criteria_met: 2",
            "  minimum_criteria_met: 9",
            "exceeds the number of entry criteria",
        ),
        (
            "    years_after_closure: 15\n",
            "",
            "needs years_after_closure or until_youngest_child_age",
        ),
    ],
)
def test_inconsistent_policies_are_refused_with_the_reason(
    old: str, new: str, expected: str
) -> None:
    """Cross-field rules explain themselves."""
    assert expected in broken(old, new).message


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    """A list or an empty file is not a policy."""
    with pytest.raises(PolicyError, match="a policy file is a mapping of fields"):
        parse_policy("- just a list\n", source="p.yaml")
    with pytest.raises(PolicyError, match="a policy file is a mapping of fields"):
        parse_policy("", source="p.yaml")


def test_an_unknown_organisation_is_not_found() -> None:
    """Looking up an organisation outside the region raises NotFound."""
    with pytest.raises(
        NotFound, match="organisation wijkteam-elders is not part of region ijsselland"
    ):
        default_policy().organisation("wijkteam-elders")


_LEAF = re.compile(
    r"^(\s+)(veiligheidsbeoordeling_werkdagen|onderzoek_weken|incident_free_months|afschalen_stable_months|handover_response_werkdagen): \d+",
    re.MULTILINE,
)


@given(
    leaf=st.sampled_from(_LEAF.findall(DEFAULT)),
    value=st.sampled_from(["[]", "{}", "abc", "-1", "0", "1.5", "null", "true"]),
)
def test_a_wrong_value_at_any_leaf_is_a_policy_error_on_that_line(
    leaf: tuple[str, str], value: str
) -> None:
    """Whatever bad value lands in a numeric field, the error is a PolicyError naming its line."""
    indent, field = leaf
    text = re.sub(
        rf"^{indent}{field}: \d+", f"{indent}{field}: {value}", DEFAULT, count=1, flags=re.MULTILINE
    )
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.yaml")
    assert caught.value.line == line_of(f"{field}:")
    assert caught.value.field is not None
    assert caught.value.field.endswith(field)
