"""The concurrency harness: processes racing conflicting commands on shared cases.

Four processes play the same rounds in step (a barrier before each race): all answer one
handover (three accept, one rejects), all record a check of the same condition, or all add
a condition with the sequence they read as If-Match. Every outcome is reported: a success
with its sequence and events, or the error's class and rule.

What a caller sees: the engine never retries a command. Two writers on one case get one
success and one ConcurrencyConflict (HTTP 409), or, when the loser loaded the case after the
winner committed, the domain's refusal (the handover is no longer open) or, with If-Match,
StaleVersion (HTTP 412). Retrying is the caller's decision, after reading the case again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from load_writer import (
    ROUND_KINDS,
    condition,
    engine_for,
    forkserver,
    ledger_problems,
    opening,
    prepared_database,
    race,
)

from harness import Harness
from ledger.writers import run_processes
from phasedcare.service.engine import Engine
from phasedcare.testing import actor_of

WORKERS = 4
ROUNDS = 30
CASES = 2
LOSSES = {
    "accept": {"ConcurrencyConflict", "Refused:handover_not_open"},
    "condition": {"ConcurrencyConflict"},
    "if_match": {"ConcurrencyConflict", "StaleVersion"},
    "propose": set(),
}
"""What a loser of each kind of round may see: a typed conflict or the domain's refusal."""
WINNERS = {"accept": 1, "if_match": 1, "propose": 1}
"""How many successes a round of each kind has exactly (a check of a condition: one or more)."""


def shared_cases(home: Path, url: str) -> dict[str, int]:
    """Open the cases the workers share, each with condition c1; their sequences."""
    engine = engine_for(str(home), url)
    vt = actor_of("vt-ijsselland", user="u-vt-setup")
    try:
        sequences = {}
        for _ in range(CASES):
            case_id = engine.handle(opening(), actor=vt).case_id
            sequences[case_id] = engine.handle(condition(case_id), actor=vt).sequence
        return sequences
    finally:
        engine.close()


def play(home: Path, url: str, cases: list[str]) -> list[dict[str, Any]]:
    """Run the workers through every round; all their outcomes."""
    context = forkserver()
    barrier = context.Barrier(WORKERS)
    plan = [(ROUND_KINDS[n % len(ROUND_KINDS)], cases[n % len(cases)]) for n in range(ROUNDS)]
    arguments = [(str(home), url, worker, WORKERS, plan, barrier) for worker in range(WORKERS)]
    found = run_processes(race, arguments, context=context)
    return [outcome for outcomes in found for outcome in outcomes]


def misreported(outcomes: list[dict[str, Any]]) -> list[str]:
    """Outcomes that are neither a success nor the conflict or refusal their round allows;
    conflicts reported on another stream than the case (the access log's, say)."""
    wrong = []
    for seen in outcomes:
        allowed = {"ok"} | LOSSES.get(seen["kind"], set())
        if seen["outcome"] not in allowed:
            wrong.append(f"round {seen['round']} ({seen['kind']}): {seen['outcome']}")
        elif seen["outcome"] != "ok" and seen.get("error_case") != seen["case"]:
            wrong.append(f"round {seen['round']}: {seen['outcome']} on {seen.get('error_case')}")
    return wrong


def miscounted_winners(outcomes: list[dict[str, Any]]) -> list[str]:
    """Rounds without exactly their number of successes (at least one for condition checks)."""
    wins: Counter[tuple[int, str]] = Counter()  # a proposal is a round of its own kind
    for seen in outcomes:
        wins[seen["round"], seen["kind"]] += seen["outcome"] == "ok"
    return [
        f"round {number} ({kind}): {count} successes"
        for (number, kind), count in sorted(wins.items())
        if (count != WINNERS[kind] if kind in WINNERS else count < 1)
    ]


def lost_updates(
    engine: Engine, sequences: dict[str, int], outcomes: list[dict[str, Any]]
) -> list[str]:
    """Successes whose events are not at their sequences, by their actor; cases holding more
    or fewer records than the setup's plus the successes' events (the ledger's verification
    checks that the sequences are gapless and chained)."""
    reader = actor_of("vt-ijsselland", user="u-vt-setup")
    histories = {
        case_id: [(e.event_type, e.actor) for e in engine.history(case_id, actor=reader)]
        for case_id in sequences
    }
    expected = dict(sequences)
    wrong = []
    for seen in (s for s in outcomes if s["outcome"] == "ok"):
        last, events = seen["sequence"], seen["events"]
        if histories[seen["case"]][last - len(events) : last] != [
            (t, seen["actor"]) for t in events
        ]:
            wrong.append(f"round {seen['round']}: {events} by {seen['actor']} not at {last}")
        expected[seen["case"]] += len(events)
    return wrong + [
        f"{case_id}: {len(history)} records, expected {expected[case_id]}"
        for case_id, history in histories.items()
        if len(history) != expected[case_id]
    ]


def check_after_races(
    home: Path, url: str, sequences: dict[str, int], outcomes: list[dict[str, Any]]
) -> None:
    """Assert every outcome is reported as its round allows and every success is kept."""
    assert [s for s in outcomes if s["kind"] == "broken" or "case" not in s] == []
    assert len([s for s in outcomes if s["kind"] != "propose"]) == ROUNDS * WORKERS
    assert misreported(outcomes) == []
    assert miscounted_winners(outcomes) == []
    engine = engine_for(str(home), url)
    try:
        assert lost_updates(engine, sequences, outcomes) == []
        assert ledger_problems(engine) == []
    finally:
        engine.close()


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres), "sqlite"]
)
def test_racing_processes_never_fork_a_case_nor_lose_an_update(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, harness: Harness
) -> None:
    """4 processes x 30 rounds of conflicting commands: one winner where one is possible, every
    loser told by a typed conflict or refusal, every success in the ledger, which verifies."""
    home = tmp_path / "home"
    url = prepared_database(backend, home, lambda: str(request.getfixturevalue("postgres_url")))
    sequences = shared_cases(home, url)
    outcomes = play(home, url, list(sequences))
    check_after_races(home, url, sequences, outcomes)
    conflicts = [s for s in outcomes if s["outcome"] != "ok"]
    assert conflicts, "no round produced a conflict: the processes did not race"
    harness.count("concurrency: commands sent", len(outcomes))
    harness.count("concurrency: conflicts seen", len(conflicts))
    by_kind: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for seen in outcomes:
        by_kind[seen["kind"]][seen["outcome"]] += 1
    print(f"concurrency on {backend}: {dict(by_kind)}")
