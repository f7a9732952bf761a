"""The witness folder: checkpoint notes copied out of the database, never overwritten.

Point it at storage the database's operator cannot rewrite (a write-once bucket mount,
another organisation's share): that copy is what makes truncation and rollback detectable.
"""

from __future__ import annotations

from pathlib import Path

from phasedcare.ledger.files import write_new_file

__all__ = ["FolderWitness"]


class FolderWitness:
    """Checkpoint notes as files ``checkpoint-<size>.note`` in one folder."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def publish(self, *, size: int, note: str) -> None:
        """Write the note for ``size`` unless one exists (first write wins).

        The note is written whole or not at all (:func:`write_new_file`): a process killed
        halfway leaves no partial note, which would fail verification and, the first write
        winning, block the whole one for good.
        """
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._folder / f"checkpoint-{size:012d}.note"
        write_new_file(path, note.encode("utf-8"), mode=0o644)

    def notes(self) -> list[str]:
        """Every note in the folder, by size."""
        if not self._folder.is_dir():
            return []
        return [
            p.read_text(encoding="utf-8") for p in sorted(self._folder.glob("checkpoint-*.note"))
        ]
