"""Shared fixtures; the environment is fixed here before anything imports Prefect."""

from __future__ import annotations

import os
import shutil
import tempfile

# Prefect creates $PREFECT_HOME on import: point it at a throwaway folder first, unless the
# caller named one; the session removes the throwaway folder when it ends (pytest_unconfigure).
os.environ["PHASEDCARE_TEST_THROWAWAY_PREFECT_HOME"] = (
    "" if "PREFECT_HOME" in os.environ else tempfile.mkdtemp(prefix="phasedcare-prefect-")
)
os.environ.setdefault("PREFECT_HOME", os.environ["PHASEDCARE_TEST_THROWAWAY_PREFECT_HOME"])
os.environ.pop("PHASEDCARE_ACTOR", None)

from collections.abc import Iterator

import pytest
import structlog
from hypothesis import HealthCheck, settings

from phasedcare.domain.actors import Actor, Role
from phasedcare.service.engine import Engine
from phasedcare.service.jobs import Jobs
from phasedcare.service.webhooks import WebhookSender
from phasedcare.testing import ManualClock, actor_of, memory_engine
from support import Journey

pytest_plugins = ["databases", "harness"]

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("soak", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the throwaway PREFECT_HOME made above (every test has stopped its Prefect)."""
    throwaway = os.environ.pop("PHASEDCARE_TEST_THROWAWAY_PREFECT_HOME", "")
    if throwaway:
        shutil.rmtree(throwaway, ignore_errors=True)


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """Each test starts with structlog's defaults (the CLI configures it globally)."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def clock() -> ManualClock:
    """A clock on Monday 2 March 2026, 09:00 UTC, moved only by hand."""
    return ManualClock.starting("2026-03-02T09:00:00+00:00")


@pytest.fixture
def engine(clock: ManualClock) -> Iterator[Engine]:
    """An engine over the in-memory store with the default policy (closed afterwards)."""
    engine = memory_engine(clock=clock)
    yield engine
    engine.close()


@pytest.fixture
def jobs(engine: Engine, clock: ManualClock) -> Iterator[Jobs]:
    """The sweeps and the outbox drain, on the test's clock."""
    sweeps = Jobs(engine=engine, sender=WebhookSender(), clock=clock)
    yield sweeps
    sweeps.close()


@pytest.fixture
def vt() -> Actor:
    """A Veilig Thuis professional."""
    return actor_of("vt-ijsselland", user="u-vt-01")


@pytest.fixture
def wijkteam() -> Actor:
    """A professional of the Zwolle wijkteam."""
    return actor_of("wijkteam-zwolle", user="u-wt-01")


@pytest.fixture
def auditor() -> Actor:
    """An auditor of Veilig Thuis (reads, never changes)."""
    return actor_of("vt-ijsselland", user="u-audit-01", role=Role.auditor)


@pytest.fixture
def journey(engine: Engine, clock: ManualClock, vt: Actor, wijkteam: Actor) -> Journey:
    """Steps that take a fresh case to any point of its journey."""
    return Journey(engine, clock, vt, wijkteam)
