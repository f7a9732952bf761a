"""Authentication, the same for every interface: API keys and OIDC bearer tokens.

Every refusal is a NotAuthorised whose message never repeats the token it refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import RegionalPolicy, default_policy
from phasedcare.errors import InvalidInput, NotAuthorised, NotFound
from phasedcare.service.api_keys import ApiKeys, TokenDigest
from phasedcare.service.oidc import JwksFile, OidcClaims, OidcVerifier, load_jwks_file
from phasedcare.store import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of

ISSUER = "https://idp.example.test/realms/ijsselland"
AUDIENCE = "phasedcare"
VT = actor_of("vt-ijsselland", user="u-vt-01")
T0 = "2026-03-02T09:00:00+00:00"
DIGEST_KEY = bytes(range(32))

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@pytest.fixture(scope="module")
def policy() -> RegionalPolicy:
    """The shipped default policy (region ijsselland)."""
    return default_policy()


# -- API keys -------------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    """A clock at a fixed moment."""
    return ManualClock.starting(T0)


@pytest.fixture
def keys(policy: RegionalPolicy, clock: ManualClock) -> ApiKeys:
    """API keys over an in-memory store, hashed under a known key."""
    return ApiKeys(
        store=InMemoryEventStore(), policy=policy, clock=clock, digest=TokenDigest(DIGEST_KEY)
    )


def refused_without(token: str, call: Callable[[], object]) -> str:
    """The NotAuthorised message ``call`` raises, checked not to contain ``token``."""
    with pytest.raises(NotAuthorised) as caught:
        call()
    message = caught.value.message
    if token:
        assert token not in message
        assert token not in str(caught.value)
    return message


def test_a_new_key_authenticates_as_its_actor(keys: ApiKeys) -> None:
    """The token of a new key names the key and authenticates as the actor it was made for."""
    key, token = keys.create(VT, label="case system")
    assert re.fullmatch(rf"pck_{key.key_id}_[A-Za-z0-9_-]{{43}}", token)
    assert keys.authenticate(token) == VT


def test_only_the_hash_of_a_token_is_kept(keys: ApiKeys) -> None:
    """The stored key holds the HMAC-SHA256 of its actor and token under the digest key,
    nothing else of the token."""
    key, token = keys.create(VT)
    (listed,) = keys.list()
    assert listed == key
    bound = f"{listed.actor}\n{token}".encode()
    assert listed.token_hash == hmac.new(DIGEST_KEY, bound, hashlib.sha256).digest()
    assert listed.token_hash != hashlib.sha256(token.encode()).digest()
    secret = token.split("_", 2)[2]  # pck_<key id>_<secret>: the secret may hold "_"
    assert all(secret not in str(value) for value in (listed.key_id, listed.label, listed.actor))


def test_a_key_records_actor_label_and_creation_time(keys: ApiKeys, clock: ManualClock) -> None:
    """A key keeps its actor as text, its label (stripped) and when it was made, at UTC."""
    key, _ = keys.create(VT, label="  case system  ")
    expected = ("u-vt-01@vt-ijsselland:professional", "case system", clock.now, None)
    assert (key.actor, key.label, key.created_at, key.revoked_at) == expected


def test_a_revoked_key_is_refused_like_an_unknown_one(keys: ApiKeys, clock: ManualClock) -> None:
    """After revocation the token is refused with the same words as a token nobody issued."""
    key, token = keys.create(VT)
    clock.advance(days=1)
    revoked = keys.revoke(key.key_id)
    other = f"pck_{'0' * 16}_{'A' * 43}"
    assert revoked.revoked_at == clock.now
    assert refused_without(token, lambda: keys.authenticate(token)) == refused_without(
        other, lambda: keys.authenticate(other)
    )


def test_revoking_again_keeps_the_first_revocation(keys: ApiKeys, clock: ManualClock) -> None:
    """A second revocation changes nothing."""
    key, _ = keys.create(VT)
    first = keys.revoke(key.key_id)
    clock.advance(days=1)
    assert keys.revoke(key.key_id) == first


def test_revoking_an_unknown_key_is_not_found(keys: ApiKeys) -> None:
    """Revoking a key id nobody issued raises NotFound naming the id."""
    with pytest.raises(NotFound, match="no API key k-none"):
        keys.revoke("k-none")


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), id="last character"),
        pytest.param(lambda t: t[:-1], id="one character short"),
        pytest.param(lambda t: t + "A", id="one character long"),
        pytest.param(lambda t: t.replace("pck_", "pcx_"), id="prefix"),
        pytest.param(lambda t: t.upper(), id="upper case"),
        pytest.param(lambda t: " " + t, id="leading space"),
        pytest.param(lambda t: "_".join(t.split("_", 2)[:2]), id="no secret"),
        pytest.param(lambda t: f"pck_{'f' * 16}_{t.rsplit('_', 1)[1]}", id="another key id"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: "Bearer " + t, id="scheme included"),
        pytest.param(lambda t: t[:-1] + "é", id="non-ascii"),
    ],
)
def test_a_wrong_or_malformed_token_is_refused_without_echo(
    keys: ApiKeys, mangle: Callable[[str], str]
) -> None:
    """Anything but the exact token is refused with one message that never repeats it."""
    _, token = keys.create(VT)
    wrong = mangle(token)
    message = refused_without(wrong, lambda: keys.authenticate(wrong))
    assert message == "the API key is not valid: it is malformed, unknown or revoked"
    secret = token.split("_", 2)[2]  # pck_<key id>_<secret>: the secret may hold "_" itself
    assert secret not in message


def test_a_key_for_an_organisation_outside_the_policy_is_refused(keys: ApiKeys) -> None:
    """Keys are made only for organisations of the region's policy."""
    with pytest.raises(NotAuthorised, match="organisation nowhere is unknown"):
        keys.create(actor_of("nowhere"))
    assert keys.list() == []


@pytest.mark.parametrize("label", ["x" * 101, "line\nbreak", "tab\there"])
def test_a_long_or_unprintable_label_is_invalid(keys: ApiKeys, label: str) -> None:
    """A label is printable text of at most 100 characters."""
    with pytest.raises(InvalidInput, match="label"):
        keys.create(VT, label=label)


def test_keys_of_every_role_authenticate(keys: ApiKeys) -> None:
    """An auditor's key authenticates as the auditor, not as a professional."""
    auditor = actor_of("vt-ijsselland", user="u-audit", role=Role.auditor)
    _, token = keys.create(auditor)
    assert keys.authenticate(token) == auditor


# -- OIDC bearer tokens ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_keys() -> dict[str, PrivateKey]:
    """One private key per accepted algorithm, by kid."""
    return {
        "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec-1": ec.generate_private_key(ec.SECP256R1()),
        "ed-1": ed25519.Ed25519PrivateKey.generate(),
    }


ALGORITHM_OF = {"rsa-1": "RS256", "ec-1": "ES256", "ed-1": "EdDSA"}


def public_jwk(kid: str, key: PrivateKey) -> dict[str, Any]:
    """The public JWK of a private key, with its kid."""
    if isinstance(key, rsa.RSAPrivateKey):
        text = RSAAlgorithm.to_jwk(key.public_key())
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        text = ECAlgorithm.to_jwk(key.public_key())
    else:
        text = OKPAlgorithm.to_jwk(key.public_key())
    return {**json.loads(text), "kid": kid, "use": "sig"}


@pytest.fixture(scope="module")
def jwks(signing_keys: dict[str, PrivateKey]) -> dict[str, Any]:
    """The identity provider's published keys."""
    return {"keys": [public_jwk(kid, key) for kid, key in signing_keys.items()]}


@pytest.fixture
def verifier(jwks: dict[str, Any], policy: RegionalPolicy) -> OidcVerifier:
    """A verifier for the test issuer and audience."""
    return OidcVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=jwks, policy=policy)


def claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for the VT professional, valid for five minutes; None drops a claim."""
    now = datetime.now(UTC)
    values = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-vt-01",
        "phasedcare_org": "vt-ijsselland",
        "phasedcare_role": "professional",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **changes,
    }
    return {k: v for k, v in values.items() if v is not None}


def sign(signing_keys: dict[str, PrivateKey], kid: str = "rsa-1", **changes: Any) -> str:
    """A token over ``claims(**changes)`` signed with the key ``kid``."""
    return jwt.encode(
        claims(**changes), signing_keys[kid], algorithm=ALGORITHM_OF[kid], headers={"kid": kid}
    )


def b64(data: bytes) -> str:
    """Base64url without padding, as JWS uses."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def handmade(header: dict[str, Any], payload: dict[str, Any], sign_with: bytes | None) -> str:
    """A JWS built by hand: HS256 over ``sign_with``, or an empty signature when None."""
    body = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload, default=int).encode())}"
    if sign_with is None:
        return body + "."
    signature = hmac.new(sign_with, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{b64(signature)}"


def unix(values: dict[str, Any]) -> dict[str, Any]:
    """Claims with datetimes as Unix seconds."""
    return {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in values.items()}


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1", "ed-1"])
def test_a_valid_token_names_its_actor(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey], kid: str
) -> None:
    """RS256, ES256 and EdDSA tokens from the issuer for the audience name their actor."""
    assert verifier.verify(sign(signing_keys, kid)) == VT


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"exp": timedelta(minutes=-5)}, "it has expired"),
        ({"nbf": timedelta(minutes=5)}, "it is not valid yet"),
        ({"iss": "https://idp.example.test/realms/other"}, "issued by another issuer"),
        ({"aud": "another-service"}, "meant for another audience"),
        ({"exp": None}, "lacks a required claim"),
        ({"aud": None}, "lacks a required claim"),
        ({"phasedcare_role": "superuser"}, "do not name a user, organisation and role"),
        ({"phasedcare_org": None}, "do not name a user, organisation and role"),
        ({"sub": "Jan Jansen"}, "do not name a user, organisation and role"),
    ],
)
def test_a_token_with_wrong_claims_is_refused(
    verifier: OidcVerifier,
    signing_keys: dict[str, PrivateKey],
    changes: dict[str, Any],
    reason: str,
) -> None:
    """Expired, premature, foreign, missing or unusable claims are refused, saying which.

    Times are offsets from the moment the test runs (not from collection, which may be
    minutes earlier in a long run)."""
    now = datetime.now(UTC)
    timed = {k: now + v if isinstance(v, timedelta) else v for k, v in changes.items()}
    token = sign(signing_keys, **timed)
    assert reason in refused_without(token, lambda: verifier.verify(token))


def test_a_little_clock_skew_is_tolerated(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey]
) -> None:
    """A token that expired ten seconds ago still passes within the default leeway."""
    token = sign(signing_keys, exp=datetime.now(UTC) - timedelta(seconds=10))
    assert verifier.verify(token) == VT


def test_an_unknown_organisation_is_refused(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey]
) -> None:
    """A correctly signed token for an organisation outside the policy is refused."""
    token = sign(signing_keys, phasedcare_org="nowhere")
    assert "organisation nowhere is unknown" in refused_without(
        token, lambda: verifier.verify(token)
    )


def test_alg_none_is_refused(verifier: OidcVerifier) -> None:
    """An unsigned token (alg none) is refused however valid its claims."""
    token = handmade({"alg": "none", "kid": "rsa-1"}, unix(claims()), None)
    assert "algorithm is not accepted" in refused_without(token, lambda: verifier.verify(token))


def test_hs256_with_the_public_key_as_secret_is_refused(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey]
) -> None:
    """The key-confusion attack: HS256 signed with the RSA public key is refused."""
    public = signing_keys["rsa-1"].public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (pem, json.dumps(public_jwk("rsa-1", signing_keys["rsa-1"])).encode()):
        token = handmade({"alg": "HS256", "kid": "rsa-1"}, unix(claims()), secret)
        assert "algorithm is not accepted" in refused_without(
            token, lambda t=token: verifier.verify(t)
        )


def test_an_algorithm_other_than_the_keys_is_refused(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey]
) -> None:
    """An ES256 token whose kid names the RSA key is refused before any verification."""
    token = jwt.encode(claims(), signing_keys["ec-1"], algorithm="ES256", headers={"kid": "rsa-1"})
    assert "not its key's" in refused_without(token, lambda: verifier.verify(token))


def test_an_rsa_algorithm_outside_the_list_is_refused(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey]
) -> None:
    """RS512 is refused even with the provider's own RSA key."""
    token = jwt.encode(claims(), signing_keys["rsa-1"], algorithm="RS512", headers={"kid": "rsa-1"})
    assert "algorithm is not accepted" in refused_without(token, lambda: verifier.verify(token))


@pytest.mark.parametrize("kid", ["rsa-9", None])
def test_an_unknown_or_missing_kid_is_refused(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey], kid: str | None
) -> None:
    """A token signed with a key the provider did not publish, or naming none, is refused:
    without a kid the provider's one key of its algorithm is the only one tried."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    headers = {} if kid is None else {"kid": kid}
    token = jwt.encode(claims(), stranger, algorithm="RS256", headers=headers)
    expected = "signature does not verify" if kid is None else "key (kid)"
    assert expected in refused_without(token, lambda: verifier.verify(token))


def test_a_token_without_a_kid_is_checked_with_the_providers_one_key_of_its_algorithm(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey]
) -> None:
    """RFC 7515 leaves kid optional (oidc-provider-mock omits it): the one RS256 key signs."""
    [(_, rs256)] = [(k, v) for k, v in signing_keys.items() if isinstance(v, rsa.RSAPrivateKey)]
    token = jwt.encode(claims(), rs256, algorithm="RS256")
    assert verifier.verify(token).organisation == claims()["phasedcare_org"]


def test_a_tampered_signature_is_refused(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey]
) -> None:
    """Flipping one bit of the signature makes the token fail."""
    head, body, signature = sign(signing_keys).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    token = f"{head}.{body}.{b64(bytes(raw))}"
    assert "signature does not verify" in refused_without(token, lambda: verifier.verify(token))


def test_tampered_claims_are_refused(
    verifier: OidcVerifier, signing_keys: dict[str, PrivateKey]
) -> None:
    """Swapping the claims of a valid token (another organisation) breaks its signature."""
    head, _, signature = sign(signing_keys, "ed-1").split(".")
    forged = b64(json.dumps(unix(claims(phasedcare_org="wijkteam-zwolle"))).encode())
    token = f"{head}.{forged}.{signature}"
    assert "signature does not verify" in refused_without(token, lambda: verifier.verify(token))


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "e30.e30.", "Bearer x.y.z"])
def test_garbage_is_refused_as_malformed(verifier: OidcVerifier, token: str) -> None:
    """Whatever is not a JWS is refused, and the refusal does not repeat it."""
    refused_without(token, lambda: verifier.verify(token))


def test_claim_names_can_be_mapped(
    jwks: dict[str, Any], policy: RegionalPolicy, signing_keys: dict[str, PrivateKey]
) -> None:
    """A provider with its own claim names is read through an OidcClaims mapping."""
    verifier = OidcVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks=jwks,
        policy=policy,
        claims=OidcClaims(user="preferred_username", organisation="org", role="role"),
    )
    token = sign(signing_keys, preferred_username="u-wt-01", org="wijkteam-zwolle", role="auditor")
    expected = Actor(user="u-wt-01", organisation="wijkteam-zwolle", role=Role.auditor)
    assert verifier.verify(token) == expected


def test_a_jwks_file_is_read_again_after_it_changes(
    tmp_path: Path,
    jwks: dict[str, Any],
    policy: RegionalPolicy,
    signing_keys: dict[str, PrivateKey],
) -> None:
    """Keys come from the file as it is now: a key published later works (rotation)."""
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [k for k in jwks["keys"] if k["kid"] == "rsa-1"]}))
    verifier = OidcVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=JwksFile(path), policy=policy)
    assert verifier.verify(sign(signing_keys, "rsa-1")) == VT
    refused_without("", lambda: verifier.verify(sign(signing_keys, "ed-1")))
    path.write_text(json.dumps(jwks))
    assert verifier.verify(sign(signing_keys, "ed-1")) == VT


def test_a_jwks_file_is_read_and_a_bad_one_is_invalid(tmp_path: Path, jwks: dict[str, Any]) -> None:
    """load_jwks_file reads a JWKS; a missing file or one that is not JSON is InvalidInput."""
    good = tmp_path / "jwks.json"
    good.write_text(json.dumps(jwks), encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2", encoding="utf-8")
    assert load_jwks_file(good) == jwks
    for path in (bad, tmp_path / "missing.json"):
        with pytest.raises(InvalidInput, match="OIDC JWKS file"):
            load_jwks_file(path)


def test_a_jwks_without_keys_is_invalid(policy: RegionalPolicy) -> None:
    """A JWKS that is not a key set is a configuration error, raised when it is given."""
    with pytest.raises(InvalidInput, match="no list of keys"):
        OidcVerifier(issuer=ISSUER, audience=AUDIENCE, jwks={"kty": "RSA"}, policy=policy)
