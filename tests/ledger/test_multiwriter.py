"""Several writer processes on PostgreSQL, each integrating and signing: the ledger stays whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from writers import run_writers

from phasedcare.bootstrap import build_verifier, initialise
from phasedcare.config import Settings


@pytest.mark.postgres
def test_four_writers_integrating_at_once_leave_a_verifiable_ledger(
    postgres_url: str, tmp_path: Path
) -> None:
    """4 processes x 10 cases, a checkpoint after each: one gapless tree, every checkpoint consistent."""
    home = tmp_path / "home"
    initialise(Settings(home=home, database_url=postgres_url))
    written = run_writers(home, postgres_url, processes=4, cases=10)
    verifier = build_verifier(Settings(home=home, database_url=postgres_url))
    assert verifier.checkpoint is not None
    report = verifier.verify()
    verifier.close()
    assert report.intact, report.problems[:3]
    assert report.records >= written == 80
    assert len(report.checkpoints) >= 10
    print(f"multi-writer: {report.records} records, {len(report.checkpoints)} checkpoints verified")
