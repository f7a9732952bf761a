"""The PKCS#11 key provider against a real SoftHSM2 token: KEKs never leave the token."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from phasedcare.bootstrap import build, build_verifier, initialise, key_provider, rotate_keys
from phasedcare.config import Settings
from phasedcare.testing import actor_of

LIBRARY = "/usr/lib/softhsm/libsofthsm2.so"
pytestmark = pytest.mark.skipif(
    not Path(LIBRARY).exists() or shutil.which("softhsm2-util") is None,
    reason="SoftHSM2 is not installed (Debian package softhsm2; .ci/run installs it)",
)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh SoftHSM2 token and a home that keeps its KEKs on it."""
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(config))
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "phasedcare-test",
            "--pin",
            "4321",
            "--so-pin",
            "8765",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(config)},
    )
    return Settings(
        home=tmp_path / "home",
        key_provider="pkcs11",
        pkcs11_library=LIBRARY,
        pkcs11_token="phasedcare-test",  # noqa: S106 - a token label, not a secret
        pkcs11_pin="4321",  # type: ignore[arg-type]
    )


def test_cases_are_sealed_with_keys_wrapped_on_the_token(settings: Settings) -> None:
    """init creates the token's first KEK; cases open and read; no KEK file is written."""
    initialise(settings)
    vt = actor_of("vt-ijsselland")
    engine = build(settings)
    case_id = engine.open_case(actor=vt, via="melding").case_id
    engine.record_member(case_id, actor=vt, role="kind", name="Pim Proefmans")
    assert [m.name for m in engine.show(case_id, actor=vt).members] == ["Pim Proefmans"]
    engine.close()
    assert list((settings.resolved_key_folder).glob("kek-*.key")) == []


def test_rotation_on_the_token_rewraps_and_everything_still_opens(settings: Settings) -> None:
    """A new KEK on the token; every case key rewrapped; the ledger verifies; the old data opens."""
    initialise(settings)
    vt = actor_of("vt-ijsselland")
    engine = build(settings)
    cases = [engine.open_case(actor=vt, via="melding").case_id for _ in range(3)]
    engine.close()
    first = key_provider(settings).current_kek_id()
    new_id, count = rotate_keys(settings)
    assert (new_id != first, count) == (True, 3)
    fresh = build(settings)
    assert [fresh.show(c, actor=vt).case_id for c in cases] == cases
    assert {k.kek_id for k in fresh.store.case_keys()} == {new_id}
    fresh.close()
    verifier = build_verifier(settings)
    assert verifier.verify().intact
    verifier.close()


def test_the_kek_cannot_be_read_off_the_token(settings: Settings) -> None:
    """The KEK is generated non-extractable and sensitive."""
    from pkcs11 import Attribute, ObjectClass  # noqa: PLC0415 - only when SoftHSM2 is present

    initialise(settings)
    provider = key_provider(settings)
    kek = provider._kek(provider.current_kek_id())  # type: ignore[attr-defined]
    assert kek.object_class == ObjectClass.SECRET_KEY
    assert kek[Attribute.EXTRACTABLE] is False
    assert kek[Attribute.SENSITIVE] is True
