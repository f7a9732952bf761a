"""How phasedcare's costs grow with its ledger: homes of 10,000 to 1,000,000 events, SQLite
and PostgreSQL, the same measures on each.

For every home given (``--home``, repeatable; its ``config.toml`` names the database, SQLite
in the home by default or PostgreSQL by ``database_url``) the bench reports:

- its size: the records in the ledger, the cases, and the bytes on disk (SQLite: the file
  with its WAL; PostgreSQL: the tables and indexes of the home's schema);
- caseload pages of 50 for the wijkteam holding the most cases, through the engine (each is
  a search in the access log, so it appends a record: that commit is in the figure) and
  through the store alone (the SQL only): the cases it holds, its overdue deadlines, its
  handovers; and ``GET /cases?limit=50`` through the HTTP app (TestClient, in this process);
- the replay of one case (``state_at``) and its history, for the case whose record count is
  nearest :data:`REPLAYED_RECORDS` (so every home replays a case of the same length);
- full verification (``verify_ledger`` as an auditor: every record, the tree, every
  checkpoint), which grows linearly by nature;
- the memory of ``phasedcare serve --no-flows`` on the home: its resident set (VmRSS) after
  start and after ``--requests`` requests (cases, overdue deadlines, handovers, one case and
  its history, in turn), and its peak (VmHWM).

Times are the best of ``--runs`` runs (15; the quick measures in interleaved rounds, so a
slow spell of a shared machine hits them all) and of ``--verify-runs`` for verification, in
ms. The table shows each measure at every size divided by the same measure at the smallest
size of the run: a page or a replay should stay near 1.0x. Results go to
``bench/results/growth-<label>.json``; ``bench/plot_growth.py`` draws docs/img/growth.svg.

The bench writes to the homes it measures: its access records, and one API key for serve
(revoked at the end). ``--explain`` prints the database's plans of the store's queries.

Run (the homes from ``phasedcare simulate``)::

    .venv/bin/python bench/growth_bench.py --label sqlite --home /data/g10k --home /data/g1m
    .venv/bin/python bench/plot_growth.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _common import best, best_each, print_table
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import event, make_url, text

from phasedcare.config import Settings, load_settings
from phasedcare.domain.actors import Actor, Role
from phasedcare.domain.policy import OrganisationKind
from phasedcare.service.engine import Engine
from phasedcare.service.ports import CaseFilter, DeadlineFilter, HandoverFilter

RESULTS = Path(__file__).parent / "results"
PAGE = 50
"""Rows per caseload page."""

REPLAYED_RECORDS = 20
"""The replayed case is the one whose record count is nearest this."""

PHASEDCARE = Path(sys.executable).parent / "phasedcare"

MEASURES = (
    "cases page",
    "overdue page",
    "handovers page",
    "GET /cases page",
    "store: cases page",
    "store: overdue page",
    "store: handovers page",
    "replay one case",
    "history one case",
    "verify ledger",
)
"""Every timed measure, in the order of the table (ms)."""


@dataclass
class Subjects:
    """Who asks and what is replayed in one home (chosen from its data)."""

    vt: Actor
    wijkteam: Actor
    auditor: Actor
    wijkteam_cases: int
    case_id: str
    case_records: int


@dataclass
class HomeResult:
    """Everything measured in one home."""

    home: str
    backend: str
    records: int
    cases: int
    disk_bytes: int
    organisation: str
    organisation_cases: int
    replayed_records: int
    ms: dict[str, float] = field(default_factory=dict)
    serve: dict[str, int] = field(default_factory=dict)


# -- the home's size -----------------------------------------------------------------------


def _count(db: SqlEngine, sql: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def disk_bytes(settings: Settings, db: SqlEngine) -> int:
    """The SQLite file with its WAL and shared memory, or the PostgreSQL schema's relations."""
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        parts = (path, Path(f"{path}-wal"), Path(f"{path}-shm"))
        return sum(p.stat().st_size for p in parts if p.exists())
    return _count(
        db,
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')",
    )


def subjects(engine: Engine, db: SqlEngine) -> Subjects:
    """The wijkteam holding the most cases, a Veilig Thuis professional, an auditor, and the
    case to replay."""
    policy = engine.policy
    with db.connect() as conn:
        holders = conn.execute(
            text(
                "SELECT regie_organisation, COUNT(*) FROM case_records "
                "GROUP BY regie_organisation ORDER BY COUNT(*) DESC, regie_organisation"
            )
        ).all()
        lengths = conn.execute(
            text(
                "SELECT e.case_id, COUNT(*) FROM event_records e "
                "JOIN case_records r ON r.case_id = e.case_id GROUP BY e.case_id"
            )
        ).all()
    organisation, held = next(
        (org, n)
        for org, n in holders
        if policy.organisation(org).kind is not OrganisationKind.veilig_thuis
    )
    case_id, records = min(lengths, key=lambda row: (abs(row[1] - REPLAYED_RECORDS), row[0]))
    vt = policy.veilig_thuis.id
    return Subjects(
        vt=Actor(user="u-vt-growth", organisation=vt, role=Role.professional),
        wijkteam=Actor(user="u-wt-growth", organisation=organisation, role=Role.professional),
        auditor=Actor(user="u-audit-growth", organisation=vt, role=Role.auditor),
        wijkteam_cases=int(held),
        case_id=str(case_id),
        case_records=int(records),
    )


# -- the timed measures --------------------------------------------------------------------


def timed_runs(engine: Engine, who: Subjects) -> dict[str, Callable[[], Any]]:
    """One call per measure but verification, each checked to answer something."""
    store, wt, vt = engine.store, who.wijkteam, who.vt
    today = datetime.now(UTC).date()
    org = wt.organisation
    return {
        "cases page": lambda: engine.list_cases(actor=wt, limit=PAGE),
        "overdue page": lambda: engine.deadlines(actor=wt, overdue=True, limit=PAGE),
        "handovers page": lambda: engine.handovers(actor=wt, limit=PAGE),
        "store: cases page": lambda: store.projections(CaseFilter(organisation=org, limit=PAGE)),
        "store: overdue page": lambda: store.deadline_rows(
            DeadlineFilter(responsible=org, due_before=today, limit=PAGE)
        ),
        "store: handovers page": lambda: store.handover_rows(
            HandoverFilter(organisation=org, limit=PAGE)
        ),
        "replay one case": lambda: engine.state_at(who.case_id, actor=vt),
        "history one case": lambda: engine.history(who.case_id, actor=vt),
    }


@contextmanager
def http_page(engine: Engine, who: Subjects) -> Iterator[Callable[[], None]]:
    """``GET /cases?limit=50`` as the wijkteam, through the app in this process."""
    from phasedcare.api import create_app  # noqa: PLC0415 - only this measure

    with warnings.catch_warnings():  # Starlette's note on httpx, at import only
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient  # noqa: PLC0415

    app = create_app(engine, authenticate=lambda _: who.wijkteam)
    with TestClient(app) as client:

        def page() -> None:
            response = client.get(f"/cases?limit={PAGE}", headers={"Authorization": "Bearer x"})
            assert response.status_code == 200, response.text

        yield page


def quick_times(homes: list[OpenHome], *, runs: int) -> None:
    """Every measure but verification, for every home, best of ``runs`` in ms.

    The rounds interleave every measure of every home, so a slow spell of a shared machine
    hits all homes alike instead of making one size look slow.
    """
    with ExitStack() as stack:
        calls: dict[str, Callable[[], Any]] = {}
        for number, home in enumerate(homes):
            page = stack.enter_context(http_page(home.engine, home.who))
            named = {**timed_runs(home.engine, home.who), "GET /cases page": page}
            calls.update({f"{number}:{name}": run for name, run in named.items()})
        seconds = best_each(calls, repeat=runs)
    for number, home in enumerate(homes):
        for key, value in seconds.items():
            index, name = key.split(":", 1)
            if int(index) == number:
                home.result.ms[name] = round(value * 1e3, 3)


def verify_time(home: OpenHome, *, runs: int) -> None:
    """Full verification as an auditor, best of ``runs``, in ms (the ledger must be intact)."""

    def verify() -> None:
        report = home.engine.verify_ledger(actor=home.who.auditor)
        assert report.intact, [str(p) for p in report.problems[:3]]

    home.result.ms["verify ledger"] = round(best(verify, repeat=runs) * 1e3, 3)


# -- the plans behind the store's queries --------------------------------------------------


@contextmanager
def captured_selects(db: SqlEngine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (with their parameters) the engine's connections run inside."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(db, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(db, "before_cursor_execute", capture)


def explain(engine: Engine, who: Subjects) -> None:
    """Print the plan of every SELECT the store's caseload pages run."""
    db: SqlEngine = engine.store._engine  # type: ignore[attr-defined]  # the SQL store's own
    sqlite = db.dialect.name == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
    for name, run in timed_runs(engine, who).items():
        if not name.startswith("store:"):
            continue
        with captured_selects(db) as statements:
            run()
        for statement, parameters in statements:
            with db.connect() as conn:
                plan = conn.exec_driver_sql(prefix + statement, parameters).all()
            print(f"\n-- {name}: {' '.join(statement.split())[:160]}")
            for row in plan:
                print("   ", str(row[-1])[:160])


# -- the memory of serve -------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def memory_kib(pid: int) -> dict[str, int]:
    """The process's resident set now and at its peak, in KiB (from /proc)."""
    lines = Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines()
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def api_key(engine: Engine, actor: Actor) -> tuple[str, Callable[[], None]]:
    """A new API key for ``actor`` in the home, and how to revoke it."""
    from phasedcare.service.api_keys import ApiKeys  # noqa: PLC0415
    from phasedcare.service.engine import utc_now  # noqa: PLC0415

    keys = ApiKeys(store=engine.store, policy=engine.policy, clock=utc_now)
    key, token = keys.create(actor, label="growth bench")
    return token, lambda: keys.revoke(key.key_id) and None


def wait_for_health(base: str, server: subprocess.Popen[bytes]) -> None:
    """Return once the server answers /health; fail when it exits or takes over 10 min."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"phasedcare serve did not answer /health (exit code {server.poll()})")


def serve_memory(home: Path, token: str, case_id: str, requests: int) -> dict[str, int]:
    """Start ``phasedcare serve --no-flows`` on the home, send requests, read its memory, stop."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our own CLI
        [str(PHASEDCARE), "serve", "--no-flows", "--port", str(port), "--home", str(home)],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    paths = (
        f"/cases?limit={PAGE}",
        f"/deadlines?overdue=true&limit={PAGE}",
        f"/handovers?limit={PAGE}",
        f"/cases/{case_id}",
        f"/cases/{case_id}/history",
    )
    try:
        wait_for_health(base, server)
        started = memory_kib(server.pid)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            statuses = [
                client.get(paths[n % len(paths)], timeout=120).status_code for n in range(requests)
            ]
        after = memory_kib(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return {
        "requests": requests,
        "errors": sum(status != 200 for status in statuses),
        "rss_kib_started": started["VmRSS"],
        "rss_kib": after["VmRSS"],
        "hwm_kib": after["VmHWM"],
    }


# -- one home, then the run ----------------------------------------------------------------


@dataclass
class OpenHome:
    """A home whose engine is open, with its subjects and its result so far."""

    path: Path
    engine: Engine
    who: Subjects
    result: HomeResult


@contextmanager
def opened(paths: list[Path]) -> Iterator[list[OpenHome]]:
    """An engine on each home (closed afterwards), with its sizes measured."""
    from phasedcare.bootstrap import build  # noqa: PLC0415 - after the arguments are read

    with ExitStack() as stack:
        homes = []
        for path in paths:
            settings = load_settings(home=path)
            engine = build(settings, configure_logs=True)
            stack.callback(engine.close)
            db: SqlEngine = engine.store._engine  # type: ignore[attr-defined]  # the SQL store's
            who = subjects(engine, db)
            homes.append(OpenHome(path, engine, who, sized(path, settings, db, who)))
        yield homes


def sized(path: Path, settings: Settings, db: SqlEngine, who: Subjects) -> HomeResult:
    """The home's result with its size and subjects filled in."""
    return HomeResult(
        home=str(path),
        backend=db.dialect.name,
        records=_count(db, "SELECT COUNT(*) FROM event_records"),
        cases=_count(db, "SELECT COUNT(*) FROM case_records"),
        disk_bytes=disk_bytes(settings, db),
        organisation=who.wijkteam.organisation,
        organisation_cases=who.wijkteam_cases,
        replayed_records=who.case_records,
    )


def serve_time(home: OpenHome, requests: int) -> None:
    """Serve's memory on the home, with an API key made for it and revoked afterwards."""
    token, revoke = api_key(home.engine, home.who.vt)
    try:
        home.result.serve = serve_memory(home.path, token, home.who.case_id, requests)
    finally:
        revoke()


def measure(paths: list[Path], args: argparse.Namespace) -> list[HomeResult]:
    """Every measure on every home: plans, quick times, verification, then serve."""
    with opened(paths) as homes:
        for home in homes:
            print(f"{home.path}: {home.result.records:,} records", flush=True)
            if args.explain:
                explain(home.engine, home.who)
        quick_times(homes, runs=args.runs)
        for home in homes:
            verify_time(home, runs=args.verify_runs)
            if args.requests:
                serve_time(home, args.requests)
        return [home.result for home in homes]


def ratios(results: list[HomeResult]) -> dict[str, dict[str, float]]:
    """Each home's measures divided by those of the home with the fewest records."""
    base = min(results, key=lambda r: r.records)
    return {
        r.home: {name: round(r.ms[name] / base.ms[name], 2) for name in MEASURES if base.ms[name]}
        for r in results
    }


def report(results: list[HomeResult]) -> None:
    """Print the sizes, the times with their ratios, and serve's memory."""
    ordered = sorted(results, key=lambda r: (r.backend, r.records))
    by_ratio = ratios(results)
    header = ["", *(f"{r.backend} {r.records:,}" for r in ordered)]
    print()
    print_table(
        header,
        [
            ["cases", *(r.cases for r in ordered)],
            ["disk MiB", *(r.disk_bytes / 2**20 for r in ordered)],
            ["wijkteam cases", *(f"{r.organisation_cases:,} ({r.organisation})" for r in ordered)],
            ["replayed records", *(r.replayed_records for r in ordered)],
            *(
                [
                    f"{name} ms",
                    *(f"{r.ms[name]:,.2f} ({by_ratio[r.home][name]:.2f}x)" for r in ordered),
                ]
                for name in MEASURES
            ),
            *(
                [f"serve {key}", *(r.serve.get(key, "-") for r in ordered)]
                for key in ("rss_kib_started", "rss_kib", "hwm_kib", "errors")
            ),
        ],
    )


def write_json(label: str, results: list[HomeResult], args: argparse.Namespace) -> Path:
    """bench/results/growth-<label>.json: the machine, the settings and every figure."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"growth-{label}.json"
    document = {
        "label": label,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": args.runs,
        "verify_runs": args.verify_runs,
        "page": PAGE,
        "homes": [vars(r) for r in sorted(results, key=lambda r: (r.backend, r.records))],
        "ratios": ratios(results),
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def main() -> None:
    """Measure every home given, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, action="append", required=True, help="repeatable")
    parser.add_argument("--label", required=True, help="names bench/results/growth-LABEL.json")
    parser.add_argument("--runs", type=int, default=15, help="best of N (default 15)")
    parser.add_argument("--verify-runs", type=int, default=1, help="best of N verifications")
    parser.add_argument("--requests", type=int, default=200, help="to serve; 0: no serve")
    parser.add_argument("--explain", action="store_true", help="print the queries' plans")
    args = parser.parse_args()
    results = measure(args.home, args)
    report(results)
    print(f"\nwrote {write_json(args.label, results, args)}")


if __name__ == "__main__":
    main()
