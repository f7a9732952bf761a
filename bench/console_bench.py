"""What the console's pages cost against the API's own GETs of the same data.

A home is filled with ``phasedcare simulate`` (synthetic households, SQLite), the app is the
one ``phasedcare serve`` builds (API and console), driven in process through Starlette's
TestClient, so both arms pay the same transport. Interleaved rounds, each request timed:

(a) the caseload: ``GET /console/`` (one page of 50, acute first) against ``GET /cases?limit=50``;
(b) a case page: ``GET /console/zaken/{id}`` against the four API reads it draws on
    (``/cases/{id}``, ``/allowed``, ``/history``, ``/obligations``), one after another.

Run: ``.venv/bin/python bench/console_bench.py`` (``--households N``, ``--rounds R``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from _common import print_table, ratio


def _simulated(home: Path, households: int) -> None:
    phasedcare = str(Path(sys.executable).parent / "phasedcare")
    args = [phasedcare, "simulate", "--households", str(households), "--years", "1", "--seed", "5"]
    subprocess.run(  # noqa: S603 - our own CLI, from this virtual environment
        args, env={"PHASEDCARE_HOME": str(home), "PATH": ""}, check=True, capture_output=True
    )


def _clients(home: Path) -> tuple[object, object, object, list[str]]:
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from phasedcare.api import create_app  # noqa: PLC0415
    from phasedcare.bootstrap import build  # noqa: PLC0415
    from phasedcare.config import Settings  # noqa: PLC0415
    from phasedcare.domain.actors import Actor, Role  # noqa: PLC0415
    from phasedcare.service.engine import utc_now  # noqa: PLC0415
    from phasedcare.web import mount_console  # noqa: PLC0415
    from phasedcare.web.sessions import ConsoleSessions, SignInLinks  # noqa: PLC0415

    engine = build(Settings(home=home, log_level="warning"), access_point="http")
    vt = Actor(
        user="u-vt-bench", organisation=engine.policy.veilig_thuis.id, role=Role.professional
    )
    app = create_app(engine, authenticate=lambda _token: vt)
    links = SignInLinks(clock=utc_now)
    mount_console(
        app, engine, sessions=ConsoleSessions(clock=utc_now, idle_seconds=86_400), links=links
    )
    browser = TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 1))
    browser.get(f"/console/aanmelden?code={links.issue(vt)}")
    api = TestClient(app, headers={"Authorization": "Bearer bench"})
    cases = [row["case_id"] for row in api.get("/cases").json()]
    return engine, browser, api, cases


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _ok(response: object) -> None:
    status = getattr(response, "status_code", 0)
    if status != 200:
        raise SystemExit(f"a bench request failed with {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=60)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as folder:
        home = Path(folder) / "home"
        _simulated(home, options.households)
        engine, browser, api, cases = _clients(home)
        picked = random.Random(3).choices(cases, k=options.rounds)  # noqa: S311 - a sample
        arms: dict[str, Callable[[str], None]] = {
            "console caseload": lambda _: _ok(browser.get("/console/")),  # type: ignore[attr-defined]
            "API /cases?limit=50": lambda _: _ok(api.get("/cases?limit=50")),  # type: ignore[attr-defined]
            "console case page": lambda c: _ok(browser.get(f"/console/zaken/{c}")),  # type: ignore[attr-defined]
            "API: 4 reads of it": lambda c: [
                _ok(api.get(f"/cases/{c}{tail}"))  # type: ignore[attr-defined]
                for tail in ("", "/allowed", "/history", "/obligations")
            ],
        }
        seconds: dict[str, list[float]] = {name: [] for name in arms}
        for case_id in picked:  # interleaved: each round runs every arm once
            for name, arm in arms.items():
                seconds[name].append(_timed(lambda arm=arm, c=case_id: arm(c)))
        engine.close()  # type: ignore[attr-defined]
    rows = []
    for name, taken in seconds.items():
        p95 = statistics.quantiles(taken, n=20)[-1]
        rows.append([name, f"{statistics.median(taken) * 1000:.1f}", f"{p95 * 1000:.1f}"])
    print(f"{options.households} households, {len(cases)} cases, {options.rounds} rounds")
    print_table(["request", "median ms", "p95 ms"], rows)
    p95 = {n: statistics.quantiles(t, n=20)[-1] for n, t in seconds.items()}
    print(
        "caseload page / API list, p95:", ratio(p95["console caseload"], p95["API /cases?limit=50"])
    )
    print(
        "case page / its 4 API reads, p95:",
        ratio(p95["console case page"], p95["API: 4 reads of it"]),
    )


if __name__ == "__main__":
    main()
