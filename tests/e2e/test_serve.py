"""`phasedcare serve` on a fresh home: seeded with the demo region, an API key printed, the
API answering on loopback, and a clean stop on Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_key(process: subprocess.Popen[str], deadline: float) -> tuple[str, list[str]]:
    """The printed API key, and every console sign-in link printed before it."""
    assert process.stdout is not None
    links = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "console sign-in for" in line:
            links.append(line.rsplit(" ", 1)[-1].strip())
        if "API key for" in line:
            return line.rsplit(" ", 1)[-1].strip(), links
    raise AssertionError("serve printed no API key")


def test_serve_seeds_the_demo_and_answers_with_the_printed_key(tmp_path: Path) -> None:
    """Health without a key, the caseload with it, 401 without; a clean stop on Ctrl-C."""
    port = _free_port()
    phasedcare = str(Path(sys.executable).parent / "phasedcare")
    env = {**os.environ, "PHASEDCARE_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [phasedcare, "serve", "--port", str(port), "--no-flows"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        key, links = _wait_for_key(process, time.monotonic() + 60)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {key}"}
        cases = httpx.get(f"{base}/cases", headers=auth).json()
        assert len(cases) == 12
        assert {c["phase"] for c in cases} >= {"aanmelding", "directe_veiligheid", "herstel"}
        assert httpx.get(f"{base}/cases").status_code == 401
        handovers = httpx.get(f"{base}/handovers?status=proposed", headers=auth).json()
        assert len(handovers) == 2
        assert httpx.get(f"{base}/deadlines?overdue=true", headers=auth).json()
        _signed_in_with_the_printed_link(base, links)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # never left running past the test
            process.communicate()
    assert process.returncode == 0


def _signed_in_with_the_printed_link(base: str, links: list[str]) -> None:
    """The console: a printed link signs Veilig Thuis in once; its caseload shows the demo."""
    assert len(links) == 4  # Veilig Thuis, the wijkteam, the MDA++ team, an auditor
    assert all(link.startswith(f"{base}/console/aanmelden?code=") for link in links)
    with httpx.Client(follow_redirects=True) as browser:
        signed_in = browser.get(links[0])
        assert signed_in.status_code == 200
        assert str(signed_in.url) == f"{base}/console/"
        assert signed_in.text.count('href="/console/zaken/c-') == 12
    assert httpx.get(links[0]).status_code == 401  # once only
