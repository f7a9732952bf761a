"""The routes outside witnesses read: the latest checkpoint, the verifier key and consistency
proofs, to auditors of the region only, as plain text, signing and logging nothing."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from phasedcare.api import create_app
from phasedcare.domain.actors import Role
from phasedcare.ledger.merkle import verify_consistency
from phasedcare.ledger.notes import open_checkpoint, parse_verifier_key
from phasedcare.service.engine import Engine
from phasedcare.testing import actor_of, memory_engine
from support import token_table

VT = actor_of("vt-ijsselland", user="u-vt-01")
TOKENS = {
    "auditor": actor_of("vt-ijsselland", user="u-audit-01", role=Role.auditor),
    "professional": VT,
    "elders": actor_of("vt-haaglanden", user="u-audit-02", role=Role.auditor),
}


_authenticate = token_table(TOKENS)


def _as(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {who}"}


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = memory_engine()
    yield engine
    engine.close()


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, authenticate=_authenticate)) as client:
        yield client


def _grow(engine: Engine, cases: int) -> int:
    for _ in range(cases):
        engine.open_case(actor=VT, via="melding")
    assert engine.auditor is not None
    checkpoint = engine.auditor.checkpoint()
    assert checkpoint is not None
    return checkpoint.size


def test_before_any_checkpoint_the_checkpoint_is_not_found(client: TestClient) -> None:
    """An empty ledger has signed nothing: 404 problem details, not an empty note."""
    response = client.get("/ledger/checkpoint", headers=_as("auditor"))
    assert response.status_code == 404
    assert response.json()["detail"] == "no checkpoint has been signed yet"


def test_an_auditor_reads_the_latest_checkpoint_and_the_verifier_key(
    client: TestClient, engine: Engine
) -> None:
    """The note as kept, which the served verifier key opens; nothing signed or logged."""
    size = _grow(engine, 3)
    key = client.get("/ledger/verifier-key", headers=_as("auditor"))
    assert key.headers["content-type"] == "text/plain; charset=utf-8"
    vkey = key.text.strip()
    assert engine.auditor is not None
    assert parse_verifier_key(vkey) == (engine.auditor.origin, engine.auditor.public_key)
    kept = engine.store.checkpoints()
    records = len(list(engine.store.read_all()))
    for _ in range(5):
        note = client.get("/ledger/checkpoint", headers=_as("auditor"))
        assert note.status_code == 200
        assert note.text == engine.store.checkpoints()[-1]
        assert open_checkpoint(note.text, vkey).size == size
    assert engine.store.checkpoints() == kept
    assert len(list(engine.store.read_all())) == records


def test_the_consistency_proof_verifies_between_signed_sizes(
    client: TestClient, engine: Engine
) -> None:
    """One base64 hash per line; it proves the older signed root a prefix of the newer."""
    first = _grow(engine, 3)
    second = _grow(engine, 4)
    vkey = client.get("/ledger/verifier-key", headers=_as("auditor")).text
    notes = {
        open_checkpoint(n, vkey).size: open_checkpoint(n, vkey) for n in engine.store.checkpoints()
    }
    response = client.get(f"/ledger/consistency?from={first}&to={second}", headers=_as("auditor"))
    assert response.status_code == 200
    proof = [base64.b64decode(line, validate=True) for line in response.text.splitlines()]
    assert proof
    assert verify_consistency(first, second, notes[first].root, notes[second].root, proof)
    same = client.get(f"/ledger/consistency?from={second}&to={second}", headers=_as("auditor"))
    assert (same.status_code, same.text) == (200, "")


@pytest.mark.parametrize(
    ("query", "status", "detail"),
    [
        ("from=7&to=3", 400, "from (7) is larger than to (3)"),
        ("from=3&to=5", 404, "no signed checkpoint of size 5"),
        ("from=2&to=7", 404, "no signed checkpoint of size 2"),
        ("from=3&to=9000000000000000000", 404, "no signed checkpoint of size 9000000000000000000"),
        ("from=0&to=7", 422, None),
        ("from=3&to=9223372036854775808", 422, None),
        ("from=three&to=7", 422, None),
        ("to=7", 422, None),
    ],
)
def test_bad_or_unknown_sizes_are_problems_never_a_500(
    client: TestClient, engine: Engine, query: str, status: int, detail: str | None
) -> None:
    """Sizes 3 and 7 are signed; anything else is a 4xx problem with a reason."""
    assert (_grow(engine, 3), _grow(engine, 4)) == (3, 7)
    response = client.get(f"/ledger/consistency?{query}", headers=_as("auditor"))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if detail is not None:
        assert response.json()["detail"] == detail


@pytest.mark.parametrize(
    "path", ["/ledger/checkpoint", "/ledger/verifier-key", "/ledger/consistency"]
)
@pytest.mark.parametrize(
    ("who", "status"), [("professional", 403), ("elders", 403), ("nobody", 401)]
)
def test_only_auditors_of_the_region_are_answered(
    client: TestClient, engine: Engine, path: str, who: str, status: int
) -> None:
    """A professional, an auditor of another region, a bad token: refused before any query
    parameter is looked at."""
    _grow(engine, 2)
    response = client.get(path, headers=_as(who))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
