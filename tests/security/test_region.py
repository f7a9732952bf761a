"""One database, one region: the database and the key folder name the region they belong to.

An engine of IJsselland (the shipped default policy) and one of Twente (the same policy with
the region's ids changed) share neither: whichever opens a database or key folder first
stamps it with its region, and the other is refused with an error naming both, on SQLite and
on PostgreSQL. A database kept from before the stamp (migration 0009) is stamped by the
migration when its cases name one region, else by the first engine that opens it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from phasedcare.bootstrap import (
    CHECKPOINT_REGION_FILE,
    REGION_FILE,
    build,
    build_verifier,
    initialise,
    rotate_keys,
)
from phasedcare.cli.app import app
from phasedcare.config import Settings
from phasedcare.domain.policy import default_policy_text
from phasedcare.errors import StoreError
from phasedcare.store import SqlEventStore
from phasedcare.store.migrate import alembic_config, upgrade_database
from phasedcare.testing import actor_of

PHASEDCARE = str(Path(sys.executable).parent / "phasedcare")
VT = actor_of("vt-ijsselland", user="u-vt-01")
REFUSED = "belongs to region ijsselland, this policy is region twente"


def twente_policy() -> str:
    """The shipped policy as region Twente's (its organisations renamed with it)."""
    return default_policy_text().replace("ijsselland", "twente").replace("IJsselland", "Twente")


def twente_settings(home: Path, database_url: str, **overrides: Path) -> Settings:
    """A home of Twente's on ``database_url`` (its policy file written, nothing else)."""
    home.mkdir(mode=0o700)
    policy = home / "policy.yaml"
    policy.write_text(twente_policy(), encoding="utf-8")
    return Settings(home=home, database_url=database_url, policy_file=policy, **overrides)


def stamped_region(database_url: str) -> str | None:
    """The region the database names (read as the store does)."""
    store = SqlEventStore(database_url)
    try:
        return store.region()
    finally:
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file or a fresh PostgreSQL schema, migrated, stamped by nobody yet."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'region.db'}"
        upgrade_database(url)
        return url
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def ijsselland(tmp_path: Path, database_url: str) -> Settings:
    """IJsselland's home on the database, initialised: it stamped both."""
    settings = Settings(home=tmp_path / "ijsselland", database_url=database_url)
    initialise(settings)
    return settings


def test_init_stamps_the_database_and_the_key_folder(ijsselland: Settings) -> None:
    """The first region to open them names itself in both."""
    assert stamped_region(ijsselland.resolved_database_url) == "ijsselland"
    marker = ijsselland.resolved_key_folder / REGION_FILE
    assert marker.read_text(encoding="utf-8") == "ijsselland\n"


def test_another_regions_engine_refuses_the_database(ijsselland: Settings, tmp_path: Path) -> None:
    """Twente's init and build both refuse, naming both regions; no key is minted and the
    stamp stays."""
    twente = twente_settings(tmp_path / "twente", ijsselland.resolved_database_url)
    with pytest.raises(StoreError, match=REFUSED.replace("database ", "")) as refused:
        initialise(twente)
    assert refused.value.message.startswith("the database belongs to region ijsselland")
    assert not twente.resolved_key_folder.exists()  # refused before any key was made
    with pytest.raises(StoreError, match=REFUSED):
        build(twente)
    assert stamped_region(ijsselland.resolved_database_url) == "ijsselland"
    build(ijsselland).close()  # its own region still opens it


def test_another_regions_engine_refuses_the_key_folder(
    ijsselland: Settings, tmp_path: Path
) -> None:
    """Twente on a database of its own but IJsselland's keys: refused, the marker kept."""
    url = f"sqlite:///{tmp_path / 'twente.db'}"
    upgrade_database(url)
    folder = ijsselland.resolved_key_folder
    twente = twente_settings(tmp_path / "twente", url, key_folder=folder)
    for step in (initialise, build, rotate_keys):
        with pytest.raises(StoreError, match=f"key folder {folder} {REFUSED}"):
            step(twente)
    assert (folder / REGION_FILE).read_text(encoding="utf-8") == "ijsselland\n"
    assert stamped_region(url) is None  # refused before the database was opened


def test_the_cli_refuses_in_one_line_with_the_store_exit_code(
    ijsselland: Settings, tmp_path: Path
) -> None:
    """`phasedcare case list` from Twente's home: exit 7, one line naming both regions."""
    twente = twente_settings(tmp_path / "twente", ijsselland.resolved_database_url)
    env = {
        "PATH": str(Path(sys.executable).parent),
        "PHASEDCARE_HOME": str(twente.resolved_home),
        "PHASEDCARE_DATABASE_URL": ijsselland.resolved_database_url,
        "PHASEDCARE_ACTOR": "u-vt-01@vt-twente:professional",
    }
    result = subprocess.run(
        [PHASEDCARE, "case", "list"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 7, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: the database {REFUSED}")
    assert "Traceback" not in result.stderr


def _key_rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one())
    finally:
        engine.dispose()


def _keys_api(settings: Settings, *args: str) -> tuple[int, str]:
    """``phasedcare keys api ARGS`` as ``settings``' home runs it: exit code and stderr."""
    env = {
        "PHASEDCARE_HOME": str(settings.resolved_home),
        "PHASEDCARE_DATABASE_URL": settings.resolved_database_url,
        "PHASEDCARE_KEY_FOLDER": str(settings.resolved_key_folder),
        "PHASEDCARE_POLICY_FILE": str(settings.resolved_policy_file),
    }
    result = CliRunner().invoke(app, ["keys", "api", *args], env=env)
    return result.exit_code, result.stderr


KEYS_API_COMMANDS = [
    pytest.param(("create", "--actor", "u-rvdk-09@rvdk:professional"), id="create"),
    pytest.param(("list",), id="list"),
    pytest.param(("revoke", "0123456789abcdef"), id="revoke"),
]


@pytest.mark.parametrize("args", KEYS_API_COMMANDS)
def test_keys_api_refuses_another_regions_database(
    ijsselland: Settings, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Gap A2 of the issue 12 audit: Twente's config pointed at IJsselland's database. `keys
    api create` made a key there (rvdk is in both policies); now every `keys api` command is
    refused in one line with the store's exit code, and no key is written."""
    twente = twente_settings(tmp_path / "twente", ijsselland.resolved_database_url)
    code, err = _keys_api(twente, *args)
    assert (code, err.count("\n")) == (7, 1), err
    assert err.startswith(f"error: the database {REFUSED}")
    assert _key_rows(ijsselland.resolved_database_url) == 0


@pytest.mark.parametrize("args", KEYS_API_COMMANDS)
def test_keys_api_refuses_another_regions_key_folder(
    ijsselland: Settings, tmp_path: Path, args: tuple[str, ...]
) -> None:
    """Twente on a database of its own but with IJsselland's key folder: refused as build
    refuses it, before the database is opened (it stays unstamped)."""
    url = f"sqlite:///{tmp_path / 'twente.db'}"
    upgrade_database(url)
    folder = ijsselland.resolved_key_folder
    twente = twente_settings(tmp_path / "twente", url, key_folder=folder)
    code, err = _keys_api(twente, *args)
    assert (code, err.count("\n")) == (7, 1), err
    assert err.startswith(f"error: the key folder {folder} {REFUSED}")
    assert stamped_region(url) is None


def test_a_first_open_stamps_an_unstamped_database_with_the_openers_region(
    database_url: str, tmp_path: Path
) -> None:
    """An empty database from before the stamp: Twente opens it first and owns it."""
    twente = twente_settings(tmp_path / "twente", database_url)
    initialise(twente)
    assert stamped_region(database_url) == "twente"
    ijsselland = Settings(home=tmp_path / "ijsselland", database_url=database_url)
    with pytest.raises(StoreError, match="belongs to region twente, this policy is region ijss"):
        initialise(ijsselland)


def test_the_migration_stamps_the_region_the_cases_belong_to(
    database_url: str, tmp_path: Path
) -> None:
    """A database at 0008 holding IJsselland's cases: migrating stamps IJsselland, so Twente,
    though it opens it first, is refused; IJsselland's engine reads its case."""
    ijsselland = Settings(home=tmp_path / "ijsselland", database_url=database_url)
    initialise(ijsselland)
    engine = build(ijsselland)
    case_id = engine.open_case(actor=VT, via="melding", summary="Synthetische melding").case_id
    engine.close()
    _back_to_0008(database_url)
    upgrade_database(database_url)
    assert stamped_region(database_url) == "ijsselland"
    twente = twente_settings(tmp_path / "twente", database_url)
    with pytest.raises(StoreError, match=REFUSED):
        build(twente)
    engine = build(ijsselland)
    try:
        assert engine.show(case_id, actor=VT).case_id == case_id
    finally:
        engine.close()


def test_an_unmarked_key_folder_is_marked_by_its_first_opener(ijsselland: Settings) -> None:
    """A key folder from before the marker: the next engine to open it marks it."""
    marker = ijsselland.resolved_key_folder / REGION_FILE
    marker.unlink()
    build(ijsselland).close()
    assert marker.read_text(encoding="utf-8") == "ijsselland\n"


def test_init_stamps_the_checkpoint_folder(ijsselland: Settings) -> None:
    """Gap A7 of the issue 12 audit: the witness folder names its region too."""
    marker = ijsselland.resolved_checkpoint_folder / CHECKPOINT_REGION_FILE
    assert marker.read_text(encoding="utf-8") == "ijsselland\n"


def test_another_regions_engine_refuses_the_checkpoint_folder(
    ijsselland: Settings, tmp_path: Path
) -> None:
    """Twente with a database and keys of its own but IJsselland's checkpoint folder used to
    publish its notes there, and IJsselland's verify then failed on a note it never signed.
    Now Twente's init, build and verify are refused naming both regions, nothing of Twente's
    reaches the folder, and IJsselland's ledger still verifies."""
    engine = build(ijsselland)
    engine.open_case(actor=VT, via="melding", summary="Synthetische melding")
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    engine.close()
    folder = ijsselland.resolved_checkpoint_folder
    notes = sorted(folder.iterdir())
    url = f"sqlite:///{tmp_path / 'twente.db'}"
    twente = twente_settings(tmp_path / "twente", url, checkpoint_folder=folder)
    for step in (initialise, build, build_verifier):
        with pytest.raises(StoreError, match=f"checkpoint folder {folder} {REFUSED}"):
            step(twente)
    assert sorted(folder.iterdir()) == notes
    verifier = build_verifier(ijsselland)
    try:
        report = verifier.verify()
    finally:
        verifier.close()
    assert report.intact, report.problems


def test_an_unmarked_checkpoint_folder_is_marked_by_its_first_opener(
    ijsselland: Settings,
) -> None:
    """A checkpoint folder from before the marker: the next engine marks it; verify, which
    writes nothing, leaves an unmarked one as it is."""
    marker = ijsselland.resolved_checkpoint_folder / CHECKPOINT_REGION_FILE
    marker.unlink()
    build_verifier(ijsselland).close()
    assert not marker.exists()
    build(ijsselland).close()
    assert marker.read_text(encoding="utf-8") == "ijsselland\n"


def _back_to_0008(database_url: str) -> None:
    """Downgrade the schema to 0008: the stamp and its table gone, the data kept."""
    command.downgrade(alembic_config(database_url), "0008")
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0008"
    finally:
        engine.dispose()
