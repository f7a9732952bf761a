"""Processes that load the engine for the reliability harnesses (crash and concurrency).

:func:`write_until_killed` is the crash harness's writer: started from a forkserver that
has imported everything (so a restart costs milliseconds, not an interpreter), it opens the
engine, says it is ready and issues commands from two threads while a third signs
checkpoints. After each command returns it appends one JSON line
``{"case", "sequence", "events", "command"}`` to the acks file with a single unbuffered
``write``: what the file holds was acknowledged. It never stops by itself; the harness
kills it with SIGKILL. An error that is not a PhasedCareError ends it with exit status 3
and a traceback in ``writer-<seed>.err``. By hand::

    python tests/reliability/load_writer.py --home HOME --database-url URL --acks FILE

:func:`race` is the concurrency harness's worker; the command builders and the checks made
afterwards (:func:`ledger_problems`) serve both.
"""

from __future__ import annotations

import argparse
import inspect
import json
import multiprocessing
import multiprocessing.context
import os
import random
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.domain import commands as cmd
from phasedcare.domain.actors import Actor
from phasedcare.errors import PhasedCareError
from phasedcare.service.engine import Engine
from phasedcare.service.ports import CaseFilter, DeadlineFilter, HandoverFilter, HandoverRow
from phasedcare.service.views import CaseView
from phasedcare.store.witness import FolderWitness
from phasedcare.testing import actor_of

VT = "vt-ijsselland"
WIJKTEAM = "wijkteam-zwolle"
RECENT_CASES = 12  # commands go to the newest cases, so folding stays cheap as the ledger grows


# What the forkserver imports once. Python 3.11's forkserver preloads before it sets sys.path,
# so load_writer (small) is imported by each writer; what it imports is preloaded here, and
# pytest's own main module too (else each writer would run it again).
PRELOAD = [
    "__main__",
    "phasedcare.bootstrap",
    "phasedcare.testing",
    "phasedcare.store.sql",
    "psycopg",
]


def forkserver() -> multiprocessing.context.ForkServerContext:
    """Writers fork from a server that imported everything once: a restart takes milliseconds."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def engine_for(home: str, url: str) -> Engine:
    """An engine over the harness's home (keys, witness) and database, checkpointing often;
    it logs warnings only, to stderr."""
    settings = Settings(home=Path(home), database_url=url, checkpoint_interval_seconds=1)
    return build(settings, configure_logs=True)


def today() -> date:
    """The engine's today (its clock is the real one, in UTC)."""
    return datetime.now(UTC).date()


def other_organisation(organisation: str) -> str:
    """Regie moves back and forth between Veilig Thuis and the wijkteam."""
    return WIJKTEAM if organisation == VT else VT


def propose(case_id: str, to_organisation: str) -> cmd.ProposeHandover:
    """A complete proposal to hand regie to ``to_organisation``, sharing condition c1."""
    return cmd.ProposeHandover(
        case_id=case_id,
        to_organisation=to_organisation,
        safety_conditions=["c1"],
        monitoring_agreement="Veilig Thuis checks the conditions at 3 and 12 months.",
        risk_summary="verhoogd risico",
        legal_basis="art. 5.2.6 Wmo 2015",
        household_informed=True,
    )


def accept(case_id: str, handover_id: str, receiver: Actor) -> cmd.AcceptHandover:
    """The receiver accepts; its user becomes casusregisseur."""
    return cmd.AcceptHandover(
        case_id=case_id, handover_id=handover_id, casusregisseur=receiver.user
    )


def reject(case_id: str, handover_id: str) -> cmd.RejectHandover:
    """The receiver rejects, with a reason."""
    return cmd.RejectHandover(case_id=case_id, handover_id=handover_id, reason="no capacity now")


def condition_status(case_id: str, status: str) -> cmd.RecordConditionStatus:
    """A check of condition c1 today (met or unknown: a breach would move the phase)."""
    return cmd.RecordConditionStatus(
        case_id=case_id, condition_id="c1", status=status, observed_on=today()
    )


def condition(case_id: str) -> cmd.AddSafetyCondition:
    """A safety condition the wijkteam checks every fortnight."""
    return cmd.AddSafetyCondition(
        case_id=case_id, statement="Synthetic condition", owner=WIJKTEAM, check_every_days=14
    )


def member(case_id: str) -> cmd.RecordMember:
    """A synthetic child recorded."""
    return cmd.RecordMember(case_id=case_id, role="kind", name="Noor Proefmans")


def opening() -> cmd.OpenCase:
    """A melding opened by Veilig Thuis."""
    return cmd.OpenCase(via="melding", summary="A synthetic melding")


# -- the crash harness's writer ------------------------------------------------------------


class Writer:
    """Issues commands on the newest cases and appends an ack line after each."""

    def __init__(self, engine: Engine, acks: int, seed: int) -> None:
        self.engine, self._acks, self._seed = engine, acks, seed
        self._actors = {org: actor_of(org, user=f"u-{org[:2]}-load") for org in (VT, WIJKTEAM)}
        rows = engine.store.projections(CaseFilter())
        self._cases = [row.case_id for row in sorted(rows, key=lambda r: r.opened_at)]
        self._lock = threading.Lock()

    def run(self, thread: int) -> None:
        """Issue commands until killed; refusals and conflicts are expected and skipped."""
        rng = random.Random(self._seed * 10 + thread)
        while True:
            try:
                self.step(rng)
            except PhasedCareError:
                continue

    def step(self, rng: random.Random) -> None:
        """Open a case now and then, else the next command for one of the newest cases."""
        with self._lock:
            recent = self._cases[-RECENT_CASES:]
        if len(recent) < 3 or rng.random() < 0.08:
            actor, command = self._actors[VT], opening()
        else:
            actor, command = self.next_command(rng.choice(recent), rng)
        result = self.engine.handle(command, actor=actor)
        if isinstance(command, cmd.OpenCase):
            with self._lock:
                self._cases.append(result.case_id)
        self.acknowledge(result.case_id, result.sequence, result.events, type(command).__name__)

    def next_command(self, case_id: str, rng: random.Random) -> tuple[Actor, cmd.Command]:
        """Answer an open handover, else add, check, record or hand over (read first: logged)."""
        view = self.engine.show(case_id, actor=self._actors[VT])
        if not view.conditions:
            return self._actors[VT], condition(case_id)
        proposed = [h.handover_id for h in view.handovers if h.status == "proposed"]
        if proposed:
            receiver = self._actors[other_organisation(view.regie.organisation)]
            if rng.random() < 0.25:
                return receiver, reject(case_id, proposed[0])
            return receiver, accept(case_id, proposed[0], receiver)
        return self._later_command(view, rng)

    def _later_command(self, view: CaseView, rng: random.Random) -> tuple[Actor, cmd.Command]:
        roll, case_id = rng.random(), view.case_id
        if roll < 0.4:
            return self._actors[VT], condition_status(case_id, rng.choice(["met", "unknown"]))
        if roll < 0.6:
            return self._actors[VT], member(case_id)
        if roll < 0.7:
            return self._actors[VT], condition(case_id)
        holder = view.regie.organisation
        return self._actors[holder], propose(case_id, other_organisation(holder))

    def acknowledge(self, case_id: str, sequence: int, events: list[str], command: str) -> None:
        """One line, one write: the harness counts it as acknowledged."""
        line = json.dumps(
            {"case": case_id, "sequence": sequence, "events": events, "command": command}
        )
        os.write(self._acks, (line + "\n").encode())

    def sign_checkpoints(self) -> None:
        """Integrate and sign over and over, so kills land in checkpoints too."""
        auditor = self.engine.auditor
        assert auditor is not None
        rng = random.Random(self._seed)
        while True:
            time.sleep(rng.uniform(0.0, 0.2))
            try:
                auditor.checkpoint()
            except PhasedCareError:
                continue


def _guarded(work: Callable[[], None]) -> Callable[[], None]:
    """Run ``work``; an unexpected exception ends the whole process with status 3."""

    def run() -> None:
        try:
            work()
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(3)

    return run


def write_until_killed(home: str, url: str, acks: str, seed: int, ready: Any) -> None:
    """The crash harness's writer process: open the engine, set ``ready``, write forever.

    Its stderr goes to ``writer-<seed>.err`` in the home, where the harness looks when the
    writer ended by itself.
    """
    error_file = os.open(Path(home) / f"writer-{seed}.err", os.O_WRONLY | os.O_CREAT, 0o600)
    os.dup2(error_file, 2)
    acks_file = os.open(acks, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    writer = Writer(engine_for(home, url), acks_file, seed)
    ready.set()
    threads = [threading.Thread(target=_guarded(writer.sign_checkpoints), daemon=True)]
    threads += [
        threading.Thread(target=_guarded(lambda n=n: writer.run(n)), daemon=True) for n in (1, 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def publish_killed_at(folder: str, step: int, note: str) -> None:
    """Publish ``note`` to a witness folder, SIGKILLed at the ``step``-th line the witness
    module executes; ends normally when publishing takes fewer steps."""
    source = inspect.getsourcefile(FolderWitness)
    steps = 0

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal steps
        if frame.f_code.co_filename != source:
            return None
        if event == "line":
            steps += 1
            if steps == step:
                os.kill(os.getpid(), signal.SIGKILL)
        return trace

    sys.settrace(trace)
    FolderWitness(Path(folder)).publish(size=1, note=note)
    sys.settrace(None)


def main(argv: list[str] | None = None) -> None:
    """Run one writer from the command line (a soak by hand; stop it with kill -9)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--acks", required=True)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    write_until_killed(args.home, args.database_url, args.acks, args.seed, threading.Event())


# -- the concurrency harness's worker -------------------------------------------------------


ROUND_KINDS = ("accept", "condition", "if_match")
"""accept: all answer one handover (one rejects); condition: all check condition c1;
if_match: all add a condition with the sequence they read as If-Match."""

BARRIER_SECONDS = 60
JITTER_SECONDS = 0.03
"""Each racer sends up to this long after the others: some load the case before the winner
commits (ConcurrencyConflict), some after (StaleVersion, or the handover is no longer open)."""


def race_actor(organisation: str, worker: int) -> Actor:
    """The worker's professional in ``organisation`` (so each record names its process)."""
    return actor_of(organisation, user=f"u-{organisation[:2]}-w{worker}")


def round_command(
    kind: str, view: CaseView, worker: int, rejecter: bool
) -> tuple[Actor, cmd.Command, int | None]:
    """The command this worker sends in a round, by whom, and its expected sequence."""
    case_id, vt = view.case_id, race_actor(VT, worker)
    if kind == "condition":
        return vt, condition_status(case_id, "met" if worker % 2 else "unknown"), None
    if kind == "if_match":
        return vt, condition(case_id), view.sequence
    [handover] = [h for h in view.handovers if h.status == "proposed"]
    receiver = race_actor(handover.to_organisation, worker)
    if rejecter:
        return receiver, reject(case_id, handover.handover_id), None
    return receiver, accept(case_id, handover.handover_id, receiver), None


def outcome_of(
    engine: Engine, actor: Actor, command: cmd.Command, expected: int | None
) -> dict[str, Any]:
    """Send one command; what the caller saw: the result, or the error's class and rule."""
    seen: dict[str, Any] = {"actor": str(actor), "command": type(command).__name__}
    try:
        result = engine.handle(command, actor=actor, expected_sequence=expected)
    except PhasedCareError as exc:
        rule = getattr(exc, "rule", None)
        seen["outcome"] = type(exc).__name__ + (f":{rule}" if rule else "")
        seen["error_case"] = getattr(exc, "case_id", None)
    except Exception as exc:
        seen["outcome"] = f"untyped:{type(exc).__name__}: {exc}"
    else:
        seen.update(outcome="ok", sequence=result.sequence, events=result.events)
    return seen


class Racer:
    """One racing process: every round it reads the case, waits for the others, then sends."""

    def __init__(self, engine: Engine, worker: int, workers: int, barrier: Any) -> None:
        self.engine, self.worker, self.workers, self._barrier = engine, worker, workers, barrier
        self.outcomes: list[dict[str, Any]] = []
        self._rng = random.Random(worker)

    def _wait(self) -> None:
        self._barrier.wait(timeout=BARRIER_SECONDS)

    def play(self, number: int, kind: str, case_id: str) -> None:
        """One round: (a proposal,) a read of the same state by all, then the race."""
        leader = number % self.workers == self.worker
        self._wait()
        if kind == "accept" and leader:
            self._record(number, "propose", case_id, *self._proposal(case_id))
        self._wait()
        try:
            view = self.engine.show(case_id, actor=race_actor(VT, self.worker))
            sent = round_command(kind, view, self.worker, rejecter=leader)
        except Exception as exc:
            self.outcomes.append({"round": number, "kind": kind, "outcome": f"read:{exc!r}"})
            sent = None
        self._wait()
        time.sleep(self._rng.uniform(0.0, JITTER_SECONDS))
        if sent is not None:
            self._record(number, kind, case_id, *sent)

    def _proposal(self, case_id: str) -> tuple[Actor, cmd.Command, None]:
        holder = self.engine.show(case_id, actor=race_actor(VT, self.worker)).regie.organisation
        return race_actor(holder, self.worker), propose(case_id, other_organisation(holder)), None

    def _record(
        self,
        number: int,
        kind: str,
        case_id: str,
        actor: Actor,
        command: cmd.Command,
        expected: int | None,
    ) -> None:
        seen = outcome_of(self.engine, actor, command, expected)
        self.outcomes.append({"round": number, "kind": kind, "case": case_id, **seen})


def race(
    home: str,
    url: str,
    worker: int,
    workers: int,
    plan: list[tuple[str, str]],
    barrier: Any,
    results: Any,
) -> None:
    """A worker process of the concurrency harness: play every round of ``plan`` in step
    with the others and put its outcomes on ``results`` (also when a round breaks)."""
    engine = engine_for(home, url)
    racer = Racer(engine, worker, workers, barrier)
    try:
        for number, (kind, case_id) in enumerate(plan):
            racer.play(number, kind, case_id)
    except Exception as exc:
        racer.outcomes.append({"round": -1, "kind": "broken", "outcome": repr(exc)})
        barrier.abort()
    finally:
        engine.close()
        results.put(racer.outcomes)


# -- what both harnesses check afterwards ----------------------------------------------------


def prepared_database(backend: str, home: Path, postgres_url: Callable[[], str]) -> str:
    """Initialise the harness's home (keys, witness, config) over SQLite or PostgreSQL."""
    url = postgres_url() if backend == "postgres" else f"sqlite:///{home / 'phasedcare.db'}"
    initialise(Settings(home=home, database_url=url))
    return url


def read_model_differences(engine: Engine) -> list[str]:
    """How the deadline and handover rows differ from those rebuilt from the events,
    orphans (rows of a case without a projection row) included."""
    rebuilt = engine.rebuilt_projections()
    store = engine.store
    deadlines = sorted(d for p in rebuilt for d in p.deadlines)
    live_deadlines = sorted(store.deadline_rows(DeadlineFilter()))

    def by_id(rows: Iterable[HandoverRow]) -> list[HandoverRow]:
        return sorted(rows, key=lambda h: (h.case_id, h.handover_id))

    handovers = by_id(h for p in rebuilt for h in p.handovers)
    live_handovers = by_id(store.handover_rows(HandoverFilter()))
    differences = []
    if live_deadlines != deadlines:
        differences.append(f"deadline rows: live {live_deadlines} != rebuilt {deadlines}")
    if live_handovers != handovers:
        differences.append(f"handover rows: live {live_handovers} != rebuilt {handovers}")
    return differences


def ledger_problems(engine: Engine) -> list[str]:
    """Everything wrong afterwards: the ledger (all of it integrated and signed), the case
    projections and the deadline and handover read models, each against a rebuild."""
    auditor = engine.auditor
    assert auditor is not None
    auditor.checkpoint()
    report = auditor.verify()
    problems = [str(problem) for problem in report.problems]
    if report.tree_size != report.records:
        problems.append(f"{report.records} records, {report.tree_size} in the tree")
    return problems + engine.projection_differences() + read_model_differences(engine)


if __name__ == "__main__":
    main()
