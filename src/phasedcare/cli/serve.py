"""``phasedcare serve``: the HTTP API and the embedded flow runner in one process.

On the first start of an empty home it seeds the synthetic demo region and prints an API key
for a Veilig Thuis demo professional, so a newcomer sees households in every phase at once.
"""

from __future__ import annotations

import socket
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from phasedcare.cli.app import HomeOption, app
from phasedcare.cli.flows import FlowThread, flow_processes_stopped, prepare_flows
from phasedcare.cli.output import console, fail, reporting_errors
from phasedcare.cli.processes import terminated_by_sigterm
from phasedcare.config import Settings, load_settings
from phasedcare.domain.actors import Actor, Role

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp

    from phasedcare.service.engine import Engine

__all__ = ["DEMO_ACTOR", "serve"]

DEMO_ACTOR = Actor(user="u-vt-demo", organisation="vt-ijsselland", role=Role.professional)
"""Who the printed API key acts as on a seeded demo home."""
FLOWS_STOP_SECONDS = 30.0
"""How long a stop waits for the flow run in progress to finish."""


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


def _flow_runner(home: Path) -> FlowThread:
    """Start the embedded flow runner in a thread of its own."""
    settings = prepare_flows(home)
    from phasedcare.flows import EmbeddedRunner, intervals  # noqa: PLC0415 - Prefect only here

    return FlowThread(EmbeddedRunner(intervals(settings)))


def _listening(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` and listening; a taken port fails in one line.

    It is bound before anything else happens, so a start that cannot serve seeds nothing,
    prints no address and spends no one-time API key (the next start still prints one).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        listener.bind((host, port))
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)")
    return listener


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
    """Serve the HTTP API (and the flows) until Ctrl-C; seed the demo region on first start.

    SIGTERM stops it as Ctrl-C does: uvicorn drains its requests, the flows finish their
    current run, every child process (Prefect's embedded API) is stopped, and the engine
    closes (signing the checkpoint its last commits wait for).
    """
    from phasedcare.api import create_app  # noqa: PLC0415
    from phasedcare.api.throttle import FailureThrottle  # noqa: PLC0415
    from phasedcare.bootstrap import build, build_authenticator, initialise  # noqa: PLC0415

    with _listening(host, port) as listener, terminated_by_sigterm(0):
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
            links = _console(application, engine, settings, demo=seed)
        try:
            _serve_until_stopped(
                listener, application, settings.resolved_home if flows else None, token, links
            )
        finally:
            engine.close()


def _console(
    application: FastAPI, engine: Engine, settings: Settings, *, demo: bool
) -> list[tuple[Actor, str]]:
    """Mount the console (with sign-in at the identity provider when configured); with
    ``demo``, a one-time sign-in code per demo actor."""
    from phasedcare.bootstrap import build_id_token_verifier  # noqa: PLC0415
    from phasedcare.cli.demo import console_actors  # noqa: PLC0415
    from phasedcare.service.engine import utc_now  # noqa: PLC0415
    from phasedcare.web import OidcSignIn, mount_console  # noqa: PLC0415
    from phasedcare.web.sessions import ConsoleSessions, SignInLinks  # noqa: PLC0415

    links = SignInLinks(clock=utc_now)
    id_tokens = build_id_token_verifier(settings, engine)
    oidc = None
    if id_tokens is not None:
        oidc = OidcSignIn(
            client_id=settings.oidc_console_client_id or "",
            client_secret=settings.oidc_console_client_secret,
            authorization_endpoint=settings.oidc_authorization_endpoint or "",
            token_endpoint=settings.oidc_token_endpoint or "",
            id_tokens=id_tokens,
            clock=utc_now,
        )
    sessions = ConsoleSessions(clock=utc_now)
    mount_console(application, engine, sessions=sessions, links=links, oidc=oidc)
    return [(a, links.issue(a)) for a in console_actors(engine.policy)] if demo else []


def _serve_until_stopped(
    listener: socket.socket,
    application: ASGIApp,
    flows_home: Path | None,
    token: str | None,
    links: list[tuple[Actor, str]],
) -> None:
    """Run the flows (with a home), announce, and serve until Ctrl-C or SIGTERM; then the
    flows finish their current run, reporting to Prefect, and every child process stops."""
    import uvicorn  # noqa: PLC0415 - only this command serves

    with flow_processes_stopped():
        flow_thread = _flow_runner(flows_home) if flows_home is not None else None
        try:
            _announce(listener, token, links)
            with suppress(KeyboardInterrupt):  # Ctrl-C is the way to stop, as uvicorn.run has it
                uvicorn.Server(uvicorn.Config(application, log_level="warning")).run([listener])
        finally:
            if flow_thread is not None:
                flow_thread.finish(FLOWS_STOP_SECONDS)


def _announce(listener: socket.socket, token: str | None, links: list[tuple[Actor, str]]) -> None:
    """Where the API and the console answer, the demo API key when one was just made, and
    the console's one-time sign-in links (each works once, from this machine only)."""
    host, port = listener.getsockname()[:2]
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"  # the address it is bound to
    console.print(f"phasedcare serves {base} (docs: {base}/docs, console: {base}/console/)")
    for actor, code in links:
        link = f"{_loopback(base, host, port)}/console/aanmelden?code={code}"
        console.print(f"console sign-in for {actor} (once, this machine): {link}", soft_wrap=True)
    if token is not None:
        console.print(f"API key for {DEMO_ACTOR} (shown once): {token}", soft_wrap=True)
        console.print(f"try: curl -H 'Authorization: Bearer {token}' {base}/cases", soft_wrap=True)


def _loopback(base: str, host: str, port: int) -> str:
    """The address a browser on this machine opens: the bound one, or loopback when bound
    to every address (a sign-in link works only from loopback)."""
    return f"http://127.0.0.1:{port}" if host in ("0.0.0.0", "::") else base  # noqa: S104
