"""A verifier anyone can run: bundles check in a fresh virtual environment holding only
``cryptography`` (and what it brings), with the repository's ``src`` on the path.

The bundles are written by the real engine (SQLite, signed checkpoints); the verifier is
``python -m phasedcare.ledger.standalone``, run by the fresh environment's interpreter.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.domain.actors import Role
from phasedcare.testing import ManualClock, actor_of
from support import CANARY_NAMES, Journey

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = (
    "pydantic",
    "sqlalchemy",
    "sqlmodel",
    "fastapi",
    "structlog",
    "prefect",
    "statemachine",
)
INSTALLED = {"cryptography", "cffi", "pycparser", "pip", "setuptools"}
"""What the fresh environment may hold: cryptography, its dependencies, and venv's own."""


def pinned_cryptography() -> str:
    """The cryptography version requirements.lock pins."""
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    found = re.search(r"^cryptography==(\S+)", lock, re.MULTILINE)
    assert found, "requirements.lock pins no cryptography version"
    return found.group(1)


@dataclass(frozen=True)
class Bundles:
    """Bundle files written by the engine, and the checkpoint key they verify under."""

    folder: Path
    case: Path
    ledger: Path
    vkey: str
    public_hex: str
    case_records: int

    def write(self, name: str, data: Any) -> Path:
        """A (changed) bundle written beside the others."""
        path = self.folder / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    """A case bundle and a ledger bundle of a small SQLite region, with the public key."""
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    initialise(settings)
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(settings, clock=clock)
    vt = actor_of("vt-ijsselland", user="u-vt-01")
    wijkteam = actor_of("wijkteam-zwolle", user="u-wt-01")
    auditor = actor_of("vt-ijsselland", user="u-audit-01", role=Role.auditor)
    try:
        journey = Journey(engine, clock, vt, wijkteam).in_stabiele_veiligheid()
        other = engine.open_case(actor=vt, via="melding").case_id
        for name in CANARY_NAMES:
            engine.record_member(other, actor=vt, role="kind", name=name)
        clock.advance(hours=1)  # an interval later: the export signs what was written
        case = engine.export_case(journey.case_id, actor=auditor)
        ledger = engine.export_ledger(actor=auditor)
        assert engine.auditor is not None
        vkey, public = engine.auditor.verifier_key, engine.auditor.public_key
    finally:
        engine.close()
    folder = tmp_path_factory.mktemp("bundles")
    (folder / "case.json").write_text(json.dumps(case), encoding="utf-8")
    (folder / "ledger.json").write_text(json.dumps(ledger), encoding="utf-8")
    return Bundles(
        folder=folder,
        case=folder / "case.json",
        ledger=folder / "ledger.json",
        vkey=vkey,
        public_hex=public.hex(),
        case_records=len(case["records"]),
    )


def _environment() -> dict[str, str]:
    """The caller's environment without its Python paths; only the repository's src."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
    }
    env["PYTHONPATH"] = str(ROOT / "src")
    env["PYTHONNOUSERSITE"] = "1"
    return env


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a new virtual environment holding only the pinned cryptography."""
    folder = tmp_path_factory.mktemp("fresh") / "venv"
    made = subprocess.run(
        [sys.executable, "-m", "venv", str(folder)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, f"python -m venv failed: {made.stdout}{made.stderr}"
    python = folder / "bin" / "python"
    version = pinned_cryptography()
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"cryptography=={version}"],
        capture_output=True,
        text=True,
        check=False,
        env=_environment(),
    )
    if pip.returncode != 0:
        tail = (pip.stderr or pip.stdout).strip().splitlines()[-1:] or ["no output"]
        pytest.skip(
            f"pip could not install cryptography=={version} into a fresh venv "
            f"(pip exit {pip.returncode}; no package index reachable?): {tail[0][:200]}"
        )
    return python


def run(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m phasedcare.ledger.standalone ARGS`` with only the repository's src added."""
    return run_python(python, "-m", "phasedcare.ledger.standalone", *args, cwd=cwd)


def run_python(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in ``cwd`` with only the repository's src added."""
    return subprocess.run(
        [str(python), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=_environment(),
        timeout=120,
    )


def test_the_fresh_environment_holds_only_cryptography(fresh: Path, bundles: Bundles) -> None:
    """Nothing of the engine's dependencies is installed there: they cannot be imported."""
    listed = subprocess.run(
        [str(fresh), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=_environment(),
    )
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert names <= INSTALLED, names - INSTALLED
    assert "cryptography" in names
    code = (
        "import importlib.util\n"
        f"print([m for m in {FORBIDDEN!r} if importlib.util.find_spec(m) is not None])"
    )
    found = run_python(fresh, "-c", code, cwd=bundles.folder)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "[]"


def test_an_intact_case_bundle_is_complete(fresh: Path, bundles: Bundles) -> None:
    """The case bundle verifies under the verifier key and proves its completeness."""
    result = run(fresh, str(bundles.case), "--public-key", bundles.vkey, cwd=bundles.folder)
    assert result.returncode == 0, result.stdout + result.stderr
    n = bundles.case_records
    assert result.stdout.startswith(
        f"case bundle intact: {n} records, complete through sequence {n} as of checkpoint "
    ), result.stdout
    assert "(signed 2026-03-02T" in result.stdout


def test_an_intact_ledger_bundle_verifies_with_the_hex_key(fresh: Path, bundles: Bundles) -> None:
    """The ledger bundle verifies whole, the key given as 64 hex digits; --json says so."""
    result = run(fresh, str(bundles.ledger), "--public-key", bundles.public_hex, cwd=bundles.folder)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ledger intact: "), result.stdout
    assert "signed checkpoints verified" in result.stdout
    as_json = run(
        fresh, str(bundles.ledger), "--public-key", bundles.vkey, "--json", cwd=bundles.folder
    )
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["intact"] is True
    assert report["problems"] == []
    assert report["records"] == report["tree_size"] > bundles.case_records


def test_a_case_bundle_without_its_last_record_is_incomplete(fresh: Path, bundles: Bundles) -> None:
    """Cutting the newest record off leaves a bundle that verifies record by record but
    whose head proof names the missing records."""
    case = json.loads(bundles.case.read_text(encoding="utf-8"))
    last = case["records"].pop()
    path = bundles.write("cut.json", case)
    result = run(fresh, str(path), "--public-key", bundles.vkey, cwd=bundles.folder)
    assert result.returncode == 1, result.stdout + result.stderr
    n = last["sequence"]
    assert result.stdout.startswith("ledger NOT intact: "), result.stdout
    assert f"records after sequence {n - 1} are missing" in result.stdout
    assert f"is sequence {n}" in result.stdout


def test_a_flipped_payload_byte_in_a_ledger_bundle_is_caught(fresh: Path, bundles: Bundles) -> None:
    """One bit of one sealed payload changed: the record's leaf hash no longer matches."""
    ledger = json.loads(bundles.ledger.read_text(encoding="utf-8"))
    record = ledger["records"][3]
    payload = bytearray(base64.b64decode(record["payload"]))
    payload[len(payload) // 2] ^= 0x01
    record["payload"] = base64.b64encode(bytes(payload)).decode()
    path = bundles.write("flipped.json", ledger)
    result = run(fresh, str(path), "--public-key", bundles.vkey, cwd=bundles.folder)
    assert result.returncode == 1, result.stdout + result.stderr
    where = f"position {record['position']}, case {record['case_id']}#{record['sequence']}"
    assert result.stdout.startswith(f"ledger NOT intact: {where}: leaf hash does not match"), (
        result.stdout
    )


def test_another_key_is_refused(fresh: Path, bundles: Bundles) -> None:
    """A key that did not sign the checkpoint: not intact, whatever the bundle says."""
    result = run(fresh, str(bundles.case), "--public-key", "11" * 32, cwd=bundles.folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "checkpoint rejected" in result.stdout


def test_a_bundle_the_library_cannot_digest_is_not_intact(fresh: Path, bundles: Bundles) -> None:
    """A sequence no map entry can hold (negative: OverflowError in the entry hash) is
    reported as a malformed bundle, exit 1, never a traceback."""
    ledger = json.loads(bundles.ledger.read_text(encoding="utf-8"))
    ledger["records"][0]["sequence"] = -1
    path = bundles.write("negative.json", ledger)
    result = run(fresh, str(path), "--public-key", bundles.vkey, cwd=bundles.folder)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("ledger NOT intact: "), result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "key", "message"),
    [
        ("{not json", None, "not a readable bundle (JSONDecodeError)"),
        ("[1, 2]", None, "not a readable bundle (a JSON list)"),
        (None, None, "cannot be read"),
        ("{}", "abc", "--public-key must be a verifier key"),
        ("{}", "x+00000000+AQ==", "--public-key: "),
    ],
    ids=["not-json", "a-list", "missing", "short-hex", "bad-vkey"],
)
def test_unreadable_input_exits_2_without_a_traceback(
    fresh: Path, bundles: Bundles, content: str | None, key: str | None, message: str
) -> None:
    """A file that is no bundle, or a key that is no key: exit 2 and one clear line."""
    path = bundles.folder / "unreadable.json"
    path.unlink(missing_ok=True)
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run(fresh, str(path), "--public-key", key or bundles.vkey, cwd=bundles.folder)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_verification_imports_none_of_the_engine(fresh: Path, bundles: Bundles) -> None:
    """Inside the fresh environment, after verifying both bundles, sys.modules holds only
    the standard library, cryptography (and cffi) and the verification path."""
    code = f"""
import contextlib, io, json, sys
from phasedcare.ledger.standalone import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    codes = [main([{str(bundles.case)!r}, "--public-key", {bundles.vkey!r}]),
             main([{str(bundles.ledger)!r}, "--public-key", {bundles.vkey!r}])]
from phasedcare.ledger import RecordHeader  # the lazy package export stays light too
tops = sorted({{m.split(".")[0] for m in sys.modules}} - set(sys.stdlib_module_names))
ours = sorted(m for m in sys.modules if m.startswith("phasedcare"))
print(json.dumps({{"codes": codes, "tops": tops, "ours": ours}}))
"""
    result = run_python(fresh, "-c", code, cwd=bundles.folder)
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(result.stdout)
    assert found["codes"] == [0, 0]
    assert not set(found["tops"]) & set(FORBIDDEN), found["tops"]
    allowed = {"phasedcare", "cryptography", "_cffi_backend", "_openssl", "_distutils_hack"}
    assert set(found["tops"]) <= {*allowed, "__main__"}, found["tops"]
    path = {
        f"phasedcare.ledger.{m}"
        for m in (
            "authenticity",
            "bundle",
            "chain",
            "checkpoints",
            "heads",
            "merkle",
            "notes",
            "records",
            "sealing",
            "standalone",
            "verify",
        )
    }
    assert set(found["ours"]) == {"phasedcare", "phasedcare.ledger", *path}
