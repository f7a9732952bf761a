"""What a handover costs from proposal to webhook received, against a bare Prefect flow run.

Every figure comes from the same run, embedded (Prefect's own API in a subprocess, as
``phasedcare flows run`` uses it), and is compared with baselines measured alongside:

1. the first flow run of a process, on a fresh Prefect database and on an existing one
   (each in a new process, since only the first run pays for starting Prefect's API);
2. a bare empty flow run, with the flow-run heartbeat on (Prefect's default) and off;
3. the round trip: ``propose_handover`` (the engine's command, committed) -> the
   ``drain-outbox`` flow -> a loopback receiver that verifies the Standard Webhooks signature;
   split into the command, the flow, and the same drain done directly by ``Jobs`` (no Prefect).

Medians over ``--runs`` runs (fastest in brackets). Run: ``.venv/bin/python bench/handover_bench.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import summary, timed

from phasedcare.logs import configure_logging

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the loopback receiver the tests use


def first_flow_run(prefect_home: Path) -> float:
    """Seconds to the end of the first flow run of a new process using ``prefect_home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home), PREFECT_LOGGING_LEVEL="WARNING", DO_NOT_TRACK="1")
    output = subprocess.run(  # noqa: S603 - this script, in a new process
        [sys.executable, __file__, "--first-only"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(output.strip().splitlines()[-1])


def measure_first_only() -> None:
    """In a child process: import Prefect, run one empty flow, print the seconds it took."""
    start = time.perf_counter()
    from phasedcare.flows import embedded  # noqa: PLC0415 - the import is part of the cost

    empty = _empty_flow()
    with embedded():
        empty()
    print(time.perf_counter() - start)


def _empty_flow() -> Callable[[], None]:
    from prefect import flow  # noqa: PLC0415 - Prefect only once PREFECT_HOME is set

    @flow(name="empty", persist_result=False)
    def empty() -> None:
        """Nothing: the cost of a flow run itself."""

    return empty


def empty_runs(runs: int) -> dict[str, list[float]]:
    """Seconds per bare flow run, heartbeat on (fewer runs: each lasts a second) and off."""
    from phasedcare.flows import embedded  # noqa: PLC0415

    empty = _empty_flow()
    with embedded():
        empty()  # starts Prefect's API; measured separately
        off = [timed(empty) for _ in range(runs)]
    on = [timed(empty) for _ in range(max(3, runs // 5))]
    return {"empty flow, heartbeat off": off, "empty flow, heartbeat on": on}


def round_trips(runs: int, folder: Path) -> dict[str, list[float]]:
    """Seconds for a proposal to reach the receiver, and its parts."""
    from phasedcare.bootstrap import build, build_jobs, initialise  # noqa: PLC0415
    from phasedcare.config import load_settings  # noqa: PLC0415
    from phasedcare.flows import drain_outbox, embedded  # noqa: PLC0415
    from phasedcare.testing import actor_of  # noqa: PLC0415
    from receiver import WebhookReceiver  # noqa: PLC0415 - from tests/

    os.environ["PHASEDCARE_HOME"] = str(folder / "home")
    os.environ["PHASEDCARE_WEBHOOK_ALLOW_LOOPBACK"] = "true"
    settings = load_settings()
    initialise(settings)
    vt, wijkteam = actor_of("vt-ijsselland"), actor_of("wijkteam-zwolle")
    engine = build(settings)
    figures: dict[str, list[float]] = {
        "command (propose_handover)": [],
        "drain-outbox flow": [],
        "proposal -> webhook received": [],
        "drain by Jobs, no Prefect": [],
    }
    arrived: list[float] = []
    with (
        WebhookReceiver(
            secret="whsec_" + "A" * 43 + "=", on_event=lambda _: arrived.append(time.perf_counter())
        ) as rx,
        embedded(),
    ):
        _, rx.secret = engine.webhooks.subscribe(actor=wijkteam, url=rx.url)
        drain_outbox()  # the first run starts Prefect's API
        for number in range(2 * runs):
            case_id = _case(engine, vt, wijkteam.organisation)
            start = time.perf_counter()
            engine.propose_handover(case_id, actor=vt, **_payload(wijkteam.organisation))
            committed = time.perf_counter()
            if number % 2:  # every other proposal is drained without Prefect
                jobs = build_jobs(load_settings())
                jobs.drain_outbox()
                jobs.close()
                figures["drain by Jobs, no Prefect"].append(time.perf_counter() - committed)
                continue
            drain_outbox()
            figures["command (propose_handover)"].append(committed - start)
            figures["drain-outbox flow"].append(time.perf_counter() - committed)
            figures["proposal -> webhook received"].append(arrived[-1] - start)
        assert (len(rx.received), rx.duplicates) == (2 * runs, 0)
    engine.close()
    return figures


def _case(engine: Any, vt: Any, organisation: str) -> str:
    """A case ready for a handover proposal (synthetic, untimed)."""
    case_id: str = engine.open_case(actor=vt, via="melding", summary="synthetic").case_id
    engine.record_member(case_id, actor=vt, role="kind", name="Bench Proefmans")
    engine.add_safety_condition(
        case_id,
        actor=vt,
        statement="No violence (synthetic)",
        owner=organisation,
        check_every_days=14,
    )
    return case_id


def _payload(organisation: str) -> dict[str, Any]:
    return {
        "to_organisation": organisation,
        "safety_conditions": ["c1"],
        "monitoring_agreement": "Veilig Thuis checks c1 at 3 and 12 months (synthetic).",
        "risk_summary": "verhoogd risico",
        "legal_basis": "art. 5.2.6 Wmo 2015",
        "household_informed": True,
    }


def main() -> None:
    """Run every measurement and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per figure")
    parser.add_argument("--first-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_only:
        measure_first_only()
        return
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # read when Prefect is imported
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no usage data from Prefect's client
    configure_logging(level="warning")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        first_fresh = first_flow_run(folder / "prefect")
        first_existing = first_flow_run(folder / "prefect")
        os.environ["PREFECT_HOME"] = str(folder / "prefect")
        empties = empty_runs(args.runs)
        trips = round_trips(args.runs, folder)
    off = statistics.median(empties["empty flow, heartbeat off"])
    on = statistics.median(empties["empty flow, heartbeat on"])
    trip = statistics.median(trips["proposal -> webhook received"])
    flow = statistics.median(trips["drain-outbox flow"])
    direct = statistics.median(trips["drain by Jobs, no Prefect"])
    print("first flow run of a process (import, Prefect's API, one empty flow):")
    print(f"  fresh Prefect database         {first_fresh:9.1f} s")
    print(f"  existing Prefect database      {first_existing:9.1f} s")
    print(f"later runs, median [fastest] over {args.runs}:")
    for name, seconds in {**empties, **trips}.items():
        print(f"  {name:30} {summary(seconds)}")
    print(f"  the heartbeat makes a run x{on / off:.1f} longer (+{(on - off) * 1e3:.0f} ms)")
    print(
        f"  proposal -> webhook received is x{trip / off:.2f} a bare flow run; "
        f"the drain flow costs x{flow / direct:.1f} the same drain without Prefect"
    )


if __name__ == "__main__":
    main()
