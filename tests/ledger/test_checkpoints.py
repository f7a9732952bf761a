"""Checkpoints are signed automatically, at most an interval after a commit."""

from __future__ import annotations

import time
from datetime import timedelta

from phasedcare.domain.policy import default_policy
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, CheckpointKey, InMemoryKeyProvider
from phasedcare.service.audit import Auditor
from phasedcare.service.engine import Engine, utc_now
from phasedcare.store import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of


def test_a_commit_inside_the_interval_is_signed_when_it_ends() -> None:
    """The first commit is signed at once; later ones within the interval by a timer soon after."""
    store = InMemoryEventStore()
    auditor = Auditor(
        store=store,
        key=CheckpointKey.generate(),
        origin="phasedcare/t",
        witness=None,
        clock=utc_now,
        interval=timedelta(seconds=0.3),
    )
    engine = Engine(
        store=store,
        policy=default_policy(),
        codec=RecordCodec(keys=CaseKeys(store, InMemoryKeyProvider())),
        auditor=auditor,
    )
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
    auditor = Auditor(
        store=store,
        key=CheckpointKey.generate(),
        origin="phasedcare/t",
        witness=None,
        clock=clock,
        interval=timedelta(seconds=60),
    )
    engine = Engine(
        store=store,
        policy=default_policy(),
        codec=RecordCodec(keys=CaseKeys(store, InMemoryKeyProvider())),
        auditor=auditor,
        clock=clock,
    )
    vt = actor_of("vt-ijsselland")
    for _ in range(5):
        engine.open_case(actor=vt, via="melding")
        clock.advance(days=3)
    assert len(store.checkpoints()) == 1
    engine.close()
