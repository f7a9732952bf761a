"""The witness folder: checkpoint notes copied out of the database, never overwritten.

Point it at storage the database's operator cannot rewrite (a write-once bucket mount,
another organisation's share): that copy is what makes truncation and rollback detectable.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FolderWitness"]


class FolderWitness:
    """Checkpoint notes as files ``checkpoint-<size>.note`` in one folder."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def publish(self, *, size: int, note: str) -> None:
        """Write the note for ``size`` unless one exists (first write wins)."""
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._folder / f"checkpoint-{size:012d}.note"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(note)
            handle.flush()
            os.fsync(handle.fileno())

    def notes(self) -> list[str]:
        """Every note in the folder, by size."""
        if not self._folder.is_dir():
            return []
        return [
            p.read_text(encoding="utf-8") for p in sorted(self._folder.glob("checkpoint-*.note"))
        ]
