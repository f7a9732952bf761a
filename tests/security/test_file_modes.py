"""L7: the database, its -wal and -shm, and Prefect's database are private wherever they are.

Files are created 0600 and the folders made for them 0700, inside the home or outside it; the
modes are read with stat while an engine holds the database open (when SQLite's -wal and -shm
exist) and after `phasedcare init` and a real embedded Prefect run.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from phasedcare.bootstrap import build
from phasedcare.cli.app import app
from phasedcare.config import load_settings
from phasedcare.store.sqlite_files import private_sqlite_file, sqlite_file
from phasedcare.testing import actor_of

PUBLIC = {"checkpoint.pub"}
"""Files meant to be read by anyone: the checkpoint verifier key."""


def mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    """Run under the common umask 022, which alone would make files 0644 and folders 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def init(home: Path) -> None:
    """`phasedcare init` for ``home`` (and the database URL of the environment)."""
    result = CliRunner().invoke(app, ["init", "--home", str(home)])
    assert result.exit_code == 0, result.stderr


def database_files_while_open(home: Path) -> dict[str, int]:
    """Open a case through the engine and, with the database still open, stat its files."""
    settings = load_settings(home=home)
    database = sqlite_file(settings.resolved_database_url)
    assert database is not None
    engine = build(settings)
    try:
        engine.open_case(actor=actor_of("vt-ijsselland"), via="melding", summary="synthetic")
        return {p.name: mode(p) for p in database.parent.glob(database.name + "*")}
    finally:
        engine.close()


def test_the_home_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    """init creates phasedcare.db 0600; SQLite's -wal and -shm made later get 0600 too."""
    home = tmp_path / "home"
    init(home)
    assert mode(home / "phasedcare.db") == 0o600
    assert database_files_while_open(home) == {
        "phasedcare.db": 0o600,
        "phasedcare.db-wal": 0o600,
        "phasedcare.db-shm": 0o600,
    }


def test_a_database_outside_the_home_is_0600_in_0700_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An absolute database_url in a 0755 folder: the file 0600, the folders made for it 0700."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    database = shared / "deeper" / "still" / "pc.db"
    monkeypatch.setenv("PHASEDCARE_DATABASE_URL", f"sqlite:///{database}")
    home = tmp_path / "home"
    init(home)
    assert mode(shared) == 0o755  # a folder that existed is not changed
    assert (mode(shared / "deeper"), mode(database.parent)) == (0o700, 0o700)
    assert database_files_while_open(home) == {
        "pc.db": 0o600,
        "pc.db-wal": 0o600,
        "pc.db-shm": 0o600,
    }


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("file:{path}?uri=true", id="file:/path"),
        pytest.param("file://{path}?uri=true", id="file:///path"),
        pytest.param("file://localhost{path}?uri=true", id="file://localhost/path"),
        pytest.param("file:{quoted}?uri=true&cache=private", id="with another parameter"),
    ],
)
def test_a_file_uri_database_is_0600_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    """Gap A9 of the issue 12 audit: sqlite:///file:/...?uri=true was created 0644, since the
    file of a file: URI was never worked out. Now it is: 0600, -wal and -shm too."""
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    database = shared / "pc db.db"
    quoted = str(database).replace(" ", "%20")
    url = "sqlite:///" + spelling.format(path=str(database).replace(" ", "%20"), quoted=quoted)
    monkeypatch.setenv("PHASEDCARE_DATABASE_URL", url)
    init(tmp_path / "home")
    assert mode(database) == 0o600
    assert sqlite_file(url) == database
    assert database_files_while_open(tmp_path / "home") == {
        "pc db.db": 0o600,
        "pc db.db-wal": 0o600,
        "pc db.db-shm": 0o600,
    }


def test_init_takes_others_access_off_an_older_database(tmp_path: Path) -> None:
    """A database an older release left 0644 is 0600 after the next init, and stays so."""
    home = tmp_path / "home"
    init(home)
    os.chmod(home / "phasedcare.db", 0o644)
    init(home)
    assert mode(home / "phasedcare.db") == 0o600
    assert set(database_files_while_open(home).values()) == {0o600}


def test_no_sqlite_file_is_made_for_other_databases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL, memory and file: URIs name no file here: nothing is created."""
    monkeypatch.chdir(tmp_path)
    for url in (
        "postgresql+psycopg://u@127.0.0.1/db",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:x.db?mode=memory&uri=true",
        "sqlite:///file::memory:?cache=shared&uri=true",
        "sqlite:///file:x.db?vfs=memdb&uri=true",
    ):
        assert private_sqlite_file(url) is None
    assert list(tmp_path.iterdir()) == []


def test_prefect_database_and_every_file_of_the_home_are_private(tmp_path: Path) -> None:
    """After init, a case and one embedded Prefect run, every file of the home is 0600 and
    every folder 0700, Prefect's prefect.db, -wal and -shm included (checkpoint.pub and the
    checkpoint notes, public by design, excepted)."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PHASEDCARE_"))}
    env |= {"PHASEDCARE_HOME": str(home), "PHASEDCARE_ACTOR": "u-vt-01@vt-ijsselland:professional"}
    phasedcare = str(Path(sys.executable).parent / "phasedcare")
    for args in (["init"], ["case", "open", "--summary", "synthetic"], ["flows", "run", "--once"]):
        done = subprocess.run([phasedcare, *args], env=env, capture_output=True, check=False)
        assert done.returncode == 0, done.stderr
    assert mode(home / "prefect") == 0o700
    assert mode(home / "prefect" / "prefect.db") == 0o600
    files = {p: mode(p) for p in home.rglob("*")}
    open_to_others = {
        str(p.relative_to(home)): oct(m)
        for p, m in files.items()
        if m & 0o077
        and p.name not in PUBLIC
        and not (p.parent.name == "checkpoints" and p.suffix == ".note")
    }
    assert open_to_others == {}
    assert {oct(m) for p, m in files.items() if p.is_dir()} == {"0o700"}
