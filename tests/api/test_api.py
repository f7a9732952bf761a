"""The HTTP API over a real engine: problem details, ETag and If-Match, Idempotency-Key,
size limits, authentication, pagination, and every command reachable."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from phasedcare.api import create_app
from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Role
from phasedcare.service.engine import Engine
from phasedcare.testing import actor_of
from support import token_table

TOKENS = {
    "tok-vt": actor_of("vt-ijsselland"),
    "tok-wt": actor_of("wijkteam-zwolle"),
    "tok-wt-admin": actor_of("wijkteam-zwolle", role=Role.integration_admin),
    "tok-vt-admin": actor_of("vt-ijsselland", role=Role.integration_admin),
}


_authenticate = token_table(TOKENS)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, authenticate=_authenticate, max_body_bytes=4096)) as c:
        yield c


VT = {"Authorization": "Bearer tok-vt"}
WT = {"Authorization": "Bearer tok-wt"}
WT_ADMIN = {"Authorization": "Bearer tok-wt-admin"}
VT_ADMIN = {"Authorization": "Bearer tok-vt-admin"}


def _open(client: TestClient) -> str:
    response = client.post("/cases", json={"via": "melding"}, headers=VT)
    assert response.status_code == 201
    case_id: str = response.json()["case_id"]
    return case_id


def test_health_needs_no_token_and_everything_else_does(client: TestClient) -> None:
    """Only /health answers without a bearer token; the rest answer 401 problem details."""
    assert client.get("/health").json() == {"status": "ok"}
    response = client.get("/cases")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get("/cases", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/ready", headers=VT).json()["status"] == "ready"


def test_a_refusal_is_a_problem_carrying_every_reason(client: TestClient) -> None:
    """RFC 9457 problem details with the rule and reasons of the refusal."""
    case_id = _open(client)
    response = client.post(
        f"/cases/{case_id}/fire-event",
        json={"chart": "phase", "event": "start_directe_veiligheid"},
        headers=VT,
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/transition-refused")
    assert (
        problem["reasons"] == [{"rule": "has_members", "reason": "no household members recorded"}]
        or problem["reasons"][0]["rule"]
    )
    assert problem["case_id"] == case_id


def test_if_match_with_a_stale_etag_gets_412_and_writes_nothing(
    client: TestClient, engine: Engine
) -> None:
    """The ETag is the case's version; a write on an old version is refused."""
    case_id = _open(client)
    shown = client.get(f"/cases/{case_id}", headers=VT)
    assert shown.headers["etag"] == '"1"'
    body = {"role": "kind", "name": "Iris Fictief"}
    first = client.post(
        f"/cases/{case_id}/record-member", json=body, headers={**VT, "If-Match": '"1"'}
    )
    assert (first.status_code, first.headers["etag"]) == (200, '"2"')
    stale = client.post(
        f"/cases/{case_id}/record-member", json=body, headers={**VT, "If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert engine.show(case_id, actor=TOKENS["tok-vt"]).sequence == 2


def test_concurrent_writers_get_one_success_and_conflicts_never_a_fork(
    client: TestClient, engine: Engine
) -> None:
    """Several clients writing at once: every write lands once or is a 409, none is lost."""
    case_id = _open(client)
    statuses: list[int] = []

    def write(n: int) -> None:
        body = {"role": "kind", "name": f"Kind {n} Fictief"}
        response = client.post(f"/cases/{case_id}/record-member", json=body, headers=VT)
        statuses.append(response.status_code)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {200, 409}
    members = engine.show(case_id, actor=TOKENS["tok-vt"]).members
    assert len(members) == statuses.count(200)


def test_a_retry_with_the_same_idempotency_key_returns_the_first_result(
    client: TestClient, engine: Engine
) -> None:
    """Same key, same request: the first result, nothing written; another request: refused."""
    headers = {**VT, "Idempotency-Key": "open-2026-03-02-001"}
    first = client.post("/cases", json={"via": "melding"}, headers=headers)
    again = client.post("/cases", json={"via": "melding"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert len(engine.store.case_ids()) == 1
    reused = client.post("/cases", json={"via": "advies"}, headers=headers)
    assert reused.status_code == 422
    assert "used for another request" in reused.json()["detail"]


def test_concurrent_retries_with_one_key_write_once(client: TestClient, engine: Engine) -> None:
    """Two identical requests at the same moment: one case, never two."""
    headers = {**VT, "Idempotency-Key": "open-race"}
    results: list[int] = []

    def post() -> None:
        results.append(client.post("/cases", json={"via": "melding"}, headers=headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(engine.store.case_ids()) == 1
    assert set(results) <= {201, 409, 422}
    assert 201 in results


def test_a_body_over_the_limit_gets_413(client: TestClient) -> None:
    """Request size limits apply before parsing."""
    case_id = _open(client)
    response = client.post(
        f"/cases/{case_id}/record-member",
        content=b"{" + b" " * 5000 + b"}",
        headers={**VT, "content-type": "application/json"},
    )
    assert response.status_code == 413


def test_the_caseload_pages_with_a_cursor(client: TestClient) -> None:
    """Cursor pagination: a Link to the next page while pages are full."""
    made = sorted(_open(client) for _ in range(3))
    page = client.get("/cases?limit=2", headers=VT)
    assert [r["case_id"] for r in page.json()] == made[:2]
    assert f"after={made[1]}" in page.headers["link"]
    rest = client.get(f"/cases?limit=2&after={made[1]}", headers=VT)
    assert [r["case_id"] for r in rest.json()] == made[2:]
    assert "link" not in rest.headers


def test_every_professional_command_has_a_route(client: TestClient) -> None:
    """The OpenAPI document lists a POST for every case command but the sweeps' own."""
    paths = client.get("/openapi.json").json()["paths"]
    system = {cmd.ExpireHandover, cmd.EscalateDeadline, cmd.SignalMda}
    for command in cmd.COMMAND_TYPES:
        if issubclass(command, cmd.CaseCommand) and command not in system:
            kebab = "".join(f"-{c.lower()}" if c.isupper() else c for c in command.__name__)
            assert f"/cases/{{case_id}}/{kebab.lstrip('-')}" in paths
    assert "/cases/{case_id}/expire-handover" not in paths


def test_a_handover_over_http_shows_the_receiver_only_the_payload(client: TestClient) -> None:
    """Propose, the receiver reads the payload, is refused the case, accepts; regie moves."""
    case_id = _open(client)
    client.post(
        f"/cases/{case_id}/add-safety-condition",
        json={"statement": "No violence", "owner": "wijkteam-zwolle", "check_every_days": 7},
        headers=VT,
    )
    proposal = {
        "to_organisation": "wijkteam-zwolle",
        "safety_conditions": ["c1"],
        "monitoring_agreement": "VT checks at 3 and 12 months",
        "risk_summary": "verhoogd",
        "legal_basis": "art. 5.2.6 Wmo 2015",
        "household_informed": True,
    }
    missing = client.post(
        f"/cases/{case_id}/propose-handover",
        json={"to_organisation": "wijkteam-zwolle"},
        headers=VT,
    )
    assert missing.status_code == 422
    assert missing.json()["detail"] == (
        "the request is missing safety_conditions, monitoring_agreement, risk_summary, "
        "legal_basis, household_informed"
    )
    proposed = client.post(f"/cases/{case_id}/propose-handover", json=proposal, headers=VT)
    assert proposed.status_code == 200
    assert client.get(f"/cases/{case_id}", headers=WT).status_code == 403
    shared = client.get(f"/cases/{case_id}/handovers/h1", headers=WT).json()
    assert shared["safety_conditions"][0]["statement"] == "No violence"
    accepted = client.post(
        f"/cases/{case_id}/accept-handover",
        json={"handover_id": "h1", "casusregisseur": "u-wt-07"},
        headers=WT,
    )
    assert accepted.status_code == 200
    assert client.get(f"/cases/{case_id}", headers=WT).json()["regie"]["organisation"] == (
        "wijkteam-zwolle"
    )
    assert [h["status"] for h in client.get("/handovers", headers=WT).json()] == ["accepted"]


def test_webhook_subscriptions_show_the_secret_once_and_only_to_their_organisation(
    client: TestClient,
) -> None:
    """Create returns the secret; list never does; another organisation cannot delete it."""
    made = client.post(
        "/webhooks/subscriptions", json={"url": "http://127.0.0.1:9/hooks"}, headers=WT_ADMIN
    )
    assert made.status_code == 201
    secret = made.json()["secret"]
    assert secret.startswith("whsec_")
    listed = client.get("/webhooks/subscriptions", headers=WT).json()
    assert [s["subscription_id"] for s in listed] == [made.json()["subscription_id"]]
    assert secret not in client.get("/webhooks/subscriptions", headers=WT).text
    assert client.get("/webhooks/subscriptions", headers=VT).json() == []
    sub_id = made.json()["subscription_id"]
    rotated = client.post(f"/webhooks/subscriptions/{sub_id}/rotate-secret", headers=WT_ADMIN)
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in {secret, None}
    assert (
        client.post(f"/webhooks/subscriptions/{sub_id}/rotate-secret", headers=VT_ADMIN).status_code
        == 404
    )
    assert client.delete(f"/webhooks/subscriptions/{sub_id}", headers=VT_ADMIN).status_code == 404
    assert client.delete(f"/webhooks/subscriptions/{sub_id}", headers=WT_ADMIN).status_code == 204
    assert client.get("/webhooks/subscriptions", headers=WT).json()[0]["active"] is False
    bad = client.post(
        "/webhooks/subscriptions", json={"url": "ftp://x.example/h"}, headers=WT_ADMIN
    )
    assert bad.status_code == 422


def test_if_match_is_judged_only_after_authorisation_and_unknown_fields_are_refused(
    client: TestClient,
) -> None:
    """An outsider learns nothing from If-Match (the missing case's 404, not 412); a mistyped
    field is a 422."""
    case_id = _open(client)
    body = {"role": "kind", "name": "Iris Fictief"}
    outsider = client.post(
        f"/cases/{case_id}/record-member", json=body, headers={**WT, "If-Match": '"7"'}
    )
    assert outsider.status_code == 404
    assert "actual" not in outsider.json()
    assert outsider.json()["detail"] == f"case {case_id} does not exist or you may not read it"
    typo = client.post(
        f"/cases/{case_id}/record-member", json={**body, "born": "2019-01-01"}, headers=VT
    )
    assert typo.status_code == 422
    malformed = client.post(
        f"/cases/{case_id}/record-member", json=body, headers={**VT, "If-Match": "yesterday"}
    )
    assert malformed.status_code == 422
