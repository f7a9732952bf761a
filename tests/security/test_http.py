"""HTTP hygiene and "no 500 from any request" (review findings M2, L6 and L9's request items):
path ids are checked before anything is read, an unexpected error tells the client nothing,
every answer carries the hygiene headers, the documentation pages load nothing from a CDN, and
the small request rules (Idempotency-Key, If-Match, 413, strict numbers, known melders) hold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient

from phasedcare.api import create_app
from phasedcare.domain import commands as cmd
from phasedcare.service.engine import Engine
from phasedcare.testing import actor_of
from support import Journey, token_table

LIMIT = 16 * 1024
TOKENS = {
    "tok-vt": actor_of("vt-ijsselland"),
    "tok-wt": actor_of("wijkteam-zwolle"),
    "tok-wd": actor_of("wijkteam-deventer"),
}
VT = {"Authorization": "Bearer tok-vt"}
WD = {"Authorization": "Bearer tok-wd"}
PROBLEM = "application/problem+json"


_authenticate = token_table(TOKENS)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """The app over the test engine, with a small body limit."""
    app = create_app(engine, authenticate=_authenticate, max_body_bytes=LIMIT)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def case_id(journey: Journey) -> str:
    """A case of Veilig Thuis with members, conditions and a risk assessment."""
    return journey.in_directe_veiligheid().case_id


@pytest.fixture
def loads(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every stream the store loads from now on (a load is where decryption starts)."""
    loaded: list[str] = []
    original = engine.store.load

    def counted(stream: str, **kwargs: Any) -> Any:
        loaded.append(stream)
        return original(stream, **kwargs)

    monkeypatch.setattr(engine.store, "load", counted)
    return loaded


# -- M2: ids in the path ------------------------------------------------------------------

READS = ("", "/history", "/allowed", "/replay", "/access", "/handovers/h1", "/mda-criteria")
READS += ("/bundle",)
COMMANDS = [
    c.__name__
    for c in cmd.COMMAND_TYPES
    if issubclass(c, cmd.CaseCommand)
    and c not in {cmd.ExpireHandover, cmd.EscalateDeadline, cmd.SignalMda}
]
STREAM_IDS = ("{case}~access", "~caseload~access", "c-x~access", "~ready")


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def _probes(case_id: str) -> Iterator[tuple[str, str]]:
    """(method, path) of every route that names a case, under every access-stream id."""
    for form in STREAM_IDS:
        bad = form.format(case=case_id)
        for read in READS:
            yield "GET", f"/cases/{bad}{read}"
        yield "POST", f"/cases/{bad}/break-glass"
        for name in COMMANDS:
            yield "POST", f"/cases/{bad}/{_kebab(name)}"
    yield "GET", f"/cases/{case_id}/handovers/h1~access"


@pytest.mark.parametrize("headers", [VT, WD], ids=["regie", "no basis"])
def test_an_access_stream_id_in_the_path_is_refused_before_anything_is_read(
    client: TestClient, case_id: str, loads: list[str], headers: dict[str, str]
) -> None:
    """Every case route answers 404 to `~` ids (access streams) and loads no stream at all."""
    probes = list(_probes(case_id))
    answers = {(m, p): client.request(m, p, headers=headers, json={}) for m, p in probes}
    assert len(probes) == 4 * (len(READS) + 1 + len(COMMANDS)) + 1
    assert {a.status_code for a in answers.values()} == {404}
    assert all(a.headers["content-type"] == PROBLEM for a in answers.values())
    assert all(a.json()["errors"][0]["loc"][0] == "path" for a in answers.values())
    assert all("~" not in a.json()["detail"] for a in answers.values())  # not echoed
    assert loads == []


def test_a_subscription_id_with_a_tilde_is_refused(client: TestClient) -> None:
    """Webhook subscription ids in the path have the same shape as every other id."""
    rotate = client.post("/webhooks/subscriptions/sub~access/rotate-secret", headers=VT)
    delete = client.delete("/webhooks/subscriptions/~caseload~access", headers=VT)
    assert (rotate.status_code, delete.status_code) == (404, 404)


def test_a_well_formed_case_id_still_reads(
    client: TestClient, case_id: str, loads: list[str]
) -> None:
    """The check lets real case ids through: the read loads the case and answers 200."""
    response = client.get(f"/cases/{case_id}", headers=VT)
    assert response.status_code == 200
    assert case_id in loads


# -- no 500, and nothing leaks when one happens --------------------------------------------


def test_an_unexpected_error_is_a_generic_problem_with_a_request_id(
    client: TestClient, case_id: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug answers 500 problem details with a request id only; the log has the frames."""

    def broken(*_: Any, **__: Any) -> None:
        msg = "/srv/phasedcare/secret.py: parser said 'Zorro Kanariepiet'"
        raise RuntimeError(msg)

    monkeypatch.setattr(engine, "show", broken)
    with structlog.testing.capture_logs() as logs:
        response = client.get(f"/cases/{case_id}", headers=VT)
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "request_id"}
    assert "secret" not in response.text
    assert "Kanariepiet" not in response.text
    assert response.headers["cache-control"] == "no-store"
    [logged] = [e for e in logs if e["event"] == "unexpected error"]
    assert logged["request_id"] == problem["request_id"]
    assert logged["error"] == "RuntimeError"
    assert logged["endpoint"] == "show_case"
    assert any("test_http.py" in frame for frame in logged["frames"])
    assert "Kanariepiet" not in repr(logged)


MALFORMED_BODIES = {
    "not JSON": (b"{not json", "application/json"),
    "invalid UTF-8": (b'{"via": "\xff\xfe"}', "application/json"),
    "a form": (b"via=melding", "application/x-www-form-urlencoded"),
    "text": (b'{"via": "melding"}', "text/plain"),
    "no content type": (b'{"via": "melding"}', ""),
    "a huge integer": (b'{"via": "melding", "acute": ' + b"9" * 5000 + b"}", "application/json"),
    "a huge float": (b'{"via": "melding", "acute": 1e400}', "application/json"),
    "NaN": (b'{"via": "melding", "acute": NaN}', "application/json"),
    "deep nesting": (b"[" * 2000 + b"]" * 2000, "application/json"),
    "a lone surrogate": (b'{"via": "\\ud800"}', "application/json"),
    "a list": (b'[{"via": "melding"}]', "application/json"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_BODIES))
def test_a_malformed_body_gets_a_4xx_problem(client: TestClient, engine: Engine, name: str) -> None:
    """Bodies a parser chokes on get 400 or 422 problem details, and open no case."""
    body, content_type = MALFORMED_BODIES[name]
    headers = {**VT, "Content-Type": content_type} if content_type else VT
    response = client.post("/cases", content=body, headers=headers)
    assert response.status_code in {400, 422}
    assert response.headers["content-type"] == PROBLEM
    assert engine.store.case_ids() == []


# -- L6: response headers --------------------------------------------------------------------

HYGIENE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "content-security-policy": "frame-ancestors 'none'",
    "x-frame-options": "DENY",
}


def test_a_case_read_an_error_and_health_carry_the_hygiene_headers(
    client: TestClient, case_id: str
) -> None:
    """Names, problems and liveness alike: no-store, nosniff, no referrer, no framing."""
    answers = [
        client.get(f"/cases/{case_id}", headers=VT),
        client.get("/cases/c-nowhere", headers=VT),
        client.get("/ledger/verify", headers=VT),  # a professional is no auditor: 403
        client.get("/cases"),
        client.post("/cases", content=b"{" + b" " * LIMIT + b"}", headers=VT),
        client.get("/health"),
    ]
    assert [a.status_code for a in answers] == [200, 404, 403, 401, 413, 200]
    for answer in answers:
        assert {k: answer.headers.get(k) for k in HYGIENE} == HYGIENE
        assert answer.headers["cache-control"] == "no-store"


def test_cors_is_off(client: TestClient, case_id: str) -> None:
    """Another origin gets no Access-Control-Allow-Origin, and a preflight is not answered."""
    evil = {"Origin": "https://evil.example"}
    read = client.get(f"/cases/{case_id}", headers={**VT, **evil})
    preflight = client.options(
        f"/cases/{case_id}", headers={**evil, "Access-Control-Request-Method": "GET"}
    )
    assert read.status_code == 200
    assert "access-control-allow-origin" not in read.headers
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers


# -- L6: the documentation pages ---------------------------------------------------------------

ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def _assets(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_documentation_pages_load_nothing_from_elsewhere(client: TestClient, page: str) -> None:
    """/docs and /redoc name no http(s) URL; their scripts, styles and icon come from the
    package with the right content type."""
    response = client.get(page)
    assert response.status_code == 200
    assert not re.search(r"https?://", response.text)
    assets = _assets(response.text)
    assert assets
    assert all(a.startswith("/static/") for a in assets)
    for asset in assets:
        answer = client.get(asset)
        suffix = asset[asset.rindex(".") :]
        assert answer.status_code == 200, asset
        assert ASSET_TYPES[suffix] in answer.headers["content-type"], asset
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in answer.headers.get("cache-control", "")
        assert len(answer.content) > 500


def test_the_bundled_assets_carry_their_licences(client: TestClient) -> None:
    """Swagger UI (Apache-2.0) and Redoc (MIT) ship with their licence texts."""
    swagger = client.get("/static/swagger-ui/LICENSE")
    redoc = client.get("/static/redoc/LICENSE")
    assert "Apache License" in swagger.text
    assert "MIT License" in redoc.text


# -- L9: Idempotency-Key, If-Match, 413, strict numbers, known melders ---------------------------


@pytest.mark.parametrize("key", ["", " ", "\t"], ids=["empty", "space", "tab"])
def test_an_empty_idempotency_key_is_refused_and_opens_nothing(
    client: TestClient, engine: Engine, key: str
) -> None:
    """A blank Idempotency-Key is no key: 422 naming the header, and no case is opened."""
    response = client.post(
        "/cases", json={"via": "melding"}, headers={**VT, "Idempotency-Key": key}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert "empty" in response.json()["detail"]
    assert engine.store.case_ids() == []


def _melding(client: TestClient, case_id: str, if_match: str) -> Any:
    return client.post(
        f"/cases/{case_id}/record-incident",
        json={"occurred_on": "2026-03-02"},
        headers={**VT, "If-Match": if_match},
    )


def test_a_weak_etag_never_matches(client: TestClient, case_id: str, engine: Engine) -> None:
    """If-Match compares strongly: W/ and the current version still gets 412, writing nothing."""
    current = client.get(f"/cases/{case_id}", headers=VT).headers["etag"]
    before = engine.store.head(case_id)
    response = _melding(client, case_id, f"W/{current}")
    assert response.status_code == 412
    assert response.headers["content-type"] == PROBLEM
    assert engine.store.head(case_id) == before
    assert _melding(client, case_id, current).status_code == 200


def test_if_match_star_matches_an_existing_case_only(client: TestClient, case_id: str) -> None:
    """If-Match: * writes to a case that exists; a missing case is still 404."""
    assert _melding(client, case_id, "*").status_code == 200
    assert _melding(client, "c-nowhere", "*").status_code == 404


def test_a_chunked_body_over_the_limit_gets_413(client: TestClient, engine: Engine) -> None:
    """A body without Content-Length is counted as it arrives: over the limit is 413."""

    def chunks() -> Iterator[bytes]:
        yield b'{"via": "melding", "summary": "'
        for _ in range(LIMIT // 512 + 1):
            yield b"x" * 512
        yield b'"}'

    response = client.post(
        "/cases", content=chunks(), headers={**VT, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert engine.store.case_ids() == []


def test_a_chunked_body_under_the_limit_is_read_whole(client: TestClient) -> None:
    """A chunked body within the limit reaches the route intact."""

    def chunks() -> Iterator[bytes]:
        yield b'{"via": "melding", '
        yield b'"summary": "in two chunks"}'

    response = client.post(
        "/cases", content=chunks(), headers={**VT, "Content-Type": "application/json"}
    )
    assert response.status_code == 201


LAX_VALUES = {
    "a bool for days": ("add-safety-condition", {"check_every_days": True}),
    "a float for days": ("add-safety-condition", {"check_every_days": 14.0}),
    "a string for days": ("add-safety-condition", {"check_every_days": "14"}),
    "an int for a bool": ("record-melding", {"acute": 1}),
    "a string for a bool": ("record-melding", {"acute": "true"}),
}


@pytest.mark.parametrize("name", sorted(LAX_VALUES))
def test_numbers_and_booleans_are_strict(
    client: TestClient, case_id: str, engine: Engine, name: str
) -> None:
    """JSON true is no integer, 14.0 is not 14 and 1 is no boolean: 422, nothing written."""
    route, value = LAX_VALUES[name]
    body = {"statement": "Synthetic", "owner": "wijkteam-zwolle", "check_every_days": 14}
    body = {**body, **value} if route == "add-safety-condition" else value
    before = engine.store.head(case_id)
    response = client.post(f"/cases/{case_id}/{route}", json=body, headers=VT)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][1] == next(iter(value))
    assert engine.store.head(case_id) == before


def test_an_exact_integer_is_still_accepted(client: TestClient, case_id: str) -> None:
    """The strict rule refuses look-alikes only: 14 adds the condition."""
    body = {"statement": "Synthetic", "owner": "wijkteam-zwolle", "check_every_days": 14}
    response = client.post(f"/cases/{case_id}/add-safety-condition", json=body, headers=VT)
    assert response.status_code == 200


def test_an_unknown_melder_organisation_is_refused(client: TestClient, engine: Engine) -> None:
    """A melder organisation outside the policy gets 422 with its rule; a known one opens."""
    body = {"via": "melding", "melder_organisation": "evil-org-unknown"}
    refused = client.post("/cases", json=body, headers=VT)
    assert refused.status_code == 422
    assert refused.json()["rule"] == "unknown_melder_organisation"
    assert engine.store.case_ids() == []
    known = {"via": "melding", "melder_organisation": "wijkteam-deventer"}
    assert client.post("/cases", json=known, headers=VT).status_code == 201


def test_a_new_melding_from_an_unknown_organisation_is_refused(
    client: TestClient, case_id: str, engine: Engine
) -> None:
    """RecordMelding checks its melder organisation the same way, and writes nothing."""
    before = engine.store.head(case_id)
    body = {"melder_organisation": "evil-org-unknown"}
    response = client.post(f"/cases/{case_id}/record-melding", json=body, headers=VT)
    assert response.status_code == 422
    assert response.json()["rule"] == "unknown_melder_organisation"
    assert engine.store.head(case_id) == before
