"""What the HTTP API adds: latency of a command and of a case read, against GET /health.

The server is the real thing: ``create_app`` over an engine on a fresh SQLite home, an API
key of a Veilig Thuis professional, under uvicorn in a subprocess on a free loopback port.
This process is the load generator (httpx, one keep-alive client per thread). Every figure
is compared with the no-op ``GET /health`` of the same server in the same run:

(a) a command, ``POST /cases/{id}/record-member`` (always allowed; each thread writes its
    own cases, ten in turn, so writes never race on a case's sequence and cases stay small);
(b) a read, ``GET /cases/{id}`` (the case as it stands, deadlines judged today);
(c) the baseline, ``GET /health`` (routing, middleware and JSON, no token, no database).

Run: ``.venv/bin/python bench/api_bench.py`` (``--requests N`` per endpoint, ``--threads T``).
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from phasedcare.config import Settings
from phasedcare.domain.actors import Actor, Role

BENCH_USER = "u-vt-bench"
WRITTEN = 10
"""Cases each client thread writes in turn."""


def _settings(home: Path) -> Settings:
    return Settings(home=home, database_url=None, log_level="warning")


def prepare(home: Path, *, cases: int) -> tuple[str, list[str]]:
    """Initialise the home; return an API key token and ``cases`` fresh case ids."""
    from phasedcare.bootstrap import build, initialise  # noqa: PLC0415 - only the parent
    from phasedcare.service.api_keys import ApiKeys  # noqa: PLC0415
    from phasedcare.service.engine import utc_now  # noqa: PLC0415

    settings = _settings(home)
    initialise(settings)
    engine = build(settings, configure_logs=True)
    try:
        vt = Actor(
            user=BENCH_USER, organisation=engine.policy.veilig_thuis.id, role=Role.professional
        )
        _, token = ApiKeys(store=engine.store, policy=engine.policy, clock=utc_now).create(
            vt, label="api bench"
        )
        ids = [
            engine.open_case(actor=vt, via="melding", summary="synthetic").case_id
            for _ in range(cases)
        ]
    finally:
        engine.close()
    return token, ids


def serve(home: Path, port: int) -> None:
    """In the child process: serve the API over the home until killed (as ``phasedcare serve``)."""
    import uvicorn  # noqa: PLC0415 - only the child serves

    from phasedcare.api import create_app  # noqa: PLC0415
    from phasedcare.bootstrap import build, build_authenticator  # noqa: PLC0415

    settings = _settings(home)
    engine = build(settings, configure_logs=True, access_point="http")
    app = create_app(engine, authenticate=build_authenticator(settings, engine))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start the server in a new process; return it and its base URL once /health answers."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - this script, in a new process
        [sys.executable, __file__, "--serve", str(home), "--port", str(port)],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the server did not answer /health within 30 s")


@dataclass
class Tally:
    """Latencies of successful requests and the status codes of the others."""

    seconds: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile latency in seconds (nearest rank)."""
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


Request = Callable[[httpx.Client, int], httpx.Response]
"""One request of a workload: the client of this thread, and this thread's number."""


def drive(base: str, token: str, request: Request, *, total: int, threads: int) -> Tally:
    """Send ``total`` requests from ``threads`` threads at once; time each one."""
    tally, lock = Tally(), threading.Lock()
    headers = {"Authorization": f"Bearer {token}"}

    def worker(number: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(total // threads):
                start = time.perf_counter()
                try:
                    response = request(client, number)
                    outcome = str(response.status_code) if response.is_error else None
                except httpx.TransportError as error:
                    outcome = type(error).__name__
                elapsed = time.perf_counter() - start
                with lock:
                    if outcome is None:
                        tally.seconds.append(elapsed)
                    else:
                        tally.errors[outcome] = tally.errors.get(outcome, 0) + 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    start = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    tally.wall = time.perf_counter() - start
    return tally


def workloads(case_ids: list[str], threads: int) -> dict[str, Request]:
    """The three workloads; the first ``WRITTEN * threads`` cases are written, the rest read."""
    writes, reads = case_ids[: WRITTEN * threads], case_ids[WRITTEN * threads :]
    turn = [0] * threads
    member = {"role": "kind", "name": "Bench Proefmans"}

    def health(client: httpx.Client, _: int) -> httpx.Response:
        return client.get("/health")

    def command(client: httpx.Client, number: int) -> httpx.Response:
        turn[number] += 1
        case_id = writes[number * WRITTEN + turn[number] % WRITTEN]
        return client.post(f"/cases/{case_id}/record-member", json=member)

    def read(client: httpx.Client, number: int) -> httpx.Response:
        return client.get(f"/cases/{reads[number % len(reads)]}")

    return {
        "GET /health (baseline)": health,
        "POST record-member": command,
        "GET /cases/{id}": read,
    }


def report(results: dict[str, Tally], *, threads: int) -> None:
    """Print the table: p50 and p99, throughput, errors, and ratios to the baseline."""
    base = results["GET /health (baseline)"]
    b50, b99 = base.percentile(50), base.percentile(99)
    print(f"{threads} client threads, one uvicorn worker, SQLite home; latencies in ms")
    print(
        f"{'endpoint':24} {'requests':>8} {'errors':>7} {'req/s':>7} "
        f"{'p50':>7} {'p99':>7} {'p50 x':>7} {'p99 x':>7}"
    )
    for name, tally in results.items():
        sent = len(tally.seconds) + sum(tally.errors.values())
        p50, p99 = tally.percentile(50), tally.percentile(99)
        print(
            f"{name:24} {sent:8d} {sum(tally.errors.values()):7d} {sent / tally.wall:7.0f} "
            f"{p50 * 1e3:7.2f} {p99 * 1e3:7.2f} {p50 / b50:7.1f} {p99 / b99:7.1f}"
        )
        if tally.errors:
            print(f"  errors: {tally.errors}")


def main() -> None:
    """Prepare a home, start the server, drive each workload, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint")
    parser.add_argument("--threads", type=int, default=4, help="client threads at once")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.port)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        token, case_ids = prepare(home, cases=WRITTEN * args.threads + 20)
        server, base = start_server(home)
        try:
            loads = workloads(case_ids, args.threads)
            for request in loads.values():  # warm up: imports, caches, connections
                drive(base, token, request, total=args.threads * 10, threads=args.threads)
            results = {
                name: drive(base, token, request, total=args.requests, threads=args.threads)
                for name, request in loads.items()
            }
        finally:
            server.terminate()
            server.wait(timeout=10)
    report(results, threads=args.threads)


if __name__ == "__main__":
    main()
