"""Files written whole or not at all (keys, notes, config)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from phasedcare.ledger import files
from phasedcare.ledger.files import write_new_file


def test_a_new_file_holds_exactly_the_bytes_with_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "kek-1.key"
    assert write_new_file(path, b"\x01" * 32)
    assert path.read_bytes() == b"\x01" * 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["kek-1.key"]  # no temporary file left


def test_the_first_writer_wins(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint-000000000001.note"
    assert write_new_file(path, b"first", mode=0o644)
    assert not write_new_file(path, b"second", mode=0o644)
    assert path.read_bytes() == b"first"


def test_a_write_that_fails_halfway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        write_new_file(tmp_path / "index.key", b"\x02" * 32)
    assert list(tmp_path.iterdir()) == []
