"""An outside witness: another organisation keeps the operator's checkpoints and cosigns them.

A checkpoint in the operator's own database or folder shows nothing once the operator rolls
both back. A witness run by someone else keeps every checkpoint it was served, after checking
the operator's signature and (from the second one on) an RFC 9162 consistency proof from the
checkpoint it held: the tree only grew. It then cosigns the checkpoint (c2sp.org/
tlog-cosignature, ``cosignature/v1``), so anyone can show a third party that this tree head
was seen and found consistent. A smaller tree than held, the same size with another root, or
a proof that does not verify is a **rollback or fork**: nothing is cosigned, and both notes
are kept as evidence.

The checks follow c2sp.org/tlog-witness ``add-checkpoint``; this witness pulls (it asks the
operator's API) rather than being pushed to. Its state folder (0700)::

    witness.json                   name and verifier key of the witness (public)
    witness.key                    its Ed25519 cosigning key (0600)
    logs/<sha256(origin) hex>/
        operator.vkey              the operator key the first checkpoint was verified with
        checkpoint-<size>.note     each accepted checkpoint, whole, as the operator signed it
        cosigned-<size>.note       the same with the witness's cosignature
        evidence/<time>-<kind>/    held.note, served.note, proof.txt, report.txt

Every file is written once, whole (:func:`write_new_file`); pulls of one state folder take
turns (a lock file), so two pulls cannot both extend from the same held checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import itertools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from phasedcare.errors import InvalidInput, NotAuthorised, NotFound, PhasedCareError
from phasedcare.ledger.files import write_new_file
from phasedcare.ledger.merkle import EMPTY_ROOT, verify_consistency
from phasedcare.ledger.notes import (
    COSIGNATURE_ED25519,
    CheckpointBody,
    cosign,
    open_checkpoint,
    parse_verifier_key,
    verifier_key,
)
from phasedcare.ledger.sealing import ed25519_public, new_ed25519_key

__all__ = [
    "HeldNotes",
    "LogStatus",
    "OperatorUnavailable",
    "PullResult",
    "WitnessRefused",
    "WitnessState",
    "parse_proof",
    "pull",
]

MAX_PROOF_LINES = 63
"""At most this many consistency proof hashes (c2sp.org/tlog-witness): a tree of 2^63."""

_HASH_BYTES = 32
_TIMEOUT_SECONDS = 30.0
_MAX_RESPONSE_BYTES = 1 << 20


class WitnessRefused(PhasedCareError):
    """The operator served something the witness will not keep: a note its key did not sign,
    of another origin, or not a checkpoint. Not evidence: anyone can send unsigned text."""


class OperatorUnavailable(PhasedCareError):
    """The operator's API did not answer, or answered with an error: try again later."""


def _origin_folder(origin: str) -> str:
    """The folder name of a log: the SHA-256 of its origin, as tlog-witness names it."""
    return hashlib.sha256(origin.encode()).hexdigest()


def _checkpoint_file(size: int) -> str:
    return f"checkpoint-{size:020d}.note"


def _cosigned_file(size: int) -> str:
    return f"cosigned-{size:020d}.note"


@dataclass(frozen=True, slots=True)
class HeldNotes:
    """The operator's notes a witness holds of one origin (an :class:`~phasedcare.service.
    audit.NoteSource`: ``audit verify --witness`` checks them against the database)."""

    folder: Path

    def notes(self) -> list[str]:
        """Every accepted checkpoint note, by size."""
        if not self.folder.is_dir():
            return []
        return [
            path.read_text(encoding="utf-8")
            for path in sorted(self.folder.glob("checkpoint-*.note"))
        ]


@dataclass(frozen=True, slots=True)
class LogStatus:
    """What a witness holds of one log."""

    origin: str
    operator_vkey: str
    size: int
    root: str  # base64, as in the note
    extensions: tuple[str, ...]
    checkpoints: int
    cosigned: bool
    evidence: list[str]


@dataclass(frozen=True, slots=True)
class PullResult:
    """What one pull found: ``new`` (kept and cosigned), ``unchanged`` (the held tree again),
    or an inconsistency: ``rollback``, ``fork`` or ``unproven`` (with the evidence kept)."""

    outcome: str
    served: CheckpointBody
    held: CheckpointBody | None
    detail: str
    cosigned_note: str | None = None
    evidence: Path | None = None
    proof: list[bytes] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """Whether the served checkpoint extends (or repeats) the held one."""
        return self.outcome in {"new", "unchanged"}


class WitnessState:
    """A witness's state folder: its cosigning key and what it holds of each log."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        config = folder / "witness.json"
        if not config.is_file():
            raise NotFound(
                f"{folder} is not a witness state folder: run phasedcare witness init",
                kind="witness",
                ident=str(folder),
            )
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
            self.name: str = str(data["name"])
            self.vkey: str = str(data["vkey"])
            key = (folder / "witness.key").read_text(encoding="ascii").strip()
            self._private = base64.b64decode(key, validate=True)
            self.public = ed25519_public(self._private)
            mine = verifier_key(self.name, self.public, kind=COSIGNATURE_ED25519) == self.vkey
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"{folder} holds no readable witness ({type(exc).__name__})", field="state"
            ) from None
        if not mine:
            raise InvalidInput(
                f"{folder}/witness.key does not belong to the witness.json of {self.name}",
                field="state",
            )

    @property
    def folder(self) -> Path:
        """The state folder."""
        return self._folder

    @classmethod
    def create(cls, folder: Path, *, name: str) -> WitnessState:
        """A new state folder (0700) with a fresh cosigning key; refuses one in use."""
        private = new_ed25519_key()
        try:  # the name as verifiers will read it: no spaces, no plus sign
            vkey = verifier_key(name, ed25519_public(private), kind=COSIGNATURE_ED25519)
        except ValueError as exc:
            raise InvalidInput(f"witness name: {exc}", field="name") from None
        taken = InvalidInput(f"{folder} holds a witness already", field="state")
        if (folder / "witness.json").exists() or (folder / "witness.key").exists():
            raise taken
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        if not write_new_file(
            folder / "witness.key", base64.b64encode(private) + b"\n", mode=0o600
        ):
            raise taken
        config = json.dumps({"name": name, "vkey": vkey}, indent=1) + "\n"
        write_new_file(folder / "witness.json", config.encode(), mode=0o644)
        return cls(folder)

    def log_folder(self, origin: str) -> Path:
        """Where the notes of ``origin`` are kept."""
        return self._folder / "logs" / _origin_folder(origin)

    def held_notes(self, origin: str) -> HeldNotes:
        """The operator's notes held of ``origin``, for a verifier to add to its checks."""
        return HeldNotes(self.log_folder(origin))

    def held(self, origin: str, vkey: str) -> tuple[CheckpointBody, str] | None:
        """The largest checkpoint held of ``origin`` and its note (None: none yet)."""
        paths = sorted(self.log_folder(origin).glob("checkpoint-*.note"))
        if not paths:
            return None
        note = paths[-1].read_text(encoding="utf-8")
        try:
            return open_checkpoint(note, vkey), note
        except ValueError as exc:
            raise InvalidInput(
                f"{paths[-1]} no longer verifies with the operator key: {exc}", field="state"
            ) from None

    def statuses(self) -> list[LogStatus]:
        """What the witness holds of each log."""
        found = []
        for folder in sorted((self._folder / "logs").glob("*")):
            vkey_file = folder / "operator.vkey"
            if not vkey_file.is_file():
                continue
            vkey = vkey_file.read_text(encoding="ascii").strip()
            origin, _ = parse_verifier_key(vkey)
            held = self.held(origin, vkey)
            if held is None:
                continue
            body, _ = held
            evidence = sorted(p.name for p in (folder / "evidence").glob("*"))
            found.append(
                LogStatus(
                    origin=origin,
                    operator_vkey=vkey,
                    size=body.size,
                    root=base64.b64encode(body.root).decode(),
                    extensions=body.extensions,
                    checkpoints=len(list(folder.glob("checkpoint-*.note"))),
                    cosigned=(folder / _cosigned_file(body.size)).is_file(),
                    evidence=evidence,
                )
            )
        return found

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One pull at a time per state folder: the held size is read and replaced atomically."""
        with open(self._folder / ".lock", "a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def add_checkpoint(
        self,
        note: str,
        *,
        vkey: str,
        fetch_proof: Callable[[int, int], str | None],
        at: datetime,
    ) -> PullResult:
        """Check a served note against what is held; keep and cosign it when it extends it.

        ``fetch_proof(old, new)`` returns the consistency proof text (one base64 hash per
        line) from the held size to the served one, or None when the operator cannot give
        one: it no longer holds the checkpoint the witness holds, itself a sign of rollback.
        """
        try:
            served = open_checkpoint(note, vkey)
        except ValueError as exc:
            raise WitnessRefused(f"the served checkpoint is refused: {exc}") from None
        if served.size == 0 and served.root != EMPTY_ROOT:
            raise WitnessRefused("the served checkpoint of 0 records has another root")
        with self._locked():
            folder = self.log_folder(served.origin)
            self._pin_operator_key(folder, vkey, served.origin)
            held_pair = self.held(served.origin, vkey)
            if held_pair is None:
                return self._accept(folder, served, note, None, at=at, proof=[])
            held, held_note = held_pair
            found = _Inconsistency(folder=folder, held=held, held_note=held_note, at=at)
            if served.size < held.size:
                return found.report(
                    "rollback",
                    served,
                    note,
                    f"ROLLBACK: the witness holds a checkpoint of {held.size} records, "
                    f"but was served one of {served.size}",
                )
            if served.size == held.size:
                if served.root == held.root:
                    return PullResult(
                        outcome="unchanged",
                        served=served,
                        held=held,
                        detail=f"unchanged: the tree of {held.size} records the witness holds",
                    )
                return found.report(
                    "fork",
                    served,
                    note,
                    f"FORK: the witness holds a checkpoint of {held.size} records with root "
                    f"{_b64(held.root)}, but was served the same size with root "
                    f"{_b64(served.root)}",
                )
            return self._extend(found, served, note, fetch_proof)

    def _extend(
        self,
        found: _Inconsistency,
        served: CheckpointBody,
        note: str,
        fetch_proof: Callable[[int, int], str | None],
    ) -> PullResult:
        """Accept a larger tree whose consistency with the held one the operator proves."""
        held = found.held
        text = fetch_proof(held.size, served.size)
        if text is None:
            return found.report(
                "unproven",
                served,
                note,
                f"UNPROVEN: the witness holds a checkpoint of {held.size} records; the "
                f"operator served one of {served.size} but gives no consistency proof "
                "from the held one",
            )
        try:
            proof = parse_proof(text)
        except ValueError as exc:
            return found.report(
                "unproven",
                served,
                note,
                f"UNPROVEN: the operator's consistency proof from {held.size} to "
                f"{served.size} records is malformed ({exc})",
                proof_text=text,
            )
        if not verify_consistency(held.size, served.size, held.root, served.root, proof):
            return found.report(
                "fork",
                served,
                note,
                f"FORK: the consistency proof from the held checkpoint of {held.size} "
                f"records to the served one of {served.size} does not verify",
                proof_text=text,
            )
        return self._accept(found.folder, served, note, held, at=found.at, proof=proof)

    def _pin_operator_key(self, folder: Path, vkey: str, origin: str) -> None:
        """The first key a log was verified with stays its key: another one is refused."""
        folder.parent.mkdir(mode=0o700, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        pinned = folder / "operator.vkey"
        write_new_file(pinned, (vkey.strip() + "\n").encode(), mode=0o644)
        kept = pinned.read_text(encoding="ascii").strip()
        if kept != vkey.strip():
            raise WitnessRefused(
                f"the witness holds checkpoints of {origin} under key {kept}, not "
                f"{vkey.strip()}: a changed operator key needs a new state folder"
            )

    def _accept(
        self,
        folder: Path,
        served: CheckpointBody,
        note: str,
        held: CheckpointBody | None,
        *,
        at: datetime,
        proof: list[bytes],
    ) -> PullResult:
        cosigned = cosign(note, name=self.name, private=self._private, public=self.public, at=at)
        write_new_file(folder / _checkpoint_file(served.size), note.encode("utf-8"), mode=0o644)
        write_new_file(folder / _cosigned_file(served.size), cosigned.encode("utf-8"), mode=0o644)
        grown = "" if held is None else f" (grown from {held.size}, consistency proven)"
        return PullResult(
            outcome="new",
            served=served,
            held=held,
            detail=f"kept and cosigned the checkpoint of {served.size} records{grown}",
            cosigned_note=cosigned,
            proof=proof,
        )


@dataclass(frozen=True, slots=True)
class _Inconsistency:
    """The held checkpoint, to report a served one against: the evidence is kept, whole."""

    folder: Path
    held: CheckpointBody
    held_note: str
    at: datetime

    def report(
        self,
        kind: str,
        served: CheckpointBody,
        served_note: str,
        detail: str,
        *,
        proof_text: str | None = None,
    ) -> PullResult:
        """Keep both notes (and the proof) in a new evidence folder; cosign nothing."""
        evidence_root = self.folder / "evidence"
        evidence_root.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = self.at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        evidence = evidence_root / f"{stamp}-{kind}"
        for attempt in itertools.count(1):
            try:
                evidence.mkdir(mode=0o700)
                break
            except FileExistsError:
                evidence = evidence_root / f"{stamp}-{kind}-{attempt}"
        files = {
            "held.note": self.held_note,
            "served.note": served_note,
            "report.txt": f"{detail}\n\nheld:\n{self.held_note}\nserved:\n{served_note}",
        }
        if proof_text is not None:
            files["proof.txt"] = proof_text
        for name, text in files.items():
            write_new_file(evidence / name, text.encode("utf-8"), mode=0o644)
        return PullResult(
            outcome=kind, served=served, held=self.held, detail=detail, evidence=evidence
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def parse_proof(text: str) -> list[bytes]:
    """Consistency proof lines, one base64 SHA-256 hash each; ValueError otherwise."""
    lines = text.splitlines()
    if len(lines) > MAX_PROOF_LINES:
        raise ValueError(f"a consistency proof has at most {MAX_PROOF_LINES} hashes")
    proof = []
    for line in lines:
        try:
            node = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{line[:60]!r} is not a base64 hash") from None
        if len(node) != _HASH_BYTES:
            raise ValueError(f"{line[:60]!r} is not a SHA-256 hash")
        proof.append(node)
    return proof


class _Operator:
    """The operator's API, as a witness reads it: plain text answers, errors made clear."""

    def __init__(self, client: httpx.Client, *, url: str, api_key: str | None) -> None:
        self._client = client
        self._base = url.rstrip("/")
        self._headers = {"Accept": "text/plain"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def get(self, path: str, params: dict[str, int] | None = None) -> str | None:
        """The text answered to GET ``path`` (None for 404)."""
        try:
            response = self._client.get(
                f"{self._base}/{path}", params=params, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise OperatorUnavailable(
                f"the operator at {self._base} does not answer ({type(exc).__name__})"
            ) from None
        status = response.status_code
        if status == httpx.codes.NOT_FOUND:
            return None
        if status in {httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN}:
            raise NotAuthorised(
                f"the operator refuses the API key ({status}: {_problem(response)}); the "
                "witness needs an auditor's API key of the operator's region",
                actor="-",
            )
        if status != httpx.codes.OK:
            raise OperatorUnavailable(
                f"the operator answered {status} to {path}: {_problem(response)}"
            )
        if not response.headers.get("content-type", "").startswith("text/plain"):
            raise WitnessRefused(f"the operator answered {path} with something other than text")
        if len(response.content) > _MAX_RESPONSE_BYTES:
            raise WitnessRefused(f"the operator's answer to {path} is larger than 1 MiB")
        return response.content.decode("utf-8", errors="replace")


def _problem(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", ""))[:200]
    except (ValueError, AttributeError):
        return response.text[:200]


def pull(
    state: WitnessState,
    *,
    url: str,
    vkey: str,
    api_key: str | None,
    clock: Callable[[], datetime],
    client: httpx.Client | None = None,
) -> PullResult:
    """Fetch the operator's latest checkpoint from ``url`` and add it to the witness's state.

    ``vkey`` is the operator's checkpoint key (``phasedcare audit public-key`` prints it);
    ``api_key`` an auditor's API key of the operator's region.
    """
    try:
        parse_verifier_key(vkey)
    except ValueError as exc:
        raise InvalidInput(f"--vkey: {exc}", field="vkey") from None
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidInput(f"{url!r} is not an http(s) base URL", field="url")
    own = client is None
    http = client if client is not None else httpx.Client(timeout=_TIMEOUT_SECONDS)
    operator = _Operator(http, url=url, api_key=api_key)
    try:
        note = operator.get("ledger/checkpoint")
        if note is None:
            raise NotFound(
                f"the operator at {url} has signed no checkpoint yet",
                kind="checkpoint",
                ident="latest",
            )
        return state.add_checkpoint(
            note,
            vkey=vkey,
            fetch_proof=lambda old, new: operator.get(
                "ledger/consistency", {"from": old, "to": new}
            ),
            at=clock(),
        )
    finally:
        if own:
            http.close()
