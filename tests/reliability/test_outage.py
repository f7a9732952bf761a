"""The outage harness: the database and Prefect's server go away in the middle of load; the
service recovers by itself, and nothing is lost or duplicated.

- **Database.** ``phasedcare serve --no-flows`` runs over a private PostgreSQL cluster while
  HTTP clients open cases and record members, each write with its own Idempotency-Key and
  retried with it until answered 2xx. The cluster is crashed (``pg_ctl stop -m immediate``)
  and started again. While it is down every request gets a fast 503 with problem details and
  a Retry-After; afterwards the same serve process answers again. Then every acknowledged
  write is in the ledger exactly once, the ledger verifies and the projections equal rebuilt
  ones.
- **Prefect.** ``phasedcare flows run`` drains the outbox and sweeps deadlines while
  commands keep producing webhooks and overdue deadlines. Against a Prefect server of this
  test, the server is stopped and started again; without ``PREFECT_API_URL``, the API
  subprocess Prefect started for the runner is killed (the runner starts it again). Either
  way the runner logs the failed runs, keeps running, and later runs succeed. Every outbox
  message reaches its receiver, once after de-duplication by webhook-id, and every overdue
  deadline and unanswered handover is escalated once.

The default run has one outage of each kind (about 90 s in all on two cores). The bigger run
crashes the database ten times, stops the Prefect server four times (once for longer than
the client's retries) and kills the embedded API three times::

    .venv/bin/pytest tests/reliability/test_outage.py -m slow

PostgreSQL's programs (``/usr/lib/postgresql/*/bin``) must be installed; the database test
is skipped, saying so, when they are not. It needs no ``PHASEDCARE_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from outage_support import (
    FlowsRun,
    Households,
    PostgresCluster,
    Served,
    WriteLoad,
    phasedcare_env,
    postgres_programs,
    wait_until,
)

from e2e.prefect_support import PrefectServer
from harness import Harness
from phasedcare.bootstrap import build, initialise
from phasedcare.config import Settings
from phasedcare.domain.actors import Actor
from phasedcare.service.engine import Engine, utc_now
from phasedcare.testing import ManualClock, actor_of
from receiver import Received, WebhookReceiver
from support import admin_of

DEMO = Actor.parse("u-vt-demo@vt-ijsselland:professional")
"""Who the API key ``phasedcare serve`` prints acts as."""
VT = actor_of("vt-ijsselland", user="u-vt-01")
WIJKTEAM = actor_of("wijkteam-zwolle", user="u-wt-01")
EXPECTED_KINDS = {
    VT.organisation: ("deadline.escalated", "deadline.escalated", "handover.escalated"),
    WIJKTEAM.organisation: ("handover.proposed", "deadline.escalated"),
}
"""What each household sends each organisation: the wijkteam gets the proposal at once;
Veilig Thuis, the regiehouder, the sweep's escalations of the overdue veiligheidsbeoordeling,
of the safety condition's check that fell due and of the unanswered handover; the wijkteam,
which owns that condition, the escalation of its check."""
CLIENTS = 4
DOWN_SECONDS = 3.0
WRITES_BETWEEN_RESTARTS = 20
SLOW = [pytest.mark.slow, pytest.mark.timeout(1800)]
"""The bigger runs: deselected by default, and allowed longer than the suite's 600 s."""
PLACEHOLDER_SECRET = "whsec_" + "A" * 43 + "="
"""The receiver must listen before the subscription exists; the real secret replaces this."""


# -- the database --------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A running PostgreSQL cluster of this test's own, removed afterwards."""
    programs = postgres_programs()
    if programs is None:
        pytest.skip("PostgreSQL's programs (initdb, pg_ctl) are not installed")
    cluster = PostgresCluster.create(programs)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def restart_mid_load(cluster: PostgresCluster, load: WriteLoad) -> None:
    """Crash the cluster once the clients are writing, keep it down a while, start it again."""
    wanted = load.acknowledged() + WRITES_BETWEEN_RESTARTS
    wait_until(lambda: load.acknowledged() >= wanted, timeout=120, what="writes before a crash")
    refused = load.refused
    cluster.crash()
    time.sleep(DOWN_SECONDS)
    assert load.refused > refused, "no request was refused while the database was down"
    cluster.start()


class IdempotencyGap(AssertionError):
    """A write whose first attempt committed but was not answered ran again on its retry.

    This harness found it: the Idempotency-Key's record was stored after the command's
    transaction, so a database crash in between lost it, and the retry ran the command a
    second time (a member recorded twice, an open refused as existing). The record is now
    written in the command's own transaction (``Engine.handle(remember=...)``).
    """


def check_ledger(engine: Engine) -> None:
    """The ledger verifies against a fresh checkpoint; the projections equal rebuilt ones."""
    assert engine.auditor is not None
    engine.auditor.checkpoint()
    report = engine.auditor.verify()
    assert report.intact, [str(p) for p in report.problems]
    assert engine.projection_differences() == []


def check_exactly_once(engine: Engine, load: WriteLoad) -> None:
    """Every acknowledged case and member exists (nothing lost), and exactly once.

    Raises:
        IdempotencyGap: a write ran twice, or an open was answered 422 after it committed.
    """
    expected = load.expected_members()
    gaps = [f"{w.path} committed, then answered {w.statuses}" for w in load.reopened]
    for case_id, names in expected.items():
        members = Counter(m.name for m in engine.show(case_id, actor=DEMO).members)
        assert names - members == Counter(), f"case {case_id}: acknowledged members lost"
        gaps += [f"{case_id}: {name} recorded {members[name]} times" for name in members - names]
    demo_cases = 12
    opened = demo_cases + len(expected) + len(load.reopened)
    assert len(engine.store.case_ids()) == opened, "a case nobody asked for"
    if gaps:
        raise IdempotencyGap("; ".join(gaps))


@pytest.mark.parametrize("restarts", [1, pytest.param(10, marks=SLOW)])
def test_database_crashes_mid_load_lose_and_duplicate_no_write(
    cluster: PostgresCluster, restarts: int, tmp_path: Path, harness: Harness
) -> None:
    """503 with Retry-After while PostgreSQL is down, the same serve answers after; every acknowledged write once."""
    home = tmp_path / "home"
    served = Served.start(home=home, database_url=cluster.url, folder=tmp_path)
    load = WriteLoad(served, clients=CLIENTS)
    try:
        load.start()
        for _ in range(restarts):
            restart_mid_load(cluster, load)
        wanted = load.acknowledged() + WRITES_BETWEEN_RESTARTS
        wait_until(lambda: load.acknowledged() >= wanted, timeout=120, what="writes after")
        load.stop()
        assert served.process.alive, f"serve exited:\n{served.process.tail()}"
    finally:
        load.abandon()
        served.process.stop()
    harness.count("outage: requests sent", load.sent)
    harness.count("outage: requests refused during outage", load.refused)
    assert load.problems == []
    assert load.slowest_refusal < 5.0, f"a refusal took {load.slowest_refusal:.1f} s"
    assert "Anna Voorbeeld" not in served.log(), "a member's name reached serve's output"
    engine = build(Settings(home=home, database_url=cluster.url))
    try:
        check_ledger(engine)
        harness.count("outage: database restarts survived", restarts)
        check_exactly_once(engine, load)
    finally:
        engine.close()


# -- Prefect's server ----------------------------------------------------------------------------


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[PrefectServer]:
    """A Prefect server of this test's own (SQLite in a temporary folder), stopped afterwards."""
    folder = tmp_path / "prefect-server"
    folder.mkdir()
    server = PrefectServer(folder, f"sqlite+aiosqlite:///{folder / 'prefect.db'}")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """An initialised phasedcare home on SQLite that lets webhooks go to 127.0.0.1."""
    settings = Settings(home=tmp_path / "home", webhook_allow_loopback=True)
    initialise(settings)
    return settings


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """The engine commands go through, on a clock 30 days back: their deadlines are overdue."""
    engine = build(settings, clock=ManualClock(utc_now() - timedelta(days=30)))
    yield engine
    engine.close()


def start_runner(settings: Settings, folder: Path, *, api_url: str = "") -> FlowsRun:
    """``phasedcare flows run`` on this home, draining and sweeping every second, against the
    server at ``api_url`` or (none given) Prefect's own API in a subprocess of the runner."""
    server = {"PREFECT_API_URL": api_url} if api_url else {}
    env = phasedcare_env(
        PHASEDCARE_HOME=str(settings.resolved_home),
        PHASEDCARE_WEBHOOK_ALLOW_LOOPBACK="true",
        PHASEDCARE_FLOWS_DRAIN_INTERVAL_SECONDS="1",
        PHASEDCARE_FLOWS_SWEEP_INTERVAL_SECONDS="1",
        PREFECT_HOME=str(folder / "runner-prefect-home"),
        **server,
    )
    return FlowsRun.start(env=env, folder=folder)


def succeeded_since(runner: FlowsRun, start: int, flow: str) -> bool:
    """Whether a run of ``flow`` printed after outcome number ``start`` succeeded."""
    return any(o["flow"] == flow and o["error"] is None for o in runner.outcomes()[start:])


def wait_for_recovery(runner: FlowsRun) -> None:
    """A drain and a sweep succeed after this moment (the runner prints runs that did work)."""
    assert runner.process.alive, f"the runner died:\n{runner.process.tail()}"
    printed = len(runner.outcomes())
    for flow in ("drain-outbox", "sweep-deadlines"):
        wait_until(
            lambda flow=flow: succeeded_since(runner, printed, flow),
            timeout=120,
            what=f"a {flow} run to succeed after the outage\n{runner.process.tail()}",
        )


def stop_for(server: PrefectServer, seconds: float) -> Callable[[], None]:
    """An outage: stop the server, wait ``seconds``, start it again (its data kept)."""

    def outage() -> None:
        server.stop()
        time.sleep(seconds)
        server.start()

    return outage


@pytest.fixture
def receivers(engine: Engine) -> Iterator[dict[str, WebhookReceiver]]:
    """A webhook receiver per organisation (Veilig Thuis, the wijkteam), each subscribed."""
    with ExitStack() as stack:
        found = {}
        for actor in (VT, WIJKTEAM):
            rx = stack.enter_context(WebhookReceiver(secret=PLACEHOLDER_SECRET))
            _, rx.secret = engine.webhooks.subscribe(actor=admin_of(actor), url=rx.url)
            found[actor.organisation] = rx
        yield found


def received(receivers: dict[str, WebhookReceiver]) -> list[Received]:
    """Every webhook the receivers accepted (each webhook-id once per receiver)."""
    return [item for rx in receivers.values() for item in rx.received]


def kind(item: Received) -> str:
    """The CloudEvent type without phasedcare's prefix (``deadline.escalated``)."""
    return str(item.event["type"]).removeprefix("nl.phasedcare.")


def kinds_received(rx: WebhookReceiver) -> Counter[tuple[str, str]]:
    """How often each (case, kind) arrived at ``rx``, after de-duplication by webhook-id."""
    return Counter((item.event["subject"], kind(item)) for item in rx.received)


def kinds_expected(households: Households, organisation: str) -> Counter[tuple[str, str]]:
    """Each household's kinds for ``organisation``, once each."""
    return Counter(
        (case_id, each) for case_id in households.case_ids for each in EXPECTED_KINDS[organisation]
    )


def all_delivered(
    engine: Engine, receivers: dict[str, WebhookReceiver], households: Households
) -> bool:
    """Every delivery delivered and received, every household's kinds among them."""
    deliveries = engine.store.deliveries()
    return (
        all(d.status == "delivered" for d in deliveries)
        and len(received(receivers)) == len(deliveries)
        and all(
            kinds_expected(households, organisation) <= kinds_received(rx)
            for organisation, rx in receivers.items()
        )
    )


def check_webhooks(
    engine: Engine, receivers: dict[str, WebhookReceiver], households: Households
) -> None:
    """Each outbox message received once (by webhook-id), and each household's kinds once."""
    delivered = [d.message_id for d in engine.store.deliveries(status="delivered")]
    assert Counter(item.msg_id for item in received(receivers)) == Counter(delivered)
    for organisation, rx in receivers.items():
        assert kinds_received(rx) == kinds_expected(households, organisation), organisation


def run_through(
    outages: list[Callable[[], object]],
    *,
    runner: FlowsRun,
    engine: Engine,
    receivers: dict[str, WebhookReceiver],
) -> Households:
    """Households keep coming while Prefect goes away and comes back, outage after outage;
    the runner recovers each time, every webhook arrives, and Ctrl-C stops it cleanly."""
    households = Households(engine, VT, receiver=WIJKTEAM.organisation)
    try:
        households.start()
        receivers[VT.organisation].wait_for(1, timeout=120)  # the runner drains and sweeps
        for outage in outages:
            outage()
            wait_for_recovery(runner)
        households.stop()
        wait_until(
            lambda: all_delivered(engine, receivers, households),
            timeout=180,
            what="every webhook delivered",
        )
        assert runner.process.alive, f"the runner died:\n{runner.process.tail()}"
    finally:
        households.stop()
        code = runner.interrupt()
    assert households.errors == []
    assert code == 0, runner.process.tail()
    check_webhooks(engine, receivers, households)
    check_failures_logged(runner)
    return households


@pytest.mark.prefect
@pytest.mark.parametrize("outages", [(4.0,), pytest.param((2.0, 8.0, 70.0, 5.0), marks=SLOW)])
def test_prefect_server_outages_mid_load_lose_and_duplicate_no_webhook(
    prefect_server: PrefectServer,
    settings: Settings,
    engine: Engine,
    receivers: dict[str, WebhookReceiver],
    outages: tuple[float, ...],
    tmp_path: Path,
    harness: Harness,
) -> None:
    """flows run outlives Prefect's server going away: later runs succeed; every webhook once."""
    runner = start_runner(settings, tmp_path, api_url=prefect_server.api_url)
    stops = [stop_for(prefect_server, seconds) for seconds in outages]
    run_through(stops, runner=runner, engine=engine, receivers=receivers)
    harness.count("outage: prefect restarts survived", len(outages))
    harness.count("outage: webhooks delivered", len(received(receivers)))


@pytest.mark.prefect
@pytest.mark.parametrize("kills", [1, pytest.param(3, marks=SLOW)])
def test_a_killed_embedded_prefect_api_is_started_again(
    settings: Settings,
    engine: Engine,
    receivers: dict[str, WebhookReceiver],
    kills: int,
    tmp_path: Path,
    harness: Harness,
) -> None:
    """Without PREFECT_API_URL, the runner starts Prefect's own API again when it was killed."""
    runner = start_runner(settings, tmp_path)
    run_through(
        [runner.kill_embedded_api] * kills, runner=runner, engine=engine, receivers=receivers
    )
    restarted = runner.process.tail(100_000).count("prefect api restarted")
    assert restarted == kills
    harness.count("outage: prefect restarts survived", kills)
    harness.count("outage: webhooks delivered", len(received(receivers)))


def check_failures_logged(runner: FlowsRun) -> None:
    """Each failed run has one log line naming the flow and the error; no name anywhere."""
    failed = [o for o in runner.outcomes() if o["error"] is not None]
    log = runner.process.tail(100_000)
    assert "Voorbeeld" not in log + runner.stdout.read_text(), "a name reached the runner's output"
    logged = [line for line in log.splitlines() if "flow failed" in line]
    assert len(logged) == len(failed)
    for outcome in failed:
        assert set(outcome) == {"flow", "seconds", "report", "error"}
        assert outcome["report"] == {}
