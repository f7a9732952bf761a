"""An outside witness over HTTP: two homes, the operator's served on loopback, the witness's
state folder beside it. The witness keeps and cosigns checkpoints while the tree grows; the
operator then restores an earlier copy of its database and checkpoints folder, which its own
`audit verify` cannot see, and the witness's pull and `audit verify --witness` both catch
(on SQLite, and on PostgreSQL, whose schema is copied and put back table by table)."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import Connection, create_engine, text
from typer.testing import CliRunner

from phasedcare.api import create_app
from phasedcare.bootstrap import build, build_authenticator, initialise
from phasedcare.cli.app import app
from phasedcare.config import Settings
from phasedcare.domain.actors import Actor
from phasedcare.ledger.keys import CheckpointKey
from phasedcare.ledger.notes import (
    COSIGNATURE_ED25519,
    cosignatures,
    open_checkpoint,
    parse_verifier_key,
    verifier_key,
)
from phasedcare.service.api_keys import ApiKeys
from phasedcare.service.engine import Engine, utc_now

VT = Actor.parse("u-vt-01@vt-ijsselland:professional")
INSPECTIE = Actor.parse("u-inspectie-01@vt-ijsselland:auditor")
WITNESS_NAME = "inspectie.example/witness"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cli(*args: str, code: int = 0) -> str:
    """Run the CLI in-process; assert its exit code; return stdout."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout


def _tables(conn: Connection) -> tuple[str, list[str]]:
    """The connection's schema and its tables."""
    schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
    query = text(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = :schema AND table_type = 'BASE TABLE' ORDER BY table_name"
    )
    return schema, [str(name) for name in conn.execute(query, {"schema": schema}).scalars()]


def _copy_schema(url: str, backup: str) -> None:
    """A copy of every table of the URL's PostgreSQL schema into the schema ``backup``."""
    engine = create_engine(url)
    with engine.begin() as conn:
        schema, tables = _tables(conn)
        conn.execute(text(f'CREATE SCHEMA "{backup}"'))
        for table in tables:
            conn.execute(text(f'CREATE TABLE "{backup}"."{table}" AS TABLE "{schema}"."{table}"'))
    engine.dispose()


def _put_schema_back(url: str, backup: str) -> None:
    """Every table of the URL's schema emptied and filled from ``backup`` (a restore)."""
    engine = create_engine(url)
    with engine.begin() as conn:
        schema, tables = _tables(conn)
        conn.execute(text("TRUNCATE " + ", ".join(f'"{schema}"."{t}"' for t in tables)))
        for table in tables:
            conn.execute(
                text(
                    f'INSERT INTO "{schema}"."{table}" OVERRIDING SYSTEM VALUE '
                    f'SELECT * FROM "{backup}"."{table}"'
                )
            )
        conn.execute(text(f'DROP SCHEMA "{backup}" CASCADE'))
    engine.dispose()


@dataclass
class Operator:
    """The operator's home, its engine and its API served by uvicorn in a thread; its
    database is SQLite in the home unless ``database_url`` names a PostgreSQL schema."""

    home: Path
    database_url: str | None = None
    engine: Engine | None = None
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return Settings(
            home=self.home, database_url=self.database_url, checkpoint_interval_seconds=3600
        )

    def start(self) -> None:
        settings = self.settings
        self.engine = build(settings)
        application = create_app(
            self.engine, authenticate=build_authenticator(settings, self.engine)
        )
        port = _free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        assert self.server is not None
        assert self.thread is not None
        assert self.engine is not None
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.engine.close()
        self.engine = self.server = self.thread = None

    def grow(self, cases: int) -> int:
        """Open ``cases`` cases, sign a checkpoint now; its size."""
        assert self.engine is not None
        assert self.engine.auditor is not None
        for _ in range(cases):
            self.engine.open_case(actor=VT, via="melding")
        checkpoint = self.engine.auditor.checkpoint()
        assert checkpoint is not None
        return checkpoint.size

    def records(self) -> int:
        engine = create_engine(self.settings.resolved_database_url)
        with engine.connect() as conn:
            count = int(conn.execute(text("select count(*) from event_records")).scalar_one())
        engine.dispose()
        return count

    @property
    def _backup_schema(self) -> str:
        return f"backup_{self.home.parent.name[-40:]}".lower().replace("-", "_")

    def snapshot(self, into: Path) -> None:
        """A consistent copy of the database and the checkpoints folder, as a backup holds."""
        into.mkdir()
        if self.database_url is not None:
            _copy_schema(self.database_url, self._backup_schema)
        else:
            with (
                sqlite3.connect(self.home / "phasedcare.db") as source,
                sqlite3.connect(into / "phasedcare.db") as copy,
            ):
                source.backup(copy)
        shutil.copytree(self.home / "checkpoints", into / "checkpoints")

    def restore(self, copy: Path) -> None:
        """Put the earlier copy back (the operator's rollback): database and checkpoints."""
        if self.database_url is not None:
            _put_schema_back(self.database_url, self._backup_schema)
        else:
            for path in self.home.glob("phasedcare.db*"):
                path.unlink()
            shutil.copy(copy / "phasedcare.db", self.home / "phasedcare.db")
        shutil.rmtree(self.home / "checkpoints")
        shutil.copytree(copy / "checkpoints", self.home / "checkpoints")


@pytest.fixture
def operator(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Operator]:
    """An initialised operator home with an inspectie auditor's and a professional's API key,
    served on a loopback port; on SQLite, or on PostgreSQL when the test asks for it (the
    CLI then finds the database through PHASEDCARE_DATABASE_URL)."""
    database_url = None
    if getattr(request, "param", "sqlite") == "postgres":
        database_url = str(request.getfixturevalue("postgres_url"))
        monkeypatch.setenv("PHASEDCARE_DATABASE_URL", database_url)
    op = Operator(home=tmp_path / "operator", database_url=database_url)
    initialise(op.settings)
    op.start()
    assert op.engine is not None
    keys = ApiKeys(store=op.engine.store, policy=op.engine.policy, clock=utc_now)
    op.tokens = {"auditor": keys.create(INSPECTIE)[1], "professional": keys.create(VT)[1]}
    yield op
    if op.server is not None:
        op.stop()


def _vkey(home: Path) -> str:
    """The operator's verifier key, the last field `audit public-key` prints."""
    origin, hex_key, vkey = cli("audit", "public-key", "--home", str(home)).split()
    assert parse_verifier_key(vkey) == (origin, bytes.fromhex(hex_key))
    return vkey


def _pull(op: Operator, state: Path, vkey: str, *, code: int = 0) -> str:
    return cli(
        "witness", "pull", "--state", str(state), "--url", op.url, "--vkey", vkey,
        "--api-key", op.tokens["auditor"], code=code,
    )  # fmt: skip


def _witness(tmp_path: Path) -> tuple[Path, str]:
    state = tmp_path / "witness"
    out = cli("witness", "init", "--state", str(state), "--name", WITNESS_NAME)
    wkey = out.strip().splitlines()[-1]
    assert parse_verifier_key(wkey, kind=COSIGNATURE_ED25519)[0] == WITNESS_NAME
    assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "witness.key").stat().st_mode & 0o777 == 0o600
    return state, wkey


def _log_folder(state: Path) -> Path:
    (folder,) = (state / "logs").iterdir()
    return folder


def test_the_routes_serve_checkpoint_key_and_proof_to_auditors_only(operator: Operator) -> None:
    """Plain text in the C2SP formats; a professional is refused; a bad size is a problem."""
    first = operator.grow(2)
    second = operator.grow(3)
    auth = {"Authorization": f"Bearer {operator.tokens['auditor']}"}
    vkey = _vkey(operator.home)
    key = httpx.get(f"{operator.url}/ledger/verifier-key", headers=auth)
    assert (key.status_code, key.text) == (200, vkey + "\n")
    note = httpx.get(f"{operator.url}/ledger/checkpoint", headers=auth)
    assert note.headers["content-type"] == "text/plain; charset=utf-8"
    assert open_checkpoint(note.text, vkey).size == second
    proof = httpx.get(f"{operator.url}/ledger/consistency?from={first}&to={second}", headers=auth)
    assert proof.status_code == 200
    assert len(proof.text.splitlines()) >= 1
    assert all(len(line) == 44 for line in proof.text.splitlines())
    professional = {"Authorization": f"Bearer {operator.tokens['professional']}"}
    refused = httpx.get(f"{operator.url}/ledger/checkpoint", headers=professional)
    assert refused.status_code == 403
    assert httpx.get(f"{operator.url}/ledger/checkpoint").status_code == 401
    unsigned = first + 1  # the first commit is signed at once, then at most each interval
    unknown = f"{operator.url}/ledger/consistency?from={unsigned}&to={second}"
    answer = httpx.get(unknown, headers=auth)
    assert (answer.status_code, answer.json()["detail"]) == (
        404,
        f"no signed checkpoint of size {unsigned}",
    )
    for query in ("from=x&to=2", "from=0&to=2", f"from=1&to={2**63}"):
        bad = httpx.get(f"{operator.url}/ledger/consistency?{query}", headers=auth)
        assert bad.status_code == 422, query
    backwards = f"{operator.url}/ledger/consistency?from={second}&to={first}"
    assert httpx.get(backwards, headers=auth).status_code == 400


def test_a_witness_keeps_and_cosigns_a_growing_ledger(operator: Operator, tmp_path: Path) -> None:
    """Two pulls with growth between: both kept whole and cosigned, the second proven to extend
    the first; a pull without growth changes nothing; pulls add no record to the ledger."""
    state, wkey = _witness(tmp_path)
    vkey = _vkey(operator.home)
    first = operator.grow(2)
    assert f"kept and cosigned the checkpoint of {first} records" in _pull(operator, state, vkey)
    second = operator.grow(3)
    assert second > first
    out = _pull(operator, state, vkey)
    assert f"of {second} records (grown from {first}, consistency proven)" in out
    records = operator.records()
    assert f"unchanged: the tree of {second} records" in _pull(operator, state, vkey)
    assert operator.records() == records  # serving witnesses writes nothing

    folder = _log_folder(state)
    held = sorted(p.name for p in folder.glob("checkpoint-*.note"))
    assert held == [f"checkpoint-{first:020d}.note", f"checkpoint-{second:020d}.note"]
    for size in (first, second):
        cosigned = (folder / f"cosigned-{size:020d}.note").read_text(encoding="utf-8")
        operator_note = (folder / f"checkpoint-{size:020d}.note").read_text(encoding="utf-8")
        assert cosigned.startswith(operator_note)
        assert open_checkpoint(cosigned, vkey).size == size
        assert len(cosignatures(cosigned, wkey)) == 1
    status = json.loads(cli("witness", "status", "--state", str(state), "--json"))
    assert status["vkey"] == wkey
    assert [
        (log["size"], log["checkpoints"], log["cosigned"], log["evidence"])
        for log in status["logs"]
    ] == [(second, 2, True, [])]
    assert "ledger intact" in cli(
        "audit", "verify", "--home", str(operator.home), "--witness", str(state)
    )


@pytest.mark.parametrize(
    "operator", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_rolled_back_operator_is_caught_by_the_witness_and_by_verify(
    operator: Operator, tmp_path: Path
) -> None:
    """The operator restores an earlier copy of its database and checkpoints folder behind a
    checkpoint the witness holds: its own verify passes, the witness's pull exits 1 naming
    both sizes and keeps both notes, and `audit verify --witness` fails."""
    state, _ = _witness(tmp_path)
    vkey = _vkey(operator.home)
    earlier = operator.grow(2)
    _pull(operator, state, vkey)
    operator.snapshot(tmp_path / "backup")
    later = operator.grow(4)
    _pull(operator, state, vkey)
    operator.stop()
    operator.restore(tmp_path / "backup")
    operator.start()

    home = str(operator.home)
    assert f"ledger intact: {earlier} records" in cli("audit", "verify", "--home", home)
    out = _pull(operator, state, vkey, code=1)
    assert out.startswith(
        f"ROLLBACK: the witness holds a checkpoint of {later} records, but was served one of {earlier}"
    )
    assert f"held:\n  phasedcare/ijsselland\n  {later}\n" in out
    assert f"served:\n  phasedcare/ijsselland\n  {earlier}\n" in out
    (evidence,) = (_log_folder(state) / "evidence").iterdir()
    assert evidence.name.endswith("-rollback")
    assert open_checkpoint((evidence / "held.note").read_text(encoding="utf-8"), vkey).size == later
    served = (evidence / "served.note").read_text(encoding="utf-8")
    assert open_checkpoint(served, vkey).size == earlier
    assert not (_log_folder(state) / f"cosigned-{earlier + 1:020d}.note").exists()

    result = CliRunner().invoke(app, ["audit", "verify", "--home", home, "--witness", str(state)])
    assert result.exit_code == 1
    assert result.stdout.startswith("ledger NOT intact: ")
    assert f"checkpoint of {later} records, but the tree holds {earlier}" in result.stdout

    regrown = operator.grow(later)  # past the held size, on the rolled-back tree: a fork
    assert regrown > later
    out = _pull(operator, state, vkey, code=1)
    assert out.startswith(
        f"UNPROVEN: the witness holds a checkpoint of {later} records; the operator served one "
        f"of {regrown} but gives no consistency proof"
    )
    status = json.loads(cli("witness", "status", "--state", str(state), "--json"))
    assert [(log["size"], len(log["evidence"])) for log in status["logs"]] == [(later, 2)]


def test_the_witness_refuses_another_key_and_reports_errors_clearly(
    operator: Operator, tmp_path: Path
) -> None:
    """A checkpoint not signed by the given key keeps nothing (exit 5); a professional's key
    is refused (exit 3); a malformed vkey is bad input (exit 2); no server is exit 7."""
    state, _ = _witness(tmp_path)
    operator.grow(1)
    other = _witness(tmp_path / "other")[1]  # a cosigner's key (type 0x04), not the operator's
    result = CliRunner().invoke(
        app,
        ["witness", "pull", "--state", str(state), "--url", operator.url, "--vkey", other],
    )
    assert result.exit_code == 2
    assert "but an Ed25519 note key is expected" in result.stderr
    name, _ = parse_verifier_key(_vkey(operator.home))
    stranger = verifier_key(name, CheckpointKey.generate().public)  # same name, another key
    result = CliRunner().invoke(
        app,
        ["witness", "pull", "--state", str(state), "--url", operator.url, "--vkey", stranger,
         "--api-key", operator.tokens["auditor"]],
    )  # fmt: skip
    assert result.exit_code == 5, (result.stdout, result.stderr)
    assert "the served checkpoint is refused: the note carries no signature of" in result.stderr
    assert not (state / "logs").exists()  # nothing kept, no key pinned
    result = CliRunner().invoke(
        app,
        ["witness", "pull", "--state", str(state), "--url", operator.url, "--vkey",
         _vkey(operator.home), "--api-key", operator.tokens["professional"]],
    )  # fmt: skip
    assert result.exit_code == 3
    assert "the operator refuses the API key (403" in result.stderr
    result = CliRunner().invoke(
        app,
        ["witness", "pull", "--state", str(state), "--url", f"http://127.0.0.1:{_free_port()}",
         "--vkey", _vkey(operator.home)],
    )  # fmt: skip
    assert result.exit_code == 7
    assert "does not answer" in result.stderr
