"""Helpers the bench scripts share: timers, tables, fresh databases, engines and eventsourcing.

The scripts run as ``.venv/bin/python bench/<name>.py``, which puts ``bench/`` on the path,
so they import these with ``from _common import ...``. The functions below are a stable
surface for every script in ``bench/``: add to them, do not change what they return.

- timing: :func:`best` (fastest of N), :func:`best_each` (several arms, interleaved),
  :func:`timed` (one call), :func:`summary` (median and fastest);
- printing: :func:`print_table`, :func:`ratio`;
- databases: :func:`postgres_base_url` (the test variable), :func:`fresh_postgres_schema`
  (an empty schema dropped afterwards), :func:`sqlite_connection` (a raw connection with the
  store's durability settings);
- phasedcare: :func:`phasedcare_engine` (an initialised home, optionally on another database);
- data: :data:`CONDITION` (a case's safety condition), :data:`EVIDENCE` and :data:`CHECK` (a
  condition check, for phasedcare and for eventsourcing);
- eventsourcing: :func:`eventsourcing_sqlite_env`, :func:`eventsourcing_postgres_env`,
  :func:`eventsourcing_app` and :func:`household_type` (an aggregate whose ``check`` event is
  comparable with phasedcare's ``SafetyConditionStatusRecorded``).

Heavy libraries are imported inside the functions that need them, so a script pays only
for what it uses.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phasedcare.service.engine import Engine

POSTGRES_VARIABLE = "PHASEDCARE_TEST_POSTGRES_URL"
"""The environment variable naming the PostgreSQL server the tests and benches use."""

EVIDENCE = "Checked at a home visit (synthetic)."
"""The free text of every comparable condition check (synthetic)."""

CHECK = ("c1", "met", "2026-03-02", EVIDENCE)
"""The arguments of ``Household.check``: condition id, status, observed on, evidence."""

CONDITION = {
    "statement": "No violence (synthetic)",
    "owner": "wijkteam-zwolle",
    "check_every_days": 7,
}
"""The safety condition ``c1`` of every bench case: ``add_safety_condition(..., **CONDITION)``."""


# -- timing -------------------------------------------------------------------------------


def best(run: Callable[[], Any], *, repeat: int = 5) -> float:
    """The fastest of ``repeat`` timings of ``run()``, in seconds (the least disturbed by noise)."""
    return min(timed(run) for _ in range(repeat))


def best_each(runs: Mapping[str, Callable[[], Any]], *, repeat: int = 5) -> dict[str, float]:
    """The fastest of ``repeat`` timings of each run, in seconds, taken in interleaved rounds.

    Each round times every run once, in the given order, so a slow spell of a shared
    machine hits every arm instead of one.
    """
    timings: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            timings[name].append(timed(run))
    return {name: min(seconds) for name, seconds in timings.items()}


def timed(run: Callable[[], Any]) -> float:
    """Seconds one call of ``run`` takes."""
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def summary(seconds: list[float]) -> str:
    """``median [fastest]`` in milliseconds."""
    return f"{statistics.median(seconds) * 1e3:9.1f} ms [{min(seconds) * 1e3:7.1f}]"


# -- printing -----------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> str:
    """``x1.23``: how many times ``denominator`` the ``numerator`` is."""
    return f"x{numerator / denominator:.2f}" if denominator else "x-"


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows under a header: the first column left-aligned, the others right-aligned.

    Integers get thousands separators, floats one decimal (two below 10); strings are printed
    as they are.
    """
    cells = [list(header)] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        first, *rest = row
        aligned = [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        print("  ".join([first.ljust(widths[0]), *aligned]))


def _cell(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


# -- databases ----------------------------------------------------------------------------


def postgres_base_url() -> str | None:
    """The PostgreSQL URL of ``PHASEDCARE_TEST_POSTGRES_URL``, or None when it is unset."""
    return os.environ.get(POSTGRES_VARIABLE) or None


@dataclass(frozen=True)
class PostgresSchema:
    """A schema of its own on the test server, and the ways to reach it.

    Attributes:
        name: the schema's name.
        url: a SQLAlchemy URL (``postgresql+psycopg://...``) whose search path is the schema.
        conninfo: the same for ``psycopg.connect`` (``postgresql://...``).
        server: the server's URL without the schema (for eventsourcing's settings).
    """

    name: str
    url: str
    conninfo: str
    server: str


@contextmanager
def fresh_postgres_schema(base_url: str, *, prefix: str = "bench") -> Iterator[PostgresSchema]:
    """An empty schema on the server of ``base_url``, dropped with everything in it afterwards.

    Nothing is migrated: ``phasedcare_engine`` (``initialise``) migrates it for phasedcare;
    eventsourcing creates its own tables.
    """
    from sqlalchemy import create_engine, make_url, text  # noqa: PLC0415 - only with PostgreSQL

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={name}"})
    try:
        yield PostgresSchema(
            name=name,
            url=url.render_as_string(hide_password=False),
            conninfo=url.set(drivername="postgresql").render_as_string(hide_password=False),
            server=base_url,
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def sqlite_connection(path: Path) -> sqlite3.Connection:
    """A raw connection with the durability of phasedcare's store: WAL, ``synchronous=FULL``.

    Autocommit mode (``isolation_level=None``): the caller writes ``BEGIN`` and ``COMMIT``.
    """
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    return connection


# -- phasedcare ---------------------------------------------------------------------------


def phasedcare_engine(
    home: Path, *, database_url: str | None = None, clock: Callable[[], datetime] | None = None
) -> Engine:
    """An engine over a new, initialised home (SQLite in it unless ``database_url`` is given).

    Logging is configured as in production (JSON, level warning: one line per refusal only).
    """
    from phasedcare.bootstrap import build, initialise  # noqa: PLC0415 - a script's choice
    from phasedcare.config import Settings  # noqa: PLC0415

    settings = Settings(home=home, database_url=database_url)
    initialise(settings)
    if clock is None:
        return build(settings, configure_logs=True)
    return build(settings, clock=clock, configure_logs=True)


# -- eventsourcing ------------------------------------------------------------------------


def _cipher_env() -> dict[str, str]:
    """eventsourcing's AES-256-GCM cipher with a new key."""
    from eventsourcing.cryptography import AESCipher  # noqa: PLC0415 - optional, bench only

    return {
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(num_bytes=32),
    }


def eventsourcing_sqlite_env(path: Path) -> dict[str, str]:
    """Settings for eventsourcing on the SQLite file ``path`` (WAL, SQLite's default
    ``synchronous=FULL``), with its AES cipher on."""
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        **_cipher_env(),
    }


def eventsourcing_postgres_env(schema: PostgresSchema) -> dict[str, str]:
    """Settings for eventsourcing's PostgreSQL persistence (psycopg) in ``schema``, cipher on."""
    from sqlalchemy import make_url  # noqa: PLC0415 - only with PostgreSQL

    server = make_url(schema.server)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": server.database or "postgres",
        "POSTGRES_HOST": server.host or "127.0.0.1",
        "POSTGRES_PORT": str(server.port or 5432),
        "POSTGRES_USER": server.username or "postgres",
        "POSTGRES_PASSWORD": server.password or "",
        "POSTGRES_SCHEMA": schema.name,
        **_cipher_env(),
    }


def eventsourcing_app(env: Mapping[str, str]) -> Any:
    """An ``eventsourcing`` application (``Households``) over ``env``; it creates its tables."""
    from eventsourcing.application import Application  # noqa: PLC0415 - optional, bench only

    class Households(Application):  # type: ignore[type-arg]
        """The peer's application: aggregates saved and loaded through its repository."""

    return Households(env=dict(env))


@functools.cache
def household_type() -> type[Any]:
    """The peer's aggregate: ``Household()`` is created; ``check(*CHECK)`` records a check.

    One class per process (cached), since eventsourcing finds event classes by their topic.
    """
    from eventsourcing.domain import Aggregate, event  # noqa: PLC0415 - optional, bench only

    class Household(Aggregate):
        """A household whose condition checks are events, like phasedcare's."""

        @event("ConditionChecked")
        def check(self, condition_id: str, status: str, observed_on: str, evidence: str) -> None:
            """Record a check of a safety condition."""
            self.last = (condition_id, status, observed_on, evidence)

    return Household
