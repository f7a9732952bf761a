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
from typing import Any, Protocol

import structlog

from phasedcare.errors import InvalidInput, NotFound, PhasedCareError, StoreError
from phasedcare.ledger.authenticity import legacy_cover
from phasedcare.ledger.bundle import case_bundle, ledger_bundle
from phasedcare.ledger.checkpoints import Checkpoint, parse_checkpoint, sign_checkpoint
from phasedcare.ledger.heads import HeadMap
from phasedcare.ledger.keys import CheckpointKey
from phasedcare.ledger.merkle import (
    NODE_LEVEL,
    Frontier,
    consistency_proof,
    inclusion_proof_from,
    node_hash,
    root,
    verify_consistency,
)
from phasedcare.ledger.notes import verifier_key
from phasedcare.ledger.records import StoredEvent
from phasedcare.ledger.verify import VerifyReport, verify_ledger
from phasedcare.service.ports import EventStore, TreeNode

__all__ = ["Auditor", "NoteSource", "Witness"]


class Witness(Protocol):
    """Somewhere outside the database that keeps every checkpoint note."""

    def publish(self, *, size: int, note: str) -> None:
        """Keep the note for ``size`` (never overwrite an existing one)."""
        ...

    def notes(self) -> list[str]:
        """Every kept note."""
        ...


class NoteSource(Protocol):
    """Checkpoint notes kept elsewhere and only read here (an outside witness's state)."""

    def notes(self) -> list[str]:
        """Every note it holds of this ledger."""
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
        authenticate: Callable[[StoredEvent], str | None] | None = None,
    ) -> None:
        self._store = store
        self._authenticate = authenticate
        self._signing = threading.Lock()  # one signer per process; the store locks across them
        self._heads: HeadMap | None = None
        self._key = key
        self._origin = origin
        self._witness = witness
        self._clock = clock
        self._interval = interval
        self._last: float | None = None  # time.monotonic() of the last checkpoint
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._log = structlog.get_logger("phasedcare.audit")
        self._sources: list[NoteSource] = []  # read by notes(), never written
        self._legacy_cover: int | None = None
        self._housekeeping: list[Callable[[], object]] = []

    @property
    def public_key(self) -> bytes:
        """The checkpoint key auditors verify with."""
        return self._key.public

    @property
    def origin(self) -> str:
        """The origin line of this ledger's checkpoints."""
        return self._origin

    def checkpoint(self) -> Checkpoint | None:
        """Integrate new records the engine wrote and sign the tree and the heads' map; None
        when the ledger is empty.

        A record that does not open under its case's key (an insider's append: no key, no
        seal) is not integrated, not signed, and logged; verify names it. The tree and the
        map grow from the state kept with the latest checkpoint: only the records integrated
        since are read and hashed, O(new records + log n) whatever the ledger's size. When
        another signer already covered every integrated record, its checkpoint is returned.
        """
        if not self._key.private:
            raise InvalidInput(
                "this auditor holds only the public key: it cannot sign", field="key"
            )
        with self._signing:
            size = self._store.integrate(accept=self._accept)
            if size == 0:
                return None
            covering = self._covering(size)
            if covering is not None:
                return covering
            frontier, heads = self._state(size)
            nodes: list[TreeNode] = []
            entries = self._store.tree_entries(start=frontier.size, stop=size)
            frontier.extend((leaf for _, _, leaf in entries), nodes)
            heads.advance(entries, size=size)
            note = self._keep_signed(frontier, nodes, map_root=heads.root())
            self._heads = heads
        signed = self._published(size, note, "checkpoint")
        self._last = time.monotonic()
        return signed

    def _keep_signed(
        self, frontier: Frontier, nodes: list[TreeNode], *, map_root: bytes | None
    ) -> str:
        """Sign the tree ``frontier`` holds (and the map of heads, unless None: the old
        format), and keep the note with the frontier and the subtree roots it completed."""
        note = sign_checkpoint(
            origin=self._origin,
            size=frontier.size,
            root=frontier.root(),
            at=self._clock(),
            private=self._key.private,
            public=self._key.public,
            map_root=map_root,
        )
        self._store.add_checkpoint(
            size=frontier.size, note=note, frontier=frontier.to_bytes(), nodes=nodes
        )
        return note

    def _published(self, size: int, note: str, what: str) -> Checkpoint:
        """Give the witness the note just signed (and log it): the checkpoint it signs."""
        if self._witness is not None:
            self._witness.publish(size=size, note=note)
        self._log.info(what, tree_size=size)
        return self._parse(note)

    def anchor_old_tail(self, *, accept: Callable[[StoredEvent], bool]) -> Checkpoint | None:
        """Sign the tail an older version left unsigned, as found, in the old format (no
        map): once, when a ledger from before signed tombstones and maps is upgraded.

        The records ``accept`` takes are integrated and the whole tree is signed without a
        map, so its unsigned tombstones lie under a checkpoint from before tombstones were
        signed, where verify and the codec accept them; the next checkpoint signs the map.
        None, signing nothing, when a checkpoint with a map exists (the ledger is not that
        old), or when every record is already under a checkpoint.
        """
        if any(checkpoint.map_root is not None for checkpoint in self._signed()):
            return None
        with self._signing:
            size = self._store.integrate(accept=accept)
            latest = self._store.latest_checkpoint()
            if size == 0 or (latest is not None and latest[0] >= size):
                return None
            frontier, nodes = Frontier(), list[TreeNode]()  # the whole tree, from leaf 0
            frontier.extend(self._store.tree_leaves(stop=size), nodes)
            note = self._keep_signed(frontier, nodes, map_root=None)
            self._legacy_cover = None
        return self._published(size, note, "old tail anchored at upgrade")

    def _accept(self, record: StoredEvent) -> bool:
        """Whether the integrator may take the record: the engine wrote it."""
        problem = self._authenticate(record) if self._authenticate is not None else None
        if problem is not None:
            self._log.warning(
                "record refused by the integrator: not written by the engine",
                position=record.position,
                case_id=record.header.case_id,
                sequence=record.header.sequence,
            )
        return problem is None

    def _parse(self, note: str) -> Checkpoint:
        return parse_checkpoint(note, public=self._key.public, origin=self._origin)

    def _covering(self, size: int) -> Checkpoint | None:
        """The latest checkpoint if it already covers ``size`` records: another signer's, or
        the map-less one an upgrade signed (no second note can be kept at its size)."""
        latest = self._store.latest_checkpoint()
        if latest is None or latest[0] < size:
            return None
        try:
            return self._parse(latest[1])
        except ValueError:
            return None

    def _newest(self) -> Checkpoint | None:
        """The latest checkpoint kept in the database, if it verifies and signs a map."""
        latest = self._store.latest_checkpoint()
        if latest is None:
            return None
        try:
            checkpoint = self._parse(latest[1])
        except ValueError:
            return None
        return checkpoint if checkpoint.map_root is not None else None

    def _recent(self, checkpoint: Checkpoint) -> bool:
        """Whether ``checkpoint`` was signed less than the interval ago, by the engine's clock
        (one signed "in the future", by a clock set back since, is not recent)."""
        age = self._clock() - checkpoint.signed_at
        return timedelta(0) <= age < self._interval

    def _state(self, size: int) -> tuple[Frontier, HeadMap]:
        """The tree's frontier and the heads' map as the latest checkpoint left them.

        From the latest checkpoint whose signed roots vouch for its kept frontier and for the
        map this process holds (or reads from the database: one scan, once per process).
        Otherwise (none yet, signed before maps existed, altered, another key, beyond a
        tree that shrank) both start empty: the tree is then read from its first leaf, and
        every subtree root is kept on the way.
        """
        latest = self._store.latest_checkpoint()
        if latest is None:
            return Frontier(), HeadMap()
        vouched = self._vouched(*latest)
        if vouched is not None and vouched[0].size <= size:
            frontier, map_root = vouched
            heads = self._heads_at(frontier.size)
            if heads.root() == map_root:
                return frontier, heads
        self._log.warning("checkpoint state unusable: reading the whole tree", tree_size=latest[0])
        return Frontier(), HeadMap()

    def _heads_at(self, size: int) -> HeadMap:
        """The map of heads at ``size``: this process's, moved on, or read afresh."""
        heads = self._heads
        if heads is None or heads.size > size:
            heads = HeadMap()
            heads.advance(self._store.heads_at(size), size=size)
        elif heads.size < size:
            heads.advance(self._store.tree_entries(start=heads.size, stop=size), size=size)
        self._heads = heads
        return heads

    def _vouched(self, size: int, note: str, kept: bytes) -> tuple[Frontier, bytes] | None:
        """The kept frontier and the map root, if the note signs both (and the frontier's
        root is the tree root it signs)."""
        try:
            frontier = Frontier.from_bytes(kept, size=size)
            signed = self._parse(note)
        except ValueError:
            return None
        if signed.map_root is None or (signed.size, signed.root) != (size, frontier.root()):
            return None
        return frontier, signed.map_root

    def case_bundle(self, case_id: str) -> dict[str, Any]:
        """The case's records under a signed checkpoint, each with its inclusion proof, and
        the proof of the case's head in the checkpoint's map (a bundle, see ledger.bundle).

        The newest checkpoint is reused while it was signed less than the interval ago (or
        already maps the case's current head); only a case written since, once the interval
        has passed, or one no checkpoint holds yet, is signed anew. So exports sign at most
        once per interval and repeated exports add nothing to write-once witness storage.
        The bundle holds the case's records through its head in that checkpoint's map
        ("complete through sequence N as of checkpoint T"); records written since are in the
        next interval's bundle. Proofs cost O(k log n) reads.
        """
        checkpoint = self._case_checkpoint(case_id)
        size = checkpoint.size
        with self._signing:
            heads = self._heads_at(size)
            if heads.root() != checkpoint.map_root:
                msg = f"the case heads differ from checkpoint {size}'s map: run audit verify"
                raise StoreError(msg)
            head = heads.proof(case_id)
        records = [
            r for r in self._store.load(case_id) if r.tree_index is not None and r.tree_index < size
        ]
        node = _NodeSource(self._store, size).node
        proofs = {
            r.tree_index: inclusion_proof_from(r.tree_index, size, node)
            for r in records
            if r.tree_index is not None
        }
        return case_bundle(records, checkpoint=checkpoint, proofs=proofs, head=head)

    def _case_checkpoint(self, case_id: str) -> Checkpoint:
        """The newest checkpoint when its map holds the case and it is recent or holds the
        case's current head; else a new one (a case no checkpoint holds yet has no bundle
        to give: its first export signs, once)."""
        newest = self._newest()
        if newest is not None:
            mapped = self._mapped_head(newest.size, case_id)
            if mapped is not None and (self._recent(newest) or mapped == self._store.head(case_id)):
                return newest
        signed = self.checkpoint()
        if signed is None:
            raise NotFound(f"case {case_id} does not exist", kind="case", ident=case_id)
        return signed

    def _mapped_head(self, size: int, case_id: str) -> tuple[int, bytes] | None:
        with self._signing:
            return self._heads_at(size).head(case_id)

    def ledger_bundle(self) -> dict[str, Any]:
        """Every record under :meth:`export_checkpoint`'s checkpoint, and the notes up to it
        (a ledger bundle, see ledger.bundle): it verifies whole, with no unanchored tail;
        records written since are in the next interval's bundle."""
        checkpoint = self.export_checkpoint()
        size = 0 if checkpoint is None else checkpoint.size
        records = [
            r for r in self._store.read_all() if r.tree_index is not None and r.tree_index < size
        ]
        return ledger_bundle(records, notes=self._notes_through(size), origin=self._origin)

    def _notes_through(self, size: int) -> list[str]:
        """Every note but those of checkpoints signed over more than ``size`` records (one
        that does not verify is kept: verify reports it)."""
        kept = []
        for note in self.notes():
            try:
                larger = self._parse(note).size > size
            except ValueError:
                larger = False
            if not larger:
                kept.append(note)
        return kept

    def export_checkpoint(self) -> Checkpoint | None:
        """The checkpoint an export is made under: the newest while it was signed less than
        the interval ago, else a new one (None while the ledger is empty).

        So exports sign at most once per interval whatever they add (each export's own
        access record is new): repeated exports do not fill write-once witness storage.
        """
        newest = self._newest()
        if newest is not None and self._recent(newest):
            return newest
        return self.checkpoint()

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
        """A checkpoint after a commit, then the housekeeping: a failure (the database, or
        the witness folder's disk) is logged, never raised into the command that has
        committed already."""
        try:
            self.checkpoint()
            for task in self._housekeeping:
                task()
        except (PhasedCareError, OSError) as exc:
            self._log.warning("checkpoint failed", error=type(exc).__name__)

    def after_each_checkpoint(self, task: Callable[[], object]) -> None:
        """Run ``task`` after each checkpoint signed on the commit schedule (at most an
        interval after a commit), such as dropping the caches of cases another process
        erased."""
        self._housekeeping.append(task)

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

    def legacy_cover(self) -> int:
        """The leaves the checkpoints signed before tombstones were (without a map) cover:
        an unsigned tombstone is accepted only below it (kept once found: only an upgrade
        of an old ledger signs such a checkpoint, before the engine starts)."""
        if self._legacy_cover is None:
            self._legacy_cover = legacy_cover(self._signed())
        return self._legacy_cover

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
        for source in self._sources:
            seen.update(dict.fromkeys(source.notes()))
        return list(seen)

    def add_note_source(self, source: NoteSource) -> None:
        """Read ``source``'s notes too: :meth:`notes` returns them, so :meth:`verify` and
        :meth:`consistency` check them. An outside witness's copy makes a database rolled
        back behind a checkpoint it holds fail, even when the witness folder was rolled back."""
        self._sources.append(source)

    def latest_note(self) -> str | None:
        """The newest checkpoint note kept in the database (None before the first); it signs
        nothing, so serving it to witnesses costs no signature and adds no record."""
        latest = self._store.latest_checkpoint()
        return None if latest is None else latest[1]

    def proof(self, first: int, second: int) -> list[bytes]:
        """The RFC 9162 consistency proof from signed size ``first`` to signed size ``second``
        (``first <= second``), as the tree holds it now; the caller checks it against the
        roots it trusts. NotFound for a size no checkpoint was signed at, or one the tree
        no longer reaches; InvalidInput when ``first > second``."""
        if first > second:
            raise InvalidInput(f"from {first} is larger than to {second}", field="size")
        signed = {c.size for c in self._signed()}
        for size in (first, second):
            if size not in signed:
                raise NotFound(
                    f"no signed checkpoint of size {size}", kind="checkpoint", ident=str(size)
                )
        leaves = self._store.tree_leaves(stop=second)
        if len(leaves) < second:
            raise NotFound(
                f"the tree holds {len(leaves)} records, fewer than its checkpoint of {second}",
                kind="checkpoint",
                ident=str(second),
            )
        return consistency_proof(leaves, first)

    @property
    def verifier_key(self) -> str:
        """The checkpoint key as a C2SP verifier key, ``<origin>+<key id>+<base64 key>``."""
        return verifier_key(self._origin, self._key.public)

    def close(self) -> None:
        """Sign what a scheduled checkpoint would have covered, then release the store."""
        self.cancel()
        self._store.close()

    def cancel(self) -> None:
        """The engine is closing: a scheduled checkpoint is signed now instead of later, so
        a process that stops leaves no commit unanchored (the verifier signs nothing)."""
        with self._lock:
            pending, self._timer = self._timer, None
        if pending is not None:
            pending.cancel()
            if self._key.private:
                self._checkpoint_quietly()

    def verify(
        self,
        *,
        progress: Callable[[int], None] | None = None,
        allow_unanchored: bool = False,
    ) -> VerifyReport:
        """Verify every record, its authenticity, the tree, the map of case heads and every
        checkpoint (no decryption); streams with records but no data key are reported.
        Records no checkpoint covers fail it unless ``allow_unanchored``."""
        return verify_ledger(
            self._store.read_all(),
            notes=self.notes(),
            public=self._key.public,
            origin=self._origin,
            progress=progress,
            keyed={key.case_id for key in self._store.case_keys()},
            allow_unanchored=allow_unanchored,
        )


class _NodeSource:
    """Perfect subtree roots of the tree of ``size`` for inclusion proofs: stored roots of
    256 leaves and more (computed from their halves where none was kept), smaller ones
    from one read of their 256-leaf block. Each is fetched once per bundle."""

    def __init__(self, store: EventStore, size: int) -> None:
        self._store = store
        self._size = size
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._blocks: dict[int, list[bytes]] = {}

    def node(self, level: int, index: int) -> bytes:
        """The root of leaves ``[index * 2**level, (index + 1) * 2**level)``."""
        key = (level, index)
        if key not in self._nodes:
            self._nodes[key] = self._find(level, index)
        return self._nodes[key]

    def _find(self, level: int, index: int) -> bytes:
        if level < NODE_LEVEL:
            start = index << level
            block = self._block(start >> NODE_LEVEL)
            offset = start - ((start >> NODE_LEVEL) << NODE_LEVEL)
            return root(block[offset : offset + (1 << level)])
        kept = self._store.tree_node(level, index)
        if kept is not None:
            return kept
        return node_hash(self.node(level - 1, 2 * index), self.node(level - 1, 2 * index + 1))

    def _block(self, block: int) -> list[bytes]:
        if block not in self._blocks:
            start = block << NODE_LEVEL
            stop = min(start + (1 << NODE_LEVEL), self._size)
            self._blocks[block] = self._store.tree_leaves(start=start, stop=stop)
        return self._blocks[block]
