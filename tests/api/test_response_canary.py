"""Canary names over HTTP: every GET of the OpenAPI document, asked by every kind of caller,
shows a household's names only to those who may read its case, and no problem details body
ever carries a name.

Two households live in two organisations' caseloads (the Zwolle and the Deventer wijkteam),
each with its own synthetic canary names written through the API into every free-text field
that takes them: members, the melding's summary, safety conditions, the handover's payload
and note, the safety plan.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from phasedcare.api import create_app
from phasedcare.domain.actors import Actor
from phasedcare.service.api_keys import ApiKeys
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock
from support import CANARY_NAMES, admin_of

ZWOLLE_NAMES = (*CANARY_NAMES[:2], "Wendelin Kanarienvogel")
DEVENTER_NAMES = (CANARY_NAMES[2], "Yvonne Canarinho", "Umberto Piepkuiken")
ALL_NAMES = ZWOLLE_NAMES + DEVENTER_NAMES

ACTORS = {
    "vt": "u-vt-01@vt-ijsselland:professional",
    "zwolle": "u-zw-01@wijkteam-zwolle:professional",
    "deventer": "u-dv-01@wijkteam-deventer:professional",
    "politie": "u-po-01@politie-ijsselland:professional",
    "auditor": "u-audit@vt-ijsselland:auditor",
}
"""Who asks: Veilig Thuis, the two regiehouders, a partner without any basis, an auditor."""

READS_NAMES = {
    "/cases/{case_id}",
    "/cases/{case_id}/history",
    "/cases/{case_id}/handovers/{handover_id}",
}
"""The GETs that show a case's free text to those who may read it; the rest never do."""


@dataclass(frozen=True)
class Reply:
    """One GET: which path template, for which case (or none), and what came back."""

    template: str
    case: str
    status: int
    content_type: str
    text: str

    def names(self) -> set[str]:
        """The canary names in the body."""
        return {name for name in ALL_NAMES if name in self.text}


@dataclass
class World:
    """The API over one engine, a bearer header per actor, and the two organisations' cases."""

    client: TestClient
    headers: dict[str, dict[str, str]]
    cases: dict[str, str]  # "zwolle" / "deventer" -> case id

    def post(self, who: str, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        """POST as ``who``; returns the response."""
        response: httpx.Response = self.client.post(
            path, json=body, headers={**self.headers[who], **headers}
        )
        return response


def _household(world: World, who: str, names: tuple[str, ...]) -> str:
    """A case opened by Veilig Thuis with ``names`` everywhere, regie handed to ``who``."""
    organisation = Actor.parse(ACTORS[who]).organisation
    first, second, third = names
    opened = world.post("vt", "/cases", {"via": "melding", "summary": f"Melding over {first}"})
    assert opened.status_code == 201, opened.text
    case_id: str = opened.json()["case_id"]
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("vt", "record-member", {"role": "slachtoffer", "name": first}),
        ("vt", "record-member", {"role": "kind", "name": second}),
        (
            "vt",
            "add-safety-condition",
            {"statement": f"{first} is safe at home", "owner": organisation, "check_every_days": 7},
        ),
        (
            "vt",
            "propose-handover",
            {
                "to_organisation": organisation,
                "safety_conditions": ["c1"],
                "monitoring_agreement": f"Veilig Thuis calls {first} at 3 and 12 months",
                "risk_summary": f"verhoogd risico voor {second}",
                "legal_basis": "art. 5.2.6 Wmo 2015",
                "household_informed": True,
                "note": f"{second} is told",
            },
        ),
        (
            who,
            "accept-handover",
            {"handover_id": "h1", "casusregisseur": Actor.parse(ACTORS[who]).user},
        ),
        (who, "record-member", {"role": "pleger", "name": third}),
        (
            who,
            "agree-safety-plan",
            {"agreed_on": "2026-03-02", "summary": f"{third} stays elsewhere"},
        ),
    ]
    for caller, command, body in steps:
        response = world.post(caller, f"/cases/{case_id}/{command}", body)
        assert response.status_code == 200, (command, response.text)
    return case_id


@pytest.fixture
def world(engine: Engine, clock: ManualClock) -> Iterator[World]:
    """Both households created through the API; both wijkteams subscribed to webhooks."""
    keys = ApiKeys(store=engine.store, policy=engine.policy, clock=clock)
    headers = {
        who: {"Authorization": f"Bearer {keys.create(Actor.parse(actor))[1]}"}
        for who, actor in ACTORS.items()
    }
    with TestClient(create_app(engine, authenticate=keys.authenticate)) as client:
        world = World(client=client, headers=headers, cases={})
        for who in ("zwolle", "deventer"):
            url = f"http://127.0.0.1:9/{who}"
            engine.webhooks.subscribe(actor=admin_of(Actor.parse(ACTORS[who])), url=url)
        world.cases["zwolle"] = _household(world, "zwolle", ZWOLLE_NAMES)
        world.cases["deventer"] = _household(world, "deventer", DEVENTER_NAMES)
        yield world


def _get_paths(client: TestClient) -> list[str]:
    """Every GET path template of the app's OpenAPI document."""
    paths: dict[str, dict[str, Any]] = client.get("/openapi.json").json()["paths"]
    return [path for path, operations in paths.items() if "get" in operations]


def _sweep(world: World, who: str) -> list[Reply]:
    """Every GET, its path parameters filled with each household's real ids, asked by ``who``."""
    replies = []
    for template in _get_paths(world.client):
        targets = world.cases.items() if "{case_id}" in template else [("", "")]
        for household, case_id in targets:
            path = template.replace("{case_id}", case_id).replace("{handover_id}", "h1")
            assert "{" not in path, f"the sweep cannot fill {template}: teach it the new id"
            response = world.client.get(path, headers=world.headers[who])
            assert response.status_code < 500, (who, path, response.text)
            replies.append(
                Reply(
                    template=template,
                    case=household,
                    status=response.status_code,
                    content_type=response.headers.get("content-type", ""),
                    text=response.text,
                )
            )
    return replies


def _named(replies: list[Reply]) -> set[tuple[str, str]]:
    """(path template, household) of the replies that carry any canary name."""
    return {(reply.template, reply.case) for reply in replies if reply.names()}


def test_the_sweep_covers_every_get_of_the_openapi_document(world: World) -> None:
    """No GET escapes: the sweep asks each one, case-scoped ones once per household."""
    templates = {reply.template for reply in _sweep(world, "vt")}
    assert templates == set(_get_paths(world.client))
    assert templates >= READS_NAMES


def test_an_organisation_never_sees_the_other_organisations_names(world: World) -> None:
    """Zwolle's replies (403s included) hold no Deventer name, and the other way round."""
    for who, foreign in (("zwolle", DEVENTER_NAMES), ("deventer", ZWOLLE_NAMES)):
        for reply in _sweep(world, who):
            assert not reply.names() & set(foreign), (who, reply)


def test_a_regiehouder_sees_its_own_names_only_where_it_reads_its_case(world: World) -> None:
    """Names reach a wijkteam in its case, its history and its handover, and nowhere else."""
    for who in ("zwolle", "deventer"):
        replies = _sweep(world, who)
        assert {(template, who) for template in READS_NAMES} == _named(replies)
        own = ZWOLLE_NAMES if who == "zwolle" else DEVENTER_NAMES
        shown = next(r for r in replies if r.template == "/cases/{case_id}" and r.case == who)
        assert shown.status == 200
        assert set(own) == shown.names()


def test_veilig_thuis_and_the_auditor_read_both_cases_each_with_its_own_names(
    world: World,
) -> None:
    """Veilig Thuis and auditors read every case; a case's replies hold only its own names."""
    for who in ("vt", "auditor"):
        replies = _sweep(world, who)
        expected = {(template, h) for template in READS_NAMES for h in ("zwolle", "deventer")}
        assert expected == _named(replies)
        for reply in replies:
            own = ZWOLLE_NAMES if reply.case == "zwolle" else DEVENTER_NAMES
            assert reply.names() <= set(own), (who, reply)


def test_a_partner_without_a_basis_sees_no_name_anywhere(world: World) -> None:
    """The politie holds no regie, handover or share: every case GET answers as for a case
    that does not exist (404) and is nameless."""
    replies = _sweep(world, "politie")
    assert _named(replies) == set()
    assert {r.status for r in replies if r.case} == {404}


def test_no_problem_details_body_of_any_get_carries_a_name(world: World) -> None:
    """Every refusal of the sweep, by any caller, is problem details without a name."""
    problems = [
        reply
        for who in ACTORS
        for reply in _sweep(world, who)
        if reply.content_type == "application/problem+json"
    ]
    assert len(problems) > 20
    assert all(reply.status >= 400 and not reply.names() for reply in problems)


def _refusals(world: World) -> dict[str, httpx.Response]:
    """Writes that are refused while carrying names in their bodies, by what they pin."""
    zwolle, deventer = world.cases["zwolle"], world.cases["deventer"]
    name = ZWOLLE_NAMES[0]
    member = {"role": "kind", "name": name}
    return {
        "404 another organisation's case": world.post(
            "deventer", f"/cases/{zwolle}/record-member", member
        ),
        "403 not the receiver": world.post(
            "vt", f"/cases/{zwolle}/reject-handover", {"handover_id": "h1", "reason": name}
        ),
        "404 no part in the case": world.post(
            "deventer", f"/cases/{zwolle}/reject-handover", {"handover_id": "h1", "reason": name}
        ),
        "403 an auditor writes": world.post("auditor", f"/cases/{zwolle}/record-member", member),
        "404 no such case": world.post("zwolle", "/cases/c-nowhere/record-member", member),
        "412 a stale ETag": world.post(
            "zwolle", f"/cases/{zwolle}/record-member", member, **{"If-Match": '"1"'}
        ),
        "422 a transition its guards refuse": world.post(
            "zwolle",
            f"/cases/{zwolle}/fire-event",
            {"chart": "phase", "event": "naar_herstel", "reason": f"{name} is well"},
        ),
        "422 an Idempotency-Key reused": _reused_key(world, deventer),
    }


def _reused_key(world: World, case_id: str) -> httpx.Response:
    headers = {"Idempotency-Key": "canary-1"}
    path = f"/cases/{case_id}/record-member"
    first = world.post("deventer", path, {"role": "kind", "name": DEVENTER_NAMES[1]}, **headers)
    assert first.status_code == 200
    return world.post("deventer", path, {"role": "kind", "name": ZWOLLE_NAMES[1]}, **headers)


def test_refused_writes_answer_problem_details_without_the_names_they_carried(
    world: World,
) -> None:
    """A refusal explains itself by rule and ids, never by repeating the personal data sent."""
    for label, response in _refusals(world).items():
        assert (response.status_code, response.headers["content-type"]) == (
            int(label.split()[0]),
            "application/problem+json",
        ), (label, response.text)
        assert not any(name in response.text for name in ALL_NAMES), (label, response.text)


MALFORMED = {
    "record-member": {"name": ZWOLLE_NAMES[0]},
    "propose-handover": {"to_organisation": "wijkteam-deventer", "note": ZWOLLE_NAMES[0]},
}
"""Bodies that fail the request model (a required field missing) while carrying a name."""


@pytest.mark.parametrize("command", sorted(MALFORMED))
def test_a_malformed_body_answers_problem_details_without_its_names(
    world: World, command: str
) -> None:
    """A body that fails validation is problem details that do not echo the name it held."""
    case_id = world.cases["zwolle"]
    response = world.post("zwolle", f"/cases/{case_id}/{command}", MALFORMED[command])
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert ZWOLLE_NAMES[0] not in response.text
