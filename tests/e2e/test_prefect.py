"""The flows with a real Prefect: embedded runs, a deployed worker, an outage, and no names.

Every test shares one ``prefect server start`` (a session fixture, about 10 s to start),
backed by PostgreSQL when ``PHASEDCARE_TEST_POSTGRES_URL`` is set and by SQLite otherwise.
Flows run in this process against it, as ``phasedcare flows run`` runs them; the deployed test
adds ``prefect deploy`` of workflows/prefect.yaml and a process worker. Webhooks go to a real
loopback receiver that verifies every signature. The one test that lets Prefect start its own
ephemeral server (the default of ``phasedcare flows run``) is marked slow.
"""

from __future__ import annotations

import contextvars
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    DeploymentFilterName,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect_support import (
    BIN,
    POSTGRES_URL,
    PrefectServer,
    Workflows,
    create_database,
    database_url,
    drop_database,
    files_text,
)
from structlog.testing import capture_logs
from typer.testing import CliRunner

from phasedcare.bootstrap import build, initialise
from phasedcare.cli.app import app
from phasedcare.config import Settings, load_settings
from phasedcare.errors import StoreError
from phasedcare.flows import (
    EmbeddedRunner,
    Interval,
    Outcome,
    drain_outbox,
    embedded,
    escalate,
    evaluate_mda,
    sweep_deadlines,
)
from phasedcare.service.engine import Engine, utc_now
from phasedcare.testing import ManualClock, actor_of
from receiver import WebhookReceiver
from support import CANARY_NAMES, admin_of

pytestmark = pytest.mark.prefect

VT = actor_of("vt-ijsselland", user="u-vt-01")
WIJKTEAM = actor_of("wijkteam-zwolle", user="u-wt-01")
PROPOSED = "nl.phasedcare.handover.proposed"
PLACEHOLDER_SECRET = "whsec_" + "A" * 43 + "="
"""The receiver must listen before the subscription exists; the real secret replaces this."""


# -- helpers --------------------------------------------------------------------------------


def assert_no_canary(data: bytes, where: str) -> None:
    """None of the synthetic canary names occurs in ``data``."""
    for name in CANARY_NAMES:
        assert name.encode() not in data, f"{name!r} found in {where}"


def flush_prefect_clients() -> None:
    """Send what this process's Prefect clients still hold (logs, events) to the server."""
    APILogWorker.drain_all()
    EventsWorker.drain_all()


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``condition`` every 0.1 s; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def subscribe(engine: Engine, rx: WebhookReceiver) -> None:
    """The wijkteam subscribes at the receiver, which then checks with the real secret."""
    _, rx.secret = engine.webhooks.subscribe(actor=admin_of(WIJKTEAM), url=rx.url)


def open_case(engine: Engine, name: str) -> str:
    """A case opened by Veilig Thuis from a melding, with ``name`` as the victim."""
    case_id = engine.open_case(actor=VT, via="melding", summary=f"Melding over {name}").case_id
    engine.record_member(case_id, actor=VT, role="slachtoffer", name=name)
    return case_id


def propose(engine: Engine, case_id: str, name: str) -> str:
    """Veilig Thuis proposes to hand regie to the wijkteam; returns the handover id."""
    engine.add_safety_condition(
        case_id,
        actor=VT,
        statement=f"{name} sleeps safely at home",
        owner=WIJKTEAM.organisation,
        check_every_days=14,
    )
    result = engine.propose_handover(
        case_id,
        actor=VT,
        to_organisation=WIJKTEAM.organisation,
        safety_conditions=["c1"],
        monitoring_agreement=f"Veilig Thuis visits {name} at 3 and 12 months",
        risk_summary=f"verhoogd risico voor {name}",
        legal_basis="art. 5.2.6 Wmo 2015",
        household_informed=True,
    )
    assert result.created_id is not None
    return result.created_id


class Acceptor:
    """The receiving wijkteam: accepts the proposals of the cases it expects, via the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.expected: set[str] = set()

    def __call__(self, event: dict[str, Any]) -> None:
        """Accept a proposal of an expected case; let every other event pass."""
        if event["type"] == PROPOSED and event["subject"] in self.expected:
            self.engine.accept_handover(
                event["subject"],
                actor=WIJKTEAM,
                handover_id=event["data"]["handover_id"],
                casusregisseur=WIJKTEAM.user,
            )


def assert_each_event_once(rx: WebhookReceiver, count: int) -> None:
    """Exactly ``count`` events arrived, none twice, and no body names a person."""
    ids = rx.unique_ids()
    assert (len(ids), len(set(ids)), rx.duplicates, rx.rejected) == (count, count, 0, [])
    assert_no_canary(b"".join(r.body for r in rx.received), "a webhook body")


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One Prefect server for the session; at its end no canary name may be in its store."""
    folder = tmp_path_factory.mktemp("prefect-server")
    database = create_database("pc_prefect") if POSTGRES_URL else None
    url = (
        database_url(database, driver="asyncpg")
        if database
        else f"sqlite+aiosqlite:///{folder / 'prefect.db'}"
    )
    server = PrefectServer(folder, url)
    server.start()
    try:
        yield server
        server.ensure_running()
        flush_prefect_clients()
        time.sleep(1.5)  # the server persists events in batches, every second here
        assert_no_canary(server.stored_text(), "the Prefect server's store")
        prefect_home = Path(os.environ["PREFECT_HOME"])
        assert_no_canary(files_text(prefect_home), "this process's PREFECT_HOME")
    finally:
        server.stop()
        if database:
            drop_database(database)


@pytest.fixture
def prefect_api(
    prefect_server: PrefectServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[PrefectServer]:
    """The session's server, running, as the API of the flow runs in this process."""
    # What `phasedcare flows` would set by default, set here so that it is undone afterwards.
    monkeypatch.setenv("DO_NOT_TRACK", "1")  # Prefect's client sends no usage data
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "WARNING")
    prefect_server.ensure_running()
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        yield prefect_server


def make_home(folder: Path, monkeypatch: pytest.MonkeyPatch, database: str = "") -> Settings:
    """An initialised phasedcare home, set in the environment that the flows read."""
    monkeypatch.setenv("PHASEDCARE_HOME", str(folder))
    monkeypatch.setenv("PHASEDCARE_WEBHOOK_ALLOW_LOOPBACK", "true")
    if database:
        monkeypatch.setenv("PHASEDCARE_DATABASE_URL", database)
    else:
        monkeypatch.delenv("PHASEDCARE_DATABASE_URL", raising=False)
    settings = load_settings()
    initialise(settings)
    return settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An initialised phasedcare home on SQLite, as the flows' environment."""
    return make_home(tmp_path / "home", monkeypatch)


@pytest.fixture
def past() -> ManualClock:
    """A clock thirty days back: deadlines set by it have passed by the flows' (real) today."""
    return ManualClock(utc_now() - timedelta(days=30))


@pytest.fixture
def engine(home: Settings, past: ManualClock) -> Iterator[Engine]:
    """The Python API's engine over the home, on the clock thirty days back (closed after)."""
    engine = build(home, clock=past)
    yield engine
    engine.close()


# -- (a) embedded: the engine, the flows and a receiver ---------------------------------------


def test_a_proposal_travels_through_the_drain_flow_and_is_accepted(
    prefect_api: PrefectServer, engine: Engine, past: ManualClock
) -> None:
    """Engine -> drain-outbox -> signed CloudEvent -> accepted via the engine; the sweep expires a late handover and escalates an overdue veiligheidsbeoordeling."""
    acceptor = Acceptor(engine)
    with WebhookReceiver(secret=PLACEHOLDER_SECRET, on_event=acceptor) as rx:
        subscribe(engine, rx)
        late = open_case(engine, CANARY_NAMES[1])
        late_handover = propose(engine, late, CANARY_NAMES[1])
        overdue = open_case(engine, CANARY_NAMES[2])
        engine.fire(overdue, "start_veiligheidsbeoordeling", actor=VT, chart="vt")
        past.advance(days=30)
        case_id = open_case(engine, CANARY_NAMES[0])
        acceptor.expected.add(case_id)
        propose(engine, case_id, CANARY_NAMES[0])
        with embedded():
            drained = drain_outbox()
            assert engine.show(case_id, actor=VT).regie.organisation == WIJKTEAM.organisation
            swept = sweep_deadlines()
            again = drain_outbox()
        assert drained["delivered"] == 2  # both proposals; the acceptance is the next drain's
        assert {r.event["subject"] for r in rx.received[:2]} == {case_id, late}
        assert f"{late}/{late_handover}" in swept["expired"]
        escalated = {entry.rsplit(":", 1)[0] for entry in swept["escalated"]}
        assert f"{overdue}:veiligheidsbeoordeling" in escalated
        assert not [e for e in swept["expired"] + swept["escalated"] if e.startswith(case_id)]
        assert again["pending"] == 0
        types = [r.event["type"] for r in rx.received]
        assert "nl.phasedcare.handover.accepted" in types
        assert_each_event_once(rx, 2 + again["delivered"])


# -- (b) deployed: prefect deploy, a process worker, a scheduled run --------------------------


@pytest.fixture
def app_database() -> Iterator[str]:
    """phasedcare's own PostgreSQL database when the tests have PostgreSQL, else ''."""
    if not POSTGRES_URL:
        yield ""
        return
    name = create_database("pc_app")
    try:
        yield database_url(name, driver="psycopg")
    finally:
        drop_database(name)


@pytest.fixture
def workflows(prefect_api: PrefectServer, tmp_path: Path) -> Iterator[Workflows]:
    """The deployed side against the session's server; deployments and worker gone after."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    deployed = Workflows(prefect_api, folder)
    try:
        yield deployed
    finally:
        with get_client(sync_client=True) as client:
            deployments = client.read_deployments()
            try:
                for deployment in deployments:
                    client.pause_deployment(deployment.id)  # no new runs
                wait_until(
                    lambda: no_runs_in_flight(deployments), timeout=30, what="the flow runs to end"
                )
            finally:
                deployed.stop_worker()
            for deployment in deployments:
                client.delete_deployment(deployment.id)


def no_runs_in_flight(deployments: list[Any]) -> bool:
    """No run of these deployments is pending or running, twice in a row a second apart."""
    busy = FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING])
    query = {
        "flow_run_filter": FlowRunFilter(state=FlowRunFilterState(type=busy)),
        "deployment_filter": DeploymentFilter(
            id=DeploymentFilterId(any_=[d.id for d in deployments])
        ),
    }
    with get_client(sync_client=True) as client:
        if client.read_flow_runs(**query):
            return False
        time.sleep(1)
        return not client.read_flow_runs(**query)


def completed_runs(flow_name: str, *, deployed: bool = False) -> list[Any]:
    """The completed runs of a flow (only those of its deployment, when ``deployed``)."""
    done = FlowRunFilterStateType(any_=[StateType.COMPLETED])
    deployment = DeploymentFilterName(any_=[flow_name]) if deployed else None
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=done)),
            deployment_filter=DeploymentFilter(name=deployment) if deployment else None,
        )


def test_deployed_flows_drain_the_outbox_on_a_process_worker(
    app_database: str,
    workflows: Workflows,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """prefect deploy --all from workflows/, a worker on the pool: a scheduled run delivers."""
    settings = make_home(tmp_path / "home", monkeypatch, app_database)
    output = workflows.deploy()
    for name in ("drain-outbox", "sweep-deadlines", "evaluate-mda", "escalate"):
        assert f"'{name}/{name}'" in output
    engine = build(settings)
    try:
        with WebhookReceiver(secret=PLACEHOLDER_SECRET) as rx:
            subscribe(engine, rx)
            case_id = open_case(engine, CANARY_NAMES[0])
            propose(engine, case_id, CANARY_NAMES[1])
            env = {k: v for k, v in os.environ.items() if k.startswith("PHASEDCARE_")}
            workflows.start_worker(**env)
            [received] = rx.wait_for(1, timeout=60)
            wait_until(
                lambda: bool(completed_runs("drain-outbox", deployed=True)),
                timeout=30,
                what="a completed run of the deployment",
            )
    finally:
        engine.close()
    assert (received.event["type"], received.event["subject"]) == (PROPOSED, case_id)
    assert_each_event_once(rx, 1)


# -- (c) resilience: Prefect away, commands go on, nothing lost or doubled --------------------


def test_with_prefect_down_commands_succeed_and_the_outbox_drains_once_it_is_back(
    prefect_api: PrefectServer, engine: Engine, past: ManualClock
) -> None:
    """While the server is stopped commands commit; after a restart the running loop delivers each event exactly once."""
    past.advance(days=30)
    outcomes: list[Outcome] = []
    runner = EmbeddedRunner(
        [Interval("drain-outbox", drain_outbox, 0.3)], on_outcome=outcomes.append
    )
    stop = threading.Event()
    loop = threading.Thread(target=contextvars.copy_context().run, args=(runner.run, stop))
    with WebhookReceiver(secret=PLACEHOLDER_SECRET) as rx, capture_logs() as logs:
        subscribe(engine, rx)
        loop.start()
        try:
            propose(engine, open_case(engine, CANARY_NAMES[0]), CANARY_NAMES[0])
            rx.wait_for(1, timeout=20)
            prefect_api.stop()
            for name in CANARY_NAMES[1:]:
                propose(engine, open_case(engine, name), name)
            time.sleep(2)  # the loop goes on trying while Prefect is away
            prefect_api.start()
            rx.wait_for(3, timeout=60)
            wait_until(
                lambda: outcomes[-1].ok and outcomes[-1].report["pending"] == 0,
                timeout=60,
                what="a run that leaves the outbox empty",
            )
        finally:
            stop.set()
            loop.join(timeout=60)
    assert not loop.is_alive()
    assert_each_event_once(rx, 3)
    failed = [o for o in outcomes if not o.ok]
    assert len(failed) == len([e for e in logs if e["event"] == "flow failed"])


def test_a_failed_run_is_logged_with_ids_only_and_the_loop_goes_on() -> None:
    """The runner logs a failure (flow, error type; our message, which names ids) and runs again."""
    stop = threading.Event()
    failures = [StoreError("the store of case c-1 is locked"), RuntimeError("Zorro's data")]

    def flaky() -> dict[str, Any]:
        if failures:
            raise failures.pop(0)
        stop.set()
        return {"delivered": 0}

    outcomes: list[Outcome] = []
    runner = EmbeddedRunner([Interval("drain-outbox", flaky, 0.01)], on_outcome=outcomes.append)
    with capture_logs() as logs:
        runner.run(stop)
    assert [o.error for o in outcomes] == [
        "StoreError: the store of case c-1 is locked",
        "RuntimeError",
        None,
    ]
    assert [(e["event"], e.get("error")) for e in logs] == [
        ("flow failed", "StoreError: the store of case c-1 is locked"),
        ("flow failed", "RuntimeError"),
        ("flow run", None),
    ]


# -- (d) canary: ids only in Prefect and in webhooks --------------------------------------------


def test_no_name_reaches_prefect_a_flow_result_or_a_webhook(
    prefect_api: PrefectServer, engine: Engine
) -> None:
    """Names go into sealed events only: Prefect's database, flow results and webhook bodies hold ids."""
    with WebhookReceiver(secret=PLACEHOLDER_SECRET) as rx:
        subscribe(engine, rx)
        case_id = open_case(engine, CANARY_NAMES[0])
        for name in CANARY_NAMES[1:]:
            engine.record_member(case_id, actor=VT, role="kind", name=name)
        propose(engine, case_id, CANARY_NAMES[1])
        with embedded():
            reports = [drain_outbox(), sweep_deadlines(), escalate([case_id]), evaluate_mda()]
            reports.append(drain_outbox())
        assert reports[0]["delivered"] == 1
    flush_prefect_clients()
    time.sleep(1.5)  # the server persists events in batches
    assert_no_canary(json.dumps(reports).encode(), "a flow result")
    assert_no_canary(prefect_api.stored_text(), "the Prefect server's store")
    assert_no_canary(files_text(Path(os.environ["PREFECT_HOME"])), "PREFECT_HOME")
    assert_each_event_once(rx, len(rx.received))
    stored = [run.parameters for run in completed_runs("escalate")]
    assert {"case_ids": [case_id]} in stored


# -- the command line ----------------------------------------------------------------------------


def test_flows_run_once_prints_every_report_as_json(
    prefect_api: PrefectServer, home: Settings
) -> None:
    """phasedcare flows run --once --json runs each flow once and prints their reports."""
    result = CliRunner().invoke(app, ["flows", "run", "--once", "--json"])
    assert result.exit_code == 0, result.output
    outcomes = json.loads(result.stdout)
    assert [o["flow"] for o in outcomes] == ["drain-outbox", "sweep-deadlines", "evaluate-mda"]
    assert [o["error"] for o in outcomes] == [None, None, None]
    assert outcomes[0]["report"] == {
        "delivered": 0,
        "retrying": 0,
        "dead": 0,
        "pending": 0,
        "refused": 0,
        "deferred": 0,
    }


def test_flows_escalate_sweeps_only_the_cases_given(
    prefect_api: PrefectServer, engine: Engine
) -> None:
    """phasedcare flows escalate CASE escalates that case's overdue deadline and no other."""
    wanted, other = open_case(engine, CANARY_NAMES[0]), open_case(engine, CANARY_NAMES[1])
    result = CliRunner().invoke(app, ["flows", "escalate", wanted, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["report"]
    assert [e.rsplit(":", 1)[0] for e in report["escalated"]] == [
        f"{wanted}:veiligheidsbeoordeling"
    ]
    assert other not in result.stdout


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``phasedcare`` subprocess on this home (no Prefect settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PHASEDCARE_HOME=str(settings.resolved_home), PHASEDCARE_WEBHOOK_ALLOW_LOOPBACK="true"
    )
    env.update(extra)
    return env


def test_flows_run_drains_on_its_interval_until_ctrl_c(
    prefect_api: PrefectServer, engine: Engine, home: Settings, tmp_path: Path
) -> None:
    """phasedcare flows run: the proposal is delivered by a drain run; Ctrl-C stops it cleanly."""
    out = tmp_path / "stdout.txt"
    env = cli_env(
        home,
        PREFECT_API_URL=prefect_api.api_url,
        PREFECT_HOME=str(tmp_path / "cli-prefect"),
        PHASEDCARE_FLOWS_DRAIN_INTERVAL_SECONDS="1",
    )
    with WebhookReceiver(secret=PLACEHOLDER_SECRET) as rx, out.open("w") as stdout:
        subscribe(engine, rx)
        propose(engine, open_case(engine, CANARY_NAMES[0]), CANARY_NAMES[0])
        process = subprocess.Popen(
            [str(BIN / "phasedcare"), "flows", "run"],
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )

        def delivered() -> bool:
            return "delivered 1," in out.read_text() or process.poll() is not None

        try:
            wait_until(delivered, timeout=60, what="a drain run that delivered")
            process.send_signal(signal.SIGINT)  # Ctrl-C
            _, stderr = process.communicate(timeout=90)  # a loaded 2-core box is slow
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert process.returncode == 0, stderr
    lines = out.read_text().splitlines()
    assert lines[0].startswith("running drain-outbox every 1 s")
    assert [line for line in lines if line.startswith("drain-outbox: delivered 1,")]
    assert lines[-1] == "stopped"
    assert_each_event_once(rx, 1)


@pytest.mark.slow
def test_flows_run_once_embedded_starts_its_own_prefect(home: Settings) -> None:
    """Without PREFECT_API_URL, Prefect runs its own server; its database lands in the home."""
    result = subprocess.run(
        [str(BIN / "phasedcare"), "flows", "run", "--once", "--json"],
        env=cli_env(home),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert [o["error"] for o in json.loads(result.stdout)] == [None, None, None]
    assert (home.resolved_home / "prefect" / "prefect.db").is_file()
