"""Signing in to the console at an identity provider: OpenID Connect's authorization code flow
with PKCE, against a local test provider (oidc-provider-mock, authlib's server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from oidc_provider_mock import User, run_server_in_thread

from phasedcare.api import create_app
from phasedcare.service.engine import Engine, utc_now
from phasedcare.service.oidc import JwksFile, OidcVerifier
from phasedcare.web import OidcSignIn, mount_console
from phasedcare.web.pages import COOKIE
from phasedcare.web.sessions import ConsoleSessions, SignInLinks
from support import token_table

CLIENT = "phasedcare-console"
WIJKTEAM = User(
    sub="u-wt-07", claims={"phasedcare_org": "wijkteam-zwolle", "phasedcare_role": "professional"}
)
STRANGER = User(
    sub="u-x-01", claims={"phasedcare_org": "elders-team", "phasedcare_role": "professional"}
)


@dataclass
class Provider:
    issuer: str
    console: TestClient


@pytest.fixture
def provider(engine: Engine, tmp_path: Path) -> Iterator[Provider]:
    with run_server_in_thread(user_claims=[WIJKTEAM, STRANGER], require_nonce=True) as server:
        issuer = f"http://127.0.0.1:{server.server_port}"
        jwks = tmp_path / "jwks.json"
        jwks.write_text(json.dumps(httpx.get(f"{issuer}/jwks").json()))
        verifier = OidcVerifier(
            issuer=issuer, audience=CLIENT, jwks=JwksFile(jwks), policy=engine.policy
        )
        oidc = OidcSignIn(  # a confidential client (the mock's code grant wants a secret), PKCE too
            client_id=CLIENT,
            client_secret="synthetic-console-secret",  # noqa: S106 - a test provider's
            authorization_endpoint=f"{issuer}/oauth2/authorize",
            token_endpoint=f"{issuer}/oauth2/token",
            id_tokens=verifier,
            clock=utc_now,
        )
        app = create_app(engine, authenticate=token_table({}))
        sessions, links = ConsoleSessions(clock=utc_now), SignInLinks(clock=utc_now)
        mount_console(app, engine, sessions=sessions, links=links, oidc=oidc)
        with TestClient(app, base_url="http://127.0.0.1") as console:
            yield Provider(issuer=issuer, console=console)


def _to_provider(console: TestClient) -> str:
    begun = console.get("/console/aanmelden/oidc", follow_redirects=False)
    assert begun.status_code == 303
    return begun.headers["location"]


def _signed_in_at_provider(authorize: str, sub: str) -> str:
    """The provider's answer to a user who signs in as ``sub``: the way back, with a code."""
    answer = httpx.post(authorize, data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302
    return answer.headers["location"]


def test_a_professional_signs_in_at_the_provider_with_pkce(provider: Provider) -> None:
    authorize = _to_provider(provider.console)
    asked = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{provider.issuer}/oauth2/authorize?")
    assert asked["code_challenge_method"] == ["S256"]
    assert len(asked["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert asked["client_id"] == [CLIENT]
    assert asked["redirect_uri"] == ["http://127.0.0.1/console/aanmelden/oidc/terug"]
    assert asked["nonce"][0]
    assert asked["state"][0]
    back = _signed_in_at_provider(authorize, WIJKTEAM.sub)
    returned = provider.console.get(back.replace("http://127.0.0.1", ""), follow_redirects=False)
    assert returned.status_code == 303
    assert returned.headers["location"] == "/console/"
    assert "httponly" in returned.headers["set-cookie"].lower()
    caseload = provider.console.get("/console/")
    assert caseload.status_code == 200
    assert "u-wt-07" in caseload.text
    assert "wijkteam-zwolle" in caseload.text
    again = provider.console.get(back.replace("http://127.0.0.1", ""), follow_redirects=False)
    assert again.status_code == 401  # the state was spent by the first return
    assert "finished already" in again.text


def test_a_return_without_its_sign_in_or_with_a_refusal_signs_nobody_in(
    provider: Provider,
) -> None:
    for path in (
        "/console/aanmelden/oidc/terug?state=forged&code=abc",
        "/console/aanmelden/oidc/terug?error=access_denied",
        "/console/aanmelden/oidc/terug",
    ):
        returned = provider.console.get(path, follow_redirects=False)
        assert returned.status_code == 401
        assert COOKIE not in returned.cookies
    authorize = _to_provider(provider.console)
    back = _signed_in_at_provider(authorize, WIJKTEAM.sub)
    state = parse_qs(urlsplit(back).query)["state"][0]
    forged_code = f"/console/aanmelden/oidc/terug?state={state}&code=not-the-code"
    refused = provider.console.get(forged_code, follow_redirects=False)
    assert refused.status_code == 401
    assert "did not accept" in refused.text


def test_an_organisation_the_region_does_not_know_is_refused(provider: Provider) -> None:
    back = _signed_in_at_provider(_to_provider(provider.console), STRANGER.sub)
    returned = provider.console.get(back.replace("http://127.0.0.1", ""), follow_redirects=False)
    assert returned.status_code == 401
    assert COOKIE not in returned.cookies
    assert provider.console.get("/console/", follow_redirects=False).status_code == 303


def test_without_a_provider_the_console_offers_links_only(
    engine: Engine,
) -> None:
    app = create_app(engine, authenticate=token_table({}))
    mount_console(
        app, engine, sessions=ConsoleSessions(clock=utc_now), links=SignInLinks(clock=utc_now)
    )
    with TestClient(app) as console:
        assert "/console/aanmelden/oidc" not in console.get("/console/aanmelden").text
        assert console.get("/console/aanmelden/oidc", follow_redirects=False).status_code == 404
