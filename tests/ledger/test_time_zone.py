"""One canonical time: the ledger's hashes never depend on a driver's or a server's zone.

PostgreSQL hands ``timestamptz`` back in the session's zone; a Dutch server's default is
Europe/Amsterdam (+01:00 in winter, +02:00 in summer). Records are hashed with their time in
UTC, and the store pins its sessions to UTC, so a ledger written and read under that zone
opens and verifies in a fresh process, around midnight and across the DST change too.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from databases import AMSTERDAM
from phasedcare.bootstrap import build, build_verifier, initialise
from phasedcare.config import Settings
from phasedcare.ledger.chain import as_utc, canonical_header
from phasedcare.ledger.records import RecordHeader
from phasedcare.store import SqlEventStore
from phasedcare.testing import ManualClock, actor_of

VT = actor_of("vt-ijsselland", user="u-vt-01")


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 23, 30, tzinfo=UTC),  # 00:30 in Amsterdam: another date there
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # the hour summer time begins
        datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_the_canonical_header_is_the_same_in_any_zone(moment: datetime) -> None:
    """The same instant at +01:00, +02:00 or naive UTC gives the very same bytes."""
    header = RecordHeader("c-1", 1, "CaseOpened", 1, moment, "1")
    expected = canonical_header(header)
    for zone in (timezone(timedelta(hours=1)), timezone(timedelta(hours=2)), None):
        shifted = moment.astimezone(zone) if zone else moment.replace(tzinfo=None)
        assert canonical_header(RecordHeader("c-1", 1, "CaseOpened", 1, shifted, "1")) == expected
    assert as_utc(moment.astimezone(timezone(timedelta(hours=2)))).tzinfo is UTC


@pytest.mark.postgres
def test_sessions_are_pinned_to_utc_though_the_server_says_amsterdam(postgres_url: str) -> None:
    """The test URL sets Europe/Amsterdam; a plain connection sees it, the store's do not."""
    plain = create_engine(postgres_url)
    with plain.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar() == AMSTERDAM
    plain.dispose()
    store = SqlEventStore(postgres_url)
    with store._engine.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar() == "UTC"
    store.close()


_READ_AND_VERIFY = """
import sys
from phasedcare.bootstrap import build, build_verifier
from phasedcare.config import Settings
from phasedcare.testing import actor_of
settings = Settings(home=sys.argv[1], database_url=sys.argv[2])
engine = build(settings)
view = engine.show(sys.argv[3], actor=actor_of("vt-ijsselland", user="u-vt-01"))
print("members", len(view.members))
engine.close()
verifier = build_verifier(settings)
report = verifier.verify()
verifier.close()
print("intact", report.intact, report.records, [str(p) for p in report.problems][:1])
"""


@pytest.mark.postgres
def test_written_restarted_read_and_verified_under_amsterdam(
    postgres_url: str, tmp_path: Path
) -> None:
    """Write around midnight Dutch time, stop, read and verify in a fresh process."""
    settings = Settings(home=tmp_path / "home", database_url=postgres_url)
    initialise(settings)
    clock = ManualClock.starting("2026-03-01T23:30:00+00:00")  # 00:30 on 2 March in NL
    engine = build(settings, clock=clock)
    case_id = engine.open_case(actor=VT, via="melding", summary="Synthetische melding").case_id
    clock.advance(hours=1)
    engine.record_member(case_id, actor=VT, role="kind", name="Cato Voorbeeld")
    engine.close()
    fresh = subprocess.run(
        [sys.executable, "-c", _READ_AND_VERIFY, str(settings.home), postgres_url, case_id],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert fresh.returncode == 0, fresh.stderr
    assert "members 1" in fresh.stdout
    assert "intact True" in fresh.stdout, fresh.stdout
    verifier = build_verifier(settings)
    assert verifier.verify().intact
    verifier.close()
