"""What sealing and chaining cost, and how fast a 1,000-event case replays.

Every figure is a ratio against a baseline measured in the same run (machines are noisy):

1. per event: our record encoding (map + seal + chain) against the same encoding with sealing
   off, against raw AES-256-GCM of the same bytes, and against raw SHA-256 of them;
2. per command: an in-memory engine with sealing on against the same engine with it off;
3. replay of a 1,000-event case from SQLite (load + open + fold), against the ``eventsourcing``
   library loading an aggregate of 1,000 comparable events with its AES cipher on, from SQLite
   too, and against raw AES-GCM decryption of the same payloads.

Run: ``.venv/bin/python bench/ledger_bench.py`` (add ``--events N`` to change the case size).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.domain import events as ev
from phasedcare.domain.case import fold
from phasedcare.domain.policy import default_policy
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, InMemoryKeyProvider
from phasedcare.service.engine import Engine
from phasedcare.store import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of

VT = actor_of("vt-ijsselland", user="u-vt-bench")


def best(run: Callable[[], Any], *, repeat: int = 5) -> float:
    """The fastest of ``repeat`` timings, in seconds (the least disturbed by noise)."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        timings.append(time.perf_counter() - start)
    return min(timings)


def sample_events(count: int) -> list[ev.DomainEvent]:
    """``count`` condition checks of one case, like a long monitoring history."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    envelope = {"case_id": "c-bench", "actor": VT, "policy_version": "2026.1"}
    return [
        ev.SafetyConditionStatusRecorded(
            **envelope,
            at=clock.now,
            condition_id="c1",
            status="met",
            observed_on=date(2026, 3, 2),
            evidence="Checked at a home visit (synthetic).",
        )
        for _ in range(count)
    ]


def per_event(count: int) -> dict[str, float]:
    """Microseconds per event for encoding with and without sealing, and the raw primitives."""
    events = sample_events(count)
    sealed = RecordCodec(keys=CaseKeys(InMemoryEventStore(), InMemoryKeyProvider()))
    plain = RecordCodec(keys=None)
    payloads = [e.model_dump_json().encode() for e in events]
    aes, nonce = AESGCM(os.urandom(32)), os.urandom(12)
    figures = {
        "encode, sealing on": best(lambda: sealed.encode(events, after_sequence=0)),
        "encode, sealing off": best(lambda: plain.encode(events, after_sequence=0)),
        "raw AES-256-GCM": best(lambda: [aes.encrypt(nonce, p, b"h") for p in payloads]),
        "raw SHA-256": best(lambda: [hashlib.sha256(p).digest() for p in payloads]),
    }
    return {name: seconds / count * 1e6 for name, seconds in figures.items()}


def per_command(count: int) -> dict[str, float]:
    """Microseconds per command on the in-memory engine, sealing on and off."""

    def run(sealing: bool) -> Callable[[], None]:
        def commands() -> None:
            store = InMemoryEventStore()
            keys = CaseKeys(store, InMemoryKeyProvider()) if sealing else None
            engine = Engine(store=store, policy=default_policy(), codec=RecordCodec(keys=keys))
            for _ in range(count):
                case_id = engine.open_case(actor=VT, via="melding").case_id
                engine.record_member(case_id, actor=VT, role="kind", name="Bench Proefmans")

        return commands

    return {
        "command, sealing on": best(run(True), repeat=3) / (2 * count) * 1e6,
        "command, sealing off": best(run(False), repeat=3) / (2 * count) * 1e6,
    }


def our_replay(count: int, folder: Path) -> tuple[float, float]:
    """Seconds to load, open and fold a case of ``count`` events from SQLite; and raw decryption."""
    settings = Settings(home=folder / "phasedcare")
    initialise(settings)
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = build(settings, clock=clock)
    case_id = engine.open_case(actor=VT, via="melding").case_id
    engine.add_safety_condition(
        case_id,
        actor=VT,
        statement="No violence (synthetic)",
        owner="wijkteam-zwolle",
        check_every_days=7,
    )
    for _ in range(count - 2):
        engine.record_condition_status(
            case_id,
            actor=VT,
            condition_id="c1",
            status="met",
            observed_on=clock.today,
            evidence="Checked at a home visit (synthetic).",
        )
    store, codec = engine.store, engine._codec
    replay = best(lambda: fold(case_id, codec.decode(store.load(case_id))))
    _, key = codec._keys.key(case_id)  # type: ignore[union-attr]
    sealed = [r.payload for r in store.load(case_id)]
    aes = AESGCM(key)
    raw = best(lambda: [_try_open(aes, p) for p in sealed])
    engine.close()
    return replay, raw


def _try_open(aes: AESGCM, sealed: bytes) -> bytes:
    """Raw AES-GCM work on the same bytes (the tag check fails without our header; the cost is the same)."""
    try:
        return aes.decrypt(sealed[:12], sealed[12:], b"")
    except Exception:
        return b""


def eventsourcing_replay(count: int, folder: Path) -> float:
    """Seconds for ``eventsourcing`` to load an aggregate of ``count`` events (AES cipher on, SQLite)."""
    from eventsourcing.application import Application  # noqa: PLC0415 - optional, bench only
    from eventsourcing.cryptography import AESCipher  # noqa: PLC0415
    from eventsourcing.domain import Aggregate, event  # noqa: PLC0415

    class Household(Aggregate):
        @event("ConditionChecked")
        def check(self, condition_id: str, status: str, observed_on: str, evidence: str) -> None:
            self.last = (condition_id, status, observed_on, evidence)

    class Households(Application):
        pass

    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(folder / "eventsourcing.db"),
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(num_bytes=32),
    }
    app = Households(env=env)
    household = Household()
    for _ in range(count - 1):
        household.check("c1", "met", "2026-03-02", "Checked at a home visit (synthetic).")
    app.save(household)
    household_id: UUID = household.id
    return best(lambda: app.repository.get(household_id))


def main() -> None:
    """Run every measurement and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="events in the replayed case")
    args = parser.parse_args()
    events = per_event(2000)
    commands = per_command(300)
    with tempfile.TemporaryDirectory() as tmp:
        ours, raw = our_replay(args.events, Path(tmp))
        theirs = eventsourcing_replay(args.events, Path(tmp))
    print("per event (µs):")
    for name, micros in events.items():
        print(f"  {name:24} {micros:8.2f}")
    print(
        f"  sealing adds x{events['encode, sealing on'] / events['encode, sealing off']:.2f} to encoding; "
        f"encoding costs x{events['encode, sealing on'] / events['raw AES-256-GCM']:.1f} raw AES-GCM, "
        f"x{events['encode, sealing on'] / events['raw SHA-256']:.1f} raw SHA-256"
    )
    print("per command, in-memory engine (µs):")
    for name, micros in commands.items():
        print(f"  {name:24} {micros:8.1f}")
    print(
        f"  sealing and chaining add x{commands['command, sealing on'] / commands['command, sealing off']:.3f} to a command"
    )
    print(f"replay of a {args.events}-event case from SQLite:")
    print(f"  phasedcare (load, open, fold)   {ours * 1e3:8.2f} ms")
    print(f"  eventsourcing (cipher on)       {theirs * 1e3:8.2f} ms")
    print(f"  raw AES-GCM over the payloads   {raw * 1e3:8.2f} ms")
    print(
        f"  phasedcare is x{theirs / ours:.2f} faster than eventsourcing; x{ours / raw:.1f} raw decryption"
    )


if __name__ == "__main__":
    main()
