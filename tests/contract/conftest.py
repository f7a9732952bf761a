"""Fixtures of the contract suite: databases that exist but were never migrated.

The migrated ones (``sqlite_url``, ``postgres_url``) come from ``tests/databases.py``.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

# the suites' failures show both sides, like a test's
pytest.register_assert_rewrite("store_contract", "notification_contract", "credential_contract")

SKIP_POSTGRES = "PHASEDCARE_TEST_POSTGRES_URL is unset: PostgreSQL contract tests skipped"


@pytest.fixture
def blank_sqlite_url(tmp_path: Path) -> str:
    """The URL of an existing, empty SQLite file."""
    path = tmp_path / "blank.db"
    sqlite3.connect(path).close()
    return f"sqlite:///{path}"


@pytest.fixture
def blank_postgres_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema, dropped afterwards."""
    base = os.environ.get("PHASEDCARE_TEST_POSTGRES_URL", "")
    if not base:
        pytest.skip(SKIP_POSTGRES)
    schema = f"blank_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
