"""``phasedcare serve``: the HTTP API and the embedded flow runner in one process.

On the first start of an empty home it seeds the synthetic demo region and prints an API key
for a Veilig Thuis demo professional, so a newcomer sees households in every phase at once.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from phasedcare.cli.app import HomeOption, app
from phasedcare.cli.output import console, reporting_errors
from phasedcare.config import Settings, load_settings
from phasedcare.domain.actors import Actor, Role

__all__ = ["DEMO_ACTOR", "serve"]

DEMO_ACTOR = Actor(user="u-vt-demo", organisation="vt-ijsselland", role=Role.professional)
"""Who the printed API key acts as on a seeded demo home."""


def _seed_if_empty(settings: Settings) -> str | None:
    """Seed the demo region into an empty home; returns an API key token for DEMO_ACTOR."""
    from phasedcare.bootstrap import build  # noqa: PLC0415 - keep `phasedcare --help` fast
    from phasedcare.cli.demo import run_demo  # noqa: PLC0415
    from phasedcare.service.api_keys import ApiKeys  # noqa: PLC0415
    from phasedcare.service.engine import utc_now  # noqa: PLC0415
    from phasedcare.service.ports import CaseFilter  # noqa: PLC0415

    engine = build(settings)
    try:
        empty = not engine.store.projections(CaseFilter(limit=1))  # one row, not every case id
    finally:
        engine.close()
    if not empty:
        return None
    run_demo(settings, households=12, seed=7)
    engine = build(settings)
    try:
        keys = ApiKeys(store=engine.store, policy=engine.policy, clock=utc_now)
        actor = Actor(
            user=DEMO_ACTOR.user, organisation=engine.policy.veilig_thuis.id, role=Role.professional
        )
        _, token = keys.create(actor, label="demo (phasedcare serve)")
    finally:
        engine.close()
    return token


def _flow_runner(home: Path) -> threading.Event:
    """Start the embedded flow runner in a daemon thread; set the event to stop it."""
    from phasedcare.cli.flows import prepare_flows  # noqa: PLC0415

    settings = prepare_flows(home)
    from phasedcare.flows import EmbeddedRunner, intervals  # noqa: PLC0415 - Prefect only here

    stop = threading.Event()
    runner = EmbeddedRunner(intervals(settings))
    threading.Thread(target=runner.run, args=(stop,), name="flows", daemon=True).start()
    return stop


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port.")] = 8000,
    flows: Annotated[
        bool, typer.Option("--flows/--no-flows", help="Run the flows in this process too.")
    ] = True,
    seed: Annotated[
        bool,
        typer.Option(
            "--seed/--no-seed",
            help="Seed the demo region into an empty database and print an API key "
            "(`phasedcare cluster up` starts its API processes with --no-seed).",
        ),
    ] = True,
    home: HomeOption = None,
) -> None:
    """Serve the HTTP API (and the flows) until Ctrl-C; seed the demo region on first start."""
    import uvicorn  # noqa: PLC0415 - only this command serves

    from phasedcare.api import create_app  # noqa: PLC0415
    from phasedcare.api.throttle import FailureThrottle  # noqa: PLC0415
    from phasedcare.bootstrap import build, build_authenticator, initialise  # noqa: PLC0415

    with reporting_errors():
        settings = load_settings(home=home)
        initialise(settings)
        token = _seed_if_empty(settings) if seed else None
        engine = build(settings, configure_logs=True, access_point="http")
        throttle = FailureThrottle(
            failures=settings.auth_failure_limit,
            window_seconds=settings.auth_failure_window_seconds,
        )
        application = create_app(
            engine, authenticate=build_authenticator(settings, engine), throttle=throttle
        )
    stop = _flow_runner(settings.resolved_home) if flows else None
    console.print(f"phasedcare serves http://{host}:{port} (docs: http://{host}:{port}/docs)")
    if token is not None:
        console.print(f"API key for {DEMO_ACTOR} (shown once): {token}", soft_wrap=True)
        console.print(
            f"try: curl -H 'Authorization: Bearer {token}' http://{host}:{port}/cases",
            soft_wrap=True,
        )
    _finish_on_sigterm()
    try:
        uvicorn.run(application, host=host, port=port, log_level="warning")
    finally:
        if stop is not None:
            stop.set()
        engine.close()


def _finish_on_sigterm() -> None:
    """SIGTERM ends ``serve`` as Ctrl-C does: uvicorn drains its requests, then raises the
    signal again under the handler it found, this one, so the engine still closes (and
    signs the checkpoint its last commits wait for) instead of the process dying."""

    def finish(_signal: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, finish)
