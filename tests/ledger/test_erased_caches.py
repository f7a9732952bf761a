"""An erased case leaves every engine's caches, not only the eraser's (issue 11 audit).

A server keeps the data keys it unwrapped (CaseKeys), the events it opened (the codec) and
the cases it folded (obligation books). When retention erases a case from another engine of
the same process (a flow inside `phasedcare serve`), every engine drops them at once; when
it runs in another process (`phasedcare retention run` beside a running server), the server
drops them after its next checkpoint, at most an interval after its next commit.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from test_retention import VT, WIJKTEAM, closed_case

from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.errors import Erased
from phasedcare.ledger import sealing
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock
from support import Journey

ERASE_ELSEWHERE = """
import sys
from datetime import datetime
from phasedcare.bootstrap import build
from phasedcare.config import Settings
from phasedcare.testing import ManualClock, actor_of
home, url, now = sys.argv[1:4]
engine = build(Settings(home=home, database_url=url or None), clock=ManualClock(datetime.fromisoformat(now)))
erased = [d.case_id for d in engine.run_retention(actor=actor_of("vt-ijsselland", user="u-vt-01")) if d.due]
engine.close()
print("erased:", *erased)
"""


def _held(engine: Engine, case_id: str) -> dict[str, bool]:
    """What the engine still holds of the case: its raw key, opened events, folded book."""
    codec = engine._codec
    assert codec._keys is not None
    return {
        "key": case_id in codec._keys._cache,
        "events": case_id in codec._opened.case_ids(),
        "book": case_id in engine._books._seen,
    }


NOTHING = {"key": False, "events": False, "book": False}
EVERYTHING = {"key": True, "events": True, "book": True}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """An initialised home on SQLite or a fresh PostgreSQL schema; checkpoints each second."""
    url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    settings = Settings(home=tmp_path / "home", database_url=url, checkpoint_interval_seconds=1)
    initialise(settings)
    return settings


def test_an_erasure_by_one_engine_empties_every_engines_caches_in_the_process(
    settings: Settings,
) -> None:
    """The serving engine read the case; a second engine of the process erases it: the
    serving engine no longer holds its raw key, events or book, nor sealing its AESGCM."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    serving = build(settings, clock=clock)
    eraser = None
    try:
        case_id = closed_case(serving, clock)
        kept = Journey(serving, clock, VT, WIJKTEAM).opened().case_id
        serving.show(case_id, actor=VT)
        assert serving._codec._keys is not None
        raw_key = serving._codec._keys.key(case_id)[1]
        assert _held(serving, case_id) == EVERYTHING
        clock.advance(days=21 * 366)
        eraser = build(settings, clock=clock)
        eraser.show(case_id, actor=VT)
        assert [d.case_id for d in eraser.run_retention(actor=VT) if d.due] == [case_id]
        assert _held(serving, case_id) == NOTHING
        assert _held(eraser, case_id) == NOTHING
        assert raw_key not in sealing._aeads
        assert _held(serving, kept)["key"]  # only the erased case leaves
        with pytest.raises(Erased):
            serving.show(case_id, actor=VT)
    finally:
        serving.close()
        if eraser is not None:
            eraser.close()


def test_an_erasure_by_another_process_is_dropped_after_the_next_checkpoint(
    settings: Settings,
) -> None:
    """`retention run` in another process erases a case the server has read: the server
    cannot know until it looks; its next commit's checkpoint (at most an interval later)
    finds the key row gone and drops the raw key, the events and the book."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    serving = build(settings, clock=clock)
    try:
        case_id = closed_case(serving, clock)
        kept = Journey(serving, clock, VT, WIJKTEAM).opened().case_id
        serving.show(case_id, actor=VT)
        time.sleep(1.5)  # the checkpoint scheduled by those commits is signed: none pending
        later = (clock.now + timedelta(days=21 * 366)).isoformat()
        url = settings.database_url or ""
        erased = subprocess.run(
            [sys.executable, "-c", ERASE_ELSEWHERE, str(settings.home), url, later],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]
        assert erased == f"erased: {case_id}"
        assert _held(serving, case_id) == EVERYTHING  # another process: nothing told it
        deadline = time.monotonic() + 10
        while _held(serving, case_id) != NOTHING and time.monotonic() < deadline:
            serving.show(kept, actor=VT)  # the server's next commits: access records
            time.sleep(0.3)
        assert _held(serving, case_id) == NOTHING
        assert _held(serving, kept)["key"]
    finally:
        serving.close()
