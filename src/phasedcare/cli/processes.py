"""Child processes: the detached ones of ``phasedcare cluster`` (started in sessions of their
own, outliving the command that started them, recognised later by pid and start time), and
those a long-running command leaves behind (Prefect's embedded API under ``serve`` and
``flows run``); either kind is stopped together with its descendants.

On Linux a process is recognised by its start time in ``/proc/<pid>/stat`` as well, so a pid
the kernel has since given to another program is never signalled, and a zombie counts as
ended. Elsewhere the pid alone is used (and a command's children are not found).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from phasedcare.cli.output import fail

__all__ = [
    "Detached",
    "append_to",
    "children",
    "children_stopped",
    "executable",
    "launch",
    "launched",
    "stop_all",
    "terminated_by_sigterm",
]

_PROC = Path("/proc")
_LAUNCHED: list[subprocess.Popen[bytes]] = []
"""Every process this one launched: referenced so that Python does not warn that a child it
forgot still runs (they outlive this command on purpose)."""


@dataclass(frozen=True, slots=True)
class Detached:
    """A process by its pid and start time (clock ticks after boot; None off Linux)."""

    pid: int
    started: int | None

    @property
    def running(self) -> bool:
        """Whether this very process still runs (a zombie or a reused pid does not count)."""
        if not _PROC.is_dir():
            return _signal_reaches(self.pid)
        stat = _stat(self.pid)
        return stat is not None and stat[0] != "Z" and self.started in (None, stat[2])


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) from /proc/<pid>/stat, or None when it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return fields[0], int(fields[1]), int(fields[19])


def _signal_reaches(pid: int) -> bool:
    """Whether a process with this pid exists (without /proc)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _children_by_parent() -> dict[int, set[Detached]]:
    """Every running process by its parent's pid (Linux; empty elsewhere)."""
    parents: dict[int, set[Detached]] = {}
    if not _PROC.is_dir():
        return parents
    for entry in _PROC.iterdir():
        stat = _stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is not None and stat[0] != "Z":
            parents.setdefault(stat[1], set()).add(Detached(int(entry.name), stat[2]))
    return parents


def children(pid: int) -> set[Detached]:
    """The running processes whose parent is ``pid`` (Linux; none found elsewhere)."""
    return _children_by_parent().get(pid, set())


def _with_descendants(processes: set[Detached]) -> set[Detached]:
    """These processes and every running descendant of theirs (Linux; none found elsewhere)."""
    parents = _children_by_parent()
    found, frontier = set(processes), {p.pid for p in processes if p.running}
    while frontier:
        children = {c for pid in frontier for c in parents.get(pid, set())} - found
        found |= children
        frontier = {c.pid for c in children}
    return found


def executable(name: str) -> str:
    """The path of command ``name`` in this environment (beside this Python, or on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        fail(f"`{name}` is not installed in this environment")
    return found


def append_to(log: Path) -> BinaryIO:
    """The log file opened for appending, created private (0600)."""
    return os.fdopen(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")


def launch(args: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Detached:
    """Start ``args`` in a session of its own, output appended to ``log``."""
    with append_to(log) as output:
        process = subprocess.Popen(  # noqa: S603 - our own commands, no shell
            args,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _LAUNCHED.append(process)
    return _recognised(process.pid)


def _recognised(pid: int) -> Detached:
    """The process with this pid, with its start time when /proc tells it."""
    stat = _stat(pid)
    return Detached(pid, stat[2] if stat else None)


def launched() -> list[Detached]:
    """Every process :func:`launch` started in this process, running or not."""
    return [_recognised(process.pid) for process in _LAUNCHED]


def _leads_own_group(pid: int) -> bool:
    """Whether the process leads a process group, and not this process's own."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return False
    return group == pid and group != os.getpgrp()


def _send(process: Detached, signum: signal.Signals, *, group: bool) -> None:
    """Send ``signum`` to the process, or to its whole process group when it leads one."""
    try:
        if group and _leads_own_group(process.pid):
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # ended meanwhile


def _reap_launched() -> None:
    """Collect the exit status of launched processes that ended (no zombie stays behind)."""
    for process in _LAUNCHED:
        process.poll()


def stop_all(leaders: list[Detached], *, timeout: float) -> tuple[int, int]:
    """SIGTERM to each leader, its group and its descendants; SIGKILL after ``timeout``.

    Descendants are tracked while they run (a Prefect worker's flow runs live in sessions of
    their own), so none is left behind. Returns (processes ended, of which killed).
    """
    groups = {p for p in leaders if p.running}
    tracked = set(groups)
    kill_after = time.monotonic() + timeout
    sent: dict[Detached, signal.Signals] = {}
    while True:
        tracked = _with_descendants(tracked)
        alive = {p for p in tracked if p.running}
        if not alive:
            _reap_launched()
            return len(tracked), sum(1 for s in sent.values() if s == signal.SIGKILL)
        if time.monotonic() > kill_after + 10:
            fail(f"processes {sorted(p.pid for p in alive)} survived SIGKILL", code=1)
        signum = signal.SIGTERM if time.monotonic() < kill_after else signal.SIGKILL
        for process in alive - {p for p, s in sent.items() if s == signum}:
            _send(process, signum, group=process in groups)
            sent[process] = signum
        time.sleep(0.1)


@contextmanager
def children_stopped(*, timeout: float) -> Iterator[None]:
    """Every process started in the block, and its descendants, is stopped when the block
    ends (as :func:`stop_all` stops them): what a command leaves behind, such as Prefect's
    embedded API, ends with it instead of being left to pid 1. Children this process had
    before the block are left alone."""
    before = children(os.getpid())
    try:
        yield
    finally:
        started = children(os.getpid()) - before
        stop_all(sorted(started, key=lambda p: p.pid), timeout=timeout)


@contextmanager
def terminated_by_sigterm(code: int) -> Iterator[None]:
    """SIGTERM raises ``SystemExit(code)`` in the main thread, as Ctrl-C raises
    KeyboardInterrupt: the ``finally`` blocks that stop children run, instead of the process
    dying at once and leaving them to pid 1. The previous handler comes back afterwards."""

    def finish(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(code)

    previous = signal.signal(signal.SIGTERM, finish)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
