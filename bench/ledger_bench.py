"""What sealing and chaining cost, and how fast a 1,000-event case replays.

Every figure is a ratio against a baseline measured in the same run (machines are noisy):

1. per event: our record encoding (map + seal + chain) against the same encoding with sealing
   off, against raw AES-256-GCM of the same bytes, and against raw SHA-256 of them;
2. per command: an in-memory engine with sealing on against the same engine with it off;
3. replay of a 1,000-event case (load + open + fold) from SQLite and, when
   ``PHASEDCARE_TEST_POSTGRES_URL`` is set, from a fresh PostgreSQL schema: cold (a new codec
   opens every record, as an auditor's replay) and cached (the engine's codec keeps opened
   events, as the next command's load), against the ``eventsourcing`` library loading an
   aggregate of 1,000 comparable events with its AES cipher on from the same database, and
   against raw AES-GCM decryption of the same payloads.

Run: ``.venv/bin/python bench/ledger_bench.py`` (``--events N`` changes the case size,
``--databases sqlite postgresql`` the databases).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from _common import (
    CHECK,
    CONDITION,
    EVIDENCE,
    best,
    eventsourcing_app,
    eventsourcing_postgres_env,
    eventsourcing_sqlite_env,
    fresh_postgres_schema,
    household_type,
    phasedcare_engine,
    postgres_base_url,
    print_table,
    ratio,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from phasedcare.domain import events as ev
from phasedcare.domain.case import fold
from phasedcare.domain.policy import default_policy
from phasedcare.ledger.codec import RecordCodec
from phasedcare.ledger.keys import CaseKeys, InMemoryKeyProvider
from phasedcare.logs import configure_logging
from phasedcare.service.engine import Engine
from phasedcare.store import InMemoryEventStore
from phasedcare.testing import ManualClock, actor_of

VT = actor_of("vt-ijsselland", user="u-vt-bench")


def sample_events(count: int, *, case_id: str = "c-bench") -> list[ev.DomainEvent]:
    """``count`` condition checks of one case, like a long monitoring history."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    envelope = {"case_id": case_id, "actor": VT, "policy_version": "2026.1"}
    return [
        ev.SafetyConditionStatusRecorded(
            **envelope,
            at=clock.now,
            condition_id="c1",
            status="met",
            observed_on=date(2026, 3, 2),
            evidence=EVIDENCE,
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


Replay = dict[str, float]
"""Seconds for phasedcare, eventsourcing and raw AES-GCM to replay the case."""


def our_replay(count: int, home: Path, *, database_url: str | None) -> Replay:
    """Seconds to load, open and fold a case of ``count`` events, cold and cached; raw decryption.

    Cold: a new codec opens every record, as an auditor's replay does. Cached: the engine's
    codec, which keeps opened events, as the next command on the case loads it.
    """
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = phasedcare_engine(home, database_url=database_url, clock=clock)
    case_id = engine.open_case(actor=VT, via="melding").case_id
    engine.add_safety_condition(case_id, actor=VT, **CONDITION)
    store, codec, keys = engine.store, engine._codec, engine._codec._keys
    append_checks(store, codec, case_id, count - 2)
    cold = best(lambda: fold(case_id, RecordCodec(keys=keys).decode(store.load(case_id))))
    cached = best(lambda: fold(case_id, codec.decode(store.load(case_id))))
    _, key = keys.key(case_id)  # type: ignore[union-attr]
    aes = AESGCM(key)
    sealed = [r.payload for r in store.load(case_id)]
    raw = best(lambda: [_try_open(aes, p) for p in sealed])
    engine.close()
    return {"phasedcare": cold, "phasedcare, cached": cached, "raw": raw}


def append_checks(store: Any, codec: RecordCodec, case_id: str, count: int) -> None:
    """Seal, chain and append ``count`` condition checks, 100 per transaction (untimed).

    The records are the ones the engine's command would write; appending them in batches
    only saves the minutes a command per event (each folding the growing case) would take.
    """
    events = sample_events(count, case_id=case_id)
    for start in range(0, count, 100):
        sequence, head = store.head(case_id)
        batch = codec.encode(events[start : start + 100], after_sequence=sequence, previous=head)
        store.append(case_id=case_id, expected_sequence=sequence, records=batch, projection=None)
    assert len(store.load(case_id)) == count + 2


def _try_open(aes: AESGCM, sealed: bytes) -> bytes:
    """Raw AES-GCM work on the same bytes (the tag check fails without our header; the cost is the same)."""
    try:
        return aes.decrypt(sealed[:12], sealed[12:], b"")
    except Exception:
        return b""


def eventsourcing_replay(count: int, env: dict[str, str]) -> float:
    """Seconds for ``eventsourcing`` to load an aggregate of ``count`` events (AES cipher on)."""
    app = eventsourcing_app(env)
    household = household_type()()
    for _ in range(count - 1):
        household.check(*CHECK)
    app.save(household)
    household_id = household.id
    seconds = best(lambda: app.repository.get(household_id))
    app.close()
    return seconds


def replays(count: int, folder: Path, databases: list[str]) -> dict[str, Replay]:
    """The replay figures on each chosen database that is available."""
    figures: dict[str, Replay] = {}
    if "sqlite" in databases:
        figures["SQLite"] = our_replay(count, folder / "sqlite", database_url=None)
        env = eventsourcing_sqlite_env(folder / "sqlite" / "phasedcare.db")
        figures["SQLite"]["eventsourcing"] = eventsourcing_replay(count, env)
    base_url = postgres_base_url()
    if "postgresql" in databases and base_url is not None:
        with fresh_postgres_schema(base_url, prefix="ledger_bench") as schema:
            figures["PostgreSQL"] = our_replay(
                count, folder / "postgresql", database_url=schema.url
            )
            env = eventsourcing_postgres_env(schema)
            figures["PostgreSQL"]["eventsourcing"] = eventsourcing_replay(count, env)
    return figures


def print_replays(count: int, figures: dict[str, Replay]) -> None:
    """The replay table: milliseconds per case and the ratios."""
    print(
        f"replay of a {count}-event case, ms (phasedcare: load, open, fold; cold = a new codec, "
        "cached = the engine's; eventsourcing: cipher on, no snapshots):"
    )
    rows = [
        [
            database,
            ms["phasedcare"] * 1e3,
            ms["phasedcare, cached"] * 1e3,
            ms["eventsourcing"] * 1e3,
            ms["raw"] * 1e3,
            ratio(ms["eventsourcing"], ms["phasedcare"]),
            ratio(ms["phasedcare"], ms["raw"]),
        ]
        for database, ms in figures.items()
    ]
    header = ["database", "phasedcare cold", "phasedcare cached", "eventsourcing", "raw AES-GCM"]
    print_table([*header, "cold faster than eventsourcing", "cold x raw"], rows)


def main() -> None:
    """Run every measurement and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="events in the replayed case")
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    configure_logging(level="warning")  # as in production: no line per command on the console
    events = per_event(2000)
    commands = per_command(300)
    with tempfile.TemporaryDirectory() as tmp:
        replayed = replays(args.events, Path(tmp), args.databases)
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
    if "postgresql" in args.databases and postgres_base_url() is None:
        print("PostgreSQL replay skipped: PHASEDCARE_TEST_POSTGRES_URL is unset")
    print_replays(args.events, replayed)


if __name__ == "__main__":
    main()
