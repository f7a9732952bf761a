"""Exported bundles verify with the public key alone, and any change to them is caught."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from phasedcare.domain.actors import Actor
from phasedcare.errors import NotAuthorised
from phasedcare.ledger.bundle import verify_bundle
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock
from support import CANARY_NAMES, Journey


@pytest.fixture
def exported(
    journey: Journey, engine: Engine, clock: ManualClock, vt: Actor, auditor: Actor
) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """A case bundle and a ledger bundle of a small region, an interval after its writes
    (the first export signs them), and the public key."""
    journey.in_stabiele_veiligheid()
    other = engine.open_case(actor=vt, via="melding").case_id
    for name in CANARY_NAMES:
        engine.record_member(other, actor=vt, role="kind", name=name)
    assert engine.auditor is not None
    clock.advance(hours=1)
    return (
        engine.export_case(journey.case_id, actor=auditor),
        engine.export_ledger(actor=auditor),
        engine.auditor.public_key,
    )


def test_both_bundles_verify_and_hold_no_names(
    exported: tuple[dict[str, Any], dict[str, Any], bytes],
) -> None:
    """A case bundle proves each record's inclusion; a ledger bundle verifies whole; both stay sealed."""
    case, ledger, public = exported
    case_report, ledger_report = (
        verify_bundle(case, public=public),
        verify_bundle(ledger, public=public),
    )
    assert case_report.intact, case_report.problems
    assert ledger_report.intact, ledger_report.problems
    assert case_report.cases == 1
    assert ledger_report.records > case_report.records
    text = json.dumps(case) + json.dumps(ledger)
    assert all(name not in text for name in CANARY_NAMES)


def test_a_changed_payload_or_a_foreign_key_is_caught(
    exported: tuple[dict[str, Any], dict[str, Any], bytes],
) -> None:
    """Altering one sealed payload breaks the bundle; another key's signature is rejected."""
    case, _, public = exported
    altered = copy.deepcopy(case)
    payload = bytearray(base64.b64decode(altered["records"][2]["payload"]))
    payload[-1] ^= 1
    altered["records"][2]["payload"] = base64.b64encode(bytes(payload)).decode()
    report = verify_bundle(altered, public=public)
    assert [(p.sequence, p.what) for p in report.problems] == [
        (3, "record missing, reordered or altered")
    ]
    foreign = verify_bundle(case, public=bytes(32))
    assert not foreign.intact
    assert foreign.problems[0].what.startswith("checkpoint rejected")


def test_a_record_dropped_from_a_case_bundle_is_caught(
    exported: tuple[dict[str, Any], dict[str, Any], bytes],
) -> None:
    """Leaving out a record breaks the chain at the next one."""
    case, _, public = exported
    shortened = copy.deepcopy(case)
    del shortened["records"][1]
    assert verify_bundle(shortened, public=public).problems[0].sequence == 3


def test_only_auditors_export_the_whole_ledger(engine: Engine, vt: Actor) -> None:
    """A professional cannot export every case."""
    with pytest.raises(NotAuthorised, match="only auditors of the whole region export the ledger"):
        engine.export_ledger(actor=vt)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("records", 0, "sequence"), -1, "sequence is not a whole number"),
        (("records", 0, "sequence"), 2**64, "sequence is not a whole number"),
        (("records", 0, "position"), "7", "position is not a whole number"),
        (("records", 0), [], "a record is not a JSON object"),
        (("head", "sequence"), 2**70, "sequence is not a whole number"),
        (("head", "index"), True, "index is not a whole number"),
        (("records", 0, "payload"), "not base64!", "malformed bundle"),
    ],
)
def test_a_malformed_bundle_is_reported_not_raised(
    exported: tuple[dict[str, Any], dict[str, Any], bytes],
    path: tuple[Any, ...],
    value: Any,
    expected: str,
) -> None:
    """Numbers outside the format, records that are not objects, bad base64: one problem
    that says what, never an exception."""
    case, _, public = exported
    broken = copy.deepcopy(case)
    target: Any = broken
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    report = verify_bundle(broken, public=public)
    assert not report.intact
    assert expected in report.problems[0].what


@pytest.mark.parametrize("bundle", [[], "bundle", 7, None])
def test_a_bundle_that_is_not_an_object_is_reported(bundle: Any) -> None:
    report = verify_bundle(bundle, public=bytes(32))
    assert [p.what for p in report.problems] == [
        f"malformed bundle: a JSON {type(bundle).__name__}"
    ]


def test_a_head_proof_of_another_case_is_named_as_such(
    journey: Journey, engine: Engine, vt: Actor, auditor: Actor
) -> None:
    """Swapping in a valid head proof of another case does not pass, and says so."""
    journey.in_stabiele_veiligheid()
    other = engine.open_case(actor=vt, via="melding").case_id
    assert engine.auditor is not None
    mine = engine.export_case(journey.case_id, actor=auditor)
    theirs = engine.export_case(other, actor=auditor)
    if mine["checkpoints"] != theirs["checkpoints"]:
        mine = engine.export_case(journey.case_id, actor=auditor)
    assert mine["checkpoints"] == theirs["checkpoints"]
    mine["head"] = theirs["head"]
    report = verify_bundle(mine, public=engine.auditor.public_key)
    assert [p.what for p in report.problems] == [
        f"the head proof is of case {other}, not of the bundle's case"
    ]
