"""Crypto-shredding leaves no cached AESGCM object of the destroyed data key (code review).

Sealing caches one AESGCM object per key, least recently used dropped beyond a bound;
erasing a case drops its data key's object, and only that one.
"""

from __future__ import annotations

import pytest

from phasedcare.domain.policy import default_policy
from phasedcare.ledger import sealing
from phasedcare.ledger.blind_index import BlindIndex
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, CheckpointKey, InMemoryKeyProvider
from phasedcare.service.engine import Engine
from phasedcare.store import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of

VT = actor_of("vt-ijsselland", user="u-vt-01")


def _closed_advies(engine: Engine) -> str:
    case_id = engine.open_case(actor=VT, via="advies", summary="Synthetic advies").case_id
    engine.fire(case_id, "advies_afronden", actor=VT, chart="vt")
    engine.fire(case_id, "afsluiten", actor=VT)
    return case_id


def test_erasure_drops_the_data_keys_cached_aesgcm_and_no_other() -> None:
    """After run_retention the erased case's data key has no cached AESGCM object; the
    kept case's key still has one (it was there before, so the check can fail)."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    store = InMemoryEventStore()
    keys = CaseKeys(store, InMemoryKeyProvider())
    engine = Engine(
        store=store,
        policy=default_policy(),
        codec=RecordCodec(keys=keys, signer=CheckpointKey.generate()),
        clock=clock,
        blind_index=BlindIndex.generate(),
    )
    erased = _closed_advies(engine)
    clock.advance(days=21 * 366)
    kept = engine.open_case(actor=VT, via="melding", summary="Synthetic melding").case_id
    erased_key, kept_key = keys.key(erased)[1], keys.key(kept)[1]
    assert (erased_key in sealing._aeads, kept_key in sealing._aeads) == (True, True)
    due = {d.case_id: d.due for d in engine.run_retention(actor=VT)}
    assert due == {erased: True, kept: False}
    assert (erased_key in sealing._aeads, kept_key in sealing._aeads) == (False, True)


def test_the_cache_is_bounded_and_drops_the_least_recently_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond CACHED_KEYS the key used longest ago leaves; a key used again stays."""
    monkeypatch.setattr(sealing, "CACHED_KEYS", 2)
    first, second, third = (sealing.new_key() for _ in range(3))
    sealed = sealing.seal(first, b"x", b"ad")
    sealing.seal(second, b"x", b"ad")
    assert sealing.open_sealed(first, sealed, b"ad") == b"x"  # first is the most recent now
    sealing.seal(third, b"x", b"ad")
    assert [k in sealing._aeads for k in (first, second, third)] == [True, False, True]
    assert len(sealing._aeads) == 2
    sealing.forget_key(third)
    sealing.forget_key(third)  # forgetting an absent key is no error
    assert [k in sealing._aeads for k in (first, third)] == [True, False]
