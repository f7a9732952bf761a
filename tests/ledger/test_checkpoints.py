"""Checkpoints are signed automatically, at most an interval after a commit."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from phasedcare.domain.policy import default_policy
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, CheckpointKey, InMemoryKeyProvider
from phasedcare.service.audit import Auditor
from phasedcare.service.engine import Engine, utc_now
from phasedcare.store import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of


def audited(
    store: InMemoryEventStore, *, clock: Callable[[], datetime], interval: timedelta
) -> tuple[Auditor, Engine]:
    """An engine on ``clock`` whose auditor signs at most every ``interval``."""
    auditor = Auditor(
        store=store,
        key=CheckpointKey.generate(),
        origin="phasedcare/t",
        witness=None,
        clock=clock,
        interval=interval,
    )
    codec = RecordCodec(keys=CaseKeys(store, InMemoryKeyProvider()))
    engine = Engine(store=store, policy=default_policy(), codec=codec, auditor=auditor, clock=clock)
    return auditor, engine


def test_a_commit_inside_the_interval_is_signed_when_it_ends() -> None:
    """The first commit is signed at once; later ones within the interval by a timer soon after."""
    store = InMemoryEventStore()
    auditor, engine = audited(store, clock=utc_now, interval=timedelta(seconds=0.3))
    vt = actor_of("vt-ijsselland")
    engine.open_case(actor=vt, via="melding")
    assert len(store.checkpoints()) == 1
    engine.open_case(actor=vt, via="melding")
    engine.open_case(actor=vt, via="advies")
    assert len(store.checkpoints()) == 1
    deadline = time.monotonic() + 5
    while len(store.checkpoints()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    report = auditor.verify()
    assert (len(report.checkpoints), report.tree_size, report.intact) == (2, 3, True)
    engine.close()


def test_a_simulated_clock_does_not_make_every_commit_sign() -> None:
    """The schedule runs on real seconds: a clock jumping days (demo, simulate) signs once."""
    store = InMemoryEventStore()
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    _, engine = audited(store, clock=clock, interval=timedelta(seconds=60))
    vt = actor_of("vt-ijsselland")
    for _ in range(5):
        engine.open_case(actor=vt, via="melding")
        clock.advance(days=3)
    assert len(store.checkpoints()) == 1
    engine.close()
