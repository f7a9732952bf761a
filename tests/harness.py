"""Counts the reliability harnesses report (kills survived, conflicts seen, requests sent).

A harness test takes the ``harness`` fixture and adds to a named count; at the end of the
run pytest prints every count under "reliability harnesses", so CI's log shows what was
exercised, not only that it passed.
"""

from __future__ import annotations

from collections import Counter

import pytest

_COUNTS: Counter[str] = Counter()


class Harness:
    """Adds to the counts of the session."""

    def count(self, name: str, amount: int = 1) -> None:
        """Add ``amount`` to the count ``name`` (e.g. "crash: kills survived")."""
        _COUNTS[name] += amount


@pytest.fixture
def harness() -> Harness:
    """The session's harness counts."""
    return Harness()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every count a harness reported, sorted by name."""
    if not _COUNTS:
        return
    terminalreporter.section("reliability harnesses")
    for name in sorted(_COUNTS):
        terminalreporter.write_line(f"{name}: {_COUNTS[name]:,}")
