"""Keys: sealing binds records to their headers; KEK rotation rewraps without downtime."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from phasedcare.domain.actors import Actor
from phasedcare.domain.policy import default_policy
from phasedcare.errors import InvalidInput, StoreError
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, FileKeyProvider, InMemoryKeyProvider, rotate_kek
from phasedcare.service.engine import Engine
from phasedcare.store import InMemoryEventStore


def test_a_ciphertext_moved_to_another_record_does_not_open(engine: Engine, vt: Actor) -> None:
    """The header is associated data: a payload copied under another header fails to open."""
    first = engine.open_case(actor=vt, via="melding").case_id
    engine.record_member(first, actor=vt, role="kind", name="Kees Proefmans")
    records = engine.store.load(first)
    moved = replace(records[1], header=replace(records[1].header, sequence=7))
    codec = RecordCodec(keys=CaseKeys(engine.store, InMemoryKeyProvider()))
    with pytest.raises(StoreError):
        codec.decode([moved])


def test_rotation_under_a_stream_of_commands_loses_nothing(vt: Actor) -> None:
    """While commands run, the KEK rotates three times; no command fails, every record opens."""
    store = InMemoryEventStore()
    provider = InMemoryKeyProvider()
    codec = RecordCodec(keys=CaseKeys(store, provider))
    engine = Engine(store=store, policy=default_policy(), codec=codec)
    failures: list[BaseException] = []
    stop = threading.Event()

    def commands() -> None:
        try:
            while not stop.is_set():
                case_id = engine.open_case(actor=vt, via="melding").case_id
                engine.record_member(case_id, actor=vt, role="kind", name="Lotte Proefmans")
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=commands)
    writer.start()
    while not store.case_keys() and writer.is_alive():
        time.sleep(0.001)
    rewrapped = [rotate_kek(store, provider)[1] for _ in range(3)]
    stop.set()
    writer.join()
    newest, _ = rotate_kek(store, provider)
    assert failures == []
    assert sum(rewrapped) > 0
    assert {k.kek_id for k in store.case_keys()} == {newest}
    fresh = RecordCodec(keys=CaseKeys(store, provider))  # no cached data keys
    for case_id in store.case_ids():
        names = [e.name for e in fresh.decode(store.load(case_id)) if hasattr(e, "name")]
        assert names == ["Lotte Proefmans"]


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    """KEK files must be private (0600)."""
    (tmp_path / "keys").mkdir(mode=0o700)
    provider = FileKeyProvider(tmp_path / "keys")
    provider.rotate()
    [kek] = (tmp_path / "keys").glob("kek-*.key")
    kek.chmod(0o644)
    with pytest.raises(InvalidInput, match="readable by others"):
        provider.wrap(provider.current_kek_id(), b"k" * 32, b"ctx")


def test_unwrapped_data_keys_are_bounded_and_the_least_recently_used_leaves(vt: Actor) -> None:
    """Beyond ``cached`` keys the case used longest ago leaves the cache (its key is read
    again when needed); the store tells which cases still have a key row."""
    store = InMemoryEventStore()
    keys = CaseKeys(store, InMemoryKeyProvider(), cached=2)
    engine = Engine(store=store, policy=default_policy(), codec=RecordCodec(keys=keys))
    first, second, third = (engine.open_case(actor=vt, via="melding").case_id for _ in range(3))
    assert keys.cached() == {second, third}
    assert keys.key(first) == keys.key(first)  # read again, and now cached
    assert first in keys.cached()
    assert store.keyed_cases({first, third, "c-0000000000000000"}) == {first, third}
    store.destroy_case_key(third)
    assert keys.destroyed({first, third}) == {third}
