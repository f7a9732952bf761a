"""Keys: a data key (DEK) per case, wrapped by a key-encryption key (KEK) from a KeyProvider.

The default provider keeps KEKs as files in their own folder (0700, files 0600), apart from
the database. A key beside the data protects against a leaked database dump or backup, not
against someone who can read both folders (see docs/ledger.md). The ``KeyProvider``
protocol admits Vault transit, a cloud KMS or PKCS#11: anything that can wrap and unwrap.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from phasedcare.errors import InvalidInput, NotAuthentic, StoreError
from phasedcare.ledger.files import write_new_file
from phasedcare.ledger.sealing import (
    KEY_BYTES,
    SealBroken,
    ed25519_public,
    forget_key,
    new_ed25519_key,
    new_key,
    open_sealed,
    seal,
)

__all__ = [
    "CaseKeyStore",
    "CaseKeys",
    "CheckpointKey",
    "FileKeyProvider",
    "InMemoryKeyProvider",
    "KeyProvider",
    "RotatingKeyProvider",
    "WrappedKey",
    "rotate_kek",
    "unwrap_case_key",
    "wrap_case_key",
]

_KEK_FILE = re.compile(r"^kek-([0-9a-f]{16})\.key$")

CACHED_CASE_KEYS = 4096
"""How many unwrapped data keys a CaseKeys keeps (least recently used dropped first)."""


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A case's data key as stored: wrapped, with the id of the KEK that wrapped it."""

    case_id: str
    version: int
    kek_id: str
    wrapped: bytes


class KeyProvider(Protocol):
    """Holds key-encryption keys; wraps and unwraps data keys without ever storing them."""

    def current_kek_id(self) -> str:
        """The id of the KEK new data keys are wrapped with."""
        ...

    def wrap(self, kek_id: str, key: bytes, context: bytes) -> bytes:
        """``key`` wrapped by the KEK ``kek_id``, bound to ``context``."""
        ...

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """The key inside ``wrapped``; raises StoreError when it does not open."""
        ...


def _context(case_id: str, version: int) -> bytes:
    return f"phasedcare-dek|{case_id}|{version}".encode()


def wrap_case_key(provider: KeyProvider, *, case_id: str, version: int, key: bytes) -> WrappedKey:
    """Wrap a case's data key with the provider's current KEK."""
    kek_id = provider.current_kek_id()
    wrapped = provider.wrap(kek_id, key, _context(case_id, version))
    return WrappedKey(case_id=case_id, version=version, kek_id=kek_id, wrapped=wrapped)


def unwrap_case_key(provider: KeyProvider, wrapped: WrappedKey) -> bytes:
    """Unwrap a case's data key (its case and version are checked by the seal)."""
    return provider.unwrap(
        wrapped.kek_id, wrapped.wrapped, _context(wrapped.case_id, wrapped.version)
    )


class _AesKeyWrap:
    """Wrap and unwrap with AES-256-GCM KEKs looked up by id."""

    def _kek(self, kek_id: str) -> bytes:
        raise NotImplementedError

    def wrap(self, kek_id: str, key: bytes, context: bytes) -> bytes:
        """``key`` sealed under the KEK, bound to ``context``."""
        return seal(self._kek(kek_id), key, context)

    def unwrap(self, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        """The key sealed in ``wrapped``."""
        try:
            return open_sealed(self._kek(kek_id), wrapped, context)
        except SealBroken as exc:
            raise StoreError(f"a data key does not unwrap with KEK {kek_id}") from exc


class InMemoryKeyProvider(_AesKeyWrap):
    """KEKs held in memory: for tests and the in-memory engine. Rotation works as on disk."""

    def __init__(self) -> None:
        self._keks: dict[str, bytes] = {}
        self._current = self.rotate()

    def rotate(self) -> str:
        """Make a new KEK current; older KEKs still unwrap what they wrapped."""
        kek_id = secrets.token_hex(8)
        self._keks[kek_id] = new_key()
        self._current = kek_id
        return kek_id

    def current_kek_id(self) -> str:
        """The KEK that wraps new data keys."""
        return self._current

    def _kek(self, kek_id: str) -> bytes:
        try:
            return self._keks[kek_id]
        except KeyError:
            raise StoreError(f"KEK {kek_id} is unknown to this key provider") from None


class FileKeyProvider(_AesKeyWrap):
    """KEKs as files ``kek-<id>.key`` in a private folder; the newest file is current."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}

    def _kek_ids(self) -> list[str]:
        if not self._folder.is_dir():
            return []
        return sorted(m.group(1) for p in self._folder.iterdir() if (m := _KEK_FILE.match(p.name)))

    def rotate(self) -> str:
        """Write a new KEK file and make it current; old KEK files stay to unwrap old keys.

        Ids start with the time, so the newest sorts last.
        """
        kek_id = f"{time.time_ns():016x}"[-16:]
        path = self._folder / f"kek-{kek_id}.key"
        if not write_new_file(path, new_key()):  # whole or not at all: an empty KEK would rule
            raise StoreError(f"key-encryption key {path} exists already")
        return kek_id

    def current_kek_id(self) -> str:
        """The newest KEK file's id."""
        ids = self._kek_ids()
        if not ids:
            raise StoreError(f"no key-encryption key in {self._folder}: run phasedcare init")
        return ids[-1]

    def _kek(self, kek_id: str) -> bytes:
        with self._lock:
            if kek_id not in self._cache:
                self._cache[kek_id] = self._read(kek_id)
            return self._cache[kek_id]

    def _read(self, kek_id: str) -> bytes:
        path = self._folder / f"kek-{kek_id}.key"
        if not re.fullmatch(r"[0-9a-f]{16}", kek_id) or not path.is_file():
            raise StoreError(f"KEK {kek_id} is missing from {self._folder}")
        if path.stat().st_mode & 0o077:
            raise InvalidInput(f"{path} is readable by others: chmod 600 it", field="key_folder")
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise StoreError(f"KEK file {path.name} is not a {KEY_BYTES}-byte key")
        return key


class CaseKeyStore(Protocol):
    """Where wrapped data keys are kept (the database: they are useless without the KEK)."""

    def case_key(self, case_id: str) -> WrappedKey | None:
        """The case's wrapped data key, or None."""
        ...

    def add_case_keys(self, keys: Sequence[WrappedKey]) -> list[WrappedKey]:
        """Store each case's wrapped key unless it has one (one transaction); return the
        keys stored, in the same order."""
        ...

    def case_keys(self) -> list[WrappedKey]:
        """Every wrapped case key."""
        ...

    def rewrap_case_key(self, key: WrappedKey) -> None:
        """Replace a case's wrapped key by the same key wrapped under another KEK."""
        ...

    def destroy_case_key(self, case_id: str) -> bool:
        """Delete the wrapped key, scrubbing it from the database files; True if it existed."""
        ...

    def keyed_cases(self, case_ids: Collection[str]) -> set[str]:
        """Those of ``case_ids`` that have a wrapped key (the others were erased, or never
        had one)."""
        ...


class CaseKeys:
    """Data keys per case: created on first use, unwrapped through the provider, cached (at
    most ``cached`` of them, least recently used dropped first)."""

    def __init__(
        self, store: CaseKeyStore, provider: KeyProvider, *, cached: int = CACHED_CASE_KEYS
    ) -> None:
        self._store = store
        self._provider = provider
        self._cache: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        """Per case: the key id (its version) and the unwrapped key."""
        self._limit = cached
        self._lock = threading.Lock()

    def cached(self) -> set[str]:
        """The cases whose unwrapped key this cache holds."""
        with self._lock:
            return set(self._cache)

    def destroyed(self, case_ids: Collection[str]) -> set[str]:
        """Those of ``case_ids`` that have no key row any more (erased, maybe by another
        process); one read of the store."""
        return set(case_ids) - self._store.keyed_cases(case_ids) if case_ids else set()

    def forget(self, case_id: str) -> None:
        """Drop the case's key from the caches, this one and sealing's (after it was destroyed)."""
        with self._lock:
            cached = self._cache.pop(case_id, None)
        if cached is not None:
            forget_key(cached[1])

    def key(self, case_id: str, *, create: bool = False) -> tuple[str, bytes]:
        """``(key id, key)`` of the case; a new key when ``create`` and the case has none."""
        with self._lock:
            if case_id in self._cache:
                self._cache.move_to_end(case_id)
                return self._cache[case_id]
        wrapped = self._store.case_key(case_id)
        if wrapped is None:
            if not create:
                msg = f"case {case_id} has no data key: erased, or removed outside the engine"
                raise NotAuthentic(msg, case_id=case_id)
            [wrapped] = self._store.add_case_keys([self._fresh(case_id)])
        return self._remember(wrapped)

    def exists(self, case_id: str) -> bool:
        """Whether the case has a data key (in this process's cache or the store)."""
        with self._lock:
            if case_id in self._cache:
                return True
        return self._store.case_key(case_id) is not None

    def create(self, case_ids: Sequence[str]) -> None:
        """Keys for new cases, stored in one transaction (a bulk import's batch)."""
        with self._lock:
            wanted = [c for c in dict.fromkeys(case_ids) if c not in self._cache]
        for wrapped in self._store.add_case_keys([self._fresh(c) for c in wanted]):
            self._remember(wrapped)

    def _fresh(self, case_id: str) -> WrappedKey:
        return wrap_case_key(self._provider, case_id=case_id, version=1, key=new_key())

    def _remember(self, wrapped: WrappedKey) -> tuple[str, bytes]:
        cached = str(wrapped.version), unwrap_case_key(self._provider, wrapped)
        with self._lock:
            self._cache[wrapped.case_id] = cached
            self._cache.move_to_end(wrapped.case_id)
            while len(self._cache) > self._limit:
                self._cache.popitem(last=False)
        return cached


@dataclass(frozen=True, slots=True)
class CheckpointKey:
    """The Ed25519 key that signs checkpoints; auditors get only ``public``."""

    private: bytes = field(repr=False)
    public: bytes

    @classmethod
    def generate(cls) -> CheckpointKey:
        """A fresh key (for tests and the in-memory engine)."""
        private = new_ed25519_key()
        return cls(private=private, public=ed25519_public(private))

    @classmethod
    def public_only(cls, public: bytes) -> CheckpointKey:
        """A key that can verify but not sign (what an auditor holds)."""
        return cls(private=b"", public=public)

    @classmethod
    def public_in_folder(cls, folder: Path) -> CheckpointKey:
        """The public key from ``checkpoint.pub`` in ``folder``."""
        path = folder / "checkpoint.pub"
        if not path.is_file():
            raise StoreError(f"no checkpoint public key in {folder}: run phasedcare init")
        try:
            return cls.public_only(bytes.fromhex(path.read_text(encoding="ascii").strip()))
        except ValueError:
            raise InvalidInput(
                f"{path} does not hold a hex public key", field="public_key"
            ) from None

    @classmethod
    def in_folder(cls, folder: Path, *, create: bool = False) -> CheckpointKey:
        """The key in ``folder`` (checkpoint.key, 0600; checkpoint.pub beside it)."""
        path = folder / "checkpoint.key"
        if not path.exists():
            if not create:
                raise StoreError(f"no checkpoint signing key in {folder}: run phasedcare init")
            write_new_file(path, cls.generate().private)
        private = path.read_bytes()
        key = cls(private=private, public=ed25519_public(private))
        write_new_file(folder / "checkpoint.pub", (key.public.hex() + "\n").encode(), mode=0o644)
        return key


def rotate_kek(store: CaseKeyStore, provider: RotatingKeyProvider) -> tuple[str, int]:
    """Make a new KEK current and rewrap every case key with it; returns (new id, count).

    Records are never touched: their data keys do not change, only how they are wrapped.
    Commands keep working throughout: the old KEK still unwraps what it wrapped until done.
    """
    new_id = provider.rotate()
    count = 0
    for wrapped in store.case_keys():
        if wrapped.kek_id == new_id:
            continue
        key = unwrap_case_key(provider, wrapped)
        rewrapped = WrappedKey(
            case_id=wrapped.case_id,
            version=wrapped.version,
            kek_id=new_id,
            wrapped=provider.wrap(new_id, key, _context(wrapped.case_id, wrapped.version)),
        )
        store.rewrap_case_key(rewrapped)
        count += 1
    return new_id, count


class RotatingKeyProvider(KeyProvider, Protocol):
    """A key provider that can make a new KEK current."""

    def rotate(self) -> str:
        """Create a new KEK, make it current, return its id."""
        ...
