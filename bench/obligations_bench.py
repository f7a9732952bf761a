"""What obligations cost: folding a case's events into its obligations against folding its state,
and a command with the kept book against one that folds every book afresh.

One synthetic household lives a long life in memory (monitored, conditions checked weekly),
``--commands`` condition checks in all. Measured in the same run, interleaved, fastest of
``--repeat``:

1. the fold of the case's events into its state (``case.fold``) against the fold into its
   state and obligations (``obligations.track``), on the finished history;
2. ``--commands`` more checks through the engine as it runs (each command folds only its new
   events onto the book kept for the case's last record), against the same checks with the
   kept books dropped before each command (every command folds the whole book).

Run: ``.venv/bin/python bench/obligations_bench.py`` (``--commands N``, ``--repeat N``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from _common import best_each, print_table, ratio

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from phasedcare.domain.case import fold
from phasedcare.domain.obligations import track
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock, actor_of, memory_engine
from support import Journey

VT = actor_of("vt-ijsselland", user="u-vt-01")
WIJKTEAM = actor_of("wijkteam-zwolle", user="u-wt-01")


def household(commands: int) -> tuple[Engine, ManualClock, Journey]:
    """An engine with one case in monitoring whose wijkteam checked c1 weekly ``commands`` times."""
    clock = ManualClock.starting("2026-03-02T09:00:00+00:00")
    engine = memory_engine(clock=clock)
    journey = Journey(engine, clock, VT, WIJKTEAM).in_monitoring()
    for _ in range(commands):
        check(engine, clock, journey)
    return engine, clock, journey


def check(engine: Engine, clock: ManualClock, journey: Journey) -> None:
    clock.advance(days=1)
    engine.record_condition_status(
        journey.case_id,
        actor=journey.wijkteam,
        condition_id="c1",
        status="met",
        observed_on=clock.today,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=80, help="condition checks per arm")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (fastest kept)")
    args = parser.parse_args()

    engine, _, journey = household(args.commands)
    events = engine._events(journey.case_id)
    policy, calendar = engine.policy, engine.policy.working_days()
    folds = best_each(
        {
            "fold the state": lambda: fold(journey.case_id, events),
            "fold state and obligations": lambda: track(journey.case_id, events, policy, calendar),
        },
        repeat=args.repeat,
    )
    print(f"one case of {len(events)} events, fastest of {args.repeat}")
    state, both = folds["fold the state"], folds["fold state and obligations"]
    print_table(
        ["fold", "ms", "time x state"],
        [
            ["the state (case.fold)", state * 1e3, "x1.00"],
            ["state and obligations (obligations.track)", both * 1e3, ratio(both, state)],
        ],
    )

    kept = household(1)
    dropped = household(1)

    def with_kept_books() -> None:
        for _ in range(args.commands):
            check(*kept)

    def folding_afresh() -> None:
        for _ in range(args.commands):
            dropped[0]._books.forget(dropped[2].case_id)
            check(*dropped)

    runs = best_each(
        {"kept book": with_kept_books, "book folded afresh": folding_afresh},
        repeat=args.repeat,
    )
    fast, slow = runs["kept book"], runs["book folded afresh"]
    print(f"\n{args.commands} condition checks per round on one case, fastest of {args.repeat}")
    print_table(
        ["commands", "ms", "time x kept"],
        [
            ["each folds its new events onto the kept book", fast * 1e3, "x1.00"],
            ["each folds the whole book", slow * 1e3, ratio(slow, fast)],
        ],
    )


if __name__ == "__main__":
    main()
