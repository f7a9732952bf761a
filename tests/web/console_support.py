"""What the console's tests share: the served app and the CSRF token of a page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from phasedcare.web.sessions import ConsoleSessions, SignInLinks


@dataclass
class Console:
    """The served app, its sign-in links and sessions."""

    app: Any
    links: SignInLinks
    sessions: ConsoleSessions

    def client(self) -> TestClient:
        """A browser of its own (its own cookies), on loopback as a local browser is."""
        return TestClient(self.app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000))


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)
