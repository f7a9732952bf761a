"""The console over a real engine: an app with the console mounted, and signing in."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from console_support import Console
from fastapi.testclient import TestClient

from phasedcare.api import create_app
from phasedcare.domain.actors import Actor
from phasedcare.service.engine import Engine
from phasedcare.testing import ManualClock
from phasedcare.web import mount_console
from phasedcare.web.sessions import ConsoleSessions, SignInLinks
from support import token_table


@pytest.fixture
def console(engine: Engine, clock: ManualClock) -> Console:
    app = create_app(engine, authenticate=token_table({}))
    links, sessions = SignInLinks(clock=clock), ConsoleSessions(clock=clock)
    mount_console(app, engine, sessions=sessions, links=links)
    return Console(app=app, links=links, sessions=sessions)


@pytest.fixture
def signed_in(console: Console) -> Iterator[Callable[[Actor], TestClient]]:
    """A browser signed in as an actor through a one-time link."""
    browsers: list[TestClient] = []

    def sign_in(actor: Actor) -> TestClient:
        browser = console.client()
        browsers.append(browser)
        code = console.links.issue(actor)
        response = browser.get(f"/console/aanmelden?code={code}", follow_redirects=False)
        assert response.status_code == 303, response.text
        return browser

    yield sign_in
    for browser in browsers:
        browser.close()
