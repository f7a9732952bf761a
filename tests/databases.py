"""Database fixtures: a fresh migrated SQLite file, or a fresh migrated PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from phasedcare.store.migrate import upgrade_database

POSTGRES_URL = os.environ.get("PHASEDCARE_TEST_POSTGRES_URL", "")
AMSTERDAM = "Europe/Amsterdam"
"""The session time zone every PostgreSQL test database is given (not UTC, on purpose)."""


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The URL of a migrated SQLite database in a temporary folder."""
    url = f"sqlite:///{tmp_path / 'contract.db'}"
    upgrade_database(url)
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a migrated, empty PostgreSQL schema, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("PHASEDCARE_TEST_POSTGRES_URL is unset: PostgreSQL contract tests skipped")
    schema = f"contract_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    # A Dutch server's zone: the store must pin its sessions to UTC, whatever this says.
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}%20-ctimezone%3D{AMSTERDAM}"
    try:
        upgrade_database(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
