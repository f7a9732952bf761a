"""L1, L2, L3 and L9 (OIDC exp): failed authentication is refused plainly, seen and slowed.

Malformed OIDC tokens get 401, never 500; a key removed from the JWKS file is refused at
once and a broken file gives 503 without its path; time claims are numbers and a token lives
at most a day; every failed authentication is logged without token material and counted per
client address, and a client over the limit gets 429 with Retry-After.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm
from pydantic import ValidationError
from structlog.testing import capture_logs

from phasedcare.api import create_app
from phasedcare.api.throttle import FailureThrottle
from phasedcare.bootstrap import build_authenticator
from phasedcare.config import Settings
from phasedcare.domain.policy import default_policy
from phasedcare.errors import NotAuthorised
from phasedcare.service.api_keys import ApiKeys
from phasedcare.service.engine import Engine, utc_now
from phasedcare.service.oidc import JwksFile, OidcVerifier
from phasedcare.testing import actor_of, memory_engine

ISSUER = "https://login.example"
AUDIENCE = "phasedcare"
VT = actor_of("vt-ijsselland", user="u-vt-01")
WT = actor_of("wijkteam-zwolle", user="u-wt-07")
REFUSED = "the bearer token is not valid: "
OTHER_CLIENT = ("192.0.2.7", 50000)
POLICY = default_policy()

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def jwk(kid: str, key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> dict[str, Any]:
    """The public JWK of ``key`` under ``kid``."""
    if isinstance(key, rsa.RSAPrivateKey):
        text = RSAAlgorithm.to_jwk(key.public_key())
    else:
        text = OKPAlgorithm.to_jwk(key.public_key())
    return {**json.loads(text), "kid": kid, "use": "sig"}


BOTH_KEYS = {"keys": [jwk("rsa-1", RSA_KEY), jwk("ed-1", ED_KEY)]}
RSA_ONLY = {"keys": [jwk("rsa-1", RSA_KEY)]}


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for WT for five minutes, as Unix seconds; None drops a claim."""
    now = int(time.time())
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": WT.user,
        "phasedcare_org": WT.organisation,
        "phasedcare_role": "professional",
        "iat": now,
        "exp": now + 300,
        **changes,
    }
    return {k: v for k, v in values.items() if v is not None}


def signed(payload: dict[str, Any], *, kid: str = "ed-1") -> str:
    """A token over ``payload`` as JSON (any values), signed by the provider's key ``kid``."""
    key, algorithm = (ED_KEY, "EdDSA") if kid == "ed-1" else (RSA_KEY, "RS256")
    body = json.dumps(payload).encode()
    return jwt.PyJWS().encode(body, key, algorithm=algorithm, headers={"kid": kid})


def b64(data: bytes) -> str:
    """Base64url without padding, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: object) -> str:
    """A JWS segment holding ``value`` as JSON."""
    return b64(json.dumps(value).encode())


def bearer(token: str) -> dict[str, str]:
    """The Authorization header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


@dataclass
class World:
    """An API with API keys and OIDC from a JWKS file, as `phasedcare serve` wires them."""

    client: TestClient
    engine: Engine
    jwks_file: Path
    vt_key: str

    def publish(self, jwks: object) -> None:
        """Rewrite the JWKS file (what the provider's key rotation does)."""
        self.jwks_file.write_text(json.dumps(jwks), encoding="utf-8")

    def other_client(self) -> TestClient:
        """A client of the same app from another address."""
        return TestClient(self.client.app, client=OTHER_CLIENT)


def make_world(folder: Path, throttle: FailureThrottle) -> Iterator[World]:
    """The world over a fresh in-memory engine, closed afterwards."""
    jwks_file = folder / "jwks.json"
    jwks_file.write_text(json.dumps(BOTH_KEYS), encoding="utf-8")
    engine = memory_engine()
    options = Settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_file=jwks_file)
    _, vt_key = ApiKeys(store=engine.store, policy=engine.policy, clock=utc_now).create(VT)
    app = create_app(engine, authenticate=build_authenticator(options, engine), throttle=throttle)
    with TestClient(app) as client:
        yield World(client=client, engine=engine, jwks_file=jwks_file, vt_key=vt_key)
    engine.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The world with the default throttle (20 failures a minute)."""
    yield from make_world(tmp_path, FailureThrottle())


@pytest.fixture(scope="module")
def roomy_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The world with a throttle no test reaches, for many refusals from one client."""
    yield from make_world(tmp_path_factory.mktemp("roomy"), FailureThrottle(failures=10**9))


def assert_unauthenticated(response: Any, token: str) -> str:
    """The response is a 401 problem that does not repeat the token; its detail."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    detail: str = response.json()["detail"]
    assert token not in response.text
    return detail


# -- L1: a malformed token is 401, never 500 -------------------------------------------------

BODY = segment(claims())
HEAD = segment({"alg": "EdDSA", "kid": "ed-1"})
NOT_UTF8 = b64(b"\xff\xfe{}")
HUGE_KID = b64(b'{"alg": "EdDSA", "kid": 1' + b"0" * 5000 + b"}")
MALFORMED = {
    "alg list": f"{segment({'alg': ['EdDSA'], 'kid': 'ed-1'})}.{BODY}.c2ln",
    "alg object": f"{segment({'alg': {'EdDSA': 1}, 'kid': 'ed-1'})}.{BODY}.c2ln",
    "alg number": f"{segment({'alg': 256, 'kid': 'ed-1'})}.{BODY}.c2ln",
    "alg null": f"{segment({'alg': None, 'kid': 'ed-1'})}.{BODY}.c2ln",
    "alg true": f"{segment({'alg': True, 'kid': 'ed-1'})}.{BODY}.c2ln",
    "kid list": f"{segment({'alg': 'EdDSA', 'kid': ['ed-1']})}.{BODY}.c2ln",
    "kid object": f"{segment({'alg': 'EdDSA', 'kid': {'ed-1': 1}})}.{BODY}.c2ln",
    "kid number": f"{segment({'alg': 'EdDSA', 'kid': 1})}.{BODY}.c2ln",
    "kid null": f"{segment({'alg': 'EdDSA', 'kid': None})}.{BODY}.c2ln",
    "header list": f"{segment(['EdDSA', 'ed-1'])}.{BODY}.c2ln",
    "header string": f"{segment('EdDSA')}.{BODY}.c2ln",
    "header number": f"{segment(7)}.{BODY}.c2ln",
    "header not JSON": f"{b64(b'{alg: EdDSA')}.{BODY}.c2ln",
    "header not UTF-8": f"{NOT_UTF8}.{BODY}.c2ln",
    "header not base64": f"e30*!.{BODY}.c2ln",
    "claims a list": f"{HEAD}.{segment([1])}.c2ln",
    "claims not base64": f"{HEAD}.%%%.c2ln",
    "two segments": f"{HEAD}.{BODY}",
    "four segments": f"{HEAD}.{BODY}.c2ln.c2ln",
    "huge number": f"{HUGE_KID}.{BODY}.c2ln",
}


@pytest.mark.parametrize("token", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_oidc_token_gets_a_plain_401(roomy_world: World, token: str) -> None:
    """Non-string alg or kid, a header that is no JSON object, no base64: 401, with a reason."""
    response = roomy_world.client.get("/ready", headers=bearer(token))
    assert assert_unauthenticated(response, token).startswith(REFUSED)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
HEADER = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["EdDSA", "RS256", "ES256", "none", "HS256"]) | JSON,
        "kid": st.sampled_from(["ed-1", "rsa-1", "../../etc/passwd"]) | JSON,
        "typ": JSON,
        "crit": JSON,
        "jwk": JSON,
    },
)
NEAR_NOW = st.integers(min_value=-100_000, max_value=100_000).map(lambda d: int(time.time()) + d)
CLAIM_VALUES = {
    "iss": st.just(ISSUER) | JSON,
    "aud": st.just(AUDIENCE) | JSON,
    "sub": st.just(WT.user) | JSON,
    "phasedcare_org": st.just(WT.organisation) | JSON,
    "phasedcare_role": st.sampled_from(["professional", "auditor", "system"]) | JSON,
    "iat": NEAR_NOW | JSON,
    "exp": NEAR_NOW | JSON,
    "nbf": NEAR_NOW | JSON,
}
CLAIMS = st.fixed_dictionaries({}, optional=CLAIM_VALUES) | JSON


def handmade(header: object, payload: object, signature: bytes) -> str:
    """A JWS from any header and claims, with any signature bytes."""
    return f"{segment(header)}.{segment(payload)}.{b64(signature)}"


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(header=HEADER | JSON, payload=CLAIMS, signature=st.binary(max_size=80))
def test_fuzzed_tokens_get_only_401(
    roomy_world: World, header: object, payload: object, signature: bytes
) -> None:
    """Random headers, claims and signatures through the API: always a 401 problem."""
    token = handmade(header, payload, signature)
    assert_unauthenticated(roomy_world.client.get("/ready", headers=bearer(token)), token)


CHANGES = st.dictionaries(st.sampled_from(sorted(CLAIM_VALUES)), NEAR_NOW | JSON, max_size=3)
DROPS = st.sets(st.sampled_from(sorted(CLAIM_VALUES)), max_size=2)


@settings(deadline=None)
@given(changes=CHANGES, drops=DROPS)
def test_fuzzed_signed_claims_are_an_actor_or_a_refusal(
    changes: dict[str, Any], drops: set[str]
) -> None:
    """Signed tokens with claims changed or dropped at random: an actor only when all is well."""
    payload = {k: v for k, v in {**claims(), **changes}.items() if k not in drops}
    verifier = OidcVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=BOTH_KEYS, policy=POLICY)
    try:
        actor = verifier.verify(signed(payload))
    except NotAuthorised as exc:
        message = exc.message
        assert message.startswith(REFUSED) or "is unknown in region" in message
        return
    iat, exp, moment = payload["iat"], payload["exp"], time.time()
    assert {type(iat), type(exp)} <= {int, float}
    assert (iat <= moment + 30, exp > moment - 30, exp - iat <= 86400) == (True, True, True)
    assert (payload["iss"], str(actor)) == (
        ISSUER,
        "{sub}@{phasedcare_org}:{phasedcare_role}".format(**payload),
    )


# -- L9: strict time claims ------------------------------------------------------------------


@pytest.fixture
def verifier() -> OidcVerifier:
    """A verifier over the identity provider's two keys."""
    return OidcVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=BOTH_KEYS, policy=POLICY)


def now() -> int:
    """The current Unix time in seconds."""
    return int(time.time())


STRICT = {
    "exp as numeric string": ({"exp": lambda: str(now() + 300)}, "exp claim is not a number"),
    "exp as boolean": ({"exp": lambda: True}, "expired"),
    "exp 10^30": ({"exp": lambda: 10**30}, "longer than 24 hours"),
    "exp 25 hours after iat": ({"exp": lambda: now() + 25 * 3600}, "longer than 24 hours"),
    "no iat": ({"iat": lambda: None}, "lacks a required claim"),
    "iat as string": ({"iat": lambda: str(now())}, "iat claim is not a number"),
    "iat in the future": ({"iat": lambda: now() + 600}, "not valid yet"),
    "nbf as string": ({"nbf": lambda: str(now())}, "nbf claim is not a number"),
    "nbf in the future": ({"nbf": lambda: now() + 600}, "not valid yet"),
    "sub a number": ({"sub": lambda: 7}, "malformed"),
    "organisation a list": ({"phasedcare_org": lambda: ["wijkteam-zwolle"]}, "do not name"),
    "role a number": ({"phasedcare_role": lambda: 1}, "do not name"),
    "sub not an id": ({"sub": lambda: "U-WT-07 @x"}, "do not name"),
}


@pytest.mark.parametrize(("changes", "reason"), STRICT.values(), ids=STRICT.keys())
def test_claims_of_the_wrong_type_or_reach_are_refused(
    verifier: OidcVerifier, changes: dict[str, Any], reason: str
) -> None:
    """Time claims are numbers, iat is required, nbf is honoured, a token lives at most 24 h."""
    token = signed(claims(**{name: make() for name, make in changes.items()}))
    with pytest.raises(NotAuthorised) as caught:
        verifier.verify(token)
    assert caught.value.message.startswith(REFUSED)
    assert reason in caught.value.message


def test_a_token_of_a_day_or_with_fractional_times_is_accepted(verifier: OidcVerifier) -> None:
    """The cap is inclusive, and NumericDate may carry a fraction (RFC 7519)."""
    issued = now()
    day = signed(claims(iat=issued, exp=issued + 86400, nbf=issued))
    fraction = signed(claims(iat=issued + 0.5, exp=issued + 300.25))
    assert (verifier.verify(day), verifier.verify(fraction)) == (WT, WT)


def test_the_lifetime_cap_can_be_set() -> None:
    """A verifier told max_lifetime=1 h refuses a two-hour token."""
    strict = OidcVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks=BOTH_KEYS,
        policy=POLICY,
        max_lifetime=timedelta(hours=1),
    )
    token = signed(claims(exp=now() + 7200))
    with pytest.raises(NotAuthorised, match="longer than 1 hours"):
        strict.verify(token)


# -- L2: the JWKS file as it is now ----------------------------------------------------------


def test_a_key_removed_from_the_jwks_file_is_refused_at_once(world: World) -> None:
    """A token of a key the provider dropped is refused on the very next request."""
    token = signed(claims(), kid="ed-1")
    assert world.client.get("/ready", headers=bearer(token)).json()["actor"] == str(WT)
    world.publish(RSA_ONLY)
    detail = assert_unauthenticated(world.client.get("/ready", headers=bearer(token)), token)
    assert detail == REFUSED + "its key (kid) is not one of the identity provider's"
    rsa_token = signed(claims(), kid="rsa-1")
    assert world.client.get("/ready", headers=bearer(rsa_token)).status_code == 200


def test_a_key_added_to_the_jwks_file_is_accepted_at_once(world: World) -> None:
    """Rotation the other way: a newly published key works without a restart."""
    world.publish(RSA_ONLY)
    token = signed(claims(), kid="ed-1")
    assert world.client.get("/ready", headers=bearer(token)).status_code == 401
    world.publish(BOTH_KEYS)
    assert world.client.get("/ready", headers=bearer(token)).status_code == 200


BROKEN = {
    "missing": None,
    "not JSON": "{keys: [",
    "a JSON list": "[]",
    "keys not a list": json.dumps({"keys": "rsa-1"}),
    "no usable key": json.dumps({"keys": [{"kty": "RSA", "kid": "x"}]}),
    "empty": "",
}


@pytest.mark.parametrize("content", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_jwks_file_is_logged_and_answered_503_without_its_path(
    world: World, content: str | None
) -> None:
    """The server logs the path and cause; the client gets 503 naming neither, then recovery."""
    if content is None:
        world.jwks_file.unlink()
    else:
        world.jwks_file.write_text(content, encoding="utf-8")
    token = signed(claims())
    with capture_logs() as logs:
        response = world.client.get("/ready", headers=bearer(token))
    assert (response.status_code, response.headers["retry-after"]) == (503, "2")
    for secret in (str(world.jwks_file.parent), "jwks", "Expecting", "JSON", '"keys"', "kid"):
        assert secret not in response.text
    [entry] = [e for e in logs if e["event"] == "oidc jwks unusable"]
    assert (entry["log_level"], entry["path"]) == ("error", str(world.jwks_file))
    assert entry["error"]
    assert world.client.get("/ready", headers=bearer(world.vt_key)).status_code == 200
    world.publish(BOTH_KEYS)
    assert world.client.get("/ready", headers=bearer(token)).status_code == 200


def test_a_jwks_file_is_not_read_again_while_it_is_unchanged(tmp_path: Path) -> None:
    """Reading is keyed on the file's identity, size and times: no change, the same key set."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(BOTH_KEYS), encoding="utf-8")
    source = JwksFile(path)
    first = source.key_set()
    assert source.key_set() is first
    path.write_text(json.dumps(RSA_ONLY), encoding="utf-8")
    assert [k.key_id for k in source.key_set()] == ["rsa-1"]


# -- L3: failed authentication is logged and throttled ---------------------------------------


def failures(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The captured 'authentication failed' entries."""
    return [e for e in logs if e["event"] == "authentication failed"]


def test_a_failed_api_key_is_logged_with_its_key_id_and_never_its_secret(world: World) -> None:
    """Client address, key id and reason are logged; the secret and the token are not."""
    prefix, secret = world.vt_key[:20], world.vt_key[21:]  # pck_<key id>, then the secret
    wrong = f"{prefix}_{'A' * 43}"
    with capture_logs() as logs:
        assert world.client.get("/ready", headers=bearer(wrong)).status_code == 401
    [entry] = failures(logs)
    expected = {
        "event": "authentication failed",
        "log_level": "warning",
        "client": "testclient",
        "credential": "api key",
        "key_id": prefix.removeprefix("pck_"),
        "reason": "the API key is not valid: it is malformed, unknown or revoked",
    }
    assert entry == expected
    assert secret not in repr(logs)
    assert "A" * 43 not in repr(logs)


def test_a_failed_oidc_token_is_logged_without_any_of_its_parts(world: World) -> None:
    """An OIDC refusal logs where from and why, and no segment of the token."""
    token = signed(claims(aud="another-system"))
    with capture_logs() as logs:
        assert world.client.get("/ready", headers=bearer(token)).status_code == 401
    [entry] = failures(logs)
    assert (entry["client"], entry["credential"], entry["key_id"]) == (
        "testclient",
        "bearer token",
        None,
    )
    assert entry["reason"] == REFUSED + "it is meant for another audience"
    assert all(part not in repr(logs) for part in token.split("."))


def test_a_valid_or_missing_token_logs_no_failure(world: World) -> None:
    """Success is not a failure, and no Authorization header at all is no attempt."""
    with capture_logs() as logs:
        assert world.client.get("/ready", headers=bearer(world.vt_key)).status_code == 200
        assert world.client.get("/ready").status_code == 401
    assert failures(logs) == []


def test_25_bad_tokens_give_20_refusals_then_429_with_retry_after(world: World) -> None:
    """Over the limit, every request of the client is a 429 problem, a valid key too."""
    statuses = [
        world.client.get("/ready", headers=bearer(f"pck_{n:016x}_{'B' * 43}")).status_code
        for n in range(25)
    ]
    assert statuses == [401] * 20 + [429] * 5
    response = world.client.get("/ready", headers=bearer(world.vt_key))
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    body = response.json()
    assert (body["status"], body["title"], body["type"].rsplit("/", 1)[1]) == (
        429,
        "Too Many Requests",
        "too-many-requests",
    )
    assert world.vt_key not in response.text


def test_another_client_is_not_slowed_by_a_throttled_one(world: World) -> None:
    """The count is per client address: another address's valid key and refusals are normal."""
    for _ in range(21):
        world.client.get("/ready", headers=bearer("not-a-token"))
    assert world.client.get("/ready", headers=bearer(world.vt_key)).status_code == 429
    other = world.other_client()
    assert other.get("/ready", headers=bearer(world.vt_key)).status_code == 200
    assert other.get("/ready", headers=bearer("not-a-token")).status_code == 401


def test_missing_tokens_are_not_counted(world: World) -> None:
    """Requests without an Authorization header are 401 but never throttled."""
    assert {world.client.get("/ready").status_code for _ in range(30)} == {401}
    assert world.client.get("/ready", headers=bearer(world.vt_key)).status_code == 200


def test_the_client_may_try_again_when_the_window_has_passed(tmp_path: Path) -> None:
    """With a one-second window, the throttled client is served again a second later."""
    for world in make_world(tmp_path, FailureThrottle(failures=3, window_seconds=1)):
        for _ in range(3):
            assert world.client.get("/ready", headers=bearer("x.y.z")).status_code == 401
        throttled = world.client.get("/ready", headers=bearer(world.vt_key))
        assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "1")
        time.sleep(1.1)
        assert world.client.get("/ready", headers=bearer(world.vt_key)).status_code == 200
        assert world.client.get("/ready", headers=bearer("x.y.z")).status_code == 401


def test_the_throttle_settings_have_safe_defaults_and_refuse_zero() -> None:
    """20 failures a minute by default; a limit or window of 0 is a settings error."""
    defaults = Settings()
    assert (defaults.auth_failure_limit, defaults.auth_failure_window_seconds) == (20, 60)
    for field in ("auth_failure_limit", "auth_failure_window_seconds"):
        with pytest.raises(ValidationError, match=field):
            Settings(**{field: 0})
