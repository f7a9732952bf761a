"""A real browser on the console: Debian's Chromium driven by Playwright, the console served
by uvicorn on loopback, axe-core judging every page it shows (WCAG 2.1 AA)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
"""The browser: Debian's package, which .ci/run installs as it installs SoftHSM."""

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)"
)

SERIOUS = ("serious", "critical")
"""The axe-core impacts a page may not have (WCAG 2.1 AA, as Dutch public services)."""


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its address."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical violations of the page now shown, in words."""
    from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in SERIOUS
    ]


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img" / "console"
"""Where ``PHASEDCARE_SCREENSHOTS=1`` makes the journeys leave their pictures for the docs."""
