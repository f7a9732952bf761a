"""``phasedcare simulate``: a synthetic national load through the engine's own commands."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from phasedcare.cli.app import HomeOption, app
from phasedcare.cli.output import console, fail, reporting_errors, table
from phasedcare.config import Settings, load_settings

if TYPE_CHECKING:
    from phasedcare.simulation import SimulationReport

__all__: list[str] = []

_STEPS_PER_HOUSEHOLD = 22  # a rough mean, for the progress bar's total only


@app.command()
def simulate(
    households: Annotated[
        int, typer.Option(min=1, max=10_000_000, help="How many households come to Veilig Thuis.")
    ] = 1000,
    years: Annotated[
        float, typer.Option(min=0.1, max=25, help="Over how many years, ending now.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic region.")] = 1,
    home: HomeOption = None,
) -> None:
    """Fill the home's database with synthetic households walked through years of care.

    Every command goes through the engine as a user's would (authorised, decided, sealed,
    chained); the daily deadline sweep runs as the flows would. Synthetic people only.
    """
    from phasedcare.bootstrap import build, initialise  # noqa: PLC0415 - keep --help fast
    from phasedcare.service.engine import utc_now  # noqa: PLC0415
    from phasedcare.simulation import simulate as run  # noqa: PLC0415
    from phasedcare.testing import ManualClock  # noqa: PLC0415

    with reporting_errors():
        settings = load_settings(home=home)
        initialise(settings)
        clock = ManualClock(utc_now().replace(microsecond=0))
        engine = build(settings, clock=clock, configure_logs=True, access_point="simulate")
    auditor = engine.auditor
    assert auditor is not None  # noqa: S101 - bootstrap always wires one
    started = time.perf_counter()
    try:
        with _progress(households * _STEPS_PER_HOUSEHOLD) as advance:
            try:
                report = run(
                    engine, clock, households=households, years=years, seed=seed, progress=advance
                )
            except ValueError as exc:
                fail(str(exc))
        seconds = time.perf_counter() - started
        checkpoint = auditor.checkpoint()
        records = checkpoint.size if checkpoint is not None else 0
    finally:
        engine.close()
    _summary(report, records=records, seconds=seconds, settings=settings)


def _progress(total: int) -> _Bar:
    return _Bar(total)


class _Bar:
    """A rich progress bar over the simulation's steps (quiet when not on a terminal)."""

    def __init__(self, total: int) -> None:
        self._bar = Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task = self._bar.add_task("steps", total=total)

    def __enter__(self) -> _Bar:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def __call__(self, done: int) -> None:
        if done % 200 == 0:
            self._bar.update(self._task, completed=done)


def _obligations(report: SimulationReport) -> str:
    """The households' obligations at the end by status, and how many were waived."""
    owed = report.obligations
    statuses = ", ".join(f"{status} {owed[status]:,}" for status in sorted(owed))
    return f"{sum(owed.values()):,} ({statuses}; waived {report.waived:,})"


def _summary(report: SimulationReport, *, records: int, seconds: float, settings: Settings) -> None:
    refused = sum(report.refused.values())
    rows = [
        ["households", f"{report.households:,}"],
        ["period", f"{report.first_day} .. {report.last_day}"],
        ["commands", f"{report.commands:,}"],
        ["reads (access log)", f"{report.reads:,}"],
        ["known-household searches", f"{report.searches:,}"],
        [
            "daily sweeps",
            f"{report.sweeps:,} (escalated {report.escalated:,}, expired {report.expired:,})",
        ],
        ["obligations", _obligations(report)],
        ["refused", f"{refused:,}"],
        ["ledger records (all)", f"{records:,}"],
        ["seconds", f"{seconds:,.1f}"],
        ["steps/s", f"{report.steps / seconds:,.0f}" if seconds else "-"],
        ["database size", _size(settings)],
    ]
    table("phasedcare simulate", ["", ""], rows)
    paths = ", ".join(f"{name} {n:,}" for name, n in sorted(report.paths.items()))
    console.print(f"paths: {paths}", soft_wrap=True)
    for what, n in report.refused.most_common(10):
        console.print(f"refused {n:,}x: {what}", soft_wrap=True)


def _size(settings: Settings) -> str:
    """The database's size on disk: the SQLite file with its WAL, or PostgreSQL's database."""
    url = settings.resolved_database_url
    if not url.startswith(("sqlite", "postgresql")):
        return "in memory"
    if url.startswith("sqlite"):
        from sqlalchemy import make_url  # noqa: PLC0415

        path = Path(make_url(url).database or "")
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    else:
        from sqlalchemy import create_engine, text  # noqa: PLC0415

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                size = int(
                    conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
                )
        finally:
            engine.dispose()
    return f"{size / 1e6:,.1f} MB"
