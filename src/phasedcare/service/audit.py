"""The auditor's side of the engine: checkpoints, verification and their schedule.

Checkpoints are signed at most ``interval`` after a commit (and on demand): the records are
integrated into the Merkle tree by one integrator, the root is signed, and the note is kept
in the database (with the tree's frontier, from which the next checkpoint continues) and
published to the witness folder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import structlog

from phasedcare.errors import InvalidInput, PhasedCareError
from phasedcare.ledger.checkpoints import Checkpoint, parse_checkpoint, sign_checkpoint
from phasedcare.ledger.keys import CheckpointKey
from phasedcare.ledger.merkle import Frontier, consistency_proof, verify_consistency
from phasedcare.ledger.verify import VerifyReport, verify_ledger
from phasedcare.service.ports import EventStore

__all__ = ["Auditor", "Witness"]


class Witness(Protocol):
    """Somewhere outside the database that keeps every checkpoint note."""

    def publish(self, *, size: int, note: str) -> None:
        """Keep the note for ``size`` (never overwrite an existing one)."""
        ...

    def notes(self) -> list[str]:
        """Every kept note."""
        ...


class Auditor:
    """Signs checkpoints and verifies the ledger of one store."""

    def __init__(
        self,
        *,
        store: EventStore,
        key: CheckpointKey,
        origin: str,
        witness: Witness | None,
        clock: Callable[[], datetime],
        interval: timedelta = timedelta(seconds=60),
    ) -> None:
        self._store = store
        self._key = key
        self._origin = origin
        self._witness = witness
        self._clock = clock
        self._interval = interval
        self._last: float | None = None  # time.monotonic() of the last checkpoint
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._log = structlog.get_logger("phasedcare.audit")

    @property
    def public_key(self) -> bytes:
        """The checkpoint key auditors verify with."""
        return self._key.public

    @property
    def origin(self) -> str:
        """The origin line of this ledger's checkpoints."""
        return self._origin

    def checkpoint(self) -> Checkpoint | None:
        """Integrate new records and sign the tree; None when the ledger is empty.

        The tree grows from the frontier kept with the latest checkpoint: only the records
        integrated since are read and hashed, O(new records + log n) whatever the ledger's size.
        """
        if not self._key.private:
            raise InvalidInput(
                "this auditor holds only the public key: it cannot sign", field="key"
            )
        size = self._store.integrate()
        if size == 0:
            return None
        frontier = self._latest_frontier(size)
        frontier.extend(self._store.tree_leaves(start=frontier.size, stop=size))
        note = sign_checkpoint(
            origin=self._origin,
            size=size,
            root=frontier.root(),
            at=self._clock(),
            private=self._key.private,
            public=self._key.public,
        )
        self._store.add_checkpoint(size=size, note=note, frontier=frontier.to_bytes())
        if self._witness is not None:
            self._witness.publish(size=size, note=note)
        self._last = time.monotonic()
        self._log.info("checkpoint", tree_size=size)
        return parse_checkpoint(note, public=self._key.public, origin=self._origin)

    def _latest_frontier(self, size: int) -> Frontier:
        """The frontier kept with the latest checkpoint, if its signed root vouches for it.

        Otherwise (none yet, kept before frontiers were, altered, signed by another key, or
        beyond a tree that shrank) an empty one: the tree is then read from its first leaf.
        """
        latest = self._store.latest_checkpoint()
        if latest is None:
            return Frontier()
        frontier = self._vouched(*latest)
        if frontier is None or frontier.size > size:
            self._log.warning(
                "checkpoint frontier unusable: reading the whole tree", tree_size=latest[0]
            )
            return Frontier()
        return frontier

    def _vouched(self, size: int, note: str, kept: bytes) -> Frontier | None:
        """The kept frontier if it is well formed and its root is the one the note signs."""
        try:
            frontier = Frontier.from_bytes(kept, size=size)
            signed = parse_checkpoint(note, public=self._key.public, origin=self._origin)
        except ValueError:
            return None
        return frontier if (signed.size, signed.root) == (size, frontier.root()) else None

    def after_commit(self) -> None:
        """Sign now when the last checkpoint is older than the interval, else schedule one.

        Either way a commit is covered by a signed checkpoint at most ``interval`` later
        (while the process lives); it never raises into the command that committed.
        """
        # Real seconds, like the timer: the engine's clock may be simulated (demo, simulate).
        now = time.monotonic()
        if self._last is None or now - self._last >= self._interval.total_seconds():
            self._checkpoint_quietly()
            return
        with self._lock:
            if self._timer is None:  # real seconds: the engine's clock may be simulated
                self._timer = threading.Timer(self._interval.total_seconds(), self._scheduled)
                self._timer.daemon = True
                self._timer.start()

    def _scheduled(self) -> None:
        with self._lock:
            self._timer = None
        self._checkpoint_quietly()

    def _checkpoint_quietly(self) -> None:
        """A checkpoint after a commit: its failure (the database, or the witness folder's
        disk) is logged, never raised into the command that has committed already."""
        try:
            self.checkpoint()
        except (PhasedCareError, OSError) as exc:
            self._log.warning("checkpoint failed", error=type(exc).__name__)

    def consistency(
        self, first: int, second: int
    ) -> tuple[Checkpoint, Checkpoint, list[bytes], bool]:
        """The RFC 9162 consistency proof between two signed checkpoints, and whether it holds."""
        signed = {c.size: c for c in self._signed()}
        missing = [size for size in (first, second) if size not in signed]
        if missing:
            known = ", ".join(str(s) for s in sorted(signed))
            raise InvalidInput(
                f"no signed checkpoint of size {missing[0]}; there are: {known}", field="size"
            )
        older, newer = signed[first], signed[second]
        proof = consistency_proof(self._store.tree_leaves(stop=second), first)
        return older, newer, proof, verify_consistency(first, second, older.root, newer.root, proof)

    def _signed(self) -> list[Checkpoint]:
        found = []
        for note in self.notes():
            try:
                found.append(parse_checkpoint(note, public=self._key.public, origin=self._origin))
            except ValueError:
                continue
        return found

    def notes(self) -> list[str]:
        """The checkpoint notes of the database and of the witness, each once."""
        seen = dict.fromkeys(self._store.checkpoints())
        if self._witness is not None:
            seen.update(dict.fromkeys(self._witness.notes()))
        return list(seen)

    def close(self) -> None:
        """Cancel a scheduled checkpoint and release the store."""
        self.cancel()
        self._store.close()

    def cancel(self) -> None:
        """Cancel a scheduled checkpoint (the engine is closing)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def verify(self, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Verify every record, the tree and every checkpoint (no decryption)."""
        return verify_ledger(
            self._store.read_all(),
            notes=self.notes(),
            public=self._key.public,
            origin=self._origin,
            progress=progress,
        )
